"""``layout`` (L3 → L4): layout, routing and basis translation, once per template.

Qiskit's staged preset pass manager (init, layout, routing, translation, optimization) on the
target's ``Target`` with its dead couplers removed, seeded for reproducible output. Templates
stay parametrised, so N·M pairs cost one transpile plus N·M bindings, not N·M transpiles —
which is also why the template can afford to be transpiled thoroughly: with ``trials=K`` it
is transpiled with seeds seed, seed + 1, …, seed + K − 1 and the routed circuit with the
fewest two-qubit gates (then the lowest depth, then the highest estimated success
probability) is kept. Every choice is a function of the seed, so output stays byte-identical.

Calibration figures (``calibration``): the estimated success probability
ESP = Π_gates (1 − error) · Π_measured (1 − readout error) over the routed circuit's
instructions on their physical qubits (Nishio et al., "Extracting success from IBM's
20-qubit machines using error-aware compilation", JETC 16 (2020)), and the duration of the
critical path from the instruction durations. The ideal ``aer`` target has ESP = 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qac.errors import CompileError, TargetError
from qac.ir import CircuitModule, IsaProgram
from qac.pipeline import CompileContext, Pass


def _transpile_once(circuit, target, *, optimization_level: int, seed: int):
    from qiskit.transpiler import generate_preset_pass_manager

    manager = generate_preset_pass_manager(optimization_level=optimization_level,
                                           seed_transpiler=seed, **target.transpile_kwargs())
    try:
        return manager.run(circuit)
    except Exception as exc:  # Qiskit raises TranspilerError for e.g. no connected region large enough
        raise TargetError(f"cannot lay out template {circuit.name} on '{target.name}': {exc}; "
                          f"use a larger target or a smaller d") from None


def transpile_template(circuit, target, *, optimization_level: int, seed: int, trials: int = 1):
    """Transpile one logical template for ``target`` (a ``qac.targets.TargetDescription``);
    the best of ``trials`` seeds (fewest two-qubit gates, then depth, then highest ESP)."""
    if circuit.num_qubits > target.num_qubits:
        raise TargetError(f"the kernel needs {circuit.num_qubits} qubits but target '{target.name}' has "
                          f"{target.num_qubits}; use a larger target or a smaller d (or more heads)")
    best, best_key = None, None
    for k in range(max(1, trials)):
        isa = _transpile_once(circuit, target, optimization_level=optimization_level, seed=seed + k)
        figures = resources(isa)
        key = (figures["two_qubit_gates"], figures["depth"], -calibration(isa, target)["esp"])
        if best_key is None or key < best_key:
            best, best_key = isa, key
    return best


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


def calibration(isa, target) -> dict:
    """ESP and critical-path duration (ns) of a routed circuit from the target's calibration."""
    qiskit_target = target.qiskit_target()
    if qiskit_target is None:
        return {"esp": 1.0, "duration_ns": None, "log_esp": 0.0}
    import math

    log_esp, finish = 0.0, {}
    for inst in isa.data:
        name = inst.operation.name
        if name == "barrier":
            continue
        qargs = tuple(isa.find_bit(q).index for q in inst.qubits)
        props = None
        if name in qiskit_target.operation_names:
            props = qiskit_target[name].get(qargs)
        error = (props.error if props is not None else None) or 0.0
        duration = (props.duration if props is not None else None) or 0.0
        log_esp += math.log1p(-min(error, 0.999999))
        start = max((finish.get(q, 0.0) for q in qargs), default=0.0)
        for q in qargs:
            finish[q] = start + duration
    duration_ns = max(finish.values(), default=0.0) * 1e9
    return {"esp": math.exp(log_esp), "duration_ns": round(duration_ns, 3), "log_esp": log_esp}


@dataclass(frozen=True)
class Layout(Pass):
    """Transpile every template once for the context's target (seeded; best of ``trials`` seeds)."""

    name = "layout"
    reads = "L3"
    writes = "L4"
    optimization_level: int = field(default=1)
    trials: int = field(default=1)

    def __post_init__(self):
        if self.optimization_level not in (0, 1, 2, 3):
            raise CompileError(f"layout: optimization_level must be 0, 1, 2 or 3, not {self.optimization_level}")
        if not 1 <= self.trials <= 64:
            raise CompileError(f"layout: trials must be between 1 and 64, not {self.trials}")

    def options_text(self) -> str:  # `trials=1` is the old default: keep old pipeline text unchanged
        text = f"{self.name}{{optimization_level={self.optimization_level}"
        return text + (f",trials={self.trials}}}" if self.trials != 1 else "}")

    def run(self, module: CircuitModule, context: CompileContext) -> IsaProgram:
        isa = {name: transpile_template(t.circuit, context.target, optimization_level=self.optimization_level,
                                        seed=context.seed, trials=self.trials)
               for name, t in module.templates.items()}
        calibrated = {name: calibration(c, context.target) for name, c in isa.items()}
        facts = {"resources": {name: {**resources(c), "esp": round(calibrated[name]["esp"], 12),
                                      "duration_ns": calibrated[name]["duration_ns"]} for name, c in isa.items()},
                 "physical_qubits": {name: physical_qubits(c) for name, c in isa.items()},
                 "layout_options": (self.optimization_level, self.trials)}
        return IsaProgram(module, isa, context.target.name, facts)
