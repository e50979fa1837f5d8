"""Calibration and sign-partner rows, bound at compile time by the estimator's own binder.

A noisy mitigated run needs, beside each kernel's data rows, (a) per template, pairs of
known overlap to fit the signal rescale m = λ·μ + δ, and (b) for estimators whose ideal mean
is odd in b̂, each pair's sign partner (â, −b̂). Both are rows of the same template, bound
here by ``Estimator.bind`` exactly as the data rows are, so a run never re-enters compilation.
(Used by the ``estimate`` pass; mitigation itself is ``qac/execution/mitigation.py``.)

Calibration pairs: per pattern a random unit û and partners ŵ = c·û + √(1−c²)·v̂ (v̂ ⟂ û
random) of known overlap c ∈ ``OVERLAPS`` (positive ones only when the estimator is odd: the
−ŵ partner gives −c). Overlaps strictly inside (−1, 1) matter: with ŵ = ±û the two branches of
the interference circuit carry the same state, noise on the data qubits barely touches the
interference, and the attenuation comes out smaller than the data pairs see (measured on
ibm_brisbane: 0.95 from ±û against 0.93 for data pairs at d = 4). The patterns are drawn from
the compile seed; the ideal means of f are the logical template's exact means (``Calibration.ideal``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qac import seeds
from qac.ir import Calibration, Kernel

CALIBRATION_PATTERNS = 6  # random û per template and copy
OVERLAPS = (0.9, 0.5, 0.0, -0.5, -0.9)  # known ⟨û|ŵ⟩ of the calibration partners


def pair_kernel(kernel: Kernel, lhs: np.ndarray, rhs: np.ndarray, suffix: str) -> Kernel:
    """A kernel whose pair r is (lhs[r], rhs[r]): what the binder needs to bind arbitrary pairs."""
    count = len(lhs)
    return replace(kernel, name=f"{kernel.name}_{suffix}", lhs_units=lhs, rhs_units=rhs,
                   lhs_norms=np.ones(count), rhs_norms=np.ones(count),
                   pairs=np.stack([np.arange(count), np.arange(count)], axis=1),
                   visible=np.eye(count, dtype=bool), lhs_angles=None, rhs_angles=None)


def calibration_pairs(kernel: Kernel, *, odd: bool, seed: int,
                      patterns: int = CALIBRATION_PATTERNS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lhs, rhs, pattern): unit vectors of the calibration pairs and the pattern of each row."""
    rng = seeds.generator(seed, "calibration")
    d, width = kernel.d, kernel.lhs_units.shape[1]
    overlaps = [c for c in OVERLAPS if c >= 0] if odd else list(OVERLAPS)
    if d == 1:  # only ±1 overlaps exist in one dimension
        overlaps = [1.0] if odd else [1.0, -1.0]
    u = np.zeros((patterns, width))
    u[:, :d] = rng.standard_normal((patterns, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.zeros((patterns, width))
    if d > 1:
        v[:, :d] = rng.standard_normal((patterns, d))
        v -= np.sum(v * u, axis=1, keepdims=True) * u
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    lhs = np.concatenate([u] * len(overlaps))
    rhs = np.concatenate([c * u + np.sqrt(max(0.0, 1 - c * c)) * v for c in overlaps])
    return lhs, rhs, np.tile(np.arange(patterns), len(overlaps))


def calibration(estimator, template, kernel: Kernel, *, seed: int) -> Calibration:
    """The template's calibration rows, bound from ``kernel``'s shape (ideal means: ``Calibration.ideal``)."""
    odd = template.decoding.odd
    lhs, rhs, pattern = calibration_pairs(kernel, odd=odd, seed=seed)
    bind = estimator.bind
    values = bind(pair_kernel(kernel, lhs, rhs, "calibration"), template.encoding, template.tree)
    negated = bind(pair_kernel(kernel, lhs, -rhs, "calibration"), template.encoding, template.tree) if odd else None
    return Calibration(values, negated, pattern, template.circuit, template.decoding.outcome_values)
