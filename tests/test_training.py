"""qac.torch.training: attention dropout as eager attention applies it, the straight-through backward
(exact or estimated Jacobian) against torch autograd, causal masking under dropout, and training a
tiny GPT-2 and a tiny ViT with quantum attention in the loop."""

from __future__ import annotations

import math
import os

import pytest
import torch

import qac.torch as qt
from qac.errors import SpecError
from qac.torch import training

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

F = torch.nn.functional
EXACT = qt.QuantumAttentionConfig(exact=True)


def tensors(b=2, h=2, n=4, m=5, e=4, ev=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, h, n, e, generator=g, dtype=torch.float64),
            torch.randn(b, h, m, e, generator=g, dtype=torch.float64),
            torch.randn(b, h, m, ev, generator=g, dtype=torch.float64))


def eager(q, k, v, attn_mask=None, is_causal=False, p=0.0):
    """transformers' eager_attention_forward, with SDPA's mask rules."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if is_causal:
        scores = scores.masked_fill(~torch.ones(q.shape[2], k.shape[2], dtype=torch.bool).tril(), -math.inf)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, -math.inf) if attn_mask.dtype == torch.bool else scores + attn_mask
    weights = F.dropout(torch.softmax(scores, dim=-1), p=p, training=True)
    return weights @ v


@pytest.mark.parametrize("case", ["none", "causal", "float"])
def test_dropout_equals_eager_dropout_for_the_same_seed(case):
    q, k, v = tensors(m=4)
    kwargs = {"is_causal": True} if case == "causal" else {}
    if case == "float":
        kwargs["attn_mask"] = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.manual_seed(11)
    out = training.attention(q, k, v, dropout_p=0.4, config=EXACT, **kwargs)
    torch.manual_seed(11)
    ref = eager(q, k, v, p=0.4, **kwargs)
    assert torch.allclose(out, ref, atol=1e-10, rtol=0)
    assert not torch.allclose(out, eager(q, k, v, **kwargs), atol=1e-3)  # the mask did drop something


def test_mean_over_masks_is_the_eval_output_within_its_error_bars():
    """Sampled circuits (fixed seed: one estimate P̂), 400 dropout masks: the mean of (P̂ ⊙ k)·V over
    masks is P̂·V, the eval-mode output, within 4 standard errors of the mean over masks."""
    q, k, v = tensors(b=1, n=4, m=6)
    config = qt.QuantumAttentionConfig(shots=2048, seed=3)
    reference, info = qt.attention(q, k, v, config=config, return_result=True)
    torch.manual_seed(0)
    draws = torch.stack([training.attention(q, k, v, dropout_p=0.3, config=config) for _ in range(400)])
    mean, sem = draws.mean(0), draws.std(0) / math.sqrt(len(draws))
    z = ((mean - reference).abs() / sem).max()
    assert z < 4.5, float(z)
    assert (draws.std(0) > 1e-3).all()  # every entry saw the masks
    # eval mode unchanged: dropout_p=0 is qac.torch.attention itself, byte for byte
    assert torch.equal(training.attention(q, k, v, config=config), reference)
    assert info.stderr.max() > 0


def test_dropped_out_error_bars_cover_the_exact_dropped_attention():
    q, k, v = tensors(b=2, n=5, m=5, seed=4)
    torch.manual_seed(2)
    out, info = training.attention(q, k, v, dropout_p=0.2, config=qt.QuantumAttentionConfig(shots=4096, seed=1),
                                   return_result=True)
    torch.manual_seed(2)
    assert torch.allclose(info.exact, eager(q, k, v, p=0.2), atol=1e-12)
    err = (out - info.exact).abs()
    assert err.max() > 0 and info.stderr.min() > 0
    assert float((err <= 2 * info.stderr).double().mean()) > 0.85
    assert float((err <= 4 * info.stderr).double().mean()) == 1.0


@pytest.mark.parametrize("dropout_p", [0.0, 0.25])
def test_exact_backward_equals_torch_autograd_of_exact_attention(dropout_p):
    """Straight-through (default): the gradient is autograd's gradient of exact (dropped-out)
    attention with the same mask, though the forward value is a sampled estimate."""
    q, k, v = (t.requires_grad_() for t in tensors(seed=5))
    target = torch.randn(2, 2, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    config = qt.QuantumAttentionConfig(shots=512, seed=2)
    torch.manual_seed(7)
    out = training.attention(q, k, v, dropout_p=dropout_p, config=config, is_causal=False)
    (out * target).sum().backward()
    ours = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    torch.manual_seed(7)
    (eager(q, k, v, p=dropout_p) * target).sum().backward()
    for a, b in zip(ours, (q.grad, k.grad, v.grad)):
        assert torch.allclose(a, b, atol=1e-10, rtol=0), float((a - b).abs().max())
    assert not torch.allclose(out, eager(q, k, v), atol=1e-4)  # the forward value is the estimate


def test_estimated_backward_is_the_jacobian_at_the_estimated_scores():
    """``backward="estimated"``: autograd of softmax(s + δ)·V with δ = ŝ − s frozen — checked against
    a finite-difference (gradcheck) of the function with the estimate's shift held fixed."""
    q, k, v = tensors(b=1, h=1, n=3, m=4, seed=6)
    config = qt.QuantumAttentionConfig(shots=256, seed=4, backward="estimated")
    out, info = training.attention(q, k, v, config=config, return_result=True)
    estimated = info.weights.detach()
    assert torch.allclose(out, estimated @ v, atol=1e-9)  # the value is P̂·V
    shift = torch.log(estimated) - torch.log_softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)

    def shifted(q, k, v):
        return torch.softmax(q @ k.transpose(-1, -2) / 2.0 + shift, dim=-1) @ v

    def ours(q, k, v):
        return training.attention(q, k, v, config=config)

    inputs = tuple(t.clone().requires_grad_() for t in (q, k, v))
    assert torch.autograd.gradcheck(shifted, inputs, eps=1e-6, atol=1e-6)
    target = torch.randn_like(out)
    g_ours = torch.autograd.grad((ours(*inputs) * target).sum(), inputs)
    g_ref = torch.autograd.grad((shifted(*inputs) * target).sum(), inputs)
    g_exact = torch.autograd.grad((eager(*inputs) * target).sum(), inputs)
    for a, b, c in zip(g_ours, g_ref, g_exact):
        assert torch.allclose(a, b, atol=1e-9), float((a - b).abs().max())
    assert not torch.allclose(g_ours[0], g_exact[0], atol=1e-4)  # a different Jacobian from the exact one


