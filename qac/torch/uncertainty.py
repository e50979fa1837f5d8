"""Error bars on a model's outputs: each quantum layer's bootstrap replicas carried through the
rest of the forward on the batch axis.

qac's per-layer error bars (``qac.execution.errorbars``: a parametric bootstrap of the estimated scores)
stop at the attention output. ``forward`` carries them to the model's outputs: the batch is
repeated ``1 + R`` times; block 0 is the plug-in forward (the quantum estimate, the circuits run
once, on block 0 only), blocks 1…R are replicas. At a quantum layer, replica r's scores are

    S_exact(x_r) + (Ŝ(x_0) − S_exact(x_0)) + σ_S(x_0) · z_r,      z_r ~ N(0, 1) per score,

the exact scores of the replica's own input, plus the plug-in's estimation error carried over,
plus a fresh draw of the estimator's noise (σ_S: the run's per-score standard error, the
mitigation's shared errors included in it). That is the parametric bootstrap of
``qac.execution.errorbars`` with the plug-in world as truth, repeated at every quantum layer, so later
layers see earlier layers' spread. Every replica then runs the rest of the model exactly as
the plug-in does (softmax · V, MLPs, layer norms, pooling, any head a user puts on top), and
the σ of any output is the root-mean-square deviation of its replicas from the plug-in output
(Efron & Tibshirani 1993, ch. 6 and 10: the bootstrap's variance + bias²).

Cost: the circuits run once (block 0); the replicas add R classical forwards of the batch
(measured next to the quantum forward in docs/models.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from qac import seeds
from qac.torch.config import QuantumAttentionConfig

NAME = "qac_replicas"
REPLICAS = 24  # a reported σ's relative error is about 1/√(2R) ≈ 14%; 2σ then covers ≈ 94% of normal errors


@dataclass
class Propagation:
    """One forward's replica state: the block size and where the replica draws come from."""

    replicas: int
    batch: int
    replica_seconds: float = 0.0


_STATE: dict[str, Propagation] = {}


def rms_sigma(plug_in: torch.Tensor, replicas: torch.Tensor) -> torch.Tensor:
    """σ per entry: the replicas' (R, …) root-mean-square deviation from the plug-in (…), R − 1 dof."""
    count = replicas.shape[0]
    return ((replicas - plug_in[None]) ** 2).sum(0).div(max(count - 1, 1)).sqrt()


def coverage(estimate: torch.Tensor, sigma: torch.Tensor, exact: torch.Tensor, k: float = 2.0) -> float:
    """Share of entries with |estimate − exact| ≤ k σ (a float64 round-off allowance of 1e-10)."""
    inside = ((estimate - exact).abs() <= k * sigma + 1e-10)
    return float(inside.double().mean()) if inside.numel() else 1.0


def _visible_bias(attention_mask, is_causal: bool, shape):
    from qac.torch.functional import _masks

    visible, bias = _masks(attention_mask, is_causal, shape)
    return torch.from_numpy(visible), None if bias is None else torch.from_numpy(bias)


def _scores(query, key, visible, bias, scale: float) -> torch.Tensor:
    scores = torch.matmul(query.double(), key.double().transpose(-1, -2)) * scale
    if bias is not None:
        scores = scores + bias
    return scores.masked_fill(~visible, -math.inf)


