"""Issue 22 item 1: ideal ``auto`` runs draw from the closed form, proven and spot-checked
against the batched simulator of the very ISA circuits; ``batched`` still simulates."""

from __future__ import annotations

import numpy as np
import pytest

import qac
from qac.errors import InternalError
from qac.execution import closed_form
from qac.execution.closed_form import high_probability, inner_products, simulated_high
from tests.conftest import EXAMPLES, spec_mapping

COMBOS = [("interference", e) for e in ("binary", "unary_parallel", "unary_diagonal", "unary_semi_diagonal")] + \
         [("hadamard", e) for e in ("binary", "unary_parallel")] + \
         [("swap", e) for e in ("binary", "unary_diagonal", "qiskit")] + \
         [("destructive_swap", e) for e in ("binary", "qiskit")] + \
         [("compute_uncompute", e) for e in ("binary", "unary_parallel", "qiskit")]


def mapping(n=3, m=4, d=3, seed=4, **extra):
    rng = np.random.default_rng(seed)
    Q, K, V = rng.standard_normal((n, d)), rng.standard_normal((m, d)), rng.standard_normal((m, 2))
    return spec_mapping(Q, K, V, seed=seed, **extra)


def closed_and_simulated(compiled):
    """Per kernel: the closed form P(f = f_hi) of every data row and the simulator's."""
    program = compiled.program
    for kernel in program.module.plan.kernels:
        binding = program.module.bindings[kernel.name]
        template = program.module.templates[binding.template]
        f = template.decoding.outcome_values
        expected = high_probability(inner_products(kernel.lhs_units, kernel.rhs_units, kernel.pairs, kernel.d),
                                    template.decoding.signed, f)
        yield expected, simulated_high(program.isa[binding.template], binding.values, f), template


@pytest.mark.parametrize("estimator,encoding", COMBOS)
def test_every_estimator_and_encoding_matches_its_closed_form_and_is_proven(estimator, encoding):
    compiled = qac.compile(mapping(compile={"estimator": estimator, "encoding": encoding}), "aer")
    for expected, simulated, template in closed_and_simulated(compiled):
        np.testing.assert_allclose(simulated, expected, atol=1e-10, rtol=0)
        ok, why = closed_form.prove(compiled.program.isa[template.name], template, compiled.program.module.plan
                                    .kernels[0].d)
        assert ok, why
    result = compiled.run(shots=4096, seed=2)
    assert result.engine_path.startswith("closed form"), result.engine_path
    assert result.engine_metadata["engines"] == ["closed form"]
    assert np.all(np.abs(result.error) <= 5 * result.stderr + 1e-9)


@pytest.mark.parametrize("target", ["ibm_fez", "ionq_aria"])
def test_routed_device_circuits_match_the_closed_form(target):
    compiled = qac.compile(mapping(n=4, m=4, d=6), target)
    for expected, simulated, _ in closed_and_simulated(compiled):
        np.testing.assert_allclose(simulated, expected, atol=1e-10, rtol=0)


def test_auto_draws_the_closed_form_and_batched_simulates():
    compiled = qac.compile(mapping(n=6, m=6, d=4), "ibm_fez")
    auto = compiled.run(shots=2048, seed=9)
    batched = compiled.run(shots=2048, seed=9, engine="batched")
    assert auto.engine_path.startswith("closed form") and "checked against the batched simulator" in auto.engine_path
    assert auto.engine_metadata["closed_form"]["rows_checked"] == min(32, len(compiled.kernels[0].pairs))
    assert auto.engine_metadata["closed_form"]["max_deviation"] <= 1e-10
    assert batched.engine_path == "simulated (batched)"
    # same law, different draws: both decode to the exact inner products within their bars
    for result in (auto, batched):
        est, sem = result.inner_products["h0"] if "h0" in result.inner_products else next(
            iter(result.inner_products.values()))
        c = inner_products(compiled.kernels[0].lhs_units, compiled.kernels[0].rhs_units, compiled.kernels[0].pairs,
                           compiled.kernels[0].d)
        assert np.all(np.abs(est - c) <= 5 * sem + 1e-9)
    # deterministic in the seed, whatever the chunk sizes
    again = compiled.run(shots=2048, seed=9)
    assert np.array_equal(auto.output, again.output) and np.array_equal(auto.stderr, again.stderr)


def test_closed_form_counts_are_binomial():
    """Chi-square of the draws of one row against Binomial(shots, P) over many seeds."""
    rng_p = np.array([0.03, 0.5, 0.91])
    f = np.array([1.0, -1.0])
    from qac import seeds

    draws = np.array([closed_form.draw(rng_p, np.full(3, 400), f, seeds.generator(s, "closed_form", 0))[:, 0]
                      for s in range(400)])
    mean, var = draws.mean(axis=0), draws.var(axis=0)
    np.testing.assert_allclose(mean, 400 * rng_p, rtol=0.02, atol=1.0)
    np.testing.assert_allclose(var, 400 * rng_p * (1 - rng_p), rtol=0.25)


