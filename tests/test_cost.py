"""The cost model: estimator variances against sampling, the auto choice, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from qac.passes.cost_model import RESIDUAL_BIAS, evaluate, routed_candidate, statistics

import qac
from qac import targets
from qac.errors import CompileError, TargetError
from qac.ir.pipeline import CompileContext
from qac.ir.records import CandidateCost, LayoutOptions
from qac.kernels.decode import estimate_from_counts
from qac.kernels.estimators import ESTIMATORS
from qac.kernels.exact import exact_distribution
from tests.conftest import spec_mapping

VARIANCE_CASES = [("interference", "binary"), ("hadamard", "binary"), ("swap", "binary"),
                  ("destructive_swap", "binary"), ("compute_uncompute", "binary"),
                  ("compute_uncompute", "unary_diagonal"), ("interference", "unary_semi_diagonal")]


@pytest.mark.parametrize("estimator,encoding", VARIANCE_CASES)
@pytest.mark.parametrize("inner_product", [-0.5, 0.0, 0.6])
def test_empirical_variance_matches_the_documented_formula(estimator, encoding, inner_product):
    """S shots from the circuit's exact outcome distribution, repeated R times (fixed seed):
    the spread of ĉ matches per_shot_variance(c)/S within 10%."""
    from qac.ir import Kernel

    d, shots, repeats = 4, 8000, 2000  # the delta method is asymptotic: σ_s ≪ s
    a = np.array([1.0, 0.0, 0.0, 0.0])
    b = np.array([inner_product, np.sqrt(1 - inner_product**2), 0.0, 0.0])
    kernel = Kernel("k", 0, d, d, a[None, :], b[None, :], np.ones(1), np.ones(1),
                    np.array([[0, 0]]), np.ones((1, 1), bool))
    est = ESTIMATORS[estimator]
    circuit = est.build(d, "t", encoding)
    row = est.bind(kernel, encoding)[0]
    probabilities = exact_distribution(circuit.assign_parameters(row))
    rng = np.random.default_rng(1234)
    counts = rng.multinomial(shots, probabilities / probabilities.sum(), size=repeats)
    mean, sem = estimate_from_counts(counts, est.outcome_values(circuit.num_clbits))
    estimates, _ = est.finish(mean, sem)
    predicted = est.per_shot_variance(inner_product) / shots
    assert abs(np.mean(estimates) - inner_product) < 5 * np.sqrt(predicted / repeats) + 1e-3
    assert np.var(estimates) == pytest.approx(predicted, rel=0.10)


def _random_inner_products(d: int, count: int, rng) -> np.ndarray:
    a, b = rng.standard_normal((2, count, d))
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("d", [2, 4, 16])
def test_signed_error_follows_the_esp_model_in_closed_form(d):
    """Signed: e² = E_c[(1 − λ²c²)]/(λ²S) + b², E[c²] = 1/d for random directions."""
    ideal = statistics("interference", 1.0, 4096, 0.01, d=d, measured_bits=1)
    assert ideal["variance_per_shot"] == 1.0 and ideal["residual_bias"] == 0
    assert ideal["expected_error"] == pytest.approx(np.sqrt((1 - 1 / d) / 4096))
    assert ideal["shots_for_precision"] == int(np.ceil((1 - 1 / d) / 0.01**2 - 1e-9))
    noisy = statistics("interference", 0.9, 4096, 0.02, d=d, measured_bits=1)
    bias = RESIDUAL_BIAS * 0.1
    per_shot = (1 - 0.81 / d) / 0.81
    assert noisy["residual_bias"] == pytest.approx(bias)
    assert noisy["expected_error"] == pytest.approx(np.sqrt(per_shot / 4096 + bias**2))
    assert noisy["shots_for_precision"] == int(np.ceil(per_shot / (0.02**2 - bias**2) - 1e-9))
    # a precision below the residual bias cannot be bought with shots
    assert statistics("interference", 0.5, 4096, 0.01, d=d, measured_bits=1)["shots_for_precision"] is None


@pytest.mark.parametrize("estimator,bits", [("compute_uncompute", 1), ("compute_uncompute", 3),
                                            ("destructive_swap", 6)])
@pytest.mark.parametrize("esp", [1.0, 0.95, 0.8])
def test_unsigned_error_matches_a_monte_carlo_of_the_same_model(estimator, bits, esp):
    """Random directions, the depolarised outcome mean, rescale, decode 2√ŝ − 1: the quadrature
    agrees with sampling the model within 5%."""
    d, shots, rng = 4, 4096, np.random.default_rng(5)
    values = ESTIMATORS[estimator].outcome_values(bits)
    low, high, background = values.min(), values.max(), values.mean()
    c = _random_inner_products(d, 400_000, rng)
    s = ((1 + c) / 2) ** 2
    m = esp * s + (1 - esp) * background
    bias = RESIDUAL_BIAS * (1 - esp)
    spread = np.sqrt((high - m) * (m - low) / (esp**2 * shots) + bias**2)
    decoded = 2 * np.sqrt(np.clip(s + spread * rng.standard_normal(c.size), 0, 1)) - 1
    sampled = np.sqrt(np.mean((decoded - c) ** 2))
    model = statistics(estimator, esp, shots, 0.01, d=d, measured_bits=bits)
    assert model["expected_error"] == pytest.approx(sampled, rel=0.05)
    if model["shots_for_precision"] is not None:  # the least S that reaches the precision
        S = model["shots_for_precision"]
        assert statistics(estimator, esp, S, 0.01, d=d, measured_bits=bits)["expected_error"] <= 0.01
        assert statistics(estimator, esp, S - 1, 0.01, d=d, measured_bits=bits)["expected_error"] > 0.01


def test_unsigned_estimators_lose_their_variance_edge_under_noise():
    """At c = 0 compute_uncompute's shot variance is 3/4 of interference's, and noiselessly it
    wins; with a few percent of infidelity the decode near c = −1 costs it more than that."""
    cu = statistics("compute_uncompute", 1.0, 4096, 0.01, d=4, measured_bits=1)
    signed = statistics("interference", 1.0, 4096, 0.01, d=4, measured_bits=1)
    assert cu["variance_per_shot"] < signed["variance_per_shot"]
    noisy_cu = statistics("compute_uncompute", 0.96, 4096, 0.01, d=4, measured_bits=1)
    noisy_signed = statistics("interference", 0.98, 4096, 0.01, d=4, measured_bits=1)
    assert noisy_cu["expected_error"] > 1.5 * noisy_signed["expected_error"]


def test_residual_bias_makes_auto_prefer_fewer_gates_at_equal_variance():
    """Two candidates with the same shot variance: the one with the higher ESP must win."""
    clean = statistics("interference", 0.95, 8192, 0.01, d=8, measured_bits=1)
    noisy = statistics("interference", 0.80, 8192, 0.01, d=8, measured_bits=1)
    assert clean["expected_error"] < noisy["expected_error"]


@pytest.mark.parametrize("target", ["aer", "ibm_fez"])
def test_auto_never_picks_a_candidate_with_worse_predicted_error(target):
    report = evaluate(4, CompileContext(targets.get(target)), shots=4096, layout=LayoutOptions(3, 1))
    best = report.choice
    assert all(best.expected_error <= c.expected_error for c in report.candidates)
    assert list(report.candidates) == sorted(report.candidates, key=CandidateCost.rank_key)
    assert report.runner_up is report.candidates[1]
    names = {(c.encoding, c.estimator) for c in report.candidates} | {
        (s.encoding, s.estimator) for s in report.skipped}
    assert len(names) == sum(len(e.encodings) for e in ESTIMATORS.values())  # every pair accounted for


def test_auto_pipeline_is_concrete_and_the_manifest_records_choice_and_runner_up():
    rng = np.random.default_rng(2)
    mapping = spec_mapping(rng.standard_normal((2, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 2)),
                           compile={"encoding": "auto", "estimator": "auto"})
    compiled = qac.compile(mapping, "ibm_fez")
    assert "auto" not in compiled.pipeline.split("cost{")[0]
    cost = compiled.manifest()["cost"]
    choice = cost["auto"]["choice"]
    assert f"encode{{method={choice['encoding']}}}" in compiled.pipeline
    assert cost["auto"]["runner_up"]["expected_error"] >= choice["expected_error"]
    template = next(iter(cost["templates"].values()))
    assert template["two_qubit_gates"] == choice["two_qubit_gates"]  # the model saw what was compiled
    again = qac.compile(compiled.pipeline and mapping, "ibm_fez", passes=compiled.pipeline)
    assert again.manifest()["cost"] == cost  # reproducible from the recorded pipeline
    assert np.abs(compiled.run(exact=True).error).max() < 1e-9


def test_unsigned_estimator_without_room_for_the_offset_is_a_clear_error():
    rng = np.random.default_rng(3)
    mapping = spec_mapping(rng.standard_normal((2, 16)), rng.standard_normal((2, 16)), rng.standard_normal((2, 1)))
    with pytest.raises(TargetError, match="unsigned and needs an offset lane: d=16 pads to 32") as info:
        qac.compile(mapping, "ibmq_belem", passes="normalize,encode,estimate{method=destructive_swap},layout")
    assert "\n" not in str(info.value)


def test_unary_encoding_wider_than_the_device_is_a_clear_error():
    rng = np.random.default_rng(3)
    mapping = spec_mapping(rng.standard_normal((2, 8)), rng.standard_normal((2, 8)), rng.standard_normal((2, 1)))
    with pytest.raises(TargetError, match="one qubit per component: d=8 .* needs 9 qubits"):
        qac.compile(mapping, "ibmq_belem", passes="normalize,encode{method=unary_diagonal},estimate,layout")


def test_incompatible_pair_is_a_clear_error():
    with pytest.raises(CompileError, match="does not work with encoding 'unary_diagonal'"):
        qac.compile(spec_mapping([[1.0, 2.0]], [[1.0, 0.0]], [[1.0]]), "aer",
                    passes="normalize,encode{method=unary_diagonal},estimate{method=destructive_swap},layout")


@pytest.mark.parametrize("target", ["ibm_brisbane", "ibm_fez"])
def test_binary_interference_templates_route_with_no_swaps_on_heavy_hex(target):
    """The routed tree's coupling graph embeds in heavy-hex: routing adds no two-qubit gate."""
    context = CompileContext(targets.get(target))
    for d in (4, 16):
        figures = routed_candidate("binary", "interference", d, context, optimization_level=3, trials=1)
        _, cone, _ = ESTIMATORS["interference"].joint_program(ESTIMATORS["interference"].qubits(d))
        assert figures.two_qubit_gates == sum(op[0] == "cx" for op in cone)


