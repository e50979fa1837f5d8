"""``choose`` (L1 → L1): pick the encoding and/or estimator of an ``auto`` spec, as a pass.

``choose{encoding=auto,estimator=auto,shots=S,precision=P}`` stands for the lowering it picks:
it ranks every open candidate with the cost model (``passes/cost_model.evaluate``: each
candidate's template built as ``estimate`` builds it and routed as the pipeline's own
``layout`` pass will route it, through the compile's ``TemplateCache``, so the winner is not
transpiled again) and puts ``normalize,encode{method=E},estimate{method=S}`` in front of the
rest of the pipeline. The ``cost`` pass after ``layout`` publishes the ranking
(``cost{auto=...}``; inserted right after ``layout`` when the pipeline has none).

The recorded pipeline (manifest, ``qac inspect``) is the resolved one, without ``choose``::

    choose{encoding=auto,estimator=auto,shots=1024,precision=0.01},layout{optimization_level=3,trials=4}
    → normalize,encode{method=binary},estimate{method=interference},layout{optimization_level=3,trials=4},
      cost{auto=encoding+estimator,shots=1024,precision=0.01}

so the resolved text compiles to the same files. ``choose`` reads the target from the
context (device files included), is timed like every pass, and its snapshot lists the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from qac.passes.cost import Cost
from qac.passes.cost_model import DEFAULT_PRECISION, evaluate, open_choices
from qac.passes.encode import Encode
from qac.passes.estimate import Estimate
from qac.passes.normalize import Normalize

from qac.errors import CompileError
from qac.ir import AttentionGraph, MatMul
from qac.ir.pipeline import CompileContext, Pass
from qac.ir.records import LayoutOptions
from qac.kernels.encodings import ENCODINGS
from qac.kernels.estimators import ESTIMATORS

LOWERING = ("normalize", "encode", "estimate")  # what choose stands for


def widest_kernel(graph: AttentionGraph) -> int:
    """The widest head d among the graph's quantum MatMuls (every head shares the choice)."""
    widths = [op.columns[1] - op.columns[0] if op.transpose_rhs else len(graph.arrays[op.rhs])  # P·V: width M
              for _, op in graph.nodes_of(MatMul) if op.quantum]
    if not widths:
        raise CompileError("choose: the graph has no quantum MatMul to choose a lowering for")
    return max(widths)


@dataclass(frozen=True)
class Choose(Pass):
    """Rank the open (encoding, estimator) candidates on the target; lower with the best."""

    name = "choose"
    reads = "L1"
    writes = "L1"
    recorded = False  # replaced in the recorded pipeline by the passes it picked
    encoding: str = field(default="auto")
    estimator: str = field(default="auto")
    shots: int = field(default=4096)
    precision: float = field(default=DEFAULT_PRECISION)
    prune: bool = field(default=True, metadata={"quiet": True})  # false: route every open candidate (to check)

    def __post_init__(self):
        for option, table in (("encoding", ENCODINGS), ("estimator", ESTIMATORS)):
            value = getattr(self, option)
            if value != "auto" and value not in table:
                raise CompileError(f"choose: unknown {option} '{value}'; choose auto or one of {', '.join(table)}")
        if not open_choices(self.encoding, self.estimator):
            raise CompileError("choose: nothing is left to choose; set encoding or estimator to auto, "
                               "or write encode{method=...},estimate{method=...} without choose")
        if self.shots < 1 or not self.precision > 0:
            raise CompileError("choose: shots must be >= 1 and precision > 0; fix the pipeline text")

    def run(self, module: AttentionGraph, context: CompileContext) -> AttentionGraph:
        raise CompileError("choose: it decides the passes after it; run it inside a pipeline")

    def plan(self, module: AttentionGraph, context: CompileContext, rest: list[Pass]) -> tuple[AttentionGraph, list[Pass]]:
        written = [p.name for p in rest if p.name in LOWERING]
        if written:
            raise CompileError(f"choose: it stands for normalize,encode,estimate; remove {', '.join(written)} "
                               f"from the pipeline")
        where = next((i for i, p in enumerate(rest) if p.name == "layout"), None)
        if where is None:
            raise CompileError("choose: the pipeline needs a layout pass after it, e.g. "
                               "choose{encoding=auto},layout{optimization_level=3}")
        costs = [i for i, p in enumerate(rest) if p.name == "cost"]
        for i in costs:
            if (rest[i].shots, rest[i].precision) != (self.shots, self.precision):
                raise CompileError(f"choose: it ranks at shots={self.shots}, precision={self.precision} but "
                                   f"cost publishes at shots={rest[i].shots}, precision={rest[i].precision}; "
                                   f"give them the same values")
        layout = rest[where]
        context.choice = evaluate(widest_kernel(module), context, encoding=self.encoding, estimator=self.estimator,
                                  shots=self.shots, precision=self.precision, prune=self.prune,
                                  layout=LayoutOptions(layout.optimization_level, layout.trials))
        best, open_text = context.choice.choice, context.choice.open
        rest = [replace(p, auto=open_text, prune=self.prune) if i in costs else p for i, p in enumerate(rest)]
        if not costs:
            rest.insert(where + 1, Cost(auto=open_text, shots=self.shots, precision=self.precision, prune=self.prune))
        lowering = [Normalize(), Encode(method=best.encoding), Estimate(method=best.estimator)]
        return module, lowering + rest

    def snapshot(self, module: AttentionGraph, context: CompileContext) -> str:
        return module.describe() + "\n" + context.choice.describe()
