"""``layout`` (L3 → L4): layout, routing and basis translation, once per template.

Qiskit's staged preset pass manager (init, layout, routing, translation, optimization) on the
target's ``Target`` with its dead couplers removed, seeded for reproducible output. Templates
stay parametrised, so N·M pairs cost one transpile plus N·M bindings, not N·M transpiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qac.errors import CompileError, TargetError
from qac.ir import CircuitModule, IsaProgram
from qac.pipeline import CompileContext, Pass


def transpile_template(circuit, target, *, optimization_level: int, seed: int):
    """Transpile one logical template for ``target`` (a ``qac.targets.TargetDescription``)."""
    from qiskit.transpiler import generate_preset_pass_manager

    if circuit.num_qubits > target.num_qubits:
        raise TargetError(f"the kernel needs {circuit.num_qubits} qubits but target '{target.name}' has "
                          f"{target.num_qubits}; use a larger target or a smaller d (or more heads)")
    manager = generate_preset_pass_manager(optimization_level=optimization_level,
                                           seed_transpiler=seed, **target.transpile_kwargs())
    try:
        return manager.run(circuit)
    except Exception as exc:  # Qiskit raises TranspilerError for e.g. no connected region large enough
        raise TargetError(f"cannot lay out template {circuit.name} on '{target.name}': {exc}; "
                          f"use a larger target or a smaller d") from None


def physical_qubits(isa) -> list[int]:
    """The physical qubits the logical qubits start on (in logical order)."""
    layout = isa.layout
    if layout is None:
        return list(range(isa.num_qubits))
    return [int(q) for q in layout.initial_index_layout(filter_ancillas=True)]


def resources(isa) -> dict:
    """Counts that do not depend on the machine: active qubits, two-qubit gates, depth."""
    active = {isa.find_bit(q).index for inst in isa.data for q in inst.qubits}
    two_qubit = sum(1 for inst in isa.data if inst.operation.num_qubits == 2 and inst.operation.name != "barrier")
    return {
        "qubits": len(active),
        "two_qubit_gates": two_qubit,
        "depth": isa.depth(),
        "two_qubit_depth": isa.depth(lambda inst: inst.operation.num_qubits == 2),
        "operations": dict(sorted(isa.count_ops().items())),
    }


@dataclass(frozen=True)
class Layout(Pass):
    """Transpile every template once for the context's target (seeded)."""

    name = "layout"
    reads = "L3"
    writes = "L4"
    optimization_level: int = field(default=1)

    def __post_init__(self):
        if self.optimization_level not in (0, 1, 2, 3):
            raise CompileError(f"layout: optimization_level must be 0, 1, 2 or 3, not {self.optimization_level}")

    def run(self, module: CircuitModule, context: CompileContext) -> IsaProgram:
        isa = {name: transpile_template(t.circuit, context.target, optimization_level=self.optimization_level,
                                        seed=context.seed)
               for name, t in module.templates.items()}
        facts = {"resources": {name: resources(c) for name, c in isa.items()},
                 "physical_qubits": {name: physical_qubits(c) for name, c in isa.items()}}
        return IsaProgram(module, isa, context.target.name, facts)
