"""Infinite-shot semantics: every bound circuit's exact outcome probabilities, decoded by the
code `run` uses, reproduce numpy attention to 1e-9 (ARCHITECTURE.md, first invariant)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qac
from tests.conftest import spec_mapping


def numpy_attention(Q, K, V, heads, scale, causal):
    """An independent reference: a plain loop over heads, rows and keys."""
    N, d = Q.shape
    dh, dvh = d // heads, V.shape[1] // heads
    out = np.zeros((N, V.shape[1]))
    for h in range(heads):
        q, k, v = Q[:, h * dh:(h + 1) * dh], K[:, h * dh:(h + 1) * dh], V[:, h * dvh:(h + 1) * dvh]
        s = (1 / np.sqrt(dh) if scale is None else scale) * q @ k.T
        if causal:
            s[np.triu_indices(s.shape[0], 1, s.shape[1])] = -np.inf
        w = np.exp(s - s.max(axis=1, keepdims=True))
        out[:, h * dvh:(h + 1) * dvh] = (w / w.sum(axis=1, keepdims=True)) @ v
    return out


@st.composite
def attention_specs(draw):
    heads = draw(st.sampled_from([1, 1, 2]))
    d_head = draw(st.integers(1, 16 // heads))
    n, m = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    dv = heads * draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    Q, K, V = (rng.standard_normal(s) for s in ((n, heads * d_head), (m, heads * d_head), (m, dv)))
    for matrix in (Q, K):  # rows of zeros must be settled classically
        zero_rows = draw(st.lists(st.integers(0, len(matrix) - 1), max_size=2))
        matrix[zero_rows] = 0.0
    scale = draw(st.sampled_from([None, 0.5, 1.7]))
    mask = draw(st.sampled_from(["none", "causal"]))
    options = {"heads": heads, "mask": mask, "seed": seed}
    if scale is not None:
        options["scale"] = scale
    return spec_mapping(Q, K, V, **options), (Q, K, V, heads, scale, mask == "causal")


@given(attention_specs())
def test_exact_probabilities_reproduce_numpy_attention(case):
    mapping, (Q, K, V, heads, scale, causal) = case
    result = qac.compile(mapping, "aer").run(exact=True)
    expected = numpy_attention(Q, K, V, heads, scale, causal)
    np.testing.assert_allclose(result.output, expected, atol=1e-9, rtol=0)
    np.testing.assert_allclose(result.exact, expected, atol=1e-12, rtol=0)
    assert np.all(result.stderr == 0)


@pytest.mark.parametrize("target", ["ibm_brisbane", "ibm_fez"])
def test_routed_isa_circuits_are_exact_on_devices(target):
    """The transpiled, routed ISA circuits (not only the logical templates) are exact."""
    rng = np.random.default_rng(11)
    Q, K, V = rng.standard_normal((3, 6)), rng.standard_normal((4, 6)), rng.standard_normal((4, 2))
    Q[1] = 0
    result = qac.compile(spec_mapping(Q, K, V, mask="causal"), target).run(exact=True)
    np.testing.assert_allclose(result.output, numpy_attention(Q, K, V, 1, None, True), atol=1e-9, rtol=0)


def test_zero_and_masked_pairs_get_no_circuit():
    Q = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    K = np.array([[0.5, 0.5], [1.0, -1.0], [0.0, 0.0]])
    compiled = qac.compile(spec_mapping(Q, K, np.eye(3), mask="causal"), "aer")
    (kernel,) = compiled.kernels
    # visible (j <= i) and both vectors nonzero: (0,0), (2,0), (2,1)
    assert kernel.pairs.tolist() == [[0, 0], [2, 0], [2, 1]]
    assert len(compiled.circuits()) == 3


def test_heads_share_one_template_and_transpile():
    rng = np.random.default_rng(3)
    mapping = spec_mapping(rng.standard_normal((3, 8)), rng.standard_normal((3, 8)), rng.standard_normal((3, 4)), heads=2)
    compiled = qac.compile(mapping, "aer")
    assert len(compiled.kernels) == 2
    assert len(compiled.program.isa) == 1  # one shape (d_head = 4) -> one template, one transpile
    assert len(compiled.pubs()) == 2


# ------------------------------------------------------------------ every encoding × estimator
def _pairs():
    from qac.kernels.estimators import ESTIMATORS

    return [(encoding, name) for name, estimator in ESTIMATORS.items() for encoding in estimator.encodings]


PAIRS = _pairs()


def _pipeline(encoding, estimator, level=1):
    return f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},layout{{optimization_level={level}}}"


@pytest.mark.parametrize("encoding,estimator", PAIRS)
@settings(max_examples=4)
@given(case=attention_specs())
def test_every_pair_reproduces_numpy_attention(encoding, estimator, case):
    """Exact probabilities of every encoding × estimator pair, decoded by `run`, to 1e-9.

    Unsigned estimators take the square root of ⟨a'|b'⟩² = ((1 + c)/2)²: at c = −1 exactly
    (only possible for d = 1) a 1e-17 rounding error becomes 1e-8, so d = 1 heads are widened."""
    from qac.kernels.estimators import ESTIMATORS

    mapping, (Q, K, V, heads, scale, causal) = case
    if not ESTIMATORS[estimator].signed and Q.shape[1] // heads == 1:
        Q, K = np.concatenate([Q, np.ones_like(Q)], axis=1), np.concatenate([K, np.ones_like(K)], axis=1)
        mapping = {**mapping, "Q": Q.tolist(), "K": K.tolist()}
    if ENCODINGS_UNARY(encoding) and Q.shape[1] // heads > 6:  # keep statevectors small
        return
    result = qac.compile(mapping, "aer", passes=_pipeline(encoding, estimator)).run(exact=True)
    np.testing.assert_allclose(result.output, numpy_attention(Q, K, V, heads, scale, causal), atol=1e-9, rtol=0)


def ENCODINGS_UNARY(encoding):  # noqa: N802 - reads like the predicate it is
    return encoding.startswith("unary")


@pytest.mark.parametrize("target", ["ibm_brisbane", "ibm_fez"])
@pytest.mark.parametrize("encoding,estimator", PAIRS)
def test_every_pair_is_exact_after_routing_on_devices(target, encoding, estimator):
    rng = np.random.default_rng(5)
    Q, K, V = rng.standard_normal((2, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    compiled = qac.compile(spec_mapping(Q, K, V, mask="causal"), target, passes=_pipeline(encoding, estimator))
    result = compiled.run(exact=True)
    np.testing.assert_allclose(result.output, numpy_attention(Q, K, V, 1, None, True), atol=1e-9, rtol=0)


@pytest.mark.parametrize("encoding,estimator", PAIRS)
def test_declared_oddness_matches_exact_simulation(encoding, estimator):
    """``Estimator.odd`` (a noisy run symmetrises pairs with (â, −b̂) when set) is what the
    logical template's exact mean of f does when b̂ flips sign."""
    from qac.passes.calibration import pair_kernel

    from qac.ir import Kernel
    from qac.kernels.estimators import ESTIMATORS
    from qac.kernels.exact import exact_means

    est = ESTIMATORS[estimator]
    rng = np.random.default_rng(17)
    d = 3
    width = est.width(d, encoding)
    a, b = np.zeros((3, width)), np.zeros((3, width))
    a[:, :d], b[:, :d] = rng.standard_normal((3, d)), rng.standard_normal((3, d))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    shape = Kernel("k", 0, d, width, a, b, np.ones(3), np.ones(3), np.zeros((0, 2), dtype=np.int64),
                   np.ones((3, 3), dtype=bool))
    circuit = est.build(d, "t", encoding)
    f = est.decoding(circuit.num_clbits).outcome_values
    plus = exact_means(circuit, est.bind(pair_kernel(shape, a, b, "plus"), encoding), f)
    minus = exact_means(circuit, est.bind(pair_kernel(shape, a, -b, "minus"), encoding), f)
    odd = bool(np.allclose(plus, -minus, atol=1e-9) and np.max(np.abs(plus)) > 1e-6)
    assert est.odd == odd
