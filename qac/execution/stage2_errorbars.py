"""Error bars of a two-stage output (``pv: quantum``): one bootstrap through both stages.

Stage 1 estimates C1 (Q·Kᵀ inner products), the run forms P̂ = softmax(scale·|q|·|k|·C1 + bias)
with the mask, and stage 2 estimates c2_ik ≈ ⟨b̂_i|v̂_k⟩ for the rows b̂_i stage 2 was bound
with (the unit rows of P̂). The output is O_ik = |p_i|·|v_k|·c_ik(p̂_i) with

    c_ik(x̂) = ĉ2_ik + (x̂ − b̂_i)·v̂_k,

which is exact in x̂ because ⟨x̂|v̂_k⟩ = x̂·v̂_k is linear: the circuit measured ⟨b̂_i|v̂_k⟩, and
any other row's inner product differs from it by (x̂ − b̂_i)·v̂_k, known classically. A replica
draws stage-1 noise exactly as ``qac.execution.errorbars`` does (independent normal shot noise per pair,
plus the mitigation's shared attenuation/offset errors, clipped to [−1, 1]), pushes it through
scale, bias, mask and softmax to a replica P*, and stage-2 noise the same way:

    O*_ik = |p*_i|·|v_k|·clip(ĉ2_ik + (p̂*_i − b̂_i)·v̂_k + σ2_ik·z_ik + Σ_t θ2_t ∂c2_ik/∂θ_t, −1, 1).

The reported σ_ik is the root-mean-square deviation of O* from the plug-in Ô (variance plus
bias², as in ``qac.execution.errorbars``). With exact stage-2 products (σ2 = 0) it is the classical
P·V bootstrap; with an exact stage 1 it is |p_i|·|v_k|·σ2_ik. When b̂ = p̂ (the mitigated
output) the plug-in is |p_i|·|v_k|·ĉ2_ik; the raw output of a mitigated run uses its own P̂
with the same identity (docs/kernels.md).
"""

from __future__ import annotations

import numpy as np

from qac.execution.errorbars import CHUNK_ENTRIES, DRAWS, softmax_rows


def _weights(scores: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows p̂ of P = softmax(scores) over the visible keys, and the norms |p|."""
    probs = softmax_rows(np.where(visible, scores, -np.inf))
    norms = np.linalg.norm(probs, axis=-1, keepdims=True)
    units = np.divide(probs, norms, out=np.zeros_like(probs), where=norms > 0)
    return units, norms[..., 0]


def two_stage_head(stage1: dict, stage2: dict, *, rng: np.random.Generator, draws: int = DRAWS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(plug-in output Ô (N, dv), σ (N, dv)) of one head.

    ``stage1``: inner, sem (N, M), lhs_norms, rhs_norms, visible, scale, bias, gradient (T, N, M) or
    None, covariance. ``stage2``: c2, sem (N, dv) (0 where not estimated), estimated (N, dv) bool,
    bound (N, M) the unit rows stage 2 was bound with, v_units (dv, M), v_norms (dv,), gradient
    (T2, N, dv) or None, covariance.
    """
    inner, sem1, visible = stage1["inner"], stage1["sem"], stage1["visible"]
    gain = stage1["scale"] * np.outer(stage1["lhs_norms"], stage1["rhs_norms"])
    bias = 0.0 if stage1.get("bias") is None else stage1["bias"]
    c2, sem2, estimated = stage2["c2"], stage2["sem"], stage2["estimated"]
    bound, v_units, v_norms = stage2["bound"], stage2["v_units"], stage2["v_norms"]
    n, m = inner.shape
    noise1 = np.where(visible, sem1, 0.0)
    noise2 = np.where(estimated, sem2, 0.0)

    units, norms = _weights(gain * inner + bias, visible)
    plug_in = np.where(estimated, norms[:, None] * v_norms * np.clip(c2 + (units - bound) @ v_units.T, -1.0, 1.0), 0.0)
    stderr = np.zeros_like(plug_in)
    if not n or not m:
        return plug_in, stderr
    g1, cov1 = stage1.get("gradient"), stage1.get("covariance")
    g2, cov2 = stage2.get("gradient"), stage2.get("covariance")
    theta1 = theta2 = None
    if g1 is not None and len(g1):
        theta1 = rng.multivariate_normal(np.zeros(len(cov1)), cov1, size=draws, method="eigh")
    if g2 is not None and len(g2):
        theta2 = rng.multivariate_normal(np.zeros(len(cov2)), cov2, size=draws, method="eigh")
    rows = max(1, CHUNK_ENTRIES // max(1, draws * max(m, c2.shape[1])))
    for start in range(0, n, rows):
        sl = slice(start, min(n, start + rows))
        z1 = rng.standard_normal((draws, sl.stop - sl.start, m))
        z2 = rng.standard_normal((draws, sl.stop - sl.start, c2.shape[1]))
        replica = inner[None, sl] + noise1[None, sl] * z1
        if theta1 is not None:
            replica = replica + np.einsum("bt,tnm->bnm", theta1, g1[:, sl])
        replica = np.clip(replica, -1.0, 1.0)
        bias_sl = bias if np.ndim(bias) == 0 else bias[None, sl]
        r_units, r_norms = _weights(gain[None, sl] * replica + bias_sl, visible[None, sl])
        c = c2[None, sl] + (r_units - bound[None, sl]) @ v_units.T + noise2[None, sl] * z2
        if theta2 is not None:
            c = c + np.einsum("bt,tne->bne", theta2, g2[:, sl])
        outputs = np.where(estimated[None, sl], r_norms[..., None] * v_norms * np.clip(c, -1.0, 1.0), 0.0)
        stderr[sl] = np.sqrt(np.sum((outputs - plug_in[None, sl]) ** 2, axis=0) / (draws - 1))
    return plug_in, stderr