def test_the_model_ranks_kernels_as_noisy_mitigated_runs_do():
    """ibm_fez noise, d = 4, 36 pairs, mitigated: interference's measured error is well below
    compute_uncompute's (whose σ²(0) is lower), the model ranks them the same way, and its
    interference prediction is within 1.5× of the measured error."""
    rng = np.random.default_rng(4)
    Q, K, V = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    measured, predicted = {}, {}
    for encoding, estimator in (("binary", "interference"), ("unary_semi_diagonal", "compute_uncompute")):
        compiled = qac.compile(spec_mapping(Q, K, V, shots=16384), "ibm_fez",
                               passes=f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},"
                                      f"layout{{optimization_level=3}},cost{{shots=16384}}")
        kernel = compiled.kernels[0]
        truth = np.sum(kernel.lhs_units[kernel.pairs[:, 0]] * kernel.rhs_units[kernel.pairs[:, 1]], axis=1)
        errors = [compiled.run(noise=True, seed=s).inner_products["h0_scores"][0] - truth for s in (3, 4)]
        measured[estimator] = np.sqrt(np.mean(np.square(errors)))
        predicted[estimator] = next(iter(compiled.manifest()["cost"]["templates"].values()))["expected_error"]
    assert measured["interference"] < measured["compute_uncompute"] / 1.5, measured
    assert predicted["interference"] < predicted["compute_uncompute"], predicted
    assert predicted["interference"] == pytest.approx(measured["interference"], rel=0.5)


