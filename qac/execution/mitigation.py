"""Error mitigation math for noisy runs: readout correction and the signal rescale.

Both act on the decoded mean of the estimator's outcome value f, so they work for any
estimator (``qac.ir.Decoding``); the third technique, sign symmetrisation, is the plan
running each pair's (â, −b̂) partner (``qac/execution/estimates.py`` combines them):

* **readout** — per measured clbit, prepare-0 / prepare-1 calibration circuits in the same
  job give p(1|0) and p(0|1); the tensor-product confusion matrix A is inverted on the outcome
  *values* instead of the counts: E[f] = f·A⁻¹p = (A⁻ᵀf)·p, so decoding with g = A⁻ᵀf
  corrects the mean and its sample variance at once (Bravyi et al., PRA 103, 042605 (2021)
  for the tensor-product model).
* **sign symmetrisation** — for estimators whose ideal mean is odd in b̂ (``interference``,
  ``hadamard``), every pair also runs as (â, −b̂) with half the shots, and the estimate is
  (m(â,b̂) − m(â,−b̂))/2. State-dependent offsets (T1 relaxation, readout asymmetry) are even
  in the sign and cancel pair by pair; the shot-noise variance is unchanged.
* **signal rescale** — calibration pairs with known ideal means run as extra rows of the same
  ISA template (so the same layout and noise), bound at compile time (``passes/calibration.py``).
  Under depolarising noise the mean is m = λ·μ + δ; a per-pattern least-squares fit over
  several random patterns gives λ and δ, and the mitigated mean is (m − δ)/λ (Vovrosh et al.,
  PRE 104, 035309 (2021); Urbanek et al., PRL 127, 270502 (2021)). The spread of λ and δ
  across patterns gives both the uncertainty of their means (shared by every pair: a
  correlated error term) and the pair-to-pair model error beyond shot noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.errors import ExecutionError


# ----------------------------------------------------------------------------- readout
def flip_rates(prep0_counts: np.ndarray, prep1_counts: np.ndarray, num_bits: int) -> np.ndarray:
    """(num_bits, 2): per bit p(1|0) and p(0|1) from outcome counts (2^bits,) of the two circuits."""
    outcomes = np.arange(len(prep0_counts))
    rates = np.zeros((num_bits, 2))
    for b in range(num_bits):
        bit = (outcomes >> b) & 1
        rates[b, 0] = prep0_counts[bit == 1].sum() / max(prep0_counts.sum(), 1)
        rates[b, 1] = prep1_counts[bit == 0].sum() / max(prep1_counts.sum(), 1)
    return rates


def corrected_values(values: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """g = A⁻ᵀ f for the tensor-product confusion matrix of per-bit flip ``rates``."""
    num_bits = rates.shape[0]
    g = np.asarray(values, dtype=float).reshape([2] * num_bits) if num_bits else np.asarray(values, float)
    for b in range(num_bits):
        e0, e1 = rates[b]
        if e0 + e1 >= 0.9:
            raise ExecutionError(f"readout of clbit {b} is unusable (p(1|0)={e0:.2f}, p(0|1)={e1:.2f}); "
                                 f"run with --no-mitigation or pick other qubits")
        confusion = np.array([[1 - e0, e1], [e0, 1 - e1]])  # rows: measured, columns: prepared
        axis = num_bits - 1 - b  # C-order reshape: the most significant bit first
        g = np.moveaxis(np.tensordot(np.linalg.inv(confusion).T, g, axes=([1], [axis])), 0, axis)
    return g.reshape(-1)


# ----------------------------------------------------------------------------- signal rescale
@dataclass(frozen=True)
class Rescale:
    """m = λ·μ + δ, fitted per pattern; means, their covariance and the pattern-to-pattern spread."""

    attenuation: float  # λ (mean over patterns)
    offset: float  # δ
    covariance: np.ndarray  # (2, 2) of (λ, δ) means: shared by every pair
    spread: np.ndarray  # (2, 2) pattern-to-pattern covariance of (λ, δ) beyond shot noise

    def apply(self, mean: np.ndarray, sem: np.ndarray):
        """Mitigated mean, its independent σ (shot noise + model spread) and ∂/∂(λ, δ)."""
        lam, off = self.attenuation, self.offset
        mitigated = (mean - off) / lam
        model = (mitigated**2 * self.spread[0, 0] + 2 * mitigated * self.spread[0, 1] + self.spread[1, 1])
        independent = np.sqrt(sem**2 + np.maximum(model, 0.0)) / lam
        gradient = np.stack([-mitigated / lam, -np.ones_like(mean) / lam])  # (2, P)
        return mitigated, independent, gradient

    def as_dict(self) -> dict:
        return {"attenuation": float(self.attenuation), "offset": float(self.offset),
                "attenuation_stderr": float(np.sqrt(self.covariance[0, 0])),
                "offset_stderr": float(np.sqrt(self.covariance[1, 1]))}


def fit_rescale(means: np.ndarray, sems: np.ndarray, ideal: np.ndarray, pattern: np.ndarray | None = None) -> Rescale:
    """Least-squares fit of m = λ·μ + δ over every calibration row.

    The residual scatter estimates each row's total error (shot noise plus the pair-to-pair
    model error); the coefficients' covariance is that scatter times (XᵀX)⁻¹, and the model
    error beyond shot noise, τ² = RSS/(R − 2) − mean σ², is what every data pair adds.
    """
    mu, m = np.asarray(ideal, float), np.asarray(means, float)
    rows = len(m)
    if np.ptp(mu) < 1e-6:  # one distinct ideal mean: attenuation only
        lam = float(np.sum(mu * m) / np.sum(mu * mu))
        residual = m - lam * mu
        scatter = max(np.sum(residual**2) / max(rows - 1, 1), np.mean(sems**2))
        covariance = np.diag([scatter / np.sum(mu * mu), 0.0])
        spread = np.diag([0.0, max(0.0, scatter - np.mean(sems**2))])
        return Rescale(lam, 0.0, covariance, spread)
    design = np.stack([mu, np.ones_like(mu)], axis=1)
    beta, *_ = np.linalg.lstsq(design, m, rcond=None)
    residual = m - design @ beta
    shot = float(np.mean(np.asarray(sems) ** 2))
    scatter = max(float(np.sum(residual**2)) / max(rows - 2, 1), shot)  # never below shot noise
    covariance = scatter * np.linalg.inv(design.T @ design)
    if beta[0] <= 0.05:
        raise ExecutionError(f"the calibration circuits show no signal (attenuation {beta[0]:.3f}); the "
                             f"device noise swamps this kernel: use a smaller d, another target or --no-mitigation")
    spread = np.diag([0.0, scatter - shot])  # pair-to-pair model error, as an offset variance
    return Rescale(float(beta[0]), float(beta[1]), covariance, spread)
