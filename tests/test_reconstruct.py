"""qac.execution.reconstruct: estimates → attention output and error bars, against numpy.

One function serves exact and sampled runs; these tests feed it known inner products and
compare with numpy's attention and with finite-difference Jacobians of it (delta method).
"""

from __future__ import annotations

import numpy as np
import pytest

import qac
from qac.execution.estimates import KernelEstimate
from qac.execution.reconstruct import reconstruct, reference_output
from qac.kernels.attention import reference_attention, softmax_rows
from tests.conftest import spec_mapping


@pytest.fixture(scope="module")
def two_heads():
    rng = np.random.default_rng(12)
    Q, K, V = rng.standard_normal((4, 6)), rng.standard_normal((5, 6)), rng.standard_normal((5, 4))
    Q[1, :3] = 0.0  # a zero query direction in head 0: its scores are settled classically
    compiled = qac.compile(spec_mapping(Q, K, V, heads=2, mask="causal", scale=0.7), "aer")
    return compiled, Q, K, V


def true_inner(kernel):
    """⟨â_i|b̂_j⟩ over the kernel's pairs, from its unit vectors."""
    i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
    return np.sum(kernel.lhs_units[i] * kernel.rhs_units[j], axis=1)


def numpy_head(Q, K, V, h, scale, visible, bias=None, d=3, dv=2):
    scores = Q[:, h * d:(h + 1) * d] @ K[:, h * d:(h + 1) * d].T * scale
    if bias is not None:
        scores = scores + bias
    scores = np.where(visible, scores, -np.inf)
    return softmax_rows(scores) @ V[:, h * dv:(h + 1) * dv]


def test_exact_inner_products_reproduce_numpy_attention(two_heads):
    compiled, Q, K, V = two_heads
    estimates = {k.name: KernelEstimate(true_inner(k), np.zeros(len(k.pairs))) for k in compiled.kernels}
    r = reconstruct(compiled.program, estimates)
    expected = reference_attention(Q, K, V, heads=2, scale=0.7, mask="causal")
    np.testing.assert_allclose(r.output, expected, atol=1e-12)
    np.testing.assert_allclose(reference_output(compiled.program), expected, atol=1e-15)
    np.testing.assert_array_equal(r.stderr, 0.0)
    for h in range(2):
        raw = Q[:, 3 * h:3 * h + 3] @ K[:, 3 * h:3 * h + 3].T * 0.7
        visible = np.tril(np.ones((4, 5), dtype=bool))
        np.testing.assert_allclose(r.scores[h][visible], raw[visible], atol=1e-12)
        assert np.all(np.isneginf(r.scores[h][~visible]))


def test_independent_errors_follow_the_finite_difference_delta_method(two_heads):
    compiled, Q, K, V = two_heads
    rng = np.random.default_rng(3)
    kernel = compiled.kernels[1]
    sem = rng.uniform(0.01, 0.05, len(kernel.pairs))
    estimates = {k.name: KernelEstimate(true_inner(k), sem if k is kernel else np.zeros(len(k.pairs)))
                 for k in compiled.kernels}
    r = reconstruct(compiled.program, estimates)
    # numpy: perturb each inner product, propagate through softmax·V, sum in quadrature
    gain = 0.7 * np.outer(kernel.lhs_norms, kernel.rhs_norms)
    base = numpy_head(Q, K, V, 1, 0.7, kernel.visible)
    variance = np.zeros_like(base)
    h = 1e-6
    for p, (i, j) in enumerate(kernel.pairs):
        bias = np.zeros(kernel.shape)
        bias[i, j] = gain[i, j] * h
        derivative = (numpy_head(Q, K, V, 1, 0.7, kernel.visible, bias) - base) / h
        variance += (derivative * sem[p]) ** 2
    np.testing.assert_allclose(r.stderr[:, 2:], np.sqrt(variance), rtol=1e-4, atol=1e-9)
    np.testing.assert_array_equal(r.stderr[:, :2], 0.0)
    i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
    np.testing.assert_allclose(r.scores_stderr[1][i, j], gain[i, j] * sem, rtol=1e-12)


def test_a_shared_error_enters_through_the_summed_jacobian(two_heads):
    """One parameter θ shifts every inner product of head 0 by θ·g_p (σ_θ = 0.1): the output's
    σ is |dO/dθ|·σ_θ, with the derivative taken by finite differences of numpy attention."""
    compiled, Q, K, V = two_heads
    kernel = compiled.kernels[0]
    g = np.linspace(0.5, 1.5, len(kernel.pairs))
    estimates = {k.name: KernelEstimate(true_inner(k), np.zeros(len(k.pairs))) for k in compiled.kernels}
    estimates[kernel.name] = KernelEstimate(true_inner(kernel), np.zeros(len(kernel.pairs)), g[None, :],
                                            np.array([[0.01]]))
    r = reconstruct(compiled.program, estimates)
    gain = 0.7 * np.outer(kernel.lhs_norms, kernel.rhs_norms)
    h = 1e-6
    bias = np.zeros(kernel.shape)
    bias[kernel.pairs[:, 0], kernel.pairs[:, 1]] = gain[kernel.pairs[:, 0], kernel.pairs[:, 1]] * g * h
    derivative = (numpy_head(Q, K, V, 0, 0.7, kernel.visible, bias) - numpy_head(Q, K, V, 0, 0.7, kernel.visible)) / h
    np.testing.assert_allclose(r.stderr[:, :2], np.abs(derivative) * 0.1, rtol=1e-4, atol=1e-9)


def test_an_additive_float_mask_is_added_before_softmax(two_heads):
    """``kernel.bias`` (N, M), when a kernel carries one, shifts the scaled scores (torch masks)."""
    compiled, Q, K, V = two_heads
    program = compiled.program
    bias = np.random.default_rng(5).standard_normal((4, 5))
    kernel = program.module.plan.kernels[0]
    object.__setattr__(kernel, "bias", bias)
    try:
        estimates = {k.name: KernelEstimate(true_inner(k), np.zeros(len(k.pairs))) for k in program.module.plan.kernels}
        r = reconstruct(program, estimates)
        expected = numpy_head(Q, K, V, 0, 0.7, kernel.visible, bias)
        np.testing.assert_allclose(r.output[:, :2], expected, atol=1e-12)
        np.testing.assert_allclose(reference_output(program)[:, :2], expected, atol=1e-15)
    finally:
        object.__delattr__(kernel, "bias")


def test_exact_and_sampled_runs_reconstruct_through_the_same_function(two_heads, monkeypatch):
    """Both paths call ``reconstruct``; an exact run's output is then numpy's, and a run with many
    shots lands within its own error bars of it."""
    import qac.execution.run as run_module

    compiled = two_heads[0]
    calls = []

    def spy(program, estimates, **options):
        calls.append(sorted(estimates))
        return reconstruct(program, estimates, **options)

    monkeypatch.setattr(run_module, "reconstruct", spy)
    exact = compiled.run(exact=True)
    assert calls == [sorted(k.name for k in compiled.kernels)]
    np.testing.assert_allclose(exact.output, exact.exact, atol=1e-9)
    sampled = compiled.run(shots=4096, seed=2)
    assert len(calls) == 2  # ideal run: raw and main are one reconstruction
    assert np.all(np.abs(sampled.error) <= 5 * sampled.stderr + 1e-12)