def test_bad_dropout_and_backward_are_spec_errors():
    q, k, v = tensors()
    with pytest.raises(SpecError, match="dropout_p"):
        training.attention(q, k, v, dropout_p=1.0, config=EXACT)
    with pytest.raises(SpecError, match="backward"):
        qt.QuantumAttentionConfig(backward="shifted")


def tiny_gpt2(pdrop=0.3):
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=32, n_positions=16,
                                     attn_pdrop=pdrop, resid_pdrop=0.0, embd_pdrop=0.0)
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(config).double().train()


def test_gpt2_train_mode_dropout_equals_eager_and_stays_causal():
    """A random GPT-2 in train mode (attn_pdrop 0.3) through the backend, every layer exact-mode qac:
    the same seed gives eager's output (same masks); changing future tokens never changes a
    position's output under dropout (causal masking holds), sampled circuits included."""
    model = tiny_gpt2()
    ids = torch.randint(0, 32, (2, 8), generator=torch.Generator().manual_seed(1))
    later = ids.clone()
    later[:, 5:] = (later[:, 5:] + 7) % 32
    qt.register(qt.QuantumAttentionConfig(exact=True, layers="all"))
    outs = {}
    for implementation in ("eager", "qac"):
        model.set_attn_implementation(implementation)
        torch.manual_seed(5)
        outs[implementation] = model(input_ids=ids).logits
    assert torch.allclose(outs["qac"], outs["eager"], atol=1e-10, rtol=0)
    qt.register(qt.QuantumAttentionConfig(shots=256, layers="all", seed=2))
    model.set_attn_implementation("qac")
    torch.manual_seed(5)
    a = model(input_ids=ids).logits
    torch.manual_seed(5)
    b = model(input_ids=later).logits
    assert torch.equal(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_gpt2_trains_in_train_mode_with_attention_dropout_through_the_backend():
    model = tiny_gpt2(pdrop=0.2)
    qt.register(qt.QuantumAttentionConfig(shots=256, layers="all", seed=1))
    model.set_attn_implementation("qac")
    ids = torch.arange(12).repeat(4, 1) % 32  # a learnable sequence
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    torch.manual_seed(0)
    losses = []
    for _ in range(15):
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(p.grad is not None for p in model.transformer.h[0].attn.parameters())


def test_tiny_vit_on_digits_trains_with_quantum_attention_in_the_loop():
    """Issue 24 item 4, small: one quantum-in-the-loop run of the example's ViT reaches the accuracy
    of a classical run far above chance (10%)."""
    from examples.vit_digits import train

    quantum = train(seed=0, quantum=True, steps=60, shots=256)
    assert quantum["accuracy"] > 0.6, quantum
    assert quantum["circuits"] > 0
