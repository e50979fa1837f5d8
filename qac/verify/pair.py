"""The compact pair: a routed template and its logical one as circuits on the same active
qubits, the routing permutation appended as SWAPs and the final measurements checked apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pair:
    """Logical (with the routing permutation appended) and routed circuits on the active qubits."""

    logical: Any  # QuantumCircuit on |A| qubits, measurements stripped, SWAPs appended
    routed: Any  # QuantumCircuit on |A| qubits, measurements stripped
    active: tuple[int, ...]  # physical qubit of each compact position
    problems: tuple[str, ...]  # structural mismatches (parameters, measurements)


def _split_measurements(circuit) -> tuple[list, dict[int, int], list[str]]:
    """(unitary instructions, {clbit: qubit} of the final measurements, problems)."""
    ops, measured, problems = [], {}, []
    for inst in circuit.data:
        name = inst.operation.name
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        if name == "measure":
            measured[circuit.find_bit(inst.clbits[0]).index] = qubits[0]
        elif name in ("barrier", "delay"):
            continue
        elif any(q in measured.values() for q in qubits):
            problems.append(f"'{name}' acts on qubit {qubits} after it was measured")
        elif name == "reset" or inst.clbits:
            problems.append(f"non-unitary '{name}' cannot be checked for equivalence")
        else:
            ops.append((inst.operation, qubits))
    return ops, measured, problems


def _layouts(isa) -> tuple[list[int], list[int]]:
    """Start and end physical qubit of every virtual qubit (logical ones first, then ancillas)."""
    layout = isa.layout
    if layout is None:
        trivial = list(range(isa.num_qubits))
        return trivial, trivial
    return ([int(p) for p in layout.initial_index_layout(filter_ancillas=False)],
            [int(p) for p in layout.final_index_layout(filter_ancillas=False)])


def compact_pair(logical, isa) -> Pair:
    """Restrict ``isa`` to its active qubits and line ``logical`` up with it (see the module doc)."""
    from qiskit import QuantumCircuit, QuantumRegister

    n = logical.num_qubits
    start, end = _layouts(isa)
    problems: list[str] = []
    logical_names = sorted(p.name for p in logical.parameters)
    isa_names = sorted(p.name for p in isa.parameters)
    if logical_names != isa_names:
        problems.append(f"parameters differ: logical has {len(logical_names)}, routed has {len(isa_names)}")
    l_ops, l_meas, l_problems = _split_measurements(logical)
    r_ops, r_meas, r_problems = _split_measurements(isa)
    problems += [f"logical: {p}" for p in l_problems] + [f"routed: {p}" for p in r_problems]
    expected = {c: end[q] for c, q in l_meas.items()}
    if expected != r_meas:
        problems.append(f"measurements differ: logical qubits {dict(sorted(l_meas.items()))} end on physical "
                        f"{dict(sorted(expected.items()))}, routed measures {dict(sorted(r_meas.items()))}")

    touched = {q for _, qubits in r_ops for q in qubits} | set(r_meas.values())
    active = touched | {start[v] for v in range(n)} | {end[v] for v in range(n)}
    virtual_at = {p: v for v, p in enumerate(start)}
    while True:  # close under the routing permutation, so P_route maps A onto A
        extra = {end[virtual_at[p]] for p in active} - active
        if not extra:
            break
        active |= extra
    order = [start[v] for v in range(n)] + sorted(active - {start[v] for v in range(n)})
    position = {p: i for i, p in enumerate(order)}

    routed = QuantumCircuit(QuantumRegister(len(order), "q"), name=isa.name, global_phase=isa.global_phase)
    for operation, qubits in r_ops:
        routed.append(operation, [position[q] for q in qubits])
    lined_up = QuantumCircuit(QuantumRegister(len(order), "q"), name=logical.name, global_phase=logical.global_phase)
    for operation, qubits in l_ops:
        lined_up.append(operation, qubits)  # logical qubit i sits on compact position i
    # P_route as SWAPs: the state at position(s[v]) must end at position(e[v]).
    holder = list(range(len(order)))  # holder[k]: the position whose state is now at k
    where = list(range(len(order)))
    for i, p in enumerate(order):
        goal = position[end[virtual_at[p]]]
        now = where[i]
        if now != goal:
            other = holder[goal]
            lined_up.swap(now, goal)
            holder[now], holder[goal] = other, i
            where[other], where[i] = now, goal
    return Pair(lined_up, routed, tuple(order), tuple(problems))


def physical_pair(loaded, isa, first: list[int]) -> Pair:
    """Two circuits on the same physical qubits (a QASM file loaded back, and its QPY template),
    restricted to the qubits either touches; ``first`` (the manifest's layout) leads the order."""
    from qiskit import QuantumCircuit, QuantumRegister

    a_ops, a_meas, a_problems = _split_measurements(loaded)
    b_ops, b_meas, b_problems = _split_measurements(isa)
    problems = [f"qasm: {p}" for p in a_problems] + [f"qpy: {p}" for p in b_problems]
    if a_meas != b_meas:
        problems.append(f"measurements differ: qasm {dict(sorted(a_meas.items()))}, qpy {dict(sorted(b_meas.items()))}")
    if sorted(p.name for p in loaded.parameters) != sorted(p.name for p in isa.parameters):
        problems.append("the QASM inputs are not the template's parameters")
    active = {q for _, qs in a_ops + b_ops for q in qs} | set(a_meas.values()) | set(b_meas.values()) | set(first)
    order = [q for q in first if q in active] + sorted(active - set(first))
    position = {p: i for i, p in enumerate(order)}
    circuits = []
    for source, ops in ((loaded, a_ops), (isa, b_ops)):
        out = QuantumCircuit(QuantumRegister(len(order), "q"), global_phase=source.global_phase)
        for operation, qubits in ops:
            out.append(operation, [position[q] for q in qubits])
        circuits.append(out)
    return Pair(circuits[0], circuits[1], tuple(order), tuple(problems))
