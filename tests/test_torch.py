"""qac.torch.attention against torch's scaled_dot_product_attention (exact mode: the circuits'
infinite-shot probabilities), straight-through gradients, sampled error bars, import hygiene."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import qac.torch as qt
from qac.errors import SpecError

F = torch.nn.functional
EXACT = qt.QuantumAttentionConfig(exact=True)


def tensors(b=2, h=2, n=4, m=5, e=4, ev=3, kv_heads=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    kv = h if kv_heads is None else kv_heads
    return (torch.randn(b, h, n, e, generator=g, dtype=torch.float64),
            torch.randn(b, kv, m, e, generator=g, dtype=torch.float64),
            torch.randn(b, kv, m, ev, generator=g, dtype=torch.float64))


def close(a, b, tol=1e-9):
    assert a.shape == b.shape
    assert torch.allclose(a, b, atol=tol, rtol=0), float((a - b).abs().max())


@pytest.mark.parametrize("case", ["none", "bool", "float", "broadcast", "causal", "scale", "neginf", "rect_causal"])
def test_exact_mode_matches_sdpa(case):
    q, k, v = tensors(m=4 if case == "causal" else 5)
    g = torch.Generator().manual_seed(1)
    kwargs = {}
    if case == "bool":
        kwargs["attn_mask"] = torch.rand(2, 2, 4, 5, generator=g) > 0.3
    elif case == "float":
        kwargs["attn_mask"] = torch.randn(2, 2, 4, 5, generator=g, dtype=torch.float64)
    elif case == "broadcast":
        kwargs["attn_mask"] = torch.rand(2, 1, 1, 5, generator=g) > 0.4
    elif case in ("causal", "rect_causal"):
        kwargs["is_causal"] = True
    elif case == "scale":
        kwargs["scale"] = 0.37
    elif case == "neginf":
        mask = torch.randn(4, 5, generator=g, dtype=torch.float64)
        mask[1, :3] = -torch.inf
        kwargs["attn_mask"] = mask
    out = qt.attention(q, k, v, config=EXACT, **kwargs)
    close(out, F.scaled_dot_product_attention(q, k, v, **kwargs))


@pytest.mark.parametrize("case", ["none", "causal", "neginf"])
def test_quantum_pv_exact_mode_matches_sdpa(case):
    """``pv="quantum"``: O = P·V on circuits too (two-stage runs), still SDPA's semantics."""
    q, k, v = tensors(m=4 if case == "causal" else 5)
    kwargs = {"is_causal": True} if case == "causal" else {}
    if case == "neginf":
        mask = torch.randn(4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        mask[1, :3] = -torch.inf
        kwargs["attn_mask"] = mask
    out, info = qt.attention(q, k, v, config=qt.QuantumAttentionConfig(exact=True, pv="quantum"), return_result=True,
                             **kwargs)
    close(out, F.scaled_dot_product_attention(q, k, v, **kwargs))
    assert set(info.result.stages) == {"stage1", "stage2"}  # the P·V kernels ran on circuits


def test_quantum_pv_sampled_outputs_lie_within_their_error_bars():
    q, k, v = tensors(b=1, h=2, n=6, m=6, e=8, ev=3, seed=5)
    hits = []
    for seed in range(6):
        _, info = qt.attention(q, k, v, config=qt.QuantumAttentionConfig(shots=2048, seed=seed, pv="quantum"),
                               return_result=True)
        assert info.result.error_method.endswith("through both stages (qac.execution.stage2_errorbars)")
        hits.append(info.coverage(2.0))
    assert 0.85 <= sum(hits) / len(hits) <= 1.0, hits
    with pytest.raises(SpecError, match="pv must be"):
        qt.QuantumAttentionConfig(pv="both")


def test_masked_pairs_get_no_circuit_and_empty_rows_give_zero_like_sdpa():
    q, k, v = tensors()
    mask = torch.ones(2, 2, 4, 5, dtype=torch.bool)
    mask[0, 1, 2] = False  # a row with no visible key
    mask[1, 0, :, 3:] = False
    out, info = qt.attention(q, k, v, mask, config=EXACT, return_result=True)
    close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.all(out[0, 1, 2] == 0)
    assert info.pairs == int(mask.sum()) and info.circuits == info.pairs
    assert len(info.kernels) == 4 and len({r["template"] for r in info.kernels}) == 1  # one template for all blocks


def test_grouped_query_attention_repeats_key_value_heads():
    q, k, v = tensors(h=4, kv_heads=2)
    out = qt.attention(q, k, v, is_causal=True, config=EXACT)
    close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True))