def test_counts_do_not_depend_on_chunking_or_bind_rows(monkeypatch):
    compiled = qac.compile(mapping(n=7, m=7, d=4), "aer")
    first = compiled.run(shots=1024, seed=4)
    import qac.execution.batched as batched

    monkeypatch.setattr(batched, "CHUNK_ROWS", 3)
    monkeypatch.setattr(batched, "THREADS", 1)
    second = compiled.run(shots=1024, seed=4)
    assert np.array_equal(first.output, second.output) and np.array_equal(first.scores, second.scores)


def test_a_corrupted_binding_row_raises_internal_error():
    compiled = qac.compile(mapping(n=4, m=4, d=4), "aer")
    kernel = compiled.program.module.plan.kernels[0]
    values = compiled.program.module.bindings[kernel.name].values
    values += 0.3  # every row: whichever rows are checked disagree with the closed form
    with pytest.raises(InternalError, match="closed form and circuit disagree"):
        compiled.run(shots=256, seed=1)
    compiled.run(shots=256, seed=1, engine="batched")  # the simulator still runs the rows it is given


def test_an_unproven_circuit_is_simulated_and_says_why():
    compiled = qac.compile(mapping(n=3, m=3, d=4), "aer")
    name = compiled.program.module.bindings[compiled.program.module.plan.kernels[0].name].template
    isa = compiled.program.isa[name]
    measured = [inst.qubits[0] for inst in isa.data if inst.operation.name == "measure"][0]
    corrupted = isa.copy_empty_like()
    for inst in isa.data:
        if inst.operation.name == "measure":
            corrupted.rx(0.4, measured)
        corrupted.append(inst)
    compiled.program.isa[name] = corrupted
    result = compiled.run(shots=512, seed=1)
    assert result.engine_path.startswith("simulated") and "not proven" in result.engine_path
    assert "closed_form_not_proven" in result.engine_metadata


def test_packed_and_two_stage_runs_take_the_closed_form():
    packed = qac.compile(mapping(n=4, m=4, d=4), "ibm_fez", pack=2)
    assert packed.program.packing
    result = packed.run(shots=2048, seed=3)
    assert result.engine_path.startswith("closed form")
    assert np.all(np.abs(result.error) <= 5 * result.stderr + 1e-9)
    two = qac.compile(EXAMPLES / "attention.yaml", pv="quantum")
    result = two.run(shots=2048, seed=3)
    assert result.engine_path.startswith("closed form")
    assert result.engine_metadata["closed_form"]["rows"] == sum(len(k.pairs) for k in two.program.module.plan.kernels)
    assert np.all(np.abs(result.error) <= 5 * result.stderr + 1e-9)


def test_noisy_and_precision_runs():
    compiled = qac.compile(mapping(n=3, m=3, d=4), "ibm_fez")
    noisy = compiled.run(shots=256, seed=1, noise=True)
    assert noisy.engine_path.startswith("simulated")
    refined = compiled.run(seed=1, precision=0.05)
    assert refined.engine_path.startswith("closed form") and refined.precision["reached"]


def test_qac_run_prints_and_records_the_engine_path(tmp_path):
    import json

    from click.testing import CliRunner

    from qac.cli import main

    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(EXAMPLES / "attention.yaml"), "--shots", "1000", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "engine: auto (closed form)" in result.output
    assert "engine path: closed form:" in result.output and "checked against the batched simulator" in result.output
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["engine"] == "auto (closed form)" and manifest["engine_path"].startswith("closed form")
    batched = CliRunner().invoke(main, ["run", str(EXAMPLES / "attention.yaml"), "--shots", "1000", "--engine",
                                        "batched"])
    assert "engine path: simulated (batched)" in batched.output


def test_one_lane_kernels_are_proven_without_nans():
    import warnings

    rng = np.random.default_rng(1)
    compiled = qac.compile(spec_mapping(rng.standard_normal((3, 1)), rng.standard_normal((3, 1)),
                                        rng.standard_normal((3, 1))), "aer")
    template = next(iter(compiled.program.module.templates.values()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok, why = closed_form._prove(compiled.program.isa[template.name], template, 1)
    assert ok, why
    for expected, simulated, _ in closed_and_simulated(compiled):
        np.testing.assert_allclose(simulated, expected, atol=1e-10, rtol=0)


def test_auto_with_dask_workers_or_a_scheduler_simulates():
    from qac.execution import engines

    assert engines.make("auto").closed_form
    assert not engines.make("auto", workers=1).closed_form
    assert not engines.make("auto", scheduler="tcp://127.0.0.1:1").closed_form
    assert not getattr(engines.make("batched"), "closed_form", False)
