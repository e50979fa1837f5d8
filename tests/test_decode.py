"""qac.kernels.decode: counts / probabilities → mean of f and its standard error; finish to c."""

from __future__ import annotations

import numpy as np
import pytest

from qac.kernels.decode import (
    estimate_from_counts,
    estimate_from_probabilities,
    finish,
    finish_slope,
    outcome_counts,
)


def test_outcome_counts_match_bincount_of_packed_bits():
    rng = np.random.default_rng(1)
    num_bits, rows, shots = 11, 3, 40
    samples = rng.integers(0, 1 << num_bits, size=(rows, shots))
    # big-endian bytes, the last byte the least significant (Qiskit's BitArray layout)
    packed = np.stack([(samples >> 8) & 0xFF, samples & 0xFF], axis=-1).astype(np.uint8)
    counts = outcome_counts(packed, num_bits)
    assert counts.shape == (rows, 1 << num_bits)
    for r in range(rows):
        np.testing.assert_array_equal(counts[r], np.bincount(samples[r], minlength=1 << num_bits))


@pytest.mark.parametrize("values", [np.array([1.0, -1.0]), np.array([1.0, 0.0, 0.0, 0.0]),
                                    np.array([1.0, -1.0, -1.0, 1.0])])
def test_counts_estimate_is_the_sample_mean_with_one_pseudo_shot_at_each_extreme(values):
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 30, size=(5, len(values)))
    counts[0] = 0
    counts[0, 0] = 50  # every shot the same outcome: the error bar must not vanish
    mean, sem = estimate_from_counts(counts, values)
    for row, (m, s) in enumerate(zip(mean, sem)):
        shots = np.repeat(values, counts[row])
        assert m == pytest.approx(shots.mean(), abs=1e-12)
        padded = np.concatenate([shots, [values.min(), values.max()]])
        expected = np.sqrt(np.sum((padded - shots.mean()) ** 2) / (len(shots) + 1) / len(shots))
        assert s == pytest.approx(expected, rel=1e-12)
    assert sem[0] > 0


def test_all_shots_in_one_branch_still_report_an_error_bar():
    """f = ±1, all S shots +1: the pseudo-shot at −1 adds (−1 − 1)², so σ = sqrt(4/((S + 1)·S)), not 0."""
    S = 100
    mean, sem = estimate_from_counts(np.array([[S, 0]]), np.array([1.0, -1.0]))
    assert mean[0] == 1.0
    assert sem[0] == pytest.approx(np.sqrt(4.0 / (S + 1) / S))


def test_probabilities_give_the_exact_mean_and_no_error():
    p = np.array([[0.25, 0.75], [1.0, 0.0]])
    mean, sem = estimate_from_probabilities(p, np.array([1.0, -1.0]))
    np.testing.assert_allclose(mean, [-0.5, 1.0])
    np.testing.assert_array_equal(sem, 0.0)


def test_signed_finish_is_the_identity_and_unsigned_inverts_the_offset_overlap():
    c = np.linspace(-0.9, 1.0, 9)
    sem = np.full_like(c, 1e-3)
    out, out_sem = finish(c, sem, signed=True)
    assert out is c and out_sem is sem
    s = ((1 + c) / 2) ** 2  # unsigned estimators measure ⟨a'|b'⟩² with a' = (â, 1)/√2
    back, back_sem = finish(s, sem, signed=False)
    np.testing.assert_allclose(back, c, atol=1e-12)
    np.testing.assert_allclose(back_sem, sem / np.sqrt(s), rtol=1e-12)  # delta method: dc/ds = 1/√s


def test_unsigned_finish_clips_and_keeps_an_error_bar_at_zero_overlap():
    out, out_sem = finish(np.array([-0.01, 0.0, 1.2]), np.array([0.04, 0.04, 0.0]), signed=False)
    np.testing.assert_allclose(out, [-1.0, -1.0, 1.0])
    np.testing.assert_allclose(out_sem, [2 * np.sqrt(0.04), 2 * np.sqrt(0.04), 0.0])


def test_finish_slope_is_the_derivative():
    s = np.array([0.04, 0.25, 0.81])
    np.testing.assert_allclose(finish_slope(s, signed=False), 1 / np.sqrt(s), rtol=1e-6)
    np.testing.assert_allclose(finish_slope(s, signed=True), 1.0, rtol=1e-9)