def _attend(scores: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    return torch.matmul(torch.softmax(scores, dim=-1).nan_to_num(0.0), value.double())


def replica_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                      is_causal: bool | None = None, **kwargs):
    """transformers' attention signature; block 0 runs the "qac" backend, blocks 1…R replicas."""
    from qac.torch.hf import backend, layer_of, qac_attention_forward

    state = _STATE[NAME]
    b = state.batch
    length = query.shape[2]
    plug_mask = None if attention_mask is None else attention_mask[:b]
    live = backend()
    before = len(live.records)
    keep = live.keep_records
    live.keep_records = True
    try:
        plug_out, _ = qac_attention_forward(module, query[:b], key[:b], value[:b], plug_mask, dropout, scaling,
                                            is_causal, **kwargs)
    finally:
        live.keep_records = keep
    info = live.records[-1][1] if len(live.records) > before else None
    if not keep and info is not None:
        live.records.pop()
    start = time.perf_counter()
    is_causal = getattr(module, "is_causal", False) if is_causal is None else is_causal
    is_causal = bool(is_causal) and attention_mask is None and length > 1
    if attention_mask is not None and attention_mask.dtype != torch.bool:
        attention_mask = attention_mask.to(query.dtype)
    if is_causal and key.shape[2] > length:
        key, value = key[:, :, :length], value[:, :, :length]
    heads = query.shape[1]
    if key.shape[1] != heads:
        key = key.repeat_interleave(heads // key.shape[1], dim=1)
        value = value.repeat_interleave(heads // value.shape[1], dim=1)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scaling is None else float(scaling)
    rest = query.shape[0] - b
    mask = None if attention_mask is None else attention_mask[b:] if attention_mask.shape[0] > 1 else attention_mask
    visible, bias = _visible_bias(mask, is_causal, (rest, heads, length, key.shape[2]))
    scores = _scores(query[b:], key[b:], visible, bias, scale)  # (R·B, H, L, S)
    if info is not None and info.result is not None:
        chosen = info.quantum_heads
        layer = layer_of(module) or 0
        call = live.calls.get(layer, 1) - 1  # the index hf's backend gave this forward's plug-in draw
        estimated = torch.from_numpy(info.result.scores).reshape(b, len(chosen), length, -1)
        sigma = torch.from_numpy(info.result.scores_stderr).reshape(b, len(chosen), length, -1)
        plug_visible = visible[:b, chosen]  # the same mask for every block
        plug_exact = _scores(query[:b, chosen], key[:b, chosen], plug_visible,
                             None if bias is None else bias[:b, chosen], scale)
        shift = torch.where(plug_visible, estimated - plug_exact, 0.0).nan_to_num(0.0, posinf=0.0, neginf=0.0)
        sigma = torch.where(plug_visible, sigma, 0.0)
        noise = seeds.generator(live.config.seed, "replica", layer, call).standard_normal(
            (state.replicas, b, len(chosen), length, sigma.shape[-1]))
        draw = shift[None] + sigma[None] * torch.from_numpy(noise)
        picked = scores[:, chosen].reshape(state.replicas, b, len(chosen), length, -1)
        scores[:, chosen] = (picked + draw).reshape(rest, len(chosen), length, -1)
    output = _attend(scores, value[b:]).to(query.dtype).transpose(1, 2)
    state.replica_seconds += time.perf_counter() - start
    return torch.cat([plug_out, output]), None


@dataclass
class ModelErrors:
    """A forward's plug-in outputs, the exact forward's, and the replicas of each hidden state."""

    hidden: list  # per hidden state (embeddings, then after every layer): (B, L, D) plug-in (quantum) values
    replicas: list  # the same, (R, B, L, D)
    exact: list | None  # the exact model's hidden states (B, L, D), when asked
    mask: torch.Tensor  # (B, L) bool: real tokens
    records: list  # the backend's (layer, AttentionInfo) of this forward
    seconds: dict

    @property
    def last(self) -> torch.Tensor:
        return self.hidden[-1]

    def sigma(self, index: int = -1) -> torch.Tensor:
        return rms_sigma(self.hidden[index], self.replicas[index])

    def derived(self, function):
        """(plug-in value, σ, exact value or None) of ``function(last_hidden_state, mask)``, any shape."""
        value = function(self.hidden[-1], self.mask)
        reps = torch.stack([function(r, self.mask) for r in self.replicas[-1]])
        exact = None if self.exact is None else function(self.exact[-1], self.mask)
        return value, rms_sigma(value, reps), exact


def forward(model, batch: dict, config: QuantumAttentionConfig, *, replicas: int = REPLICAS,
            with_exact: bool = True, on_layer=None) -> ModelErrors:
    """Run ``model`` once with quantum attention and ``replicas`` bootstrap replicas on the batch axis.

    ``batch``: the tokenizer's tensors (input_ids, attention_mask, …), B rows. Registers ``config``
    with the "qac" backend (``qac.torch.register``); the records of this forward are returned.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    from qac.torch.hf import register

    if replicas < 2:
        raise ValueError("replicas must be at least 2")
    rows = int(batch["input_ids"].shape[0])
    exact_hidden, exact_seconds = None, 0.0
    if with_exact:
        start = time.perf_counter()
        with torch.no_grad():
            exact_hidden = list(model(**batch, output_hidden_states=True).hidden_states)
        exact_seconds = time.perf_counter() - start
    live = register(config)
    live.on_layer = None if on_layer is None else on_layer
    AttentionInterface.register(NAME, replica_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    state = _STATE[NAME] = Propagation(replicas, rows)
    repeated = {k: v.repeat(1 + replicas, *([1] * (v.dim() - 1))) if torch.is_tensor(v) else v
                for k, v in batch.items()}
    previous = model.config._attn_implementation
    model.set_attn_implementation(NAME)
    start = time.perf_counter()
    try:
        with torch.no_grad():
            out = model(**repeated, output_hidden_states=True)
    finally:
        model.set_attn_implementation(previous)
        live.on_layer = None
        _STATE.pop(NAME, None)
    total = time.perf_counter() - start
    records = list(live.records)
    quantum = sum(info.compile_seconds + info.run_seconds for _, info in records)
    hidden = [h[:rows] for h in out.hidden_states]
    reps = [h[rows:].reshape(replicas, rows, *h.shape[1:]) for h in out.hidden_states]
    mask = batch["attention_mask"].bool() if "attention_mask" in batch else torch.ones(rows, hidden[0].shape[1],
                                                                                       dtype=torch.bool)
    return ModelErrors(hidden, reps, exact_hidden, mask, records,
                       {"forward": total, "quantum_attention": quantum, "replica_attention": state.replica_seconds,
                        "classical_rest": total - quantum, "exact_forward": exact_seconds})
