"""The intermediate levels between a spec and an ISA program.

L1 ``AttentionGraph``: a dataflow graph (networkx) of typed ops — Input, MatMul, Scale,
Mask, Softmax, Output — one chain per head. Q·Kᵀ and P·V are the same op (``MatMul``);
the ``quantum`` flag says which ones the compiler lowers to circuits.

L2 ``KernelPlan``: each quantum MatMul as inner products of unit vectors times classical
norms, ``A·Bᵀ = diag(|a|)·C·diag(|b|)``, ``C_ij = <â_i|b̂_j>``, with the pairs that need a
circuit listed and every other entry settled classically (zero vectors give exactly 0,
masked entries are never computed).

L3 ``CircuitModule``: one parametrised template per kernel shape plus a bindings table per
kernel (a row of parameter values per estimated pair). L4 ``IsaProgram``: the templates
transpiled once for the target, still parametrised.

Every level has ``verify()`` (raises ``CompileError`` on a broken invariant) and
``describe()`` (the text ``--print-after-all`` shows).

One module per level: ``graph`` (L1), ``kernel_plan`` (L2), ``templates`` (L3), ``isa`` (L4); the
typed analysis records of L4 in ``records``; the pass interface and the pipeline in ``pipeline``.
This package re-exports the level types, so ``from qac.ir import Kernel`` names the level, not the file.
"""

from qac.ir.graph import (
           OPS,
           AttentionGraph,
           Input,
           Mask,
           MatMul,
           Output,
           Scale,
           Softmax,
)
from qac.ir.isa import IsaProgram
from qac.ir.kernel_plan import Kernel, KernelPlan
from qac.ir.records import CostReport, LayoutOptions, Packing, TemplateResources
from qac.ir.templates import Binding, Calibration, CircuitModule, Decoding, Template

__all__ = ["OPS", "AttentionGraph", "Binding", "Calibration", "CircuitModule", "CostReport", "Decoding", "Input",
           "IsaProgram", "Kernel", "KernelPlan", "LayoutOptions", "Mask", "MatMul", "Output", "Packing", "Scale",
           "Softmax", "Template", "TemplateResources"]
