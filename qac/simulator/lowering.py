"""Lowering an ISA circuit (and a noise model) to what the batched engine runs: the active
qubits split into independent components, each a list of steps on local qubit indices.

A step is one instruction: its fixed matrix or its parameter functions, and — with noise — the
superoperator of the ``QuantumError`` the noise model attaches to that instruction on those
qubits (Aer applies a gate's error right after the gate: local errors for the exact qubit
tuple first, else the model's all-qubit error for that gate name). Measurements at the end
become a clbit → qubit map; readout errors become one 2×2 confusion matrix per measured bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qac.kernels.qubits import components
from qac.simulator.gates import fixed_matrix, parameter_function

#: Instructions that do nothing to the state (a delay is the identity unless the model attaches
#: an error to it, or a relaxation pass would; see ``unsupported``).
SKIPPED = {"barrier"}
#: Aer drops the terms of a QuantumError with probability ≤ this (C++ ``QuantumError::threshold_``).
AER_ERROR_THRESHOLD = 1e-10


@dataclass
class Step:
    operation: object
    qubits: tuple[int, ...]  # local indices within the component
    matrix: np.ndarray | None  # fixed gates
    functions: tuple = ()  # parametrised gates: one vectorised function per parameter
    channel: np.ndarray | None = None  # the attached error's superoperator (Qiskit ordering)


@dataclass
class Component:
    qubits: list[int]  # physical qubits, local index = position
    steps: list[Step] = field(default_factory=list)
    clbits: list[int] = field(default_factory=list)  # positions in the 'meas' register, in local measure order
    measured: list[int] = field(default_factory=list)  # local qubit measured into each clbit
    readout: list[np.ndarray | None] = field(default_factory=list)  # 2×2 P(recorded | true) per clbit


@dataclass
class Program:
    components: list[Component]
    bits: int  # size of the 'meas' register
    num_parameters: int
    noisy: bool


def unsupported(circuit, noise_model) -> str | None:
    """Why the batched engine cannot simulate ``circuit`` under ``noise_model`` (None: it can)."""
    try:
        _meas_register(circuit)
    except ValueError as exc:
        return str(exc)
    measured_qubits, seen_clbits = set(), set()
    for inst in circuit.data:
        name = inst.operation.name
        qubits = {circuit.find_bit(q).index for q in inst.qubits}
        if name == "measure":
            clbit = circuit.find_bit(inst.clbits[0]).index
            if clbit in seen_clbits:
                return "a classical bit is measured twice"
            seen_clbits.add(clbit)
            measured_qubits |= qubits
            continue
        if name in SKIPPED:
            continue
        if qubits & measured_qubits:
            return f"'{name}' acts after a measurement (mid-circuit measurement)"
        if name in ("reset", "initialize", "save_probabilities", "save_statevector"):
            return f"'{name}' is not a unitary gate"
        if inst.clbits:
            return f"'{name}' is classically controlled"
        if not hasattr(inst.operation, "to_matrix") and name not in ("delay", "id"):
            return f"'{name}' has no matrix"
    if noise_model is None:
        return None
    if getattr(noise_model, "_nonlocal_quantum_errors", None):
        return "the noise model has non-local (cross-talk) errors"
    names = {inst.operation.name for inst in circuit.data}
    if "delay" in names and getattr(noise_model, "_custom_noise_passes", None):
        return "the circuit has delays and the noise model a relaxation pass for them"
    if "measure" in noise_model._local_quantum_errors or "measure" in noise_model._default_quantum_errors:
        return "the noise model has quantum errors on measurements"
    for where, error in noise_model._local_readout_errors.items():
        if len(where) != 1:
            return "the noise model has correlated (multi-qubit) readout errors"
    default = noise_model._default_readout_error
    if default is not None and default.number_of_qubits != 1:
        return "the noise model has a correlated (multi-qubit) readout error"
    return None


def _meas_register(circuit) -> tuple[int, int]:
    for creg in circuit.cregs:
        if creg.name == "meas":
            return (circuit.find_bit(creg[0]).index if creg.size else 0), creg.size
    raise ValueError(f"circuit {circuit.name!r} has no 'meas' register")


def _channel(noise_model, name: str, qubits: tuple[int, ...], cache: dict):
    """The superoperator of the error Aer attaches to ``name`` on ``qubits`` (None: none)."""
    error = noise_model._local_quantum_errors.get(name, {}).get(qubits)
    if error is None:
        error = noise_model._default_quantum_errors.get(name)
    if error is None:
        return None
    if id(error) not in cache:
        from qiskit.quantum_info import SuperOp

        # Aer keeps only the terms with probability above its threshold and does not
        # renormalise (QuantumError::set_circuits); do the same, or deep noisy circuits drift
        # from Aer by ~1e-10 a gate
        terms = [(c, p) for c, p in zip(error.circuits, error.probabilities) if p > AER_ERROR_THRESHOLD]
        channel = sum(p * _term_superop(c, SuperOp) for c, p in terms)
        cache[id(error)] = (error, channel)
    return cache[id(error)][1]


#: Superoperator of an error term's circuit by its content: the terms of every qubit's error
#: are the same few Pauli / reset / Kraus circuits with other probabilities.
_TERMS: dict = {}


def _term_superop(circuit, superop) -> np.ndarray:
    try:
        key = (circuit.num_qubits, tuple(
            (inst.operation.name, tuple(circuit.find_bit(q).index for q in inst.qubits),
             tuple(p if isinstance(p, str) else np.asarray(p, dtype=complex).tobytes() for p in inst.operation.params))
            for inst in circuit.data))
    except (TypeError, ValueError):  # a parameter numpy cannot hold: no caching
        return np.asarray(superop(circuit).data, dtype=complex)
    if key not in _TERMS:
        _TERMS[key] = _circuit_superop(circuit)
        if _TERMS[key] is None:
            _TERMS[key] = np.asarray(superop(circuit).data, dtype=complex)
    return _TERMS[key]


def _circuit_superop(circuit) -> np.ndarray | None:
    """SuperOp(circuit).data, composed here from each instruction's Kraus operators
    (Σ conj(K) ⊗ K, Qiskit's column stacking; ~100× faster than building a SuperOp for every
    term of every qubit's error); None for an instruction without Kraus operators here."""
    n = circuit.num_qubits
    out = np.eye(4 ** n, dtype=complex)
    for inst in circuit.data:
        qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
        params = tuple(p if isinstance(p, str) else np.asarray(p, dtype=complex).tobytes() for p in inst.operation.params)
        key = (inst.operation.name, qubits, n, params)
        if key not in _INSTRUCTIONS:
            kraus = _kraus(inst.operation)
            if kraus is None:
                return None
            _INSTRUCTIONS[key] = sum(np.kron(k.conj(), k) for k in (_on(k, qubits, n) for k in kraus))
        out = _INSTRUCTIONS[key] @ out
    return out


#: One instruction's superoperator on a term circuit's qubits, by content (the same Pauli,
#: reset and relaxation instructions recur across the terms).
_INSTRUCTIONS: dict = {}


_RESET = [np.array([[1, 0], [0, 0]], dtype=complex), np.array([[0, 1], [0, 0]], dtype=complex)]


def _kraus(operation) -> list[np.ndarray] | None:
    if operation.name == "reset":
        return _RESET
    if operation.name == "kraus":
        return [np.asarray(k, dtype=complex) for k in operation.params]
    if operation.name in ("id", "delay"):
        return [np.eye(1 << operation.num_qubits, dtype=complex)]
    try:
        return [np.asarray(operation.to_matrix(), dtype=complex)]
    except Exception:  # noqa: BLE001 - no matrix: Qiskit's SuperOp decides
        return None


def _on(matrix: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """A matrix on ``qubits`` (little-endian in that order) as one on all n qubits."""
    if qubits == tuple(range(n)):
        return matrix
    order = list(qubits) + [q for q in range(n) if q not in qubits]  # virtual qubit t ↔ order[t]
    tensor = np.kron(np.eye(1 << (n - len(qubits))), matrix).reshape((2,) * (2 * n))
    axes = [n - 1 - order.index(n - 1 - i) for i in range(n)]  # axis i holds qubit n − 1 − i
    return tensor.transpose(axes + [n + a for a in axes]).reshape(1 << n, 1 << n)


def _readout(noise_model, qubit: int) -> np.ndarray | None:
    if noise_model is None:
        return None
    error = noise_model._local_readout_errors.get((qubit,), noise_model._default_readout_error)
    return None if error is None else np.asarray(error.probabilities, dtype=float)


def lower(circuit, noise_model=None) -> Program:
    """Split ``circuit`` into independent components of active qubits and lower each (the
    caller has checked ``unsupported``)."""
    start, bits = _meas_register(circuit)
    index = {p: i for i, p in enumerate(circuit.parameters)}
    gates, measures = [], {}
    for inst in circuit.data:
        name = inst.operation.name
        if name in SKIPPED:
            continue
        qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
        if name == "measure":
            clbit = circuit.find_bit(inst.clbits[0]).index - start
            if 0 <= clbit < bits:  # bits of other registers are not part of the outcome
                measures[clbit] = qubits[0]
            continue
        gates.append((inst.operation, qubits))
    active = sorted({q for _, qs in gates for q in qs} | set(measures.values()))
    groups = components(active, [qs for _, qs in gates if len(qs) > 1])
    where = {q: (g, k) for g, group in enumerate(groups) for k, q in enumerate(group)}
    parts = [Component(qubits=group) for group in groups]
    cache: dict = {}
    for operation, qubits in gates:
        component = parts[where[qubits[0]][0]]
        local = tuple(where[q][1] for q in qubits)
        params = operation.params
        symbolic = any(getattr(p, "parameters", None) for p in params)
        step = Step(operation, local, None if symbolic else fixed_matrix(operation),
                    tuple(parameter_function(p, index) for p in params) if symbolic else ())
        if noise_model is not None:
            step.channel = _channel(noise_model, operation.name, qubits, cache)
        if step.channel is None and not symbolic and np.allclose(step.matrix, np.eye(len(step.matrix))):
            continue  # id, delay without an error: nothing happens
        component.steps.append(step)
    for clbit in sorted(measures):
        component = parts[where[measures[clbit]][0]]
        component.clbits.append(clbit)
        component.measured.append(where[measures[clbit]][1])
        component.readout.append(_readout(noise_model, measures[clbit]))
    return Program(parts, bits, circuit.num_parameters, noise_model is not None)
