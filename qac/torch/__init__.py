"""qac as a PyTorch / Hugging Face attention backend.

    import qac.torch
    out = qac.torch.attention(q, k, v, attn_mask, config=qac.torch.QuantumAttentionConfig(shots=8192))
    qac.torch.register(qac.torch.QuantumAttentionConfig(layers="all"))
    model.set_attn_implementation("qac")      # or from_pretrained(..., attn_implementation="qac")

Needs the ``torch`` extra (``pip install -e '.[torch]'``); ``import qac`` never imports this.
"""

from __future__ import annotations

from qac.errors import ExecutionError
from qac.torch.config import QuantumAttentionConfig

INSTALL_HINT = "pip install -e '.[torch]'"


def require_torch():
    """Import torch, or say in one line how to install it."""
    try:
        import torch
    except ImportError:
        raise ExecutionError(f"qac's torch backend needs torch, transformers and safetensors: {INSTALL_HINT}") from None
    return torch


def attention(*args, **kwargs):
    require_torch()
    from qac.torch.functional import attention as _attention

    return _attention(*args, **kwargs)


attention.__doc__ = "Scaled dot-product attention on quantum circuits; see ``qac.torch.functional.attention``."


def register(config: QuantumAttentionConfig | None = None):
    """Register "qac" with Hugging Face transformers; see ``qac.torch.hf.register``."""
    require_torch()
    from qac.torch.hf import register as _register

    return _register(config)


def evaluate(task: str, data: str, **options) -> dict:
    """``qac eval`` as a function: a task metric with quantum attention; see ``qac.torch.eval.evaluate``."""
    require_torch()
    from qac.torch.eval import evaluate as _evaluate

    return _evaluate(task, data, **options)


def index_layers(model) -> int:
    """Number the attention modules of a model that carry no ``layer_idx``; see ``qac.torch.hf``."""
    from qac.torch.hf import index_layers as _index

    return _index(model)


__all__ = ["QuantumAttentionConfig", "attention", "register", "evaluate", "index_layers", "INSTALL_HINT"]
