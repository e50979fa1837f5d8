"""Classical attention: the numpy reference and the reconstruction from estimated scores.

Reconstruction applies scale, mask and softmax to the estimated scores and multiplies by V.
Error bars use the delta method: for one row, ∂O_e/∂S_l = P_l (V_le − O_e), so independent
score errors give Var(O_e) = Σ_l P_l² (V_le − O_e)² σ_l²; errors shared by many scores (the
mitigation's fitted attenuation and offset) enter through the summed Jacobian with their
covariance. ``shot_allocation`` turns the same Jacobian into shots per score for a precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (rows of one head, or of a stack of heads)."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def causal_visible(n: int, m: int) -> np.ndarray:
    return np.tril(np.ones((n, m), dtype=bool))


def reference_attention(Q, K, V, *, heads: int = 1, scale: float | None = None, mask: str = "none",
                        visible=None, bias=None) -> np.ndarray:
    """softmax(Q·Kᵀ·scale + mask)·V per head, heads concatenated on the feature axis; ``visible``
    and ``bias`` (heads, N, M) are an explicit mask (hidden entries, additive scores)."""
    d, dv = Q.shape[1] // heads, V.shape[1] // heads
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    outputs = []
    for h in range(heads):
        scores = Q[:, h * d:(h + 1) * d] @ K[:, h * d:(h + 1) * d].T * scale
        if mask == "causal":
            scores = np.where(causal_visible(*scores.shape), scores, -np.inf)
        if bias is not None:
            scores = scores + bias[h]
        if visible is not None:
            scores = np.where(visible[h], scores, -np.inf)
        outputs.append(softmax_rows(scores) @ V[:, h * dv:(h + 1) * dv])
    return np.concatenate(outputs, axis=1)


def biased(scores: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Scaled scores plus an optional additive float mask (N, M)."""
    return scores if bias is None else scores + bias


@dataclass(frozen=True)
class HeadResult:
    scores: np.ndarray  # (N, M) scaled scores, −inf where masked
    scores_stderr: np.ndarray
    output: np.ndarray  # (N, dv_head)
    output_stderr: np.ndarray


def output_jacobian(probs: np.ndarray, values: np.ndarray, output: np.ndarray) -> np.ndarray:
    """∂O_ie/∂S_il = P_il (V_le − O_ie), shape (N, M, dv) (with leading head axes: (..., N, M, dv))."""
    return probs[..., :, :, None] * (values[..., None, :, :] - output[..., :, None, :])


def delta_heads(inner, inner_stderr, lhs_norms, rhs_norms, visible, scale, values, bias=None):
    """``reconstruct_head``'s independent part for one head or a stack of heads of equal shape
    (leading axes on every argument; ``scale`` a number or (..., 1, 1)): scores, their variance,
    output, its variance and the probabilities. Elementwise and one matmul per head,
    so a head's numbers are the same bits alone or in a stack (a model forward has hundreds)."""
    gain = scale * (lhs_norms[..., :, None] * rhs_norms[..., None, :])
    scores = np.where(visible, biased(gain * inner, bias), -np.inf)
    scores_var = np.where(visible, (gain * inner_stderr) ** 2, 0.0)
    probs = softmax_rows(scores)
    output = probs @ values
    # Σ_l (P_il (V_le − O_ie))² σ_il², expanded (no (..., N, M, dv) table): with w = P²σ²,
    # w·V² − 2 O ⊙ w·V + O² ⊙ Σ_l w (rounding can leave −ε where it is 0: clipped by the callers)
    w = probs**2 * scores_var
    output_var = w @ values**2 - 2.0 * output * (w @ values) + output**2 * w.sum(axis=-1, keepdims=True)
    return scores, scores_var, output, output_var, probs


def reconstruct_head(inner: np.ndarray, inner_stderr: np.ndarray, lhs_norms, rhs_norms, visible,
                     scale: float, values: np.ndarray, *, shared_gradient: np.ndarray | None = None,
                     shared_covariance: np.ndarray | None = None, bias: np.ndarray | None = None) -> HeadResult:
    """Scores = scale·|q_i|·|k_j|·C_ij on visible entries; softmax; ·V; delta-method errors.

    ``inner_stderr`` are independent per entry (shot noise). ``shared_gradient`` (T, N, M) holds
    ∂C/∂θ_t for parameters θ shared by many entries (the mitigation's attenuation and offset),
    with covariance ``shared_covariance`` (T, T): their errors are correlated across entries,
    so they enter through the summed Jacobian, Var += gᵀΣg with g_t = Σ_l J_il ∂S_il/∂θ_t.
    ``bias`` (N, M), if given, is an additive mask added to the scaled scores before softmax.
    """
    scores, scores_var, output, output_var, probs = delta_heads(inner, inner_stderr, lhs_norms, rhs_norms,
                                                                visible, scale, values, bias)
    if shared_gradient is not None and len(shared_gradient):
        jacobian = output_jacobian(probs, values, output)
        gain = scale * (lhs_norms[:, None] * rhs_norms[None, :])
        score_gradient = np.where(visible[None], gain[None] * shared_gradient, 0.0)  # (T, N, M)
        scores_var = scores_var + np.einsum("tnm,ts,snm->nm", score_gradient, shared_covariance, score_gradient)
        g = np.einsum("nme,tnm->tne", jacobian, score_gradient)  # (T, N, dv)
        output_var = output_var + np.einsum("tne,ts,sne->ne", g, shared_covariance, g)
    return HeadResult(scores, np.sqrt(np.maximum(scores_var, 0.0)), output, np.sqrt(np.maximum(output_var, 0.0)))


def shot_allocation(inner: np.ndarray, per_shot_sigma: np.ndarray, lhs_norms, rhs_norms, visible,
                    scale: float, values: np.ndarray, precision: float,
                    bias: np.ndarray | None = None, jacobian: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Shots per score so that every output entry's shot-noise σ is at most ``precision``.

    The delta method gives Var(O_ie) = Σ_l J_ile² s_il²/n_il with s_il = gain_il·σ_il the
    per-shot score noise. Bounding every entry e of row i by a_il = max_e |J_ile|·s_il, the
    fewest shots with Σ_l a_il²/n_il ≤ ε² are n_il = a_il·Σ_k a_ik/ε² (Lagrange; Neyman
    allocation). Returns (N, M) shots (0 where nothing is estimated) and the uniform
    per-score shots that reach the same worst-case σ: max_ie Σ_l J_ile² s_il²/ε².

    ``jacobian`` (N, M, dv) replaces the point Jacobian at the estimate, e.g. the bootstrap's
    regression slopes (``qac.execution.errorbars``), which stay honest where the softmax is peaked.
    """
    gain = scale * np.outer(lhs_norms, rhs_norms)
    if jacobian is None:
        scores = np.where(visible, biased(gain * inner, bias), -np.inf)
        probs = softmax_rows(scores)
        jacobian = output_jacobian(probs, values, probs @ values)
    noise = np.where(visible, np.abs(gain) * per_shot_sigma, 0.0)  # (N, M)
    weight = np.max(np.abs(jacobian), axis=2) * noise
    shots = weight * weight.sum(axis=1, keepdims=True) / precision**2
    uniform = float(np.max(np.sum((jacobian * noise[:, :, None]) ** 2, axis=1))) / precision**2 if inner.size else 0.0
    return shots, uniform
