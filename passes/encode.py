"""``encode`` (L2 → L2): amplitude encodings of the unit directions.

An encoding is a *loader*: a parametrised circuit ``L(θ)`` on a register of its own with
``L(θ(x))|0…0⟩ = |x⟩`` exactly for every real unit vector ``x`` of the register's width,
and the numpy map ``x ↦ θ(x)`` (``vector_parameters``). Estimators (``passes/estimate``)
compose loaders into inner-product circuits. The registry ``ENCODINGS`` holds one loader per
family module of ``qac.kernels.encodings``: ``binary`` (the open Ry tree on log2 d qubits;
its routed tree programs and light cone in ``encodings.trees``), ``unary_parallel``,
``unary_diagonal``, ``unary_semi_diagonal`` (RBS loaders on d qubits) and ``qiskit``
(``StatePreparation``, the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from qac.errors import CompileError
from qac.ir import KernelPlan
from qac.ir.pipeline import CompileContext, Pass
from qac.kernels.binding import vectors_for
from qac.kernels.encodings import ENCODINGS


@dataclass(frozen=True)
class Encode(Pass):
    """Compute every direction's encoding parameters (per-vector angles, no offset)."""

    name = "encode"
    reads = "L2"
    writes = "L2"
    method: str = field(default="binary")

    def __post_init__(self):
        if self.method not in ENCODINGS:
            raise CompileError(f"encode: unknown encoding '{self.method}'; choose one of {', '.join(ENCODINGS)}")

    def run(self, module: KernelPlan, context: CompileContext) -> KernelPlan:
        """Kernels of one width are encoded in one call (a model forward has hundreds of small
        ones); the map works row by row, so each row's angles are those of a call of its own."""
        encoding = ENCODINGS[self.method]
        groups: dict[tuple[int, int], list[int]] = {}
        for index, k in enumerate(module.kernels):
            groups.setdefault((k.d, encoding.width(k.d)), []).append(index)
        kernels = list(module.kernels)
        for (d, width), members in groups.items():
            units = [side for k in members for side in (kernels[k].lhs_units, kernels[k].rhs_units)]
            angles = encoding.vector_parameters(vectors_for(np.concatenate(units), d, width, False))
            edges = np.cumsum([0] + [len(u) for u in units])
            for n, k in enumerate(members):
                kernels[k] = replace(kernels[k], lhs_angles=angles[edges[2 * n]:edges[2 * n + 1]],
                                     rhs_angles=angles[edges[2 * n + 1]:edges[2 * n + 2]])
        return replace(module, kernels=tuple(kernels), encoding=self.method)
