"""Model forwards (issues 22 and 24): bind only what a run reads, delta-method bars for training,
per-template work shared by every compile of a shape, and many small heads in one pass — each
checked against the one-at-a-time computation it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from qac.compiler import compile_graph
from qac.errors import ExecutionError, SpecError
from qac.execution import closed_form
from qac.execution.options import RunOptions
from qac.ir import AttentionGraph
from qac.kernels import binding
from qac.kernels.attention import reconstruct_head, softmax_rows


def graph(heads=6, n=5, m=7, d=8, seed=0, **options):
    rng = np.random.default_rng(seed)
    Q, K, V = rng.standard_normal((n, heads * d)), rng.standard_normal((m, heads * d)), rng.standard_normal((m, heads * 3))
    return AttentionGraph.from_arrays(Q, K, V, heads=heads, scale=0.4, **options)


def eager_rows(program, kernel, partner=False):
    template = program.module.templates[program.module.bindings[kernel.name].template]
    args = (template.estimator, template.encoding, template.tree, kernel.d, kernel.lhs_units, kernel.rhs_units,
            kernel.pairs)
    return binding.bind_partners(*args) if partner else binding.bind_pairs(*args, kernel.lhs_angles, kernel.rhs_angles)


def test_an_ideal_run_binds_only_its_checked_rows_and_tables_equal_the_eager_binder():
    compiled = compile_graph(graph(), "aer", seed=3)
    bindings = compiled.program.module.bindings
    assert not any(b.bound for b in bindings.values())  # compiling bound nothing
    result = compiled.run(shots=512, seed=1)
    assert result.engine_metadata["closed_form"]["rows_checked"] == closed_form.CHECK_ROWS
    assert not any(b.bound for b in bindings.values())  # the 32 checked rows were bound on their own
    for kernel in compiled.kernels:
        b = bindings[kernel.name]
        index = np.array([0, len(kernel.pairs) - 1, 3])
        some = b.rows(index)
        table = b.values  # the first read binds the table and keeps it
        assert b.bound and table is b.values
        assert np.array_equal(table, eager_rows(compiled.program, kernel))
        np.testing.assert_allclose(some, table[index], rtol=0, atol=1e-12)


def test_simulated_runs_and_builds_are_the_same_bound_early_or_late(tmp_path):
    """engine='batched' reads every table: the counts and the build's bytes do not depend on
    whether the tables were bound before (eager) or by the run (lazy)."""
    import qac
    from tests.conftest import spec_mapping

    rng = np.random.default_rng(4)
    spec = spec_mapping(rng.standard_normal((5, 16)), rng.standard_normal((6, 16)), rng.standard_normal((6, 4)),
                        heads=2, seed=2)
    lazy, eager = (qac.compile(spec, "ibm_fez") for _ in range(2))
    for b in eager.program.module.bindings.values():
        b.values  # noqa: B018 (bind now)
    runs = [c.run(shots=256, seed=5, noise=True, engine="batched") for c in (lazy, eager)]
    assert np.array_equal(runs[0].output, runs[1].output) and np.array_equal(runs[0].stderr, runs[1].stderr)
    assert all(b.bound for b in lazy.program.module.bindings.values())
    files = [c.save(tmp_path / name) for c, name in ((lazy, "lazy"), (eager, "eager"))]
    assert (files[0] / "bindings.npz").read_bytes() == (files[1] / "bindings.npz").read_bytes()


def test_bind_many_equals_each_binder_for_data_and_partner_rows():
    compiled = compile_graph(graph(heads=3), "ibm_fez", seed=1)  # interference is odd: partners bound too
    requests, expected = [], []
    for k, kernel in enumerate(compiled.kernels):
        b = compiled.program.module.bindings[kernel.name]
        for partner in (False, True):
            index = np.array([k, k + 2, 0])
            requests.append((b.binder(partner), index))
            expected.append(eager_rows(compiled.program, kernel, partner)[index])
    for got, want in zip(binding.PairBinder.bind_many(requests), expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_delta_bars_are_the_linearised_softmax_and_are_labelled():
    compiled = compile_graph(graph(heads=2), "aer", seed=0)
    result = compiled.run(shots=2048, seed=3, errorbars="delta")
    assert result.error_method.startswith("delta method")
    for h, kernel in enumerate(compiled.kernels):
        scale = 0.4
        mean, sem = result.inner_products[kernel.name]
        inner, sigma = np.zeros(kernel.shape), np.zeros(kernel.shape)
        inner[tuple(kernel.pairs.T)], sigma[tuple(kernel.pairs.T)] = mean, sem
        gain = scale * np.outer(kernel.lhs_norms, kernel.rhs_norms)
        probs = softmax_rows(gain * inner)
        values = compiled.program.module.plan.graph.arrays["V"][:, 3 * h:3 * h + 3]
        output = probs @ values
        jacobian = probs[:, :, None] * (values[None] - output[:, None])  # ∂O_ie/∂S_il
        expected = np.sqrt(np.sum((jacobian * (gain * sigma)[:, :, None]) ** 2, axis=1))
        np.testing.assert_allclose(result.stderr[:, 3 * h:3 * h + 3], expected, rtol=1e-9, atol=1e-13)
    boot = compiled.run(shots=2048, seed=3)
    assert boot.error_method.startswith("parametric bootstrap") and np.array_equal(boot.output, result.output)


def test_delta_bars_are_refused_where_the_bootstrap_is_the_contract():
    compiled = compile_graph(graph(heads=1), "aer", seed=0)
    with pytest.raises(ExecutionError, match="precision"):
        RunOptions.resolve(compiled.spec, precision=0.1, errorbars="delta")
    with pytest.raises(ExecutionError, match="errorbars must be one of"):
        RunOptions.resolve(compiled.spec, errorbars="jackknife")
    two_stage = compile_graph(graph(heads=1, pv="quantum"), "aer", seed=0)
    with pytest.raises(ExecutionError, match="one-stage"):
        two_stage.run(shots=128, errorbars="delta")


def test_every_compile_of_a_shape_shares_its_lowering_and_proof(monkeypatch):
    import qac.simulator as simulator

    calls = []
    real = closed_form._prove
    monkeypatch.setattr(closed_form, "_PROOFS", {})
    monkeypatch.setattr(closed_form, "_prove", lambda *a: calls.append(a) or real(*a))
    first, second = (compile_graph(graph(seed=s), "ibm_fez", seed=0) for s in (7, 8))
    (name,) = first.program.isa
    assert first.program.isa[name] is not second.program.isa[name]
    key = simulator.circuit_key(first.program.isa[name])
    assert key == simulator.circuit_key(second.program.isa[name])
    for compiled in (first, second):
        compiled.run(shots=256, seed=1)
    assert len(calls) == 1  # one proof for both compiles' copies
    assert sum(k == (key, id(None)) for k in simulator._PROGRAMS) == 1  # one noiseless lowering


def test_many_small_heads_in_one_pass_give_each_head_its_own_bits():
    """Normalize, closed-form probabilities and reconstruction take the heads of one shape
    together; every head's numbers equal those of the head computed alone."""
    compiled = compile_graph(graph(heads=6), "aer", seed=0)
    program = compiled.program
    arrays = program.module.plan.graph.arrays
    for h, kernel in enumerate(compiled.kernels):
        units, norms = binding.unit_rows(arrays["Q"][:, 8 * h:8 * h + 8], kernel.d_pad)
        assert np.array_equal(units, kernel.lhs_units) and np.array_equal(norms, kernel.lhs_norms)
        assert kernel.rhs_angles is None  # loader angles are computed with the rows that read them
        together = closed_form.inner_products_of(list(compiled.kernels))
        start = sum(len(k.pairs) for k in compiled.kernels[:h])
        assert np.array_equal(closed_form.inner_products_of([kernel]), together[start:start + len(kernel.pairs)])
        np.testing.assert_allclose(together[start:start + len(kernel.pairs)],
                                   closed_form.inner_products(kernel.lhs_units, kernel.rhs_units, kernel.pairs, kernel.d),
                                   rtol=0, atol=1e-15)
    result = compiled.run(shots=1024, seed=2, errorbars="delta")
    for h, kernel in enumerate(compiled.kernels):
        mean, sem = result.inner_products[kernel.name]
        inner, sigma = np.zeros(kernel.shape), np.zeros(kernel.shape)
        inner[tuple(kernel.pairs.T)], sigma[tuple(kernel.pairs.T)] = mean, sem
        alone = reconstruct_head(inner, sigma, kernel.lhs_norms, kernel.rhs_norms, kernel.visible, 0.4,
                                 arrays["V"][:, 3 * h:3 * h + 3])
        assert np.array_equal(alone.output, result.output[:, 3 * h:3 * h + 3])
        assert np.array_equal(alone.output_stderr, result.stderr[:, 3 * h:3 * h + 3])
        assert np.array_equal(alone.scores_stderr, result.scores_stderr[h])


