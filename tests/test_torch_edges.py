"""``qac.torch.attention`` at its edges (issue 21, items 11 and 13): zero-size dimensions and the
meta device give what torch's own SDPA gives; a NaN scale or float mask is one ``SpecError``; a
NaN input is named by its index in the caller's tensor. And ``qac.decode_counts`` takes a single
``SamplerPubResult`` as well as a list."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qac
import qac.torch as qt
from qac.errors import SpecError

SDPA = torch.nn.functional.scaled_dot_product_attention
SHAPES = {"batch": (0, 2, 3, 4, 4, 4), "heads": (1, 0, 3, 4, 4, 4), "L": (1, 2, 0, 4, 4, 4),
          "S": (1, 2, 3, 0, 4, 4), "E": (1, 2, 3, 4, 0, 4), "Ev": (1, 2, 3, 4, 4, 0)}


@pytest.mark.parametrize("empty", sorted(SHAPES))
def test_zero_size_dimensions_return_what_sdpa_returns(empty):
    b, h, n, m, e, ev = SHAPES[empty]
    generator = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(shape, generator=generator) for shape in ((b, h, n, e), (b, h, m, e), (b, h, m, ev)))
    expected = SDPA(q, k, v)
    got = qt.attention(q, k, v)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert torch.equal(got.nan_to_num(7.0), expected.nan_to_num(7.0))
    out, info = qt.attention(q, k, v, return_result=True)
    assert out.shape == expected.shape and info.quantum_heads == [] and info.circuits == 0


def test_meta_device_returns_meta_tensors():
    q, k, v = (torch.empty(shape, device="meta") for shape in ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6)))
    expected = SDPA(q, k, v)
    got = qt.attention(q, k, v)
    assert got.is_meta and got.shape == expected.shape == (2, 2, 3, 6)


def test_nan_scale_is_refused():
    q = torch.randn(1, 1, 3, 4)
    with pytest.raises(SpecError, match="scale is nan; give a finite scale"):
        qt.attention(q, q, q, scale=float("nan"))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_plus_inf_float_mask_is_refused_with_its_index(bad):
    q = torch.randn(1, 1, 3, 4)
    mask = torch.zeros(3, 3)
    mask[1, 2] = bad
    with pytest.raises(SpecError, match=rf"attn_mask\[1, 2\] is {bad}"):
        qt.attention(q, q, q, attn_mask=mask)


def test_minus_inf_mask_still_hides_keys():
    q = torch.randn(1, 1, 3, 4, dtype=torch.float64)
    mask = torch.zeros(3, 3, dtype=torch.float64)
    mask[0, 1:] = -float("inf")
    out = qt.attention(q, q, q, attn_mask=mask, config=qt.QuantumAttentionConfig(exact=True))
    assert torch.allclose(out, SDPA(q, q, q, attn_mask=mask), atol=1e-9)


@pytest.mark.parametrize("name", ["query", "key", "value"])
def test_a_nan_input_is_named_by_its_tensor_index(name):
    tensors = {n: torch.randn(2, 2, 3, 4) for n in ("query", "key", "value")}
    tensors[name][1, 0, 2, 3] = float("nan")
    with pytest.raises(SpecError, match=rf"^{name}\[1, 0, 2, 3\] is nan"):
        qt.attention(tensors["query"], tensors["key"], tensors["value"])
    three_d = {n: t[0] for n, t in tensors.items()}  # (H, L, E): the index is the caller's, no batch added
    three_d[name][1, 2, 1] = float("inf")
    with pytest.raises(SpecError, match=rf"^{name}\[1, 2, 1\] is inf"):
        qt.attention(three_d["query"], three_d["key"], three_d["value"])


def test_decode_counts_takes_a_single_sampler_pub_result():
    from qiskit_aer.primitives import SamplerV2

    spec = {"Q": [[1.0, 0.5], [0.2, -1.0]], "K": [[0.3, 0.4], [1.0, 1.0]], "V": [[1.0], [2.0]]}
    compiled = qac.compile(spec)
    pubs = compiled.pubs()
    assert len(pubs) == 1
    job = SamplerV2(default_shots=500, seed=4).run(pubs).result()
    from_list = qac.decode_counts(compiled, job)
    single = qac.decode_counts(compiled, job[0])
    assert single.output.tobytes() == from_list.output.tobytes()
    assert np.all(np.isfinite(single.stderr))
