"""Tree programs: Ry/CX state preparation whose CNOTs may follow a coupling graph.

The routed trees of ``ROUTED_TREES`` (nearest-neighbour on heavy-hex), the open star tree
(Möttönen, as a tree program), the binding of a program's angles and the light cone of a
measured qubit (``docs/kernels.md``, "Routed trees").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qac.errors import InternalError
from qac.kernels.encodings.binary import gray, tree_angles


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


@dataclass(frozen=True)
class TreeProgram:
    """A state-preparation circuit of Ry and CX gates on ``num_qubits`` qubits, grouped in levels.

    ``ops`` are ``("ry", qubit, level)`` and ``("cx", control, target)``. Track the CX network as a
    GF(2) matrix A (physical bits y = A·x of virtual bits x). An Ry on qubit q rotates every pair
    {x, x ⊕ u}, u = A⁻¹e_q (the level's *direction*), by ±θ: + where y_q = row_q(A)·x is 0. A level
    ℓ holds 2^ℓ rotations of one direction u_ℓ (independent of u_0…u_{ℓ−1}) whose rows, restricted
    to V_ℓ = span(u_0…u_{ℓ−1}), are distinct characters: so the angles each pair {b, b ⊕ u_ℓ}, b ∈ V_ℓ,
    sees are a Hadamard transform of the 2^ℓ free angles, and level ℓ is the ℓ-th level of an Ry
    tree in the basis u. Any such program prepares every real vector exactly: the vector is read
    in the coordinates z (x = Σ z_j u_j, y = A_final·x) and the angles come from ``tree_angles``.
    The CNOTs may connect any qubits, so the program can follow a device's coupling graph.
    """

    num_qubits: int
    ops: tuple
    levels: tuple  # per level: the slots' restricted characters (ints, bit j = row·u_j)
    directions: tuple  # u_ℓ as bit masks over the virtual bits
    final_rows: tuple  # rows of A after the last gate

    @property
    def two_qubit_gates(self) -> int:
        return sum(1 for op in self.ops if op[0] == "cx")

    def edges(self) -> set:
        return {tuple(sorted(op[1:])) for op in self.ops if op[0] == "cx"}


def analyse_tree_program(num_qubits: int, ops) -> TreeProgram:
    """Check a CX/Ry program has the level structure above; record what binding needs."""
    rows = [1 << q for q in range(num_qubits)]
    cols = [1 << q for q in range(num_qubits)]
    levels: list[list[int]] = []
    directions: list[int] = []
    for op in ops:
        if op[0] == "cx":
            _, c, t = op
            rows[t] ^= rows[c]
            cols[c] ^= cols[t]
            continue
        _, q, level = op
        if level == len(levels):
            span = {0}
            for v in directions:
                span |= {s ^ v for s in span}
            if cols[q] in span:
                raise InternalError("tree program level direction is not independent")
            directions.append(cols[q])
            levels.append([])
        if level != len(levels) - 1 or cols[q] != directions[level]:
            raise InternalError("tree program rotation outside its level's direction")
        levels[level].append(sum(_parity(rows[q] & u) << j for j, u in enumerate(directions[:level])))
    if len(levels) != num_qubits or any(sorted(slots) != list(range(1 << k)) for k, slots in enumerate(levels)):
        raise InternalError("tree program levels do not form a full tree")
    return TreeProgram(num_qubits, tuple(ops), tuple(tuple(s) for s in levels), tuple(directions), tuple(rows))


def _shortest_moves(moves, t, rows, cols, depth: int, new) -> list:
    """Breadth-first CX sequences (≤ ``depth``, from ``moves``) whose last gate gives ``t`` a row
    that ``new`` accepts; all of the shortest length, as (sequence, rows, cols)."""
    frontier, seen, good = [((), rows, cols)], {rows}, []
    for _ in range(depth):
        nxt = []
        for seq, r, c in frontier:
            for a, b in moves:
                r2, c2 = list(r), list(c)
                r2[b] ^= r2[a]
                c2[a] ^= c2[b]
                r2 = tuple(r2)
                if r2 in seen:
                    continue
                seen.add(r2)
                item = (seq + ((a, b),), r2, tuple(c2))
                (good if b == t and new(r2[t]) else nxt).append(item)
        if good:
            return good
        frontier = nxt
    return good


def synthesise_tree_program(num_qubits: int, edges, order, *, depth: int = 4, seed: int = 0,
                            measured: int | None = None) -> TreeProgram:
    """Greedy routed tree on a coupling graph: level ℓ rotates physical qubit ``order[ℓ]``; between
    two rotations the shortest CX sequence (≤ ``depth`` gates on ``edges``, the level's target
    never a control) that gives the target a new character; ties go to the sequence that leaves
    the most neighbours able to give a new one next, then to a seeded random draw.

    With ``measured`` (the only qubit read out), the last level uses CX sequences that avoid
    that qubit for as long as they still find a new character: everything after the measured
    qubit's last gate is then outside its light cone (``light_cone``), and most of the last
    level — the widest — costs nothing."""
    import random

    rng = random.Random(seed) if seed else None
    adj = [(a, b) for a, b in edges] + [(b, a) for a, b in edges]
    rows, cols = tuple(1 << q for q in range(num_qubits)), tuple(1 << q for q in range(num_qubits))
    ops: list = []
    directions: list[int] = []
    for level, t in enumerate(order):
        directions.append(cols[t])

        def restrict(r, level=level):
            return sum(_parity(r & u) << j for j, u in enumerate(directions[:level]))

        moves = [m for m in adj if m[0] != t]
        avoiding = [m for m in moves if measured not in m]
        defer = measured is not None and level == num_qubits - 1 and t != measured
        neighbours = [a for a, b in adj if b == t]
        visited = {restrict(rows[t])}
        ops.append(("ry", t, level))
        while len(visited) < (1 << level):
            for allowed in ((avoiding, moves) if defer else (moves,)):
                good = _shortest_moves(allowed, t, rows, cols, depth, lambda r: restrict(r) not in visited)
                if good:
                    defer = defer and allowed is avoiding
                    break
            if not good:
                raise InternalError("routed tree synthesis found no move; raise the depth")

            def score(item):
                r = item[1]
                vis = visited | {restrict(r[t])}
                return -sum(1 for a in neighbours if restrict(r[t] ^ r[a]) not in vis), rng.random() if rng else 0

            seq, rows, cols = min(good, key=score)
            ops += [("cx", a, b) for a, b in seq]
            visited.add(restrict(rows[t]))
            ops.append(("ry", t, level))
    return analyse_tree_program(num_qubits, ops)


def star_tree_program(num_qubits: int) -> TreeProgram:
    """The open Möttönen tree (Gray-code multiplexors, no closing CNOTs) as a tree program."""
    ops: list = []
    for level in range(num_qubits):
        target = num_qubits - 1 - level
        controls = list(range(target + 1, num_qubits))
        k = 1 << level
        for i in range(k):
            ops.append(("ry", target, level))
            if k > 1 and i < k - 1:
                changed = gray(i) ^ gray(i + 1)
                ops.append(("cx", controls[changed.bit_length() - 1], target))
    return analyse_tree_program(num_qubits, ops)


# Coupling shapes that embed in heavy-hex (no two degree-3 nodes adjacent; VF2 finds them on
# ibm_brisbane and ibm_fez), the level order and the tie-break seed, for a program whose top
# qubit n − 1 is the one measured: found offline by searching shapes, orders and seeds for the
# fewest CX in that qubit's light cone (docs/kernels.md, "Routed trees").
ROUTED_TREES = {
    2: (((0, 1),), (1, 0), 0),
    3: (((0, 1), (0, 2)), (1, 2, 0), 0),
    4: (((0, 1), (0, 2), (0, 3)), (3, 2, 1, 0), 0),
    5: (((0, 1), (0, 3), (0, 4), (1, 2)), (2, 4, 3, 1, 0), 0),
    6: (((0, 1), (0, 3), (0, 4), (1, 2), (3, 5)), (5, 4, 2, 3, 1, 0), 1),
    7: (((0, 1), (0, 4), (1, 2), (1, 3), (4, 5), (4, 6)), (5, 6, 3, 2, 1, 4, 0), 1),
}


@lru_cache(maxsize=None)
def routed_tree_program(num_qubits: int) -> TreeProgram:
    """The tree program, measured on its top qubit, for a coupling graph of degree ≤ 3
    (heavy-hex); beyond the stored shapes the open star tree (its top qubit is the root)."""
    if num_qubits in ROUTED_TREES:
        edges, order, seed = ROUTED_TREES[num_qubits]
        return synthesise_tree_program(num_qubits, edges, order, seed=seed, measured=num_qubits - 1)
    return star_tree_program(num_qubits)


@lru_cache(maxsize=None)
def light_cone(program: TreeProgram, measured: int) -> tuple[tuple, tuple[int, ...]]:
    """The ops of ``program`` in the past light cone of a final measurement of ``measured``,
    and the indices (among the program's ``ry`` ops) of the rotations kept.

    Scanning backwards from the measurement, a gate is kept when it touches a qubit already in
    the cone, and then its qubits join the cone. A dropped gate acts only on qubits outside the
    cone *after* every kept gate on them, so dropping it applies a unitary W to qubits that are
    never measured: the measured qubit's reduced state — every outcome probability — is
    unchanged, for every binding of the kept angles. The full program stays the reference
    (``analyse_tree_program`` checks it; ``tree_program_angles`` binds it) and its rotations'
    angles are simply not all used."""
    live = {measured}
    keep = [False] * len(program.ops)
    for k in range(len(program.ops) - 1, -1, -1):
        qubits = set(program.ops[k][1:3]) if program.ops[k][0] == "cx" else {program.ops[k][1]}
        if qubits & live:
            keep[k] = True
            live |= qubits
    rotations = [k for k, op in enumerate(program.ops) if op[0] == "ry"]
    kept_ops = tuple(op for op, kept in zip(program.ops, keep) if kept)
    return kept_ops, tuple(i for i, k in enumerate(rotations) if keep[k])


@lru_cache(maxsize=None)
def _program_tables(program: TreeProgram):
    n = program.num_qubits
    index = np.empty(1 << n, dtype=np.int64)
    for i in range(1 << n):
        x = 0
        for j, u in enumerate(program.directions):  # z_0 is the most significant bit of the tree index
            if (i >> (n - 1 - j)) & 1:
                x ^= u
        index[i] = sum(_parity(row & x) << q for q, row in enumerate(program.final_rows))
    signs = []
    for level, slots in enumerate(program.levels):
        prefixes = np.arange(1 << level)
        z = (prefixes[:, None] >> (level - 1 - np.arange(level))[None, :]) & 1 if level else np.zeros((1, 0), int)
        chars = (np.array(slots)[:, None] >> np.arange(level)[None, :]) & 1 if level else np.zeros((1, 0), int)
        signs.append(np.where((z @ chars.T) % 2 == 1, -1.0, 1.0) / (1 << level))  # (prefix, slot)
    return index, signs


def tree_program_angles(program: TreeProgram, units: np.ndarray) -> np.ndarray:
    """Per row of ``units`` (R, 2ⁿ) the program's Ry angles, in the order of its ``ry`` ops."""
    index, signs = _program_tables(program)
    raw = tree_angles(units[:, index])
    by_level = []
    for level, s in enumerate(signs):
        lo, hi = (1 << level) - 1, (1 << (level + 1)) - 1
        by_level.append(raw[:, lo:hi] @ s)  # θ = Sᵀα / 2^ℓ
    out = np.empty_like(raw)
    counters = [0] * program.num_qubits
    for k, op in enumerate(op for op in program.ops if op[0] == "ry"):
        level = op[2]
        out[:, k] = by_level[level][:, counters[level]]
        counters[level] += 1
    return out


def append_tree_program(circuit, qubits, parameters, program: TreeProgram, ops=None) -> None:
    """Append the program's gates (or ``ops``, a subsequence such as its ``light_cone``), the
    ``ry`` gates taking ``parameters`` in order."""
    k = 0
    for op in program.ops if ops is None else ops:
        if op[0] == "cx":
            circuit.cx(qubits[op[1]], qubits[op[2]])
        else:
            circuit.ry(parameters[k], qubits[op[1]])
            k += 1
