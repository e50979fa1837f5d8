"""A device file as Qiskit sees it: its ``Target``, its Aer noise model and an ``AerSimulator``.

Qiskit and Aer are imported inside the functions, each built once per file per process.

Noise model (``noise_model``): per gate, a thermal-relaxation channel from T1/T2 and the gate
duration (when the file gives coherence times) composed with a depolarizing channel carrying
the rest of the published average gate infidelity ``r``. With no relaxation the depolarizing
parameter is ``λ = r·d/(d−1)``, ``d = 2**n`` (1q: 2r, 2q: 4r/3): the n-qubit depolarizing
channel ``(1−λ)ρ + λ·I/d`` has average gate fidelity ``1 − λ(d−1)/d`` (Nielsen, Phys. Lett. A
303, 249 (2002): ``F_avg = (d·F_pro + 1)/(d + 1)``; Magesan et al., PRL 106, 180504 (2011)).
With relaxation: ``λ = d·(F_relax − F)/(d·F_relax − 1)``, as qiskit-aer's own
``noise.device.models._device_depolarizing_error``. Readout: one ``ReadoutError`` per qubit
with P(1|0) and P(0|1) (equal when the file gives a single ``error``).
"""

from __future__ import annotations

import functools

from .device_loader import device
from .device_schema import Device, Gate


@functools.cache
def qiskit_target(key: str):
    """A qiskit ``Target``: every native gate on every qubit / both directions of every edge."""
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.providers import QubitProperties
    from qiskit.transpiler import InstructionProperties, Target

    dev = device(key)
    gates = get_standard_gate_name_mapping()
    props = None
    if dev.t1_us is not None:
        props = [QubitProperties(t1=dev.t1_us * 1e-6, t2=dev.t2_us * 1e-6) for _ in range(dev.num_qubits)]
    target = Target(description=f"{dev.vendor} {dev.device} ({dev.status}) from {dev.path.name}",
                    num_qubits=dev.num_qubits, qubit_properties=props)
    qubits = [(q,) for q in range(dev.num_qubits)]
    for gate in dev.gates:
        qargs = qubits if gate.num_qubits == 1 else dev.directed_edges
        target.add_instruction(gates[gate.name], {
            q: InstructionProperties(duration=gate.duration_ns * 1e-9, error=gate.error) for q in qargs})
    readout_s = None if dev.readout_duration_ns is None else dev.readout_duration_ns * 1e-9
    target.add_instruction(gates["measure"], {
        q: InstructionProperties(duration=readout_s, error=dev.readout_error) for q in qubits})
    return target


def depolarizing_parameter(error: float, num_qubits: int, relax_fidelity: float = 1.0) -> float:
    """Depolarizing λ whose channel, composed with a relaxation of average fidelity
    ``relax_fidelity``, has average gate infidelity ``error`` (0 when relaxation explains it)."""
    dim = 2**num_qubits
    relax_infidelity = 1.0 - relax_fidelity
    if error <= relax_infidelity:
        return 0.0
    error = min(error, dim / (dim + 1))
    lam = dim * (error - relax_infidelity) / (dim * relax_fidelity - 1)
    return min(lam, 4**num_qubits / (4**num_qubits - 1))


def gate_error_channel(dev: Device, gate: Gate):
    """The Aer ``QuantumError`` for one gate (relaxation ∘ depolarizing), or ``None`` if ideal."""
    from qiskit.quantum_info import average_gate_fidelity
    from qiskit_aer.noise import depolarizing_error, thermal_relaxation_error

    relax = None
    if dev.t1_us is not None and gate.duration_ns > 0:
        one = thermal_relaxation_error(dev.t1_us * 1e3, dev.t2_us * 1e3, gate.duration_ns)  # all in ns
        relax = one if gate.num_qubits == 1 else one.expand(one)
    relax_fidelity = 1.0 if relax is None else float(average_gate_fidelity(relax))
    lam = depolarizing_parameter(gate.error, gate.num_qubits, relax_fidelity)
    depol = depolarizing_error(lam, gate.num_qubits) if lam > 0 else None
    if depol is None:
        return relax
    return depol if relax is None else depol.compose(relax)


@functools.cache
def noise_model(key: str):
    """Aer ``NoiseModel`` from the file: every native gate gets its error, every qubit its readout.

    The published figures are averages, so one error per gate applies on every qubit / edge.
    """
    from qiskit_aer.noise import NoiseModel, ReadoutError

    dev = device(key)
    model = NoiseModel(basis_gates=sorted(g.name for g in dev.gates))
    for gate in dev.gates:
        channel = gate_error_channel(dev, gate)
        if channel is not None:
            model.add_all_qubit_quantum_error(channel, [gate.name])
    p10, p01 = dev.readout_p1_given_0, dev.readout_p0_given_1
    if p10 or p01:
        model.add_all_qubit_readout_error(ReadoutError([[1 - p10, p10], [p01, 1 - p01]]))
    return model


@functools.cache
def backend(key: str):
    """``AerSimulator`` with the file's noise model."""
    from qiskit_aer import AerSimulator

    return AerSimulator(noise_model=noise_model(key))
