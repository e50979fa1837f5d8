"""``qac.torch.attention``: ``torch.nn.functional.scaled_dot_product_attention`` on quantum circuits.

An adapter only (ARCHITECTURE.md, "Backends for models"): the tensors and the mask become one
``AttentionGraph`` (every (batch, head) block one head of it, so one compile covers the call and
blocks of equal width share one template), compiled by ``qac.compiler.compile_graph`` and run by
``CompiledAttention.run``; the result goes back into tensors.

Gradients are straight-through: the forward value is the quantum estimate, the backward pass is
the exact attention's Jacobian (``exact + (quantum − exact).detach()``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qac.errors import SpecError
from qac.kernels.attention import causal_visible
from qac.torch.config import QuantumAttentionConfig


@dataclass
class AttentionInfo:
    """What a quantum attention call measured, beside its output (``return_result=True``)."""

    output: torch.Tensor  # (B, H, L, Ev) the forward value
    exact: torch.Tensor  # (B, H, L, Ev) exact attention on the same inputs
    stderr: torch.Tensor  # (B, H, L, Ev) one σ per entry (0 on heads that ran exact)
    weights: torch.Tensor  # (B, H, L, S) attention probabilities (estimated on quantum heads)
    quantum_heads: list[int]
    answered: torch.Tensor  # (B, H, L) bool: rows with at least one visible key
    shots: int | None  # per pair (None: exact probabilities)
    shots_used: int = 0  # every shot of the job, calibration included
    circuits: int = 0  # data circuits (one per estimated (query, key) pair unless packed)
    circuits_run: int = 0  # every circuit the job ran, calibration included
    pairs: int = 0
    two_qubit_gates: int = 0  # in the data circuits, summed over circuits (not over shots)
    kernels: list[dict] = field(default_factory=list)  # compiled.resources() rows
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    compiled: Any = None
    result: Any = None

    @property
    def error(self) -> torch.Tensor:
        return self.output - self.exact

    @property
    def coverage(self) -> float:
        """Share of quantum-head output entries (answered rows) within 2 reported σ of exact
        (a number, as ``Result.coverage``); ``coverage_at(k)`` for another multiple."""
        return self.coverage_at(2.0)

    def coverage_at(self, k: float) -> float:
        """Share of quantum-head output entries (answered rows) within k reported σ of exact."""
        heads = self.quantum_heads
        if not heads:
            return 1.0
        err = self.error[:, heads].abs()
        sigma = self.stderr[:, heads]
        rows = self.answered[:, heads, :, None].expand_as(err)
        inside = (err <= k * sigma + 1e-12)[rows]
        return float(inside.double().mean()) if inside.numel() else 1.0


def _masks(attn_mask, is_causal: bool, shape: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """visible (B, H, L, S) bool and additive bias (B, H, L, S) or None, SDPA's rules."""
    b, h, n, m = shape
    visible = np.ones(shape, dtype=bool)
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise SpecError("give attn_mask or is_causal=True, not both (as scaled_dot_product_attention)")
        visible &= causal_visible(n, m)  # top-left aligned
    if attn_mask is not None:
        mask = attn_mask.detach().cpu()
        try:
            if mask.dtype == torch.bool:
                visible = np.broadcast_to(mask.numpy(), shape).copy()
            else:
                bias = np.broadcast_to(mask.double().numpy(), shape).copy()
                visible = ~np.isneginf(bias)
                bias = np.where(visible, bias, 0.0)
        except ValueError:
            raise SpecError(f"attn_mask of shape {tuple(mask.shape)} does not broadcast to {shape}") from None
    return visible, bias


def _blocks(array: torch.Tensor, heads: list[int]) -> np.ndarray:
    """(B, H, T, E) → (T, G·E): block g = (b, heads[k]) in b-major order, its columns g·E…(g+1)·E."""
    picked = array.detach().to("cpu", torch.float64)[:, heads]
    b, h, t, e = picked.shape
    return picked.permute(2, 0, 1, 3).reshape(t, b * h * e).numpy()


def _run_options(config: QuantumAttentionConfig, compiled):
    """The config's ``RunOptions`` for one compiled call (resolved once, as every run's are)."""
    from qac.execution.options import RunOptions

    bars = "bootstrap" if config.errorbars == "auto" else config.errorbars
    if config.exact:
        return RunOptions.resolve(compiled.spec, seed=config.seed, engine=config.engine, exact=True)
    return RunOptions.resolve(compiled.spec, seed=config.seed, engine=config.engine, shots=config.shots,
                              noise=config.noise, mitigation=config.mitigation, precision=config.precision,
                              pairs=sum(len(k.pairs) for k in compiled.kernels), errorbars=bars)


def _keep_kwargs(keep, chosen: list[int], blocks: int, length: int) -> dict:
    """``run(weights_keep=...)``: the chosen heads' dropout factors as (blocks, L, S), b-major."""
    if keep is None:
        return {}
    return {"weights_keep": keep.detach().to("cpu", torch.float64)[:, chosen].reshape(blocks, length, -1).numpy()}


def attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attn_mask: torch.Tensor | None = None,
              is_causal: bool = False, scale: float | None = None, *, config: QuantumAttentionConfig | None = None,
              return_result: bool = False, keep: torch.Tensor | None = None):
    """Scaled dot-product attention with every query·key score estimated on quantum circuits.

    The semantics of ``torch.nn.functional.scaled_dot_product_attention``: query (B, H, L, E),
    key (B, Hkv, S, E), value (B, Hkv, S, Ev) with Hkv dividing H (grouped-query attention: each
    key/value head serves H/Hkv query heads); ``attn_mask`` bool (True = attend) or float (added to
    the scores), broadcastable to (B, H, L, S); ``is_causal`` top-left aligned; ``scale`` defaults to
    1/√E. Masked pairs (False, or −inf) get no circuit. A row with no visible key gives 0, as torch's
    SDPA does on CPU. 3-D inputs (H, L, E) are taken as one batch.

    Only ``config.heads`` run on circuits (all by default); the others are exact. Returns the
    output (dtype and device of ``query``), or ``(output, AttentionInfo)`` with
    ``return_result=True`` (σ per entry, shots, circuits, two-qubit gates, the qac ``Result``).
    ``keep`` (B, H, L, S), ``pv="quantum"`` only: factors on P̂ before it is bound into the P·V
    circuits (attention dropout; ``qac.torch.training``), reflected in the output and σ.
    """
    config = QuantumAttentionConfig() if config is None else config
    _check_finite_inputs(query, key, value, attn_mask, scale)  # before the 3-D case: indices are the caller's
    if query.dim() == 3 and key.dim() == 3 and value.dim() == 3:
        out = attention(query[None], key[None], value[None], attn_mask, is_causal, scale, config=config,
                        return_result=return_result)
        return (out[0][0], out[1]) if return_result else out[0]
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        raise SpecError(f"query, key and value must be (B, H, L, E) tensors, not shapes "
                        f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if (nothing := _nothing_to_estimate(query, key, value, attn_mask, is_causal, scale)) is not None:
        return (nothing, _plain_info(nothing, query, key)) if return_result else nothing
    batch, heads, length, width = query.shape
    kv_heads = key.shape[1]
    if key.shape[0] != batch or value.shape[:3] != key.shape[:3] or key.shape[3] != width or heads % kv_heads:
        raise SpecError(f"key {tuple(key.shape)} and value {tuple(value.shape)} do not fit query {tuple(query.shape)}: "
                        f"same batch, same key length, key width {width}, and key/value heads dividing {heads}")
    if kv_heads != heads:  # grouped-query attention: key/value head j serves query heads j·r … (j+1)·r − 1
        key = key.repeat_interleave(heads // kv_heads, dim=1)
        value = value.repeat_interleave(heads // kv_heads, dim=1)
    scale_value = 1.0 / math.sqrt(width) if scale is None else float(scale)
    visible, bias = _masks(attn_mask, is_causal, (batch, heads, length, key.shape[2]))
    exact = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask,
                                                              is_causal=is_causal, scale=scale_value)
    answered = torch.from_numpy(visible.any(axis=3))
    chosen = config.quantum_heads(heads)
    quantum = exact.detach().clone()
    stderr = torch.zeros_like(quantum)
    with torch.no_grad():
        scores = torch.matmul(query, key.transpose(-1, -2)).double() * scale_value
        if bias is not None:
            scores = scores + torch.from_numpy(bias)
        scores = scores.masked_fill(~torch.from_numpy(visible), -math.inf)
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    info = AttentionInfo(output=quantum, exact=exact.detach(), stderr=stderr, weights=weights, quantum_heads=chosen,
                         answered=answered, shots=None if config.exact else config.shots)
    if chosen:
        _run_quantum(info, query, key, value, visible, bias, scale_value, config, keep)
    output = exact + (quantum.to(exact.dtype) - exact).detach()  # straight-through
    info.output = output.detach()
    info.weights = info.weights.to(query.dtype)
    return (output, info) if return_result else output


def _first_bad(tensor: torch.Tensor) -> tuple[tuple[int, ...], float] | None:
    """The index and value of the first NaN or infinite entry (−inf allowed for masks), or None."""
    bad = ~torch.isfinite(tensor)
    if not bool(bad.any()):
        return None
    index = tuple(int(i) for i in torch.nonzero(bad)[0])
    return index, float(tensor[index])


def _check_finite_inputs(query, key, value, attn_mask, scale) -> None:
    """qac returns finite figures or an error: NaN or infinite entries of query/key/value (named by
    their index in the caller's tensor), a NaN or +inf float mask entry, and a non-finite ``scale``
    are refused with one line (``SpecError``). Meta tensors hold no values and pass."""
    if scale is not None and not math.isfinite(float(scale)):
        raise SpecError(f"scale is {float(scale)}; give a finite scale, or None for 1/√E")
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if isinstance(tensor, torch.Tensor) and not tensor.is_meta and (bad := _first_bad(tensor.detach())):
            index, number = bad
            raise SpecError(f"{name}{list(index)} is {number}; qac needs finite numbers in query, key and value "
                            f"(no nan or inf)")
    if isinstance(attn_mask, torch.Tensor) and attn_mask.dtype != torch.bool and not attn_mask.is_meta:
        mask = attn_mask.detach()
        bad = torch.isnan(mask) | torch.isposinf(mask)
        if bool(bad.any()):
            index = tuple(int(i) for i in torch.nonzero(bad)[0])
            raise SpecError(f"attn_mask{list(index)} is {float(mask[index])}; a float mask adds finite numbers to the "
                            f"scores, or -inf to hide a key")


def _nothing_to_estimate(query, key, value, attn_mask, is_causal, scale) -> torch.Tensor | None:
    """What torch's SDPA returns when there is nothing to estimate — a zero-size batch, heads, L, S
    or E (empty or exact outputs) or tensors on the ``meta`` device (shapes only) — else None."""
    if not (query.is_meta or key.is_meta or value.is_meta or 0 in (*query.shape, *key.shape, *value.shape)):
        return None
    gqa = key.shape[1] not in (0, query.shape[1])
    try:
        return torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask,
                                                                is_causal=is_causal, scale=scale, enable_gqa=gqa)
    except (RuntimeError, ValueError) as exc:
        raise SpecError(f"query {tuple(query.shape)}, key {tuple(key.shape)} and value {tuple(value.shape)} do not "
                        f"fit ({' '.join(str(exc).split())[:120]})") from None


def _plain_info(output: torch.Tensor, query, key) -> AttentionInfo:
    """The ``AttentionInfo`` of a call that ran no circuit (``_nothing_to_estimate``)."""
    batch, heads, length, keys = output.shape[0], output.shape[1], output.shape[2], key.shape[2]
    weights = torch.zeros((batch, heads, length, keys), dtype=output.dtype, device=output.device)
    return AttentionInfo(output=output.detach(), exact=output.detach(), stderr=torch.zeros_like(output),
                         weights=weights, quantum_heads=[], answered=torch.zeros((batch, heads, length), dtype=torch.bool),
                         shots=None)


def _run_quantum(info: AttentionInfo, query, key, value, visible, bias, scale_value: float,
                 config: QuantumAttentionConfig, keep=None) -> None:
    """Compile and run the chosen heads' blocks as one graph; write output, σ and weights into info."""
    from qac.compiler import compile_graph
    from qac.ir import AttentionGraph

    chosen = info.quantum_heads
    batch, length, width_v = query.shape[0], query.shape[2], value.shape[3]
    blocks = batch * len(chosen)
    graph = AttentionGraph.from_arrays(
        _blocks(query, chosen), _blocks(key, chosen), _blocks(value, chosen), heads=blocks, scale=scale_value,
        visible=visible[:, chosen].reshape(blocks, length, -1),
        bias=None if bias is None else bias[:, chosen].reshape(blocks, length, -1), name="torch", pv=config.pv)
    start = time.perf_counter()
    compiled = compile_graph(graph, config.target, seed=config.seed, encoding=config.encoding,
                             estimator=config.estimator, optimization_level=config.optimization_level,
                             shots=config.shots, precision=config.precision)
    middle = time.perf_counter()
    with np.errstate(invalid="ignore"):  # rows with no visible key reconstruct as NaN; set to 0 below
        result = compiled.run(options=_run_options(config, compiled), **_keep_kwargs(keep, chosen, blocks, length))
    info.compile_seconds, info.run_seconds = middle - start, time.perf_counter() - middle

    def back(array: np.ndarray) -> torch.Tensor:  # (L, G·Ev) → (B, h, L, Ev)
        return torch.from_numpy(np.ascontiguousarray(array)).reshape(length, batch, len(chosen), width_v).permute(1, 2, 0, 3)

    answered = info.answered[:, chosen, :, None]
    info.output[:, chosen] = torch.where(answered, back(result.output), 0.0).to(info.output.dtype)
    info.stderr[:, chosen] = torch.where(answered, back(result.stderr), 0.0).to(info.stderr.dtype)
    probs = torch.softmax(torch.from_numpy(result.scores), dim=-1).nan_to_num(0.0)  # (G, L, S)
    info.weights[:, chosen] = probs.reshape(batch, len(chosen), length, -1).to(info.weights.dtype)
    info.kernels = compiled.resources()
    info.pairs = sum(r["pairs"] for r in info.kernels)
    info.circuits = sum(r["circuits"] for r in info.kernels)
    info.two_qubit_gates = sum(r["circuits"] * r["two_qubit_gates"] for r in info.kernels)
    info.shots_used, info.circuits_run = result.shots_used, result.circuits_run
    info.compiled, info.result = compiled, result
