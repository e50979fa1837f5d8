"""Classical attention: the numpy reference and the reconstruction from estimated scores.

Reconstruction applies scale, mask and softmax to the estimated scores and multiplies by V.
Error bars use the delta method with independent score errors: for one row,
∂O_e/∂S_l = P_l (V_le − O_e), so Var(O_e) = Σ_l P_l² (V_le − O_e)² σ_l².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def causal_visible(n: int, m: int) -> np.ndarray:
    return np.tril(np.ones((n, m), dtype=bool))


def reference_attention(Q, K, V, *, heads: int = 1, scale: float | None = None, mask: str = "none") -> np.ndarray:
    """softmax(Q·Kᵀ·scale + mask)·V per head, heads concatenated on the feature axis."""
    d, dv = Q.shape[1] // heads, V.shape[1] // heads
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    outputs = []
    for h in range(heads):
        scores = Q[:, h * d:(h + 1) * d] @ K[:, h * d:(h + 1) * d].T * scale
        if mask == "causal":
            scores = np.where(causal_visible(*scores.shape), scores, -np.inf)
        outputs.append(softmax_rows(scores) @ V[:, h * dv:(h + 1) * dv])
    return np.concatenate(outputs, axis=1)


@dataclass(frozen=True)
class HeadResult:
    scores: np.ndarray  # (N, M) scaled scores, −inf where masked
    scores_stderr: np.ndarray
    output: np.ndarray  # (N, dv_head)
    output_stderr: np.ndarray


def reconstruct_head(inner: np.ndarray, inner_stderr: np.ndarray, lhs_norms, rhs_norms, visible,
                     scale: float, values: np.ndarray) -> HeadResult:
    """Scores = scale·|q_i|·|k_j|·C_ij on visible entries; softmax; ·V; delta-method errors."""
    gain = scale * np.outer(lhs_norms, rhs_norms)
    scores = np.where(visible, gain * inner, -np.inf)
    scores_stderr = np.where(visible, np.abs(gain) * inner_stderr, 0.0)
    probs = softmax_rows(scores)
    output = probs @ values
    # (N, M, dv): P_il (V_le − O_ie) σ_il, summed in quadrature over l
    terms = probs[:, :, None] * (values[None, :, :] - output[:, None, :]) * scores_stderr[:, :, None]
    output_stderr = np.sqrt(np.sum(terms**2, axis=1))
    return HeadResult(scores, scores_stderr, output, output_stderr)
