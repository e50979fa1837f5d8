"""``cost`` (L4 → L4, analysis): publish what each compiled template costs, and the ``auto`` ranking.

Per ISA template, the routed figures of the ``resources`` analysis and the error model's
statistics at a shot budget (``passes/cost_model.py``): expected error of ĉ and shots for a
precision. With ``auto`` set (the resolved pipeline of an ``auto`` spec says
``cost{auto=encoding+estimator,...}``) it also publishes the ranked candidates and the
runner-up: the ones ``choose`` evaluated before lowering (``CompileContext.choice``), or —
when the resolved pipeline text is compiled again, with no ``choose`` in it — the same
evaluation run here, at the layout's options, so the manifest is the same either way.
The result is ``IsaProgram.cost`` (the manifest's ``cost`` key).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from qac.passes.cost_model import (
    DEFAULT_PRECISION,
    auto_layout,
    candidate_cost,
    evaluate,
    statistics,
)

from qac.errors import CompileError
from qac.ir import IsaProgram
from qac.ir.pipeline import CompileContext, Pass
from qac.ir.records import CostReport

AUTO_CHOICES = ("", "encoding", "estimator", "encoding+estimator")

__all__ = ["Cost", "statistics", "template_widths"]


@dataclass(frozen=True)
class Cost(Pass):
    """Publish each template's cost figures; after an ``auto`` choice, the ranked candidates."""

    name = "cost"
    reads = "L4"
    writes = "L4"
    analysis = True
    auto: str = field(default="", metadata={"quiet": True})  # "", "encoding", "estimator" or "encoding+estimator"
    shots: int = field(default=4096)
    precision: float = field(default=DEFAULT_PRECISION)
    prune: bool = field(default=True, metadata={"quiet": True})  # as choose's: the ranking run here matches it

    def __post_init__(self):
        if self.auto not in AUTO_CHOICES:
            raise CompileError(f"cost: auto must be encoding, estimator or encoding+estimator, not '{self.auto}'")
        if self.shots < 1 or not self.precision > 0:
            raise CompileError("cost: shots must be >= 1 and precision > 0; fix the pipeline text")

    def run(self, module: IsaProgram, context: CompileContext) -> IsaProgram:
        widths = template_widths(module)
        templates = []
        for name in sorted(module.isa):
            t = module.module.templates[name]
            templates.append((name, candidate_cost(t.encoding, t.estimator, module.resources[name], shots=self.shots,
                                                   precision=self.precision, d=widths[name])))
        auto = None
        if self.auto:
            auto = context.choice
            if auto is None or auto.open != self.auto:  # the resolved text compiled again: rank here
                plan = module.module.plan
                fixed = {"encoding": plan.encoding, "estimator": plan.estimator}
                open_choice = {k: ("auto" if k in self.auto.split("+") else v) for k, v in fixed.items()}
                layout = module.layout or auto_layout(context.target)
                auto = evaluate(max(k.d for k in plan.kernels), context, shots=self.shots, precision=self.precision,
                                layout=layout, prune=self.prune, **open_choice)
        return replace(module, cost=CostReport(self.shots, self.precision, tuple(templates), auto))


def template_widths(program: IsaProgram) -> dict[str, int]:
    """Per template, the widest head d among the kernels bound to it (packed ones: their template's)."""
    widths: dict[str, int] = {}
    for kernel in program.module.plan.kernels:
        name = program.module.bindings[kernel.name].template
        widths[name] = max(widths.get(name, 0), kernel.d)
    for name, info in (program.packing or {}).items():
        widths[info.template] = widths.get(name, 0)
    return widths
