"""Outcome distributions → inner-product estimates with standard errors.

Every estimator names a value f(outcome) whose mean is the quantity it estimates. Sampled
counts and exact probabilities go through the same code: the estimate is Σ p(o)·f(o).
For S shots the standard error is the sample standard deviation of f over √S, computed
with one pseudo-observation at each extreme of f (Laplace smoothing, for the variance
only; the estimate stays the sample mean) so that an all-zeros or all-ones run does not
claim zero uncertainty. For ±1 outcomes this is σ = 2·sqrt(p̃(1−p̃)/S), p̃ = (k+1)/(S+2).
"""

from __future__ import annotations

import numpy as np


def outcome_counts(bits: np.ndarray, num_bits: int) -> np.ndarray:
    """(rows, shots, bytes) packed big-endian bit arrays (Qiskit BitArray) → (rows, 2^bits) counts."""
    rows, shots, nbytes = bits.shape
    ints = np.zeros((rows, shots), dtype=np.int64)
    for b in range(nbytes):  # the last byte holds the least significant bits
        ints = (ints << 8) | bits[:, :, b].astype(np.int64)
    outcomes = 1 << num_bits
    offsets = (np.arange(rows, dtype=np.int64) * outcomes)[:, None]
    return np.bincount((ints + offsets).ravel(), minlength=rows * outcomes).reshape(rows, outcomes)


def estimate_from_counts(counts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of f and its smoothed standard error, per row of counts (rows, outcomes)."""
    shots = counts.sum(axis=1).astype(float)
    mean = counts @ values / shots
    spread = counts @ values**2 - shots * mean**2
    fmin, fmax = values.min(), values.max()
    spread = np.maximum(spread, 0.0) + (fmin - mean) ** 2 + (fmax - mean) ** 2
    sem = np.sqrt(spread / (shots + 1.0) / shots)
    return mean, sem


def estimate_from_probabilities(probabilities: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-shot estimate: Σ p(o)·f(o), with zero standard error."""
    mean = probabilities @ values
    return mean, np.zeros_like(mean)


def finish(mean: np.ndarray, sem: np.ndarray, *, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """The mean of f → the inner product c and its standard error.

    Signed estimators: f's mean is c. Unsigned ones load (x̂, 1)/√2, so f's mean is
    s = ((1 + c)/2)² and c = 2√s − 1, σ_c = σ_s/√s (delta method; 2√σ_s at s = 0).
    """
    if signed:
        return mean, sem
    s = np.clip(mean, 0.0, 1.0)
    root = np.sqrt(s)
    stderr = np.where(root > 0, sem / np.maximum(root, 1e-300), 2.0 * np.sqrt(sem))
    return 2.0 * root - 1.0, np.where(sem > 0, stderr, 0.0)


def finish_slope(mean: np.ndarray, *, signed: bool) -> np.ndarray:
    """d finish/d mean, by central differences (h = 1e-6; 0 where it is not finite)."""
    h = 1e-6
    hi, _ = finish(mean + h, np.zeros_like(mean), signed=signed)
    lo, _ = finish(mean - h, np.zeros_like(mean), signed=signed)
    slope = (hi - lo) / (2 * h)
    return np.where(np.isfinite(slope), slope, 0.0)
