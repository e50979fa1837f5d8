"""Per-kernel inner-product estimates → attention output, scores and their error bars.

One function for every run: exact (infinite-shot) estimates and sampled, mitigated ones go
through ``reconstruct``, so the semantics test checks the code sampled runs use. Everything
comes from the compiled program: norms, pairs, masks (``visible``) and an optional additive
float mask (``bias``) from the L2 kernels; scale and V's head columns from the L1 graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.execution.errorbars import bootstrap_stack
from qac.kernels.attention import (
    HeadResult,
    delta_heads,
    reconstruct_head,
    softmax_rows,
)


@dataclass(frozen=True)
class Reconstruction:
    output: np.ndarray  # (N, dv) heads concatenated on the feature axis
    stderr: np.ndarray
    scores: np.ndarray  # (heads, N, M)
    scores_stderr: np.ndarray
    inner_products: dict  # kernel name -> (estimates, stderr) over its pairs


def head_inputs(graph, head: int) -> tuple[float, np.ndarray]:
    """(scale, V's columns) of one head, from its chain of L1 ops."""
    chain = graph.chain(head)
    out = chain["out"]
    return chain["scaled"].value, graph.arrays[out.rhs][:, out.columns[0]:out.columns[1]]


def dense(kernel, estimate) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """A kernel's pair estimates as (shape) arrays: mean, sem, gradient (T, shape), covariance."""
    mean, sem = np.zeros(kernel.shape), np.zeros(kernel.shape)
    gradient = covariance = None
    if estimate is not None and len(kernel.pairs):
        i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
        mean[i, j], sem[i, j] = estimate.mean, estimate.sem
        if estimate.gradient is not None:
            gradient = np.zeros((len(estimate.gradient), *kernel.shape))
            gradient[:, i, j] = estimate.gradient
            covariance = estimate.covariance
    return mean, sem, gradient, covariance


#: heads reconstructed in one stack hold at most this many entries (N·max(M, dv) each, a few
#: tables): a model forward's hundreds of small heads go in a few calls, a long head alone, so a
#: stack never holds more than one head's tables or 2 MiB a table (memory.py's bound)
STACK_ENTRIES = 1 << 18


def reconstruct(program, estimates: dict, *, rng: np.random.Generator | None = None) -> Reconstruction:
    """``estimates``: kernel name -> ``KernelEstimate`` over its pairs (None: no pairs).

    With ``rng`` (sampled runs) the output's error bars are the parametric bootstrap of
    ``qac.execution.errorbars`` (valid where the softmax is peaked); without it (exact runs, whose inner
    products carry no error, and ``errorbars="delta"``) the delta method, which is then exactly 0.
    Heads of equal shape without shared errors are reconstructed as one stack
    (``qac.kernels.attention.delta_heads``: the same bits as one at a time).
    """
    plan = program.module.plan
    kernels = plan.kernels
    parts = [dense(k, estimates.get(k.name)) for k in kernels]
    inputs = [head_inputs(plan.graph, k.head) for k in kernels]
    heads = _stacked_heads(kernels, parts, inputs)
    booted = None if rng is None else bootstrap_stack(
        [(parts[i][0], parts[i][1], k.lhs_norms, k.rhs_norms, k.visible, inputs[i][0], inputs[i][1],
          getattr(k, "bias", None), parts[i][2], parts[i][3]) for i, k in enumerate(kernels)], rng)
    outputs, errors, scores, score_errors, inner_products = [], [], [], [], {}
    for index, kernel in enumerate(kernels):
        e = estimates.get(kernel.name)
        inner_products[kernel.name] = (np.zeros(0), np.zeros(0)) if e is None else (e.mean, e.sem)
        inner, inner_stderr, gradient, covariance = parts[index]
        scale, values = inputs[index]
        head = heads.get(index)
        if head is None:
            head = reconstruct_head(inner, inner_stderr, kernel.lhs_norms, kernel.rhs_norms, kernel.visible, scale,
                                    values, shared_gradient=gradient, shared_covariance=covariance,
                                    bias=getattr(kernel, "bias", None))
        stderr = head.output_stderr if booted is None else booted[index]
        outputs.append(head.output)
        errors.append(stderr)
        scores.append(head.scores)
        score_errors.append(head.scores_stderr)
    return Reconstruction(np.concatenate(outputs, axis=1), np.concatenate(errors, axis=1), np.stack(scores),
                          np.stack(score_errors), inner_products)


def _stacked_heads(kernels, parts, inputs) -> dict[int, HeadResult]:
    """``HeadResult`` of every kernel without shared errors, heads of one shape in stacks."""
    groups: dict = {}
    for index, kernel in enumerate(kernels):
        if parts[index][2] is None:  # no shared gradient: the independent delta method only
            bias = getattr(kernel, "bias", None)
            groups.setdefault((kernel.shape, inputs[index][1].shape[1], bias is None), []).append(index)
    out = {}
    for (shape, dv, no_bias), members in groups.items():
        step = max(1, STACK_ENTRIES // max(1, shape[0] * max(shape[1], dv)))
        for start in range(0, len(members), step):
            chunk = members[start:start + step]
            ks = [kernels[i] for i in chunk]
            stack = delta_heads(np.stack([parts[i][0] for i in chunk]), np.stack([parts[i][1] for i in chunk]),
                                np.stack([k.lhs_norms for k in ks]), np.stack([k.rhs_norms for k in ks]),
                                np.stack([k.visible for k in ks]),
                                np.array([inputs[i][0] for i in chunk], dtype=float)[:, None, None],
                                np.stack([inputs[i][1] for i in chunk]),
                                None if no_bias else np.stack([k.bias for k in ks]))
            head_scores, scores_var, output, output_var, _ = stack
            for n, i in enumerate(chunk):
                out[i] = HeadResult(head_scores[n], np.sqrt(np.maximum(scores_var[n], 0.0)), output[n],
                                    np.sqrt(np.maximum(output_var[n], 0.0)))
    return out


def reference_output(program) -> np.ndarray:
    """numpy's softmax(Q·Kᵀ·scale + bias, masked)·V per head, from the L1 graph and L2 masks;
    heads of one shape as one stack (one product per head: each head's bits as alone)."""
    plan = program.module.plan
    graph = plan.graph
    heads = []  # (kernel, lhs, rhs, scale, values), stage-1 kernels in order
    for kernel in plan.kernels:
        if kernel.stage != 1:  # P·V kernels (pv: quantum) share the head's Q·Kᵀ kernel's reference
            continue
        op = graph.chain(kernel.head)["scores"]
        lo, hi = op.columns
        scale, values = head_inputs(graph, kernel.head)
        heads.append((kernel, graph.arrays[op.lhs][:, lo:hi], graph.arrays[op.rhs][:, lo:hi], scale, values))
    groups: dict = {}
    for n, (kernel, lhs, rhs, _, values) in enumerate(heads):
        key = (lhs.shape, rhs.shape, values.shape, getattr(kernel, "bias", None) is None)
        groups.setdefault(key, []).append(n)
    outputs: list = [None] * len(heads)
    stacks = []
    for (lhs, rhs, values, no_bias), members in groups.items():
        step = max(1, STACK_ENTRIES // max(1, lhs[0] * max(rhs[0], values[1])))
        stacks += [(no_bias, members[a:a + step]) for a in range(0, len(members), step)]
    for no_bias, members in stacks:
        rows = [heads[n] for n in members]
        scores = np.stack([h[1] for h in rows]) @ np.stack([h[2] for h in rows]).swapaxes(1, 2)
        scores = scores * np.array([h[3] for h in rows], dtype=float)[:, None, None]
        if not no_bias:
            scores = scores + np.stack([h[0].bias for h in rows])
        scores = np.where(np.stack([h[0].visible for h in rows]), scores, -np.inf)
        for n, out in zip(members, softmax_rows(scores) @ np.stack([h[4] for h in rows])):
            outputs[n] = out
    return np.concatenate(outputs, axis=1)
