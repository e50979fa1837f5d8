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

from qac.errors import CompileError
from qac.ir import KernelPlan
from qac.ir.pipeline import CompileContext, Pass
from qac.kernels.encodings import ENCODINGS


@dataclass(frozen=True)
class Encode(Pass):
    """Choose every direction's loader. Its angles (per vector, no offset) are computed where they
    are read: by the kernel's binder, with its rows (``qac.kernels.binding.vector_parameters``), so
    a run that binds few rows — an ideal closed-form one — computes few (issue 22; the joint tree
    of binary interference reads none)."""

    name = "encode"
    reads = "L2"
    writes = "L2"
    method: str = field(default="binary")

    def __post_init__(self):
        if self.method not in ENCODINGS:
            raise CompileError(f"encode: unknown encoding '{self.method}'; choose one of {', '.join(ENCODINGS)}")

    def run(self, module: KernelPlan, context: CompileContext) -> KernelPlan:
        return replace(module, encoding=self.method)
