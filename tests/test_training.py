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
    """Sampled circuits; 120 copies of one (query, key, value) block in the batch, each with its own
    dropout mask. Over the masks, (P̂ ⊙ k)·V − P̂·V averages to 0 within 4.5 standard errors (P̂ the
    same estimate in both calls: same seed, same graph), so the mean over masks is the eval output."""
    q, k, v = (t.expand(120, -1, -1, -1).contiguous() for t in tensors(b=1, h=1, n=4, m=6))
    config = qt.QuantumAttentionConfig(shots=1024, seed=3)
    reference = qt.attention(q, k, v, config=config)
    torch.manual_seed(0)
    dropped = training.attention(q, k, v, dropout_p=0.3, config=config)
    difference = dropped - reference
    z = (difference.mean(0).abs() / (difference.std(0) / math.sqrt(len(difference)))).max()
    assert z < 4.5, float(z)
    assert (difference.std(0) > 1e-3).all()  # every entry saw the masks
    assert not torch.allclose(reference[0], reference[1])  # the copies are sampled independently
    # eval mode unchanged: dropout_p=0 is qac.torch.attention itself, byte for byte
    assert torch.equal(training.attention(q, k, v, config=config), reference)


def test_quantum_pv_dropout_drops_p_before_it_is_bound():
    """``pv="quantum"``: the keep mask multiplies P̂ before stage 2 binds it. Exact mode equals eager
    dropout for the same seed (rows dropped whole included); sampled outputs lie within their
    two-stage error bars of the exact dropped-out attention."""
    q, k, v = tensors(b=1, n=4, m=4, seed=8)
    torch.manual_seed(1)
    assert (training.keep_mask((1, 2, 4, 4), 0.5, torch.float64).sum(-1) == 0).any()
    torch.manual_seed(1)  # seed 1 drops one row whole
    out = training.attention(q, k, v, dropout_p=0.5, config=qt.QuantumAttentionConfig(exact=True, pv="quantum"))
    torch.manual_seed(1)  # seed 1 drops one row whole
    assert torch.allclose(out, eager(q, k, v, p=0.5), atol=1e-9, rtol=0), float((out - eager(q, k, v, p=0.5)).abs().max())
    torch.manual_seed(1)  # seed 1 drops one row whole
    sampled, info = training.attention(q, k, v, dropout_p=0.5, return_result=True,
                                       config=qt.QuantumAttentionConfig(shots=4096, seed=2, pv="quantum"))
    err = (sampled - info.exact).abs()
    assert torch.allclose(info.exact, out, atol=1e-12)
    assert err.max() > 0 and float((err <= 4 * info.stderr + 1e-12).double().mean()) == 1.0


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
    sampled = qt.QuantumAttentionConfig(shots=256, layers="all", seed=2)
    model.set_attn_implementation("qac")
    qt.register(sampled)  # each forward call draws its own stream: registering again restarts the count
    torch.manual_seed(5)
    a = model(input_ids=ids).logits
    qt.register(sampled)
    torch.manual_seed(5)
    b = model(input_ids=later).logits
    assert torch.equal(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_gpt2_trains_in_train_mode_with_attention_dropout_through_the_backend():
    model = tiny_gpt2(pdrop=0.2)
    qt.register(qt.QuantumAttentionConfig(shots=256, layers="all", seed=1))
    model.set_attn_implementation("qac")
    ids = torch.arange(8).repeat(2, 1)  # a learnable sequence
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-2)
    torch.manual_seed(0)
    losses = []
    for _ in range(8):
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.transformer.h[0].attn.parameters())


def vit_example():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "vit_digits.py"
    spec = importlib.util.spec_from_file_location("vit_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_vit_on_digits_trains_with_quantum_attention_in_the_loop():
    """Issue 24 item 4, small (4×4 patches → 4 tokens, 30 steps): a ViT trained with every attention
    score on circuits learns digits far above chance (10%), as the same run trained classically does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        example = vit_example()
        kwargs = dict(seed=0, steps=30, batch=8, shots=128, side=4, test_size=60, lr=2e-2)
        quantum = example.train(quantum=True, **kwargs)
        classical = example.train(quantum=False, **kwargs)
    finally:
        torch.set_num_threads(threads)
    assert quantum["circuits"] >= 30 * 8 * 2 * 16  # every step's every score ran on circuits
    assert quantum["last_loss"] < quantum["first_loss"] - 0.3, quantum
    assert quantum["accuracy"] > 0.3 and classical["accuracy"] > 0.3, (quantum, classical)