def test_only_the_chosen_heads_run_on_circuits():
    q, k, v = tensors(h=3)
    out, info = qt.attention(q, k, v, config=qt.QuantumAttentionConfig(heads=(1,), shots=256), return_result=True)
    exact = F.scaled_dot_product_attention(q, k, v)
    close(out[:, [0, 2]], exact[:, [0, 2]], 0.0)
    assert (out[:, 1] - exact[:, 1]).abs().max() > 1e-4  # 256 shots: visibly an estimate
    assert info.quantum_heads == [1] and len(info.kernels) == 2  # one kernel per batch entry
    assert torch.all(info.stderr[:, [0, 2]] == 0) and torch.all(info.stderr[:, 1] > 0)


def test_float32_in_float32_out_and_3d_inputs():
    q, k, v = (t.float()[0] for t in tensors())
    out = qt.attention(q, k, v, config=EXACT)
    assert out.dtype == torch.float32 and out.shape == (2, 4, 3)
    close(out.double(), F.scaled_dot_product_attention(q.double(), k.double(), v.double()), 1e-6)


def test_gradients_are_the_exact_attention_gradients():
    q, k, v = (t.requires_grad_() for t in tensors())
    mask = torch.rand(2, 1, 4, 5, generator=torch.Generator().manual_seed(3)) > 0.3
    weights = torch.randn(2, 2, 4, 3, dtype=torch.float64)
    out = qt.attention(q, k, v, mask, config=qt.QuantumAttentionConfig(shots=512))
    (out * weights).sum().backward()
    quantum = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    (F.scaled_dot_product_attention(q, k, v, attn_mask=mask) * weights).sum().backward()
    for got, want in zip(quantum, (q.grad, k.grad, v.grad)):
        close(got, want, 1e-6)


def test_sampled_outputs_lie_within_their_error_bars():
    q, k, v = tensors(b=1, h=4, n=8, m=8, e=8, ev=4, seed=5)
    out, info = qt.attention(q, k, v, config=qt.QuantumAttentionConfig(shots=2048, seed=3), return_result=True)
    assert 0.85 <= info.coverage(2.0) <= 1.0
    assert info.shots == 2048 and info.shots_used == 2048 * info.circuits and info.two_qubit_gates > 0
    again = qt.attention(q, k, v, config=qt.QuantumAttentionConfig(shots=2048, seed=3))
    assert torch.equal(out, again)  # same input + seed, same output


def test_bad_input_is_a_spec_error():
    q, k, v = tensors()
    with pytest.raises(SpecError, match="not both"):
        qt.attention(q, k, v, torch.ones(4, 5, dtype=torch.bool), is_causal=True, config=EXACT)
    with pytest.raises(SpecError, match="does not broadcast"):
        qt.attention(q, k, v, torch.ones(3, 5, dtype=torch.bool), config=EXACT)
    with pytest.raises(SpecError, match="head 7 does not exist"):
        qt.attention(q, k, v, config=qt.QuantumAttentionConfig(heads=(7,)))
    with pytest.raises(SpecError, match="heads dividing"):
        qt.attention(*tensors(h=3, kv_heads=2), config=EXACT)
    with pytest.raises(SpecError, match="layers"):
        qt.QuantumAttentionConfig(layers="first")


def test_import_qac_and_help_never_import_torch():
    code = ("import sys, qac, qac.torch.config; from click.testing import CliRunner; from qac.cli.main import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0 and 'model' in r.output, r.output; "
            "r = CliRunner().invoke(main, ['model', '--help']); assert r.exit_code == 0, r.output; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_one_call_transpiles_one_template_for_every_block(monkeypatch):
    """12 (batch, head) blocks share one template: one transpile; a second call with other data
    (a new forward pass) transpiles nothing: the compiler's cache holds the routed template."""
    from qac.passes import layout

    import qac.compiler

    monkeypatch.setattr(qac.compiler, "DEFAULT_CACHE", layout.TemplateCache())
    calls = []
    original = layout._transpile_once
    monkeypatch.setattr(layout, "_transpile_once", lambda circuit, *a, **k: calls.append(circuit.name) or original(circuit, *a, **k))
    q, k, v = tensors(b=3, h=4)
    qt.attention(q, k, v, config=EXACT)
    assert len(calls) == 1  # 12 (batch, head) blocks, one template, one transpile
    q2, k2, v2 = tensors(b=2, h=4, seed=9)
    qt.attention(q2, k2, v2, config=EXACT)
    assert len(calls) == 1


def test_precision_sets_the_shots_from_the_wanted_sigma():
    q, k, v = tensors(b=1, h=2, n=4, m=4, e=4, ev=2, seed=2)
    mask = torch.randn(4, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)  # a float bias too
    out, info = qt.attention(q, k, v, mask, config=qt.QuantumAttentionConfig(precision=0.02), return_result=True)
    assert float(info.stderr.max()) <= 0.02 * 1.25
    assert info.result.precision["requested"] == 0.02
