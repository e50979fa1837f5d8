"""``estimate`` (L2 → L3): one parametrised template per kernel shape, and every kernel's bindings.

The estimators themselves (their circuits, per-shot variances and decoding) are the circuit
library ``qac.kernels.estimators``; this pass picks one, builds its template once per
(encoding, estimator, register width) — heads of equal width share it — binds the template's
calibration rows, and gives each kernel's pairs and sign partners a binder of the level-neutral
binder (``qac.kernels.binding.PairBinder``): their tables are bound when first read (emitting a
build, a simulated run), and an ideal closed-form run binds only the rows it spot-checks.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

from qac.passes.calibration import calibration

from qac.errors import CompileError
from qac.ir import Binding, CircuitModule, Kernel, KernelPlan, Template
from qac.ir.pipeline import CompileContext, Pass
from qac.kernels import binding
from qac.kernels.estimators import (
    ESTIMATORS,
    TREES,
    check_fits,
    resolve_tree,
    template_name,
)


@dataclass(frozen=True)
class Estimate(Pass):
    """Build one parametrised template per kernel shape and each kernel's bindings table."""

    name = "estimate"
    reads = "L2"
    writes = "L3"
    method: str = field(default="interference")
    tree: str = field(default="auto", metadata={"quiet": True})  # binary interference: routed, star or auto

    def __post_init__(self):
        if self.method not in ESTIMATORS:
            raise CompileError(f"estimate: unknown estimator '{self.method}'; choose one of {', '.join(ESTIMATORS)}")
        if self.tree not in TREES:
            raise CompileError(f"estimate: unknown tree '{self.tree}'; choose one of {', '.join(TREES)}")

    def run(self, module: KernelPlan, context: CompileContext) -> CircuitModule:
        """Templates and bindings; for a noisy run also every sign partner's row and each template's
        calibration rows (patterns from the compile seed), bound by the same binder."""
        estimator = ESTIMATORS[self.method]
        if module.encoding is None:
            raise CompileError("pipeline: 'estimate' needs the 'encode' pass before it; add encode to the pipeline")
        if module.encoding not in estimator.encodings:
            raise CompileError(f"estimate: estimator '{self.method}' does not work with encoding "
                               f"'{module.encoding}'; use one of {', '.join(estimator.encodings)}")
        templates: dict[str, Template] = {}
        bindings: dict[str, Binding] = {}
        target = getattr(context, "target", None)
        tree = resolve_tree(self.tree, target)
        shapes: dict[str, Kernel] = {}  # per template, the first kernel with pairs: the calibration's shape
        for kernel in module.kernels:
            check_fits(module.encoding, self.method, kernel.d, target)
            width = estimator.width(kernel.d, module.encoding)
            name = template_name(module.encoding, self.method, width)
            if name not in templates:
                circuit = _built(estimator, kernel.d, name, module.encoding, tree)
                templates[name] = Template(name, circuit, module.encoding, self.method, width, tree,
                                           decoding=estimator.decoding(circuit.num_clbits))
            if len(kernel.pairs):
                shapes.setdefault(name, kernel)
            rows = [binding.PairBinder(self.method, module.encoding, tree, kernel.d, templates[name].num_parameters,
                                       kernel.lhs_units, kernel.rhs_units, kernel.pairs, kernel.lhs_angles,
                                       kernel.rhs_angles, partner=partner) for partner in (False, True)]
            bindings[kernel.name] = Binding(kernel.name, name, rows[0], rows[1] if estimator.odd else None)
        for name, kernel in shapes.items():
            templates[name] = replace(templates[name], calibration=_calibrated(estimator, templates[name], kernel,
                                                                               context.seed))
        plan = KernelPlan(module.graph, module.kernels, module.encoding, self.method)
        return CircuitModule(plan, templates, bindings)


#: logical templates and calibration tables already built, by everything they are a function of
#: (a model forward compiles once a layer: the same template and rows every time); read only
_BUILT: OrderedDict = OrderedDict()
CACHE_SIZE = 64


def _remember(key, make):
    if key not in _BUILT:
        _BUILT[key] = make()
        while len(_BUILT) > CACHE_SIZE:
            _BUILT.popitem(last=False)
    return _BUILT[key]


def _built(estimator, d: int, name: str, encoding: str, tree: str):
    """``estimator.build(...)``, built once per (estimator, d, name, encoding, tree)."""
    return _remember(("template", estimator.name, d, name, encoding, tree),
                     lambda: estimator.build(d, name, encoding, tree))


def _calibrated(estimator, template: Template, kernel: Kernel, seed: int):
    """``calibration(...)`` once per (template, d, width, seed): the rows depend on nothing else,
    and sharing the record shares its lazily computed ideal means too."""
    key = ("calibration", estimator.name, template.name, template.encoding, template.tree, id(template.circuit),
           kernel.d, kernel.lhs_units.shape[1], seed)
    return _remember(key, lambda: calibration(estimator, template, kernel, seed=seed))
