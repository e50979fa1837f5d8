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
from qac.pipeline import CompileContext, Pass


def padded_width(d: int) -> int:
    """The smallest power of two >= d (1 for d = 1)."""
    return 1 << max(0, (d - 1).bit_length())


def visible_entries(kind: str, n: int, m: int) -> np.ndarray:
    """Which score entries the mask leaves visible; causal is top-left aligned (j <= i)."""
    if kind == "causal":
        return np.tril(np.ones((n, m), dtype=bool))
    return np.ones((n, m), dtype=bool)


def split_norms(rows: np.ndarray, d_pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (zero rows stay zero) padded to ``d_pad`` columns, and the norms."""
    norms = np.linalg.norm(rows, axis=1)
    units = np.zeros((rows.shape[0], d_pad))
    nonzero = norms > 0
    units[nonzero, : rows.shape[1]] = rows[nonzero] / norms[nonzero, None]
    # Renormalise once more so |â| = 1 to the last ulp (the semantics test asks for 1e-9).
    units[nonzero] /= np.linalg.norm(units[nonzero], axis=1)[:, None]
    return units, norms


@dataclass(frozen=True)
class Normalize(Pass):
    name = "normalize"
    reads = "L1"
    writes = "L2"

    def run(self, module: AttentionGraph, context: CompileContext) -> KernelPlan:
        kernels = []
        for node, op in module.nodes_of(MatMul):
            if not op.quantum:
                continue
            lo, hi = op.columns
            lhs, rhs = module.arrays[op.lhs][:, lo:hi], module.arrays[op.rhs][:, lo:hi]
            d_pad = padded_width(hi - lo)
            lhs_units, lhs_norms = split_norms(lhs, d_pad)
            rhs_units, rhs_norms = split_norms(rhs, d_pad)
            mask = module.chain(op.head)["masked"]
            visible = mask.visible if mask.visible is not None else visible_entries(mask.kind, len(lhs), len(rhs))
            needed = visible & (lhs_norms[:, None] > 0) & (rhs_norms[None, :] > 0)
            pairs = np.argwhere(needed).astype(np.int64)  # row-major: (0,0), (0,1), ...
            kernels.append(Kernel(
                name=node.replace(".", "_"), head=op.head, d=hi - lo, d_pad=d_pad,
                lhs_units=lhs_units, rhs_units=rhs_units, lhs_norms=lhs_norms, rhs_norms=rhs_norms,
                pairs=pairs, visible=visible, bias=mask.bias))
        kernels.sort(key=lambda k: k.head)
        return KernelPlan(module, tuple(kernels))
