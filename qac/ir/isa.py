"""L4 ``IsaProgram``: the templates transpiled once for the target, still parametrised, with the
analysis records (resources, packing, layout options, cost) beside them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qac.errors import InternalError
from qac.ir.records import CostReport, LayoutOptions, Packing, TemplateResources
from qac.ir.templates import CircuitModule

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit



# ----------------------------------------------------------------------------- L4
@dataclass(frozen=True, eq=False)
class IsaProgram:
    """L4: every template transpiled once for the target (layout, routing, basis), parametrised.

    Analysis results are typed fields (``qac/ir/records.py``): ``resources`` per ISA template
    (the ``resources`` analysis, run after every pass that writes L4), ``packing`` per packed
    template (``pack``), ``layout`` (how ``layout`` transpiled) and ``cost`` (the ``cost`` pass).
    """

    module: CircuitModule
    isa: dict[str, QuantumCircuit]
    target: str
    layout: LayoutOptions | None = None
    resources: dict[str, TemplateResources] = field(default_factory=dict)
    packing: dict[str, Packing] | None = None  # unpacked template -> its copies; None: no `pack` pass ran
    cost: CostReport | None = None

    level = "L4"

    @property
    def packed_templates(self) -> set[str]:
        return {p.template for p in (self.packing or {}).values()}

    def template_of(self, kernel: str) -> str:
        return self.module.bindings[kernel].template

    def packing_of(self, template: str) -> Packing | None:
        """How ``template`` (an unpacked one) is packed, or ``None``: it runs one copy per circuit."""
        return (self.packing or {}).get(template)

    def copies(self, template: str) -> int:
        info = self.packing_of(template)
        return 1 if info is None else info.copies

    def kernel_table(self) -> list[dict]:
        """Per kernel: template, pairs, copies per circuit, circuits, qubits, two-qubit gates, depth,
        ESP, duration, physical qubits (of one copy; the manifest's ``placement`` has every copy's)."""
        rows = []
        for k in self.module.plan.kernels:
            name = self.template_of(k.name)
            copies, res = self.copies(name), self.resources[name]
            counts = {key: v for key, v in res.counts().items() if key != "operations"}
            rows.append({"kernel": k.name, "head": k.head, "template": name, "d": k.d, "d_pad": k.d_pad,
                         "pairs": int(len(k.pairs)), "copies": copies,
                         "circuits": int(-(-len(k.pairs) // copies)), "settled_zero": k.settled_zero,
                         "masked": int((~k.visible).sum()), **counts, **res.calibrated(),
                         "physical_qubits": list(res.physical_qubits)})
        return rows

    def verify(self) -> None:
        for name, circuit in self.isa.items():
            logical = self.module.templates[name].circuit
            if set(circuit.parameters) != set(logical.parameters):
                raise InternalError(f"transpiling template {name} changed its parameters")
        for name in self.resources:
            if name not in self.isa:
                raise InternalError(f"resources recorded for {name}, which is not an ISA template")
        for name, info in (self.packing or {}).items():
            if name not in self.isa or info.template not in self.isa:
                raise InternalError(f"packing of {name} names a template the program does not hold")

    def describe(self) -> str:
        lines = [f"IsaProgram for {self.target} (L4)"]
        for name, c in self.isa.items():
            two_q = sum(1 for inst in c.data if inst.operation.num_qubits == 2)
            line = f"  {name}: {dict(c.count_ops())}, two-qubit {two_q}, depth {c.depth()}"
            res = self.resources.get(name)
            if res is not None:
                duration = "-" if res.duration_ns is None else f"{res.duration_ns:g} ns"
                line += (f"; resources: {res.qubits} qubits on {list(res.physical_qubits)}, ESP {res.esp:.4f}, "
                         f"duration {duration}")
            lines.append(line)
        for name, info in sorted((self.packing or {}).items()):
            lines.append(f"  packing {name}: {info.copies} copies as {info.template}")
        if self.cost is not None:
            lines.append(f"  cost: {len(self.cost.templates)} template(s) at {self.cost.shots} shots"
                         + ("" if self.cost.auto is None else
                            f"; auto chose {self.cost.auto.choice.encoding}/{self.cost.auto.choice.estimator}"))
        return "\n".join(lines)
