"""The "qac" Hugging Face backend: exact mode reproduces the unpatched model (MiniLM, a small random
GPT-2; padded and unpadded batches), sampled MiniLM layer 0 stays close with honest error bars."""

from __future__ import annotations

import os

import pytest
import torch

import qac.torch as qt

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")  # the torch extra installs it with torch

EXACT_ALL = qt.QuantumAttentionConfig(exact=True, layers="all", heads="all")


def minilm():
    from qac.torch.model import load

    return load(None)


def gpt2():
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=64, n_positions=32,
                                     attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0)
    torch.manual_seed(0)
    return transformers.GPT2Model(config).eval().double()


def forward(model, batch, implementation, **kwargs):
    model.set_attn_implementation(implementation)
    with torch.no_grad():
        return model(**batch, **kwargs)


@pytest.mark.parametrize("padded", [True, False])
def test_gpt2_exact_mode_reproduces_the_unpatched_model(padded):
    model = gpt2()
    ids = torch.tensor([[5, 9, 3, 7, 1, 2], [8, 4, 6, 2, 9, 3]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]) if padded else torch.ones_like(ids)
    batch = {"input_ids": ids, "attention_mask": mask}
    reference = forward(model, batch, "sdpa")  # the unpatched model (transformers' default backend)
    eager = forward(model, batch, "eager", output_attentions=True)
    backend = qt.register(EXACT_ALL)
    got = forward(model, batch, "qac", output_attentions=True)
    assert torch.allclose(got.last_hidden_state, reference.last_hidden_state, atol=1e-10, rtol=0)
    # weights as the eager backend gives them, on rows that see a key (left padding leaves the first
    # rows with none: sdpa and qac give 0 there, eager a uniform row over masked keys)
    answered = (torch.tril(torch.ones(6, 6)) * mask[:, None, :]).sum(-1) > 0  # (B, L)
    for ours, theirs in zip(got.attentions, eager.attentions):
        assert ours.shape == theirs.shape == (2, 2, 6, 6)
        assert torch.allclose(ours.transpose(1, 2)[answered], theirs.transpose(1, 2)[answered], atol=1e-10)
    visible = int((torch.tril(torch.ones(6, 6)) * mask[:, None, :]).sum()) * 2  # per layer: 2 heads
    assert [layer for layer, _ in backend.records] == [0, 1]
    assert all(info.circuits == visible for _, info in backend.records)  # masked pairs ran no circuit


def test_register_again_replaces_the_config_and_other_layers_run_exact():
    model = gpt2()
    batch = {"input_ids": torch.tensor([[5, 9, 3, 7]])}
    qt.register(EXACT_ALL)
    backend = qt.register(qt.QuantumAttentionConfig(layers=(1,), heads=(0,), shots=64))
    reference = forward(model, batch, "sdpa")
    got = forward(model, batch, "qac", output_hidden_states=True)
    assert [(layer, info.quantum_heads) for layer, info in backend.records] == [(1, [0])]
    assert (got.last_hidden_state - reference.last_hidden_state).abs().max() > 1e-6  # 64 shots show


def test_minilm_exact_mode_padded_batch_some_heads_of_every_layer():
    tokenizer, model = minilm()
    batch = tokenizer(["Hi", "Hello there world"], padding=True, return_tensors="pt")
    assert batch["attention_mask"].sum(1).tolist() == [3, 5]
    reference = forward(model, batch, "sdpa")
    qt.register(qt.QuantumAttentionConfig(exact=True, layers="all", heads=(0, 11)))
    got = forward(model, batch, "qac")
    assert torch.allclose(got.last_hidden_state, reference.last_hidden_state, atol=1e-10, rtol=0)


@pytest.mark.slow
def test_minilm_exact_mode_every_head_of_every_layer():
    tokenizer, model = minilm()
    batch = tokenizer(["Hi", "Hello there world"], padding=True, return_tensors="pt")
    reference = forward(model, batch, "sdpa")
    backend = qt.register(EXACT_ALL)
    got = forward(model, batch, "qac")
    assert len(backend.records) == 6 and all(len(info.quantum_heads) == 12 for _, info in backend.records)
    assert torch.allclose(got.last_hidden_state, reference.last_hidden_state, atol=1e-10, rtol=0)
    float32 = model.float()  # in float32 the figure is torch's own float32 rounding, below 1e-5 still
    reference, got = forward(float32, batch, "sdpa"), forward(float32, batch, "qac")
    assert torch.allclose(got.last_hidden_state, reference.last_hidden_state, atol=1e-4, rtol=0)


def test_minilm_layer0_with_8192_shots_keeps_embeddings_and_error_bars_honest():
    from qac.torch.model import run

    report = run(["Hi", "Hello there world"], qt.QuantumAttentionConfig(shots=8192, layers=(0,), heads="all", seed=1))
    assert all(c >= 0.999 for c in report["embedding_cosine"]), report["embedding_cosine"]
    (layer,) = report["per_layer"]
    assert layer["layer"] == 0 and len(layer["heads"]) == 12
    assert 0.90 <= layer["within_2_sigma"] <= 0.99, layer
    assert report["cost"]["circuits"] == 12 * (5 * 3 + 5 * 5)


def test_grouped_query_llama_exact_mode_reproduces_the_unpatched_model():
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    torch.manual_seed(0)
    model = transformers.LlamaModel(config).eval().double()
    batch = {"input_ids": torch.tensor([[5, 9, 3, 7, 1], [8, 4, 6, 2, 9]]),
             "attention_mask": torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]])}
    reference = forward(model, batch, "sdpa")
    backend = qt.register(EXACT_ALL)
    got = forward(model, batch, "qac")
    assert torch.allclose(got.last_hidden_state, reference.last_hidden_state, atol=1e-10, rtol=0)
    assert [info.circuits for _, info in backend.records] == [4 * (10 + 15)] * 2  # 4 query heads, causal + padding