def _pairs(report) -> list[tuple[str, str]]:
    return [(c.encoding, c.estimator) for c in report.candidates]


@pytest.mark.parametrize("target", ["aer", "ibm_fez", "iqm_garnet", "ionq_aria"])
def test_pruned_ranking_picks_what_the_exhaustive_one_picks(target):
    """``auto`` cuts candidates whose bound exceeds the best ranked error, unrouted: its choice (and
    the choice's figures), and the figures of every candidate it ranks, equal those of the search
    with pruning off (``prune=False``: every open candidate routed), and it routes fewer."""
    context = CompileContext(targets.get(target))
    layout = LayoutOptions(3, 4)
    pruned = evaluate(8, context, shots=4096, layout=layout)
    full = evaluate(8, context, shots=4096, layout=layout, prune=False)
    assert pruned.choice == full.choice
    by_pair = {(c.encoding, c.estimator): c for c in full.candidates}
    assert all(by_pair[c.encoding, c.estimator] == c for c in pruned.candidates)
    assert _pairs(pruned) == [p for p in _pairs(full) if p in set(_pairs(pruned))]  # same order
    cut = [(s.encoding, s.estimator) for s in pruned.skipped if s.reason.startswith("cannot beat")]
    assert cut and sorted(cut + _pairs(pruned)) == sorted(_pairs(full))
    assert not [s for s in full.skipped if s.reason.startswith("cannot beat")]


