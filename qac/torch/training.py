"""Quantum attention in training: attention dropout and the straight-through backward.

``attention(..., dropout_p=p)`` is ``qac.torch.attention`` with attention dropout as transformers'
eager attention applies it (``nn.functional.dropout(attn_weights, p)``: a Bernoulli(1 − p) keep
mask on the attention probabilities, scaled by 1/(1 − p), drawn from torch's RNG so
``torch.manual_seed`` reproduces it and the mask equals eager's for the same seed). Here it falls
on the *estimated* probabilities P̂ before P·V; with ``pv="quantum"`` on P̂ before it is bound into
the P·V circuits (stage 2 runs on the dropped rows).

Gradients are straight-through, ``graph + (quantum − graph).detach()``, where ``graph`` is exact
attention computed with autograd and the same dropout mask. ``config.backward`` says where its
softmax Jacobian is taken:

* ``"exact"`` (default): at the exact scores Q·Kᵀ·scale — the gradient of the noiseless model;
* ``"estimated"``: at the estimated scores (``softmax(s + (ŝ − s).detach())``, whose value is P̂):
  the gradient of the function the forward actually evaluated, shot noise and device bias included.

Error bars of a dropped-out output are first-order (delta method) in the estimated scores'
σ, treated as independent: σ²(O_ie) = Σ_j (P̂_ij (k_ij V_je − O_ie))² σ²(ŝ_ij), k the scaled keep mask.
"""

from __future__ import annotations

import math

import torch

from qac.errors import SpecError
from qac.torch import functional
from qac.torch.config import QuantumAttentionConfig


def keep_mask(shape, p: float, dtype, device=None) -> torch.Tensor:
    """eager attention's dropout mask: 0 or 1/(1 − p), from torch's RNG (the draws of
    ``nn.functional.dropout`` on a tensor of this shape and dtype)."""
    return torch.nn.functional.dropout(torch.ones(shape, dtype=dtype, device=device), p=p, training=True)


def _graph_weights(query, key, visible, bias, scale_value, estimated, backward: str) -> torch.Tensor:
    """Attention probabilities with autograd: exact, or (``backward="estimated"``) shifted so the
    value is the estimate and the softmax Jacobian is taken there."""
    vis = torch.from_numpy(visible).to(query.device)
    answered = vis.any(-1, keepdim=True)
    scores = torch.matmul(query, key.transpose(-1, -2)) * scale_value
    if bias is not None:
        scores = scores + torch.from_numpy(bias).to(scores)
    scores = scores.masked_fill(~vis, -math.inf).masked_fill(~answered, 0.0)  # empty rows: finite, zeroed below
    if backward == "estimated":
        with torch.no_grad():
            logs = torch.log_softmax(scores.double(), dim=-1)
            shift = torch.log(estimated.double().clamp_min(1e-300)) - logs
            shift = torch.where(vis & answered & torch.isfinite(shift), shift, 0.0).to(scores.dtype)
        scores = scores + shift
    return torch.softmax(scores, dim=-1) * answered


def _stderr(weights, keep, value, output, scores_stderr) -> torch.Tensor:
    """Delta-method σ of (P̂ ⊙ k)·V in the estimated scores (see the module docstring), expanded
    as Σ_j w_ij (k_ij V_je − O_ie)² = (w k²)·V² − 2 O ⊙ (w k)·V + O² ⊙ Σ_j w_ij with w = (P̂ σ)²:
    three matmuls instead of a (B, H, L, S, Ev) tensor (a training forward computes it per layer)."""
    w = (weights * scores_stderr) ** 2  # (B, H, L, S)
    variance = torch.matmul(w * keep**2, value**2) - 2 * output * torch.matmul(w * keep, value) \
        + output**2 * w.sum(-1, keepdim=True)
    return torch.sqrt(variance.clamp_min(0.0))


def attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attn_mask: torch.Tensor | None = None,
              is_causal: bool = False, scale: float | None = None, *, dropout_p: float = 0.0,
              config: QuantumAttentionConfig | None = None, return_result: bool = False):
    """``qac.torch.attention`` with attention dropout ``dropout_p`` and the backward ``config.backward``.

    ``dropout_p=0`` with ``backward="exact"`` is ``qac.torch.attention`` itself. The returned
    ``AttentionInfo.weights`` are the dropped-out estimated probabilities (as eager returns them),
    ``exact`` the exact attention with the same mask.
    """
    config = QuantumAttentionConfig() if config is None else config
    if not 0.0 <= dropout_p < 1.0:
        raise SpecError(f"dropout_p must be in [0, 1), not {dropout_p!r}")
    if dropout_p == 0.0 and config.backward == "exact":
        return functional.attention(query, key, value, attn_mask, is_causal, scale, config=config,
                                    return_result=return_result)
    if query.dim() == 3 and key.dim() == 3 and value.dim() == 3:
        out = attention(query[None], key[None], value[None], attn_mask, is_causal, scale, dropout_p=dropout_p,
                        config=config, return_result=return_result)
        return (out[0][0], out[1]) if return_result else out[0]
    if dropout_p:
        config = config.training()  # its bars are the delta method's below: skip the bootstrap
    keep = None
    if dropout_p and config.pv == "quantum":
        shape = (query.shape[0], query.shape[1], query.shape[2], key.shape[2])
        keep = keep_mask(shape, dropout_p, query.dtype, query.device)
    _, info = functional.attention(query, key, value, attn_mask, is_causal, scale, config=config, return_result=True,
                                   keep=keep)
    heads, kv_heads = query.shape[1], key.shape[1]
    if kv_heads != heads:
        key = key.repeat_interleave(heads // kv_heads, dim=1)
        value = value.repeat_interleave(heads // kv_heads, dim=1)
    scale_value = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    visible, bias = functional._masks(attn_mask, is_causal, (query.shape[0], heads, query.shape[2], key.shape[2]))
    estimated = info.weights.detach()  # (B, H, L, S): P̂ on quantum heads, exact elsewhere
    weights = _graph_weights(query, key, visible, bias, scale_value, estimated, config.backward)
    if dropout_p and keep is None:
        keep = keep_mask(weights.shape, dropout_p, weights.dtype, weights.device)
    if keep is not None:
        weights = weights * keep
    graph = torch.matmul(weights, value)
    chosen = info.quantum_heads
    with torch.no_grad():
        dropped = estimated if keep is None else estimated * keep.to(estimated.dtype)
        quantum = graph.detach().clone()
        if chosen and keep is not None and config.pv == "classical":
            wide = value.detach().double()[:, chosen]
            quantum[:, chosen] = torch.matmul(dropped.double()[:, chosen], wide).to(quantum.dtype)
            if info.result is not None and not config.exact:
                sigma = torch.from_numpy(info.result.scores_stderr).reshape(
                    query.shape[0], len(chosen), query.shape[2], -1).nan_to_num(0.0)
                sigma = torch.where(torch.from_numpy(visible[:, chosen]), sigma, 0.0)
                info.stderr[:, chosen] = _stderr(estimated.double()[:, chosen], keep.double()[:, chosen], wide,
                                                 quantum[:, chosen].double(), sigma).to(info.stderr.dtype)
        elif chosen:
            quantum[:, chosen] = info.output[:, chosen].to(quantum.dtype)  # no dropout, or P̂ dropped before binding
    output = graph + (quantum - graph).detach()
    info.output, info.exact, info.weights = output.detach(), graph.detach() if config.backward == "exact" else \
        _exact_with(query, key, value, visible, bias, scale_value, keep).detach(), dropped.to(query.dtype)
    return (output, info) if return_result else output


def _exact_with(query, key, value, visible, bias, scale_value, keep) -> torch.Tensor:
    """Exact attention with the same dropout mask (for ``info.exact`` when the graph is shifted)."""
    with torch.no_grad():
        weights = _graph_weights(query, key, visible, bias, scale_value, None, "exact")
        return torch.matmul(weights if keep is None else weights * keep, value)
