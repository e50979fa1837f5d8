"""Finite shots: reported error bars are honest; PUBs and bound circuits agree."""

from __future__ import annotations

import numpy as np

import qac
from qac.kernels.decode import estimate_from_counts, outcome_counts
from tests.conftest import forbid_compilation, spec_mapping


def test_two_sigma_coverage_across_seeds():
    """Across fixed seeds, 90–99% of output entries lie within 2 reported σ (ideal Aer)."""
    rng = np.random.default_rng(2024)
    Q, K, V = rng.standard_normal((5, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    compiled = qac.compile(spec_mapping(Q, K, V, shots=2048), "aer")
    inside = []
    for seed in range(20):
        result = compiled.run(seed=seed)
        assert result.shots == 2048 and result.max_stderr > 0
        inside.append(np.abs(result.error) <= 2 * result.stderr)
    coverage = np.mean(inside)
    assert 0.90 <= coverage <= 0.99, coverage  # wider error bars would cover always and say little


def test_sampling_is_reproducible_for_a_seed(example_spec):
    compiled = qac.compile(example_spec, "aer")
    a, b = compiled.run(shots=512, seed=3), compiled.run(shots=512, seed=3)
    np.testing.assert_array_equal(a.output, b.output)
    assert not np.array_equal(a.output, compiled.run(shots=512, seed=4).output)


def test_outcome_counts_unpack_qiskit_bit_arrays():
    from qiskit.primitives import BitArray

    samples = np.array([[0, 1, 1, 3, 2], [3, 3, 3, 0, 1]])
    bits = BitArray.from_samples(samples.ravel().tolist(), num_bits=10).reshape(2, 5)
    counts = outcome_counts(bits.array, 10)
    assert counts.shape == (2, 1024)
    np.testing.assert_array_equal(counts[0, :4], [1, 2, 1, 1])
    np.testing.assert_array_equal(counts[1, :4], [1, 1, 0, 3])


def test_standard_error_is_smoothed_but_matches_binomial_formula():
    values = np.array([1.0, -1.0])
    counts = np.array([[300, 100], [400, 0]])
    mean, sem = estimate_from_counts(counts, values)
    np.testing.assert_allclose(mean, [0.5, 1.0])
    shots = 400
    for k, s in zip((300, 400), sem):
        p = (k + 1) / (shots + 2)
        assert abs(s - 2 * np.sqrt(p * (1 - p) / shots)) / s < 0.01
    assert sem[1] > 0  # an all-zeros run still reports uncertainty


def test_noisy_run_uses_the_target_noise_model(example_spec):
    compiled = qac.compile(example_spec, "ibm_brisbane")
    ideal = compiled.run(shots=2000, seed=1)
    noisy = compiled.run(shots=2000, seed=1, noise=True, mitigation=False)
    assert noisy.noise and not ideal.noise and not noisy.mitigated
    # device noise shrinks the interference signal: |estimates| move towards 0
    ideal_c = np.abs(ideal.inner_products["h0_scores"][0])
    noisy_c = np.abs(noisy.inner_products["h0_scores"][0])
    assert noisy_c.mean() < ideal_c.mean()


def test_noisy_run_reports_raw_and_mitigated(example_spec):
    compiled = qac.compile(example_spec, "ibm_brisbane")
    result = compiled.run(shots=2000, seed=1, noise=True)
    assert result.mitigated and result.raw_output.shape == result.output.shape
    assert set(result.raw_inner_products) == set(result.inner_products)
    assert result.shots == 2000 and result.shots_used > 2000 * len(compiled.kernels[0].pairs)
    assert result.circuits_run > len(compiled.kernels[0].pairs)  # sign partners, calibration, readout


def _sampler_v2_counts(pubs, seed, noise_model=None):
    """Counts from Aer's own SamplerV2 with Aer's default options (the reference path)."""
    from qiskit_aer.primitives import SamplerV2

    options = {"backend_options": {"noise_model": noise_model}} if noise_model is not None else None
    out = []
    for pub, result in zip(pubs, SamplerV2(seed=seed, options=options).run(pubs).result()):
        bits = result.data["meas"]
        out.append(outcome_counts(bits.array.reshape(len(pub[1]), bits.num_shots, -1), bits.num_bits))
    return out


def test_run_pubs_draws_the_same_shots_as_aer_sampler_v2(example_spec):
    """qac asks Aer for counts (no per-shot memory) with runtime parameter binding; for the same
    seed every row's counts equal SamplerV2's — PUBs grouped by shots, parameterless rows, noise."""
    from qac.execution.aer_engine import restricted_noise_model, run_pubs
    from qac.execution.copies import readout_circuits

    compiled = qac.compile(example_spec, "ibm_brisbane")
    (circuit, values), = compiled.pubs()[:1]
    readout = readout_circuits(circuit)
    pubs = [(circuit, values, 300), (circuit, values[:3], 500), (readout[1], np.zeros((1, 0)), 300),
            (circuit, values[:0], 300)]
    ideal = run_pubs(pubs, seed=11)
    reference = _sampler_v2_counts(pubs[:3], 11)
    for mine, theirs in zip(ideal, reference):
        np.testing.assert_array_equal(mine, theirs)
    assert ideal[3].shape == (0, 2)
    model = compiled.target.noise_model()
    noisy = run_pubs(pubs[:3], seed=4, noise_model=model)
    qubits = set().union(*({circuit.find_bit(q).index for inst in c.data for q in inst.qubits} for c, _, _ in pubs[:3]))
    for mine, theirs in zip(noisy, _sampler_v2_counts(pubs[:3], 4, restricted_noise_model(model, qubits))):
        np.testing.assert_array_equal(mine, theirs)


def test_a_run_calls_no_pass_and_parses_no_pipeline(monkeypatch):
    """Noisy mitigated, precision and exact runs read the compiled program only: every pass's
    ``run``, the pipeline parser/runner and the estimators' binder raise if called, and of the
    spec only the run defaults are left (a program compiled from arrays has nothing more)."""
    from types import SimpleNamespace

    from qac.kernels.attention import reference_attention

    rng = np.random.default_rng(8)
    Q, K, V = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    compiled = qac.compile(spec_mapping(Q, K, V, shots=256, mask="causal"), "ibm_brisbane")
    spec = compiled.spec
    compiled.spec = SimpleNamespace(seed=spec.seed, shots=spec.shots, precision=spec.precision, name=spec.name)

    forbid_compilation(monkeypatch)
    noisy = compiled.run(noise=True, seed=1)
    assert noisy.mitigated and noisy.mitigation
    precise = compiled.run(noise=True, precision=0.2, pilot_shots=64, seed=2)
    assert precise.precision["requested"] == 0.2
    exact = compiled.run(exact=True)
    np.testing.assert_allclose(exact.output, exact.exact, atol=1e-9)
    np.testing.assert_allclose(exact.exact, reference_attention(Q, K, V, mask="causal"), atol=1e-12)


def test_coverage_is_a_number_like_max_error_and_answers_for_other_multiples(example_spec):
    """``max_error`` is a property; ``coverage`` is one too (the 2σ share), and calling it asks
    for another multiple, so ``coverage()``/``coverage(2.0)`` of older callers still work."""
    result = qac.compile(example_spec, "aer").run(shots=256, seed=2)
    inside = np.abs(result.error) <= result.stderr * np.array([[1.0]]) + 1e-12
    assert isinstance(result.coverage, float) and isinstance(result.max_error, float)
    assert result.coverage == result.coverage() == result.coverage(2.0) == np.mean(np.abs(result.error) <= 2 * result.stderr + 1e-12)
    assert result.coverage(1.0) == np.mean(inside) <= result.coverage <= result.coverage(3.0)
    assert f"{result.coverage:.3f}" == f"{float(result.coverage):.3f}" and 0 <= result.coverage <= 1