@pytest.mark.parametrize("target", ["aer", "ibm_brisbane", "iqm_garnet", "rigetti_ankaa3"])
def test_bounds_never_exceed_the_routed_error_at_any_level(target):
    """The noiseless bound ≤ the logical-circuit bound ≤ the expected error of the routed template,
    for every open candidate, routed at level 1 (how ``auto`` ranks) and at level 3 with 4 seeds
    (how the winner is routed): pruning by either bound cannot cut the best candidate. The fast
    ranking figures equal the ``resources`` analysis's."""
    from qac.passes.cost_model import (
        candidate_template,
        error_bound,
        noiseless_bound,
        ranking_figures,
    )
    from qac.passes.layout import routed
    from qac.passes.resources import template_resources

    context, d = CompileContext(targets.get(target)), 8
    report = evaluate(d, context, shots=4096, layout=LayoutOptions(3, 4), prune=False)
    checked = 0
    for c in report.candidates:
        template = candidate_template(c.encoding, c.estimator, d, context.target)
        low = noiseless_bound(c.estimator, d, ESTIMATORS[c.estimator].qubits(d, c.encoding), shots=4096)
        bound = error_bound(c.encoding, c.estimator, d, context, shots=4096, precision=0.01, template=template)
        assert low <= bound + 1e-15, (c.encoding, c.estimator)
        for level, trials in ((1, 1), (3, 4)):
            isa = routed(template, context, optimization_level=level, trials=trials)
            figures = ranking_figures(isa, context.target)
            assert figures == template_resources(isa, context.target).figures()
            error = statistics(c.estimator, figures["esp"], 4096, 0.01, d=d,
                               measured_bits=isa.num_clbits)["expected_error"]
            assert bound <= error + 1e-12, (c.encoding, c.estimator, level)
            checked += 1
    assert checked >= 8


def test_the_winner_is_routed_once_at_the_layout_options_and_layout_reuses_it():
    """``choose`` ranks at level 1 with one seed and routes only the winner at the pipeline's
    layout options; ``layout`` then finds it in the same cache (no transpile of its own), and the
    compiled template's figures are the choice's. ``choose{...,prune=false}`` picks the same and
    writes the same kernel files, recording ``cost{...,prune=False}`` so the resolved text
    recompiles to the same manifest."""
    from qac.passes.layout import TemplateCache

    rng = np.random.default_rng(5)
    mapping = spec_mapping(rng.standard_normal((3, 8)), rng.standard_normal((3, 8)), rng.standard_normal((3, 2)))
    layout = "layout{optimization_level=3,trials=4}"
    cache = TemplateCache()
    compiled = qac.compile(mapping, "ibm_fez", passes=f"choose{{encoding=auto,estimator=auto}},{layout}", cache=cache)
    auto = compiled.manifest()["cost"]["auto"]
    assert cache.transpiles == len(auto["candidates"]) + 1 and cache.hits >= 1
    template = next(iter(compiled.manifest()["cost"]["templates"].values()))
    assert template["two_qubit_gates"] == auto["choice"]["two_qubit_gates"]
    assert template["expected_error"] == auto["choice"]["expected_error"]
    full = qac.compile(mapping, "ibm_fez", passes=f"choose{{encoding=auto,estimator=auto,prune=false}},{layout}",
                       cache=TemplateCache())
    assert "prune=False" in full.pipeline and "prune" not in compiled.pipeline
    assert full.manifest()["cost"]["auto"]["choice"] == auto["choice"]
    assert full.qasm() == compiled.qasm()  # the same routed kernel
    assert len(full.manifest()["cost"]["auto"]["candidates"]) > len(auto["candidates"])
    again = qac.compile(mapping, "ibm_fez", passes=full.pipeline, cache=TemplateCache())
    assert again.manifest()["cost"] == full.manifest()["cost"]