def test_rz_layers_in_one_product_equal_the_gate_by_gate_phases(monkeypatch):
    from qac.simulator import evolve, probabilities

    compiled = compile_graph(graph(heads=1, d=16), "ibm_fez", seed=0)
    circuit, values = compiled.pubs()[0]
    fast = probabilities(circuit, values)
    from qac.simulator import _program

    assert any(evolve._rz_layers(evolve.plan(c, False), len(c.qubits), values.shape[1]) is not None
               for c in _program(circuit, None).components)
    assert len(values) <= evolve.FUSED_ROWS
    monkeypatch.setattr(evolve, "_rz_layers", lambda *a: None)
    np.testing.assert_allclose(fast, probabilities(circuit, values), rtol=0, atol=1e-13)


def test_training_bars_expanded_equal_the_explicit_sum():
    torch = pytest.importorskip("torch")
    from qac.torch.training import _stderr

    g = torch.Generator().manual_seed(0)
    b, h, n, m, e = 2, 3, 4, 5, 6
    weights = torch.softmax(torch.randn(b, h, n, m, generator=g, dtype=torch.float64), -1)
    keep = (torch.rand(b, h, n, m, generator=g, dtype=torch.float64) > 0.3).double() / 0.7
    value = torch.randn(b, h, m, e, generator=g, dtype=torch.float64)
    sigma = torch.rand(b, h, n, m, generator=g, dtype=torch.float64)
    output = torch.matmul(weights * keep, value)
    slope = weights[..., None] * (keep[..., None] * value[:, :, None] - output[:, :, :, None])
    explicit = torch.sqrt(((slope * sigma[..., None]) ** 2).sum(-2))
    torch.testing.assert_close(_stderr(weights, keep, value, output, sigma), explicit, rtol=1e-10, atol=1e-13)


