"""Error bars of the attention output that hold in every regime: a parametric bootstrap.

The output ``O = softmax(scale·|q|·|k|·C + bias)·V`` is a smooth but strongly non-linear
function of the estimated inner products ``C``. The delta method linearises it at the
estimate; where the softmax is peaked (trained transformers, large norms) the Jacobian at the
estimate is nearly zero while an error of one standard deviation in ``C`` still moves the
output by a whole value vector, and the delta-method bars under-cover (measured on 10 seeds
of Q, K ~ s·N(0, 1), d = 32, N = M = 12, 1024 shots: 2σ coverage 0.95, 0.94, 0.87, 0.78 for
s = 1, 2, 3, 4; this bootstrap: 0.95, 0.95, 0.95, 0.95; for a row with norms of 40 at
256 shots, 0.71 against 0.90).

The bootstrap draws ``B`` replicas of the estimated inner products from the estimator's own
error model — independent normal shot noise per pair of standard error σ, plus the errors
shared by many pairs (the mitigation's fitted attenuation and offset, linearised with their
covariance), clipped to the range an inner product can take — pushes each replica through
scale, bias, mask, softmax and ·V exactly, and reports the root-mean-square deviation of the
replicas from the plug-in output: the bootstrap's estimate of the estimator's mean squared
error, variance plus bias² (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993,
ch. 6 and 10). The bias term matters where the softmax is peaked: there the plug-in output
is pulled towards whichever key the noisy estimate favours. The reported value stays the
plug-in estimate. Draws come from a generator the
caller seeds (the run's seed), so a run is reproducible to the last bit.

``sensitivity`` reads the same replicas as a regression of each output entry on each score's
noise: the slope the precision planner uses instead of the point Jacobian, so planning and
error bars rest on one model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac import seeds

DRAWS = 256  # bootstrap replicas; the relative error of a reported σ is about 1/√(2B) ≈ 4%
METHOD = f"parametric bootstrap ({DRAWS} draws)"
#: what a noisy run without mitigation cannot put in its bars: the device's bias on every estimate
UNMITIGATED = "shot noise only: the device noise's bias is not in these bars (mitigation is off)"
CHUNK_ENTRIES = 1 << 22  # replicas × scores held at once (≈ 32 MiB of float64 per array)
#: small heads bootstrapped together hold at most this many replica entries (≈ 2 MiB a table), so a
#: stack never holds more than the one head's chunk the memory bound counts, or 2 MiB a table
STACK_ENTRIES = 1 << 18


#: ``errorbars="delta"``: the linearisation at the estimate (``qac.kernels.attention.reconstruct_head``)
DELTA_METHOD = "delta method (linearised at the estimate: free, but under-covers where the softmax is peaked)"


def method(*, noise: bool, mitigation: bool, suffix: str = "", bars: str = "bootstrap") -> str:
    """The ``error_method`` a sampled run reports: the bootstrap (or the delta method), and what
    it leaves out."""
    text = (METHOD if bars == "bootstrap" else DELTA_METHOD) + suffix
    return f"{text}; {UNMITIGATED}" if noise and not mitigation else text


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis; rows that are all −inf give zeros, not NaN."""
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    weights = np.exp(scores - top)
    total = weights.sum(axis=-1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


@dataclass(frozen=True)
class HeadErrors:
    """Per-entry standard errors of one head, and the replicas' regression slopes when asked."""

    output_stderr: np.ndarray  # (N, dv)
    scores_stderr: np.ndarray  # (N, M), 0 where masked
    sensitivity: np.ndarray | None = None  # (N, M, dv): ∂O_ie/∂S_il averaged over the replicas


def bootstrap_head(inner: np.ndarray, inner_stderr: np.ndarray, lhs_norms: np.ndarray, rhs_norms: np.ndarray,
                   visible: np.ndarray, scale: float, values: np.ndarray, *, rng: np.random.Generator,
                   bias: np.ndarray | None = None, shared_gradient: np.ndarray | None = None,
                   shared_covariance: np.ndarray | None = None, draws: int = DRAWS,
                   bounds: tuple[float, float] = (-1.0, 1.0), with_sensitivity: bool = False) -> HeadErrors:
    """Bootstrap standard errors of one head's output and scores.

    ``inner``/``inner_stderr`` (N, M): estimated inner products and their independent standard
    errors (0 where settled classically or masked); ``shared_gradient`` (T, N, M) with
    ``shared_covariance`` (T, T): errors shared by many entries (∂C/∂θ_t); ``bias`` (N, M): an
    additive float mask. Rows are independent, so they are processed in chunks that keep
    draws × rows × M below ``CHUNK_ENTRIES``.
    """
    n, m = inner.shape
    gain = scale * np.outer(lhs_norms, rhs_norms)
    visible = np.asarray(visible, dtype=bool)
    noise = np.where(visible, inner_stderr, 0.0)
    scores_stderr = np.zeros((n, m))
    covariance = None if shared_gradient is None or not len(shared_gradient) else np.asarray(shared_covariance)
    if covariance is not None:
        shared_var = np.einsum("tnm,ts,snm->nm", shared_gradient, covariance, shared_gradient)
        scores_stderr = np.abs(gain) * np.sqrt(noise**2 + np.maximum(shared_var, 0.0))
    else:
        scores_stderr = np.abs(gain) * noise
    scores_stderr = np.where(visible, scores_stderr, 0.0)
    output_stderr = np.zeros((n, values.shape[1]))
    slopes = np.zeros((n, m, values.shape[1])) if with_sensitivity else None
    if not n or not m or (not np.any(noise) and covariance is None):
        return HeadErrors(output_stderr, scores_stderr, slopes)
    # Shared errors couple the rows, so they are drawn once for all rows; the independent
    # noise is drawn per chunk of rows in a fixed order (the same draws whatever the chunk size
    # would be, since the chunking depends only on the shape).
    theta = None
    if covariance is not None:
        theta = rng.multivariate_normal(np.zeros(len(covariance)), covariance, size=draws, method="eigh")
    rows = max(1, CHUNK_ENTRIES // max(1, draws * m))
    for start in range(0, n, rows):
        sl = slice(start, min(n, start + rows))
        z = rng.standard_normal((draws, sl.stop - sl.start, m))
        replica = inner[None, sl] + noise[None, sl] * z
        if theta is not None:
            replica = replica + np.einsum("bt,tnm->bnm", theta, shared_gradient[:, sl])
        replica = np.clip(replica, *bounds)
        scores = gain[None, sl] * replica + (0.0 if bias is None else bias[None, sl])
        scores = np.where(visible[None, sl], scores, -np.inf)
        outputs = softmax_rows(scores) @ values  # (draws, rows, dv)
        plug_in = softmax_rows(np.where(visible[sl], gain[sl] * inner[sl] + (0.0 if bias is None else bias[sl]), -np.inf)) @ values
        output_stderr[sl] = np.sqrt(np.sum((outputs - plug_in[None]) ** 2, axis=0) / (draws - 1))
        if with_sensitivity:
            # E[(O − Ō) z_l] / (gain σ_l): the regression slope of O on score l's own noise
            centred = outputs - outputs.mean(axis=0, keepdims=True)
            moment = np.einsum("bne,bnm->nme", centred, z) / (draws - 1)
            scale_l = gain[sl] * noise[sl]
            slopes[sl] = np.divide(moment, scale_l[:, :, None], out=np.zeros_like(moment),
                                   where=scale_l[:, :, None] != 0)
    return HeadErrors(output_stderr, scores_stderr, slopes)


def _noises(heads: list) -> list[tuple[np.ndarray, bool]]:
    """Per head, its independent noise (σ where visible, else 0) and whether any is non-zero:
    heads of one shape in one pass."""
    groups: dict = {}
    for index, head in enumerate(heads):
        groups.setdefault(head[0].shape, []).append(index)
    out: list = [None] * len(heads)
    for members in groups.values():
        noise = np.where(np.stack([np.asarray(heads[i][4], dtype=bool) for i in members]),
                         np.stack([heads[i][1] for i in members]), 0.0)
        any_noise = noise.reshape(len(members), -1).any(axis=1) if noise.size else np.zeros(len(members), bool)
        for n, i in enumerate(members):
            out[i] = (noise[n], bool(any_noise[n]))
    return out


def bootstrap_stack(heads: list, rng: np.random.Generator, draws: int = DRAWS,
                    bounds: tuple[float, float] = (-1.0, 1.0)) -> list[np.ndarray]:
    """Output standard errors of many heads, each exactly as ``bootstrap_head`` would give it.

    ``heads``: per head (inner, inner_stderr, lhs_norms, rhs_norms, visible, scale, values, bias,
    shared_gradient, shared_covariance), in the order the run reconstructs them. The generator is
    consumed head by head in that order, as one ``bootstrap_head`` call per head would; heads that
    fit one chunk and share no error are then pushed through softmax and ·V in stacks of one shape
    (a model forward has hundreds of small heads), the others one at a time."""
    out: list = [None] * len(heads)
    queued: dict = {}
    noises = _noises(heads)
    for index, head in enumerate(heads):
        inner, inner_stderr, lhs_norms, rhs_norms, visible, scale, values, bias, gradient, covariance = head
        n, m = inner.shape
        noise, noisy = noises[index]
        shared = gradient is not None and len(gradient)
        if shared or not n or not m or n > max(1, CHUNK_ENTRIES // max(1, draws * m)) or not noisy:
            out[index] = bootstrap_head(inner, inner_stderr, lhs_norms, rhs_norms, visible, scale, values, rng=rng,
                                        bias=bias, shared_gradient=gradient, shared_covariance=covariance,
                                        draws=draws, bounds=bounds).output_stderr
            continue
        key = (n, m, values.shape[1], bias is None)
        z = rng.standard_normal((draws, n, m))  # what bootstrap_head draws for a one-chunk head
        queued.setdefault(key, []).append((index, z, noise))
        if len(queued[key]) * draws * n * m >= STACK_ENTRIES:  # a full stack: push it through now
            _push(heads, queued.pop(key), out, draws, bounds)
    for members in queued.values():
        _push(heads, members, out, draws, bounds)
    return out


def _push(heads: list, chunk: list, out: list, draws: int, bounds: tuple[float, float]) -> None:
    """One stack of heads of one shape: replicas → softmax → ·V, σ of each head into ``out``."""
    rows = [heads[i] for i, _, _ in chunk]
    inner = np.stack([h[0] for h in rows])[:, None]
    noise = np.stack([z for _, _, z in chunk])[:, None]
    gain = np.stack([h[5] * np.outer(h[2], h[3]) for h in rows])[:, None]
    visible = np.stack([np.asarray(h[4], dtype=bool) for h in rows])[:, None]
    values = np.stack([h[6] for h in rows])[:, None]
    bias = 0.0 if rows[0][7] is None else np.stack([h[7] for h in rows])[:, None]
    replica = np.clip(inner + noise * np.stack([z for _, z, _ in chunk]), *bounds)
    outputs = softmax_rows(np.where(visible, gain * replica + bias, -np.inf)) @ values  # (K, draws, n, dv)
    plug_in = softmax_rows(np.where(visible, gain * inner + bias, -np.inf)) @ values  # (K, 1, n, dv)
    stderr = np.sqrt(np.sum((outputs - plug_in) ** 2, axis=1) / (draws - 1))
    for (i, _, _), sigma in zip(chunk, stderr):
        out[i] = sigma


#: the bootstrap's replicas, one stream of ``qac.seeds`` per reconstruction of a run
BOOTSTRAPS = {"raw": 0, "mitigated": 1, "pilot": 2, "stage2_raw": 3, "stage2_mitigated": 4}


def bootstrap_rng(seed: int, kind: str) -> np.random.Generator:
    """The bootstrap's generator for one reconstruction of a run: from the run seed only, so the
    same seed gives the same error bars whatever ran before."""
    return seeds.generator(seed, "bootstrap", BOOTSTRAPS[kind])
