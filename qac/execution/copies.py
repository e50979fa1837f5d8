"""The circuits a run executes beyond the ISA templates: one copy of a packed template, readout.

A packed template is simulated copy by copy: copy c's gates and bits of the packed ISA
circuit (its qubits are disjoint from the others', and device noise models have no
cross-talk, so the joint distribution is the product of the copies'; ``tests/test_pack.py``
checks it against the whole circuit). Readout calibration prepares 0 or 1 on the measured
qubits of a circuit, with the same registers.
"""

from __future__ import annotations

from qac.ir.packing import packing_of


def measured_qubits(circuit) -> dict[int, int]:
    """clbit index -> physical qubit index of each final measurement."""
    return {circuit.find_bit(inst.clbits[0]).index: circuit.find_bit(inst.qubits[0]).index
            for inst in circuit.data if inst.operation.name == "measure"}


def readout_circuits(circuit) -> list:
    """Prepare-0 and prepare-1 circuits on ``circuit``'s measured qubits, same registers."""
    measured = measured_qubits(circuit)
    circuits = []
    for flip in (False, True):
        cal = circuit.copy_empty_like(name=f"{circuit.name}_readout{int(flip)}")
        for clbit, qubit in sorted(measured.items()):
            if flip:
                cal.x(qubit)
            cal.measure(qubit, clbit)
        circuits.append(cal)
    return circuits


def copy_circuit(packed, qubits: set[int], bits: int, copy: int, name: str):
    """Copy ``copy``'s gates of a packed ISA circuit (those on ``qubits``) and its ``bits`` clbits."""
    from qiskit import ClassicalRegister, QuantumCircuit

    meas = ClassicalRegister(bits, "meas")
    sub = QuantumCircuit(list(packed.qubits), meas, name=name)
    first = copy * bits
    for inst in packed.data:
        where = {packed.find_bit(q).index for q in inst.qubits}
        if inst.operation.name == "barrier" or not where <= qubits:
            continue
        clbits = [meas[packed.find_bit(c).index - first] for c in inst.clbits]
        sub.append(inst.operation, inst.qubits, clbits)
    return sub


class ExecutionCircuits:
    """Per (template, copy), the ISA circuit its rows run on and its readout circuits (cached)."""

    def __init__(self, program):
        self.program = program
        self._circuits: dict = {}

    def circuit(self, template: str, copy: int = 0):
        info = packing_of(self.program, template)
        if info is None:
            return self.program.isa[template]
        key = (template, copy)
        if key not in self._circuits:
            self._circuits[key] = copy_circuit(self.program.isa[info.template], set(info.regions[copy]),
                                               info.bits, copy, f"{info.template}_c{copy:02d}")
        return self._circuits[key]

    def readout(self, template: str, copy: int = 0) -> list:
        return readout_circuits(self.circuit(template, copy))
