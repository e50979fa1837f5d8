"""Bounded memory (issue 12): the binder's chunks give the same bits as one call, the plan hands
engines views of its tables, and a multi-head compile + run stays under the documented bound
(``qac.execution.memory``) — and near it, so the bound says something."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import qac
from qac.execution.memory import RunShape, bound
from qac.execution.plan import rows_of
from qac.kernels import binding

PASSES = "normalize,encode{{method={encoding}}},estimate{{method={estimator}}},layout{{optimization_level=1}}"


def spec(n: int, d: int, heads: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"Q": rng.standard_normal((n, d * heads)).tolist(), "K": rng.standard_normal((n + 1, d * heads)).tolist(),
            "V": rng.standard_normal((n + 1, 2 * heads)).tolist(), "heads": heads, "seed": 3}


@pytest.mark.parametrize("encoding,estimator", [("binary", "interference"), ("binary", "hadamard"),
                                                ("binary", "swap"), ("unary_parallel", "interference"),
                                                ("unary_diagonal", "compute_uncompute"),
                                                ("qiskit", "destructive_swap"), ("unary_semi_diagonal", "hadamard")])
def test_chunked_binding_is_bit_identical_to_one_call(monkeypatch, encoding, estimator):
    compiled = qac.compile(spec(9, 4, 1), target="aer",
                           passes=PASSES.format(encoding=encoding, estimator=estimator))
    module = compiled.program.module
    kernel = module.plan.kernels[0]
    recorded = module.bindings[kernel.name]
    tree = module.templates[recorded.template].tree
    args = (estimator, encoding, tree, kernel.d, kernel.lhs_units, kernel.rhs_units, kernel.pairs)
    monkeypatch.setattr(binding, "BIND_ROWS", 1 << 30)
    whole = binding.bind_pairs(*args, kernel.lhs_angles, kernel.rhs_angles)
    # the partners are the pairs (â_i, −b̂_j) bound in one call
    negated = binding.bind_pairs(*args[:4], kernel.lhs_units[kernel.pairs[:, 0]],
                                 -kernel.rhs_units[kernel.pairs[:, 1]],
                                 np.stack([np.arange(len(kernel.pairs))] * 2, axis=1))
    assert whole.tobytes() == recorded.values.tobytes()
    for rows in (2, 3, 8, len(kernel.pairs) - 1):  # 90 pairs; 89 a chunk leaves one row, merged into the first
        monkeypatch.setattr(binding, "BIND_ROWS", rows)
        assert binding.bind_pairs(*args, kernel.lhs_angles, kernel.rhs_angles).tobytes() == whole.tobytes(), rows
        if recorded.partner_values is not None:
            assert binding.bind_partners(*args).tobytes() == negated.tobytes() == recorded.partner_values.tobytes()


def test_row_chunks_cover_the_rows_and_never_leave_one_row_alone(monkeypatch):
    monkeypatch.setattr(binding, "BIND_ROWS", 4)
    for count in range(0, 14):
        chunks = binding.row_chunks(count)
        assert np.array_equal(np.concatenate([np.arange(count)[c] for c in chunks] or [[]]), np.arange(count))
        assert count <= 1 or all(c.stop - c.start >= 2 for c in chunks)


def test_evenly_spaced_rows_are_views_and_others_copies():
    table = np.arange(40.0).reshape(10, 4)
    for rows in (np.arange(10), np.arange(1, 10, 3), np.array([2])):
        view = rows_of(table, rows)
        assert np.array_equal(view, table[rows])
        assert len(rows) == 1 or np.shares_memory(view, table)
    assert np.array_equal(rows_of(table, np.array([0, 1, 3])), table[[0, 1, 3]])


@pytest.mark.parametrize("tokens,heads,options", [(40, 12, {}), (12, 2, {"mitigation": True, "precision": 0.1})])
def test_a_multi_head_run_stays_under_its_documented_bound(tokens, heads, options):
    passes = PASSES.format(encoding="binary", estimator="interference")
    qac.compile(spec(4, 32, 1), target="aer", passes=passes).run(64, engine="batched")  # imports and caches
    tracemalloc.start()
    try:
        compiled = qac.compile(spec(tokens, 32, heads), target="aer", passes=passes)
        compiled.run(256, engine="batched", **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    limit = bound(RunShape.of(compiled, **options))["total"]
    assert sum(len(k.pairs) for k in compiled.kernels) == heads * tokens * (tokens + 1)
    assert peak <= limit
    assert limit <= 2.5 * peak  # a bound, not a guess ten times too large


def test_the_bound_grows_with_the_run_shape():
    passes = PASSES.format(encoding="binary", estimator="interference")
    small, large = (bound(RunShape.of(qac.compile(spec(n, 32, 2), target="aer", passes=passes))) for n in (8, 16))
    assert large["bindings"] == 4 * small["bindings"] * 16 * 17 // (4 * 8 * 9)  # rows × parameters × 8 B, ×2
    mitigated = bound(RunShape.of(qac.compile(spec(8, 32, 2), target="aer", passes=passes), mitigation=True))
    assert mitigated["pairs"] > small["pairs"]  # sign partners' counts and shots, shared gradients


def test_a_run_beyond_the_machines_memory_is_refused_in_one_line(monkeypatch):
    from qac.errors import ExecutionError
    from qac.execution import memory

    compiled = qac.compile(spec(8, 32, 2), target="aer", passes=PASSES.format(encoding="binary",
                                                                              estimator="interference"))
    need = memory.check(compiled)
    parts = bound(RunShape.of(compiled))
    assert need == parts["total"] - parts["bindings"]  # the bindings are already held by the program
    monkeypatch.setattr(memory, "available", lambda: need - 1)
    with pytest.raises(ExecutionError, match="needs up to .* GB .* available"):
        memory.check(compiled)
    with pytest.raises(ExecutionError, match="needs up to .* GB .* available"):
        compiled.run(seed=1)  # the run path asks before it allocates
    monkeypatch.setattr(memory, "available", lambda: need)
    assert compiled.run(seed=1).output.shape == compiled.exact.shape
