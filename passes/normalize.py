"""``normalize`` (L1 → L2): split norms from directions, settle zero vectors, pad d.

Each quantum MatMul ``A·Bᵀ`` becomes ``diag(|a|)·C·diag(|b|)`` with ``C_ij = <â_i|b̂_j>``.
A zero row has no direction: its products are exactly 0 and need no circuit. Entries the
mask hides are never computed. Directions are zero-padded to a power of two, which leaves
every inner product unchanged and gives the encodings a whole number of qubits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.ir import AttentionGraph, Kernel, KernelPlan, MatMul
from qac.ir.pipeline import CompileContext, Pass
from qac.kernels.attention import causal_visible
from qac.kernels.binding import unit_rows


def padded_width(d: int) -> int:
    """The smallest power of two >= d (1 for d = 1)."""
    return 1 << max(0, (d - 1).bit_length())


def visible_entries(kind: str, n: int, m: int) -> np.ndarray:
    """Which score entries the mask leaves visible; causal is top-left aligned (j <= i)."""
    if kind == "causal":
        return causal_visible(n, m)
    return np.ones((n, m), dtype=bool)


def split_norms(rows: np.ndarray, d_pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (zero rows stay zero) padded to ``d_pad`` columns, and the norms; the same
    split the run path uses for P's rows (``qac.kernels.binding.unit_rows``)."""
    return unit_rows(rows, d_pad)


def pv_kernel(module: AttentionGraph, node: str, op: MatMul) -> Kernel:
    """O = P·V as inner products over the M keys: O_ik = |p_i|·|v_k|·⟨p̂_i|v̂_k⟩, v_k the k-th column
    of the head's V (padded to a power of two). V's side is known now; P's rows only after stage 1,
    so the run binds them (``qac/execution/twostage.py``). Until then the lhs holds a placeholder,
    the uniform weights over each row's visible keys (the softmax of equal scores): it gives the
    compile-time bindings (verification, ``bindings.npz``) a valid row of the right shape. A row
    with no visible key is P's zero row (O_i = 0, no circuit); a zero column of V gives 0 too."""
    lo, hi = op.columns
    values = module.arrays[op.rhs][:, lo:hi]  # (M, dv)
    chain = module.chain(op.head)
    scores, mask = chain["scores"], chain["masked"]
    n, m = len(module.arrays[scores.lhs]), len(values)
    visible = mask.visible if mask.visible is not None else visible_entries(mask.kind, n, m)
    d_pad = padded_width(m)
    uniform = visible / np.maximum(visible.sum(axis=1, keepdims=True), 1)
    lhs_units, lhs_norms = split_norms(uniform, d_pad)
    rhs_units, rhs_norms = split_norms(values.T, d_pad)
    pairs = np.argwhere((lhs_norms[:, None] > 0) & (rhs_norms[None, :] > 0)).astype(np.int64)
    return Kernel(name=node.replace(".", "_"), head=op.head, d=m, d_pad=d_pad, lhs_units=lhs_units,
                  rhs_units=rhs_units, lhs_norms=lhs_norms, rhs_norms=rhs_norms, pairs=pairs,
                  visible=np.ones((n, values.shape[1]), dtype=bool), stage=2)


def _split_heads(module: AttentionGraph, ops: list, side: str) -> dict:
    """Per score MatMul node, (units, norms) of its ``side`` ("lhs": Q, "rhs": K) head columns.
    The heads of one array and width are split in one call (a model forward has hundreds of
    small heads); the split works row by row, so each head's rows are those of a call of its own."""
    groups: dict = {}
    for node, op in ops:
        lo, hi = op.columns
        groups.setdefault((getattr(op, side), hi - lo), []).append((node, lo, hi))
    out = {}
    for (name, width), members in groups.items():
        array = module.arrays[name]
        units, norms = split_norms(np.concatenate([array[:, lo:hi] for _, lo, hi in members]), padded_width(width))
        rows = len(array)
        for k, (node, _, _) in enumerate(members):
            out[node] = units[k * rows:(k + 1) * rows], norms[k * rows:(k + 1) * rows]
    return out


@dataclass(frozen=True)
class Normalize(Pass):
    name = "normalize"
    reads = "L1"
    writes = "L2"

    def run(self, module: AttentionGraph, context: CompileContext) -> KernelPlan:
        kernels = []
        scores = [(node, op) for node, op in module.nodes_of(MatMul) if op.quantum and op.transpose_rhs]
        lhs_split, rhs_split = (_split_heads(module, scores, side) for side in ("lhs", "rhs"))
        for node, op in module.nodes_of(MatMul):
            if not op.quantum:
                continue
            if not op.transpose_rhs:  # P·V (pv: quantum)
                kernels.append(pv_kernel(module, node, op))
                continue
            lo, hi = op.columns
            d_pad = padded_width(hi - lo)
            (lhs_units, lhs_norms), (rhs_units, rhs_norms) = lhs_split[node], rhs_split[node]
            mask = module.chain(op.head)["masked"]
            visible = mask.visible if mask.visible is not None else visible_entries(mask.kind, len(lhs_units),
                                                                                    len(rhs_units))
            needed = visible & (lhs_norms[:, None] > 0) & (rhs_norms[None, :] > 0)
            pairs = np.argwhere(needed).astype(np.int64)  # row-major: (0,0), (0,1), ...
            kernels.append(Kernel(
                name=node.replace(".", "_"), head=op.head, d=hi - lo, d_pad=d_pad,
                lhs_units=lhs_units, rhs_units=rhs_units, lhs_norms=lhs_norms, rhs_norms=rhs_norms,
                pairs=pairs, visible=visible, bias=mask.bias))
        kernels.sort(key=lambda k: (k.stage, k.head))  # every Q·Kᵀ kernel before any P·V one
        return KernelPlan(module, tuple(kernels))
