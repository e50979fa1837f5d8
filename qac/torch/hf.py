"""The "qac" attention backend for Hugging Face transformers (5.x).

``register(config)`` puts ``qac_attention_forward`` into ``transformers.AttentionInterface`` and
``sdpa_mask`` into ``transformers.masking_utils.AttentionMaskInterface`` under "qac". Without the
mask registration transformers hands a custom backend ``attention_mask=None`` and a padded batch
silently attends to padding. ``sdpa_mask`` gives boolean masks (True = attend) and returns None for
an unpadded causal batch, so the backend honours ``module.is_causal`` (as transformers' sdpa does).

Layers in ``config.layers`` run ``qac.torch.attention`` (its heads in ``config.heads``); the
others run exact attention. Both return the weights, as transformers' eager backend does. In
``model.train()`` the module's attention dropout is applied as eager applies it, on the estimated
probabilities (``qac.torch.training``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch

from qac.errors import ExecutionError
from qac.torch import training
from qac.torch.config import QuantumAttentionConfig
from qac.torch.functional import AttentionInfo

NAME = "qac"


@dataclass
class Backend:
    """The registered config and what its quantum layers measured (one record per call)."""

    config: QuantumAttentionConfig
    records: list[tuple[int | None, AttentionInfo]] = field(default_factory=list)
    keep_records: bool = True
    on_layer: object = None  # called with (layer, info) after every quantum layer (a progress bar)
    calls: dict = field(default_factory=dict)  # layer -> forwards run since register (the sampling seed's index)

    def next_call(self, layer: int) -> int:
        """The index of this forward of ``layer`` (0, 1, …), counted since the last ``register``."""
        call = self.calls.get(layer, 0)
        self.calls[layer] = call + 1
        return call


_BACKEND: dict[str, Backend] = {}
_LAYERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def register(config: QuantumAttentionConfig | None = None) -> Backend:
    """Register "qac" with transformers; returns the one live ``Backend``.

    Registering again returns the same object with the new config: its records are cleared and its
    per-layer call counters restart, so the records follow the current config and a forward after
    ``register(config)`` draws the same numbers whatever ran before.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, qac_attention_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    config = QuantumAttentionConfig() if config is None else config
    if NAME in _BACKEND:
        live = _BACKEND[NAME]
        live.config = config
        live.records.clear()
        live.calls.clear()
    else:
        _BACKEND[NAME] = Backend(config)
    return _BACKEND[NAME]


def backend() -> Backend:
    if NAME not in _BACKEND:
        raise ExecutionError("the qac attention backend is not registered; call qac.torch.register() first")
    return _BACKEND[NAME]


def index_layers(model) -> int:
    """Number the attention modules of ``model`` in order, for models whose attention modules have
    no ``layer_idx`` (BERT and GPT-2 have one); returns how many were found."""
    count = 0
    for module in model.modules():
        if getattr(module, "layer_idx", None) is None and hasattr(module, "is_causal") and (
                hasattr(module, "scaling") or hasattr(module, "num_attention_heads")):
            _LAYERS[module] = count
            count += 1
    return count


def layer_of(module) -> int | None:
    index = getattr(module, "layer_idx", None)
    return index if index is not None else _LAYERS.get(module)


def qac_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0,
                          scaling: float | None = None, is_causal: bool | None = None, **kwargs):
    """transformers' attention signature: (B, H, L, E) tensors in, ((B, L, H, Ev) output, weights) out."""
    state = backend()
    dropout = float(dropout) if module.training else 0.0  # eager applies attention dropout in training only
    if kwargs.get("softcap") is not None or kwargs.get("position_bias") is not None or kwargs.get("sliding_window"):
        raise ExecutionError("qac attention supports plain scaled dot-product attention (no softcap, position "
                             "bias or sliding window); use another attn_implementation for this model")
    length = query.shape[2]
    is_causal = getattr(module, "is_causal", False) if is_causal is None else is_causal
    is_causal = bool(is_causal) and attention_mask is None and length > 1  # as transformers' sdpa backend
    if attention_mask is not None and attention_mask.dtype != torch.bool:
        attention_mask = attention_mask.to(query.dtype)
    if is_causal and key.shape[2] > length:  # an empty static cache at prefill: the keys past L are unused
        key, value = key[:, :, :length], value[:, :, :length]
    layer = layer_of(module)
    config = state.config
    if config.layers != "all" and layer is None:
        raise ExecutionError("an attention module has no layer_idx; call qac.torch.index_layers(model) "
                             "or use layers='all'")
    if config.runs_layer(layer):
        config = config.for_call(layer or 0, state.next_call(layer or 0))
        if module.training:
            config = config.training()
    else:
        config = QuantumAttentionConfig(heads=())
    output, info = training.attention(query, key, value, attention_mask, is_causal, scaling, dropout_p=dropout,
                                      config=config, return_result=True)
    if info.quantum_heads and state.keep_records:
        state.records.append((layer, info))
    if info.quantum_heads and state.on_layer is not None:
        state.on_layer(layer, info)
    return output.transpose(1, 2).contiguous(), info.weights