def test_a_training_forward_reads_delta_bars_and_an_eval_forward_the_bootstrap():
    torch = pytest.importorskip("torch")
    import qac.torch as qt
    from qac.torch import training

    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 4, 8, generator=g, dtype=torch.float64) for _ in range(3))
    config = qt.QuantumAttentionConfig(shots=256, seed=1)
    _, trained = training.attention(q, k, v, dropout_p=0.2, config=config, return_result=True)
    _, evaluated = qt.attention(q, k, v, config=config, return_result=True)
    assert trained.result.error_method.startswith("delta method")
    assert evaluated.result.error_method.startswith("parametric bootstrap")
    with pytest.raises(SpecError, match="errorbars"):
        qt.QuantumAttentionConfig(errorbars="none")
    assert qt.QuantumAttentionConfig(pv="quantum").training().errorbars == "auto"  # two-stage keeps its bootstrap


def test_stacked_bootstrap_draws_each_head_as_one_call_per_head_would():
    """Heads of one shape share the softmax and ·V of the bootstrap; the draws stay head by head,
    so every head's σ is bit-equal to sequential ``bootstrap_head`` calls on one generator —
    including heads with shared errors, no noise, or too many rows for one chunk among them."""
    from qac.execution import errorbars

    rng = np.random.default_rng(0)
    heads = []
    for k, (n, m) in enumerate([(3, 3), (3, 3), (4, 5), (3, 3), (300, 20), (4, 5), (3, 3)]):
        inner = np.clip(rng.standard_normal((n, m)) * 0.4, -1, 1)
        sem = rng.uniform(0.01, 0.1, (n, m)) * (k != 3)  # head 3: no noise
        visible = rng.random((n, m)) > 0.2
        gradient = covariance = None
        if k == 5:  # shared errors (a mitigated run's rescale)
            gradient, covariance = rng.standard_normal((2, n, m)) * 0.01, np.diag([1e-4, 4e-4])
        bias = rng.standard_normal((n, m)) if k == 6 else None
        heads.append((inner, sem, rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, m), visible, 0.7,
                      rng.standard_normal((m, 2)), bias, gradient, covariance))
    stacked = errorbars.bootstrap_stack(heads, np.random.default_rng(9))
    one = np.random.default_rng(9)
    for head, got in zip(heads, stacked):
        inner, sem, ln, rn, visible, scale, values, bias, gradient, covariance = head
        want = errorbars.bootstrap_head(inner, sem, ln, rn, visible, scale, values, rng=one, bias=bias,
                                        shared_gradient=gradient, shared_covariance=covariance).output_stderr
        assert np.array_equal(got, want)
    assert np.any(stacked[0] > 0) and not np.any(stacked[3])


def test_the_error_model_of_a_wide_unary_register_needs_no_table_of_every_outcome():
    """A unary compute-uncompute at d = 32 measures 32 bits: the cost model reads f's extremes and
    mean, so it must not build f over 2^32 outcomes (`python -m bench` died on 64 GiB here)."""
    from qac.passes.cost_model import MODEL_BITS, expected_error

    wide = expected_error("compute_uncompute", 0.95, 4096, d=32, measured_bits=33)
    at_cap = expected_error("compute_uncompute", 0.95, 4096, d=32, measured_bits=MODEL_BITS)
    assert wide == at_cap
    narrow = expected_error("compute_uncompute", 0.95, 4096, d=32, measured_bits=8)
    assert abs(narrow - wide) / wide < 1e-2  # the background mean 2^-bits barely moves it


def test_aer_templates_with_per_row_ry_stay_dense_and_equal_the_local_path(monkeypatch):
    """aer keeps ry in its basis: those per-row gates now step a dense (C-order) state in place;
    the probabilities equal the local path's (every gate a gemm on its qubits) and the exact
    statevector's."""
    from qac.kernels.exact import exact_distribution
    from qac.simulator import _program, evolve, probabilities

    compiled = compile_graph(graph(heads=1, d=16), "aer", seed=0)
    circuit, values = compiled.pubs()[0]
    dense = probabilities(circuit, values)
    plans = [evolve.plan(c, False) for c in _program(circuit, None).components]
    assert any(p.dense and any(item[0] == "rows" for item in p.items) for p in plans)
    local_circuit = circuit.copy()
    local_circuit.name = f"{circuit.name}_local"  # another digest: planned afresh
    monkeypatch.setattr(evolve, "DENSE_QUBITS", 0)
    local = probabilities(local_circuit, values)
    np.testing.assert_allclose(dense, local, rtol=0, atol=1e-13)
    exact = np.array([exact_distribution(circuit.assign_parameters(row)) for row in values[:5]])
    np.testing.assert_allclose(dense[:5], exact, rtol=0, atol=1e-10)
