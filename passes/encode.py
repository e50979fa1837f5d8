"""``encode`` (L2 → L2): amplitude encodings of the unit directions.

An encoding is a *loader*: a parametrised circuit ``L(θ)`` on a register of its own with
``L(θ(x))|0…0⟩ = |x⟩`` exactly for every real unit vector ``x`` of the register's width,
and the numpy map ``x ↦ θ(x)`` (``vector_parameters``). Estimators (``passes/estimate``)
compose loaders into inner-product circuits. The registry ``ENCODINGS``:

``binary`` — amplitudes on log2 d qubits, a tree of uniformly controlled Ry rotations
(Möttönen, Vartiainen, Bergholm, Salomaa, QIC 5, 467 (2005)), each multiplexor in
Gray-code order *without its closing CNOT*. The closing CNOT of every level is controlled
by the top qubit, so leaving them out applies the fixed permutation
``Q: x ↦ x ⊕ (top ? 0…01…1 : 0)`` to the prepared state and to the later multiplexors'
controls; both are undone at bind time (the second half of the vector and of every level's
angle list is read backwards). Cost: 2ⁿ − n − 1 CNOTs (2ⁿ − 2 with the closing CNOTs),
2ⁿ − 1 angles — the count Qiskit's own ``StatePreparation`` reaches, with data-free gates.

``unary_parallel``, ``unary_diagonal``, ``unary_semi_diagonal`` — unary amplitude encoding
``|x⟩ = Σ x_i |e_i⟩`` on d qubits with d − 1 reconfigurable beam splitters (RBS), one
X on the start qubit (Johri et al., "Nearest centroid classification on a trapped ion
quantum computer", npj Quantum Inf. 7, 122 (2021), Fig. 1; Kerenidis & Prakash,
"Quantum recommendation systems", ITCS 2017, for the tree of norms). The three loaders
differ only in which RBS moves which part of the vector: ``parallel`` is the log-depth
binary tree, ``diagonal`` a chain (depth d − 1, nearest neighbours on a line: it routes on
heavy-hex with no SWAPs), ``semi_diagonal`` two chains from the middle (depth d/2, still a
line). RBS(θ) on (i, j): |1_i0_j⟩ → cos θ|1_i0_j⟩ + sin θ|0_i1_j⟩, |0_i1_j⟩ → −sin θ|1_i0_j⟩ +
cos θ|0_i1_j⟩, built as (H⊗H)·CZ·(Ry(θ)⊗Ry(−θ))·CZ·(H⊗H): 2 two-qubit gates.

``qiskit`` — Qiskit's ``StatePreparation`` (Iten et al., "Quantum circuits for
isometries", PRA 93, 032318 (2016)) synthesised once for a generic vector; every ``u`` gate
becomes three parameters and each vector binds the angles Qiskit synthesises for it. It is
the baseline to beat. Qiskit leaves out gates for zero amplitudes (padding, the offset lane),
so every vector is first turned by one fixed random rotation R (seeded by the width):
⟨Rx|Ry⟩ = ⟨x|y⟩, and Rx has no zeros; a synthesis with another structure (a measure-zero
event) is a ``CompileError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from qac.errors import CompileError, InternalError
from qac.ir import KernelPlan
from qac.pipeline import CompileContext, Pass


# ------------------------------------------------------------------ the Ry tree (math)
def num_qubits_for(d_pad: int) -> int:
    return d_pad.bit_length() - 1


def padded_width(d: int) -> int:
    return 1 << max(0, (d - 1).bit_length())


def tree_angles(units: np.ndarray) -> np.ndarray:
    """Raw Ry angles of the tree for each row of ``units`` (R, 2ⁿ) -> (R, 2ⁿ − 1).

    Ordered level by level (ℓ = 0..n−1), inside a level by the prefix x of the index bits
    above the target. Internal levels split subtree norms (angles in [0, π]); the last level
    splits the signed leaf pair, so ``cos(α/2)``, ``sin(α/2)`` carry the signs.
    """
    rows, width = units.shape
    n = num_qubits_for(width)
    levels = []
    for level in range(n):
        split = units.reshape(rows, 1 << level, 2, width >> (level + 1))
        if level == n - 1:
            left, right = split[:, :, 0, 0], split[:, :, 1, 0]
        else:
            left, right = np.linalg.norm(split[:, :, 0, :], axis=2), np.linalg.norm(split[:, :, 1, :], axis=2)
        levels.append(2.0 * np.arctan2(right, left))
    return np.concatenate(levels, axis=1) if levels else np.zeros((rows, 0))


def gray(i: int) -> int:
    return i ^ (i >> 1)


@lru_cache(maxsize=None)
def multiplexor_matrix(level: int) -> np.ndarray:
    """``M`` with ``θ = M·α``: Gray-code angles of a 2^level-way multiplexed Ry.

    Pushing the CNOTs' X gates through, control value x sees ``α_x = Σ_i (−1)^{|x ∧ g(i)|} θ_i``;
    that matrix is a signed permutation of a Hadamard matrix, so its inverse is its transpose / K.
    """
    k = 1 << level
    x = np.arange(k)[:, None]
    g = np.array([gray(i) for i in range(k)])[None, :]
    signs = np.where(np.vectorize(lambda v: bin(v).count("1") % 2)(x & g), -1.0, 1.0)
    return signs.T / k


def gray_angles(raw: np.ndarray, num_qubits: int) -> np.ndarray:
    """Turn level-ordered raw angles (R, 2ⁿ − 1) into the circuit's Gray-code angles."""
    out = np.empty_like(raw)
    for level in range(num_qubits):
        lo, hi = (1 << level) - 1, (1 << (level + 1)) - 1
        out[:, lo:hi] = raw[:, lo:hi] @ multiplexor_matrix(level).T
    return out


def multiplexed_ry(circuit, thetas, target, controls, *, closing: bool = True) -> None:
    """Append a uniformly controlled Ry: control j of the value x is ``controls[j]``.

    Without ``closing`` the last CNOT (controlled by ``controls[-1]``) is left out.
    """
    k = len(thetas)
    for i, theta in enumerate(thetas):
        circuit.ry(theta, target)
        if k > 1 and (closing or i < k - 1):
            changed = gray(i) ^ gray((i + 1) % k)
            circuit.cx(controls[changed.bit_length() - 1], target)


def append_ry_tree(circuit, qubits, parameters, *, closing: bool = True) -> None:
    """Append the tree on ``qubits`` (least significant first) with Gray-code ``parameters``."""
    n = len(qubits)
    for level in range(n):
        target = n - 1 - level
        lo, hi = (1 << level) - 1, (1 << (level + 1)) - 1
        multiplexed_ry(circuit, parameters[lo:hi], qubits[target], qubits[target + 1:], closing=closing)


def reverse_upper_halves(raw: np.ndarray, num_qubits: int) -> np.ndarray:
    """Read the upper half of every level's angle list backwards (the open tree's relabelling)."""
    out = raw.copy()
    for level in range(1, num_qubits):
        lo, hi, half = (1 << level) - 1, (1 << (level + 1)) - 1, 1 << (level - 1)
        out[:, lo + half:hi] = raw[:, lo + half:hi][:, ::-1]
    return out


def open_tree_angles(units: np.ndarray) -> np.ndarray:
    """Gray-code parameters of the open tree (no closing CNOTs) that prepares each row exactly."""
    width = units.shape[1]
    n = num_qubits_for(width)
    half = width // 2
    permuted = np.concatenate([units[:, :half], units[:, half:][:, ::-1]], axis=1) if n else units
    return gray_angles(reverse_upper_halves(tree_angles(permuted), n), n)


# ------------------------------------------------------------------ routed trees (CX + Ry on a graph)
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


# ------------------------------------------------------------------ unary loaders (RBS)
def append_rbs(circuit, theta, source, dest) -> None:
    """RBS(θ): moves amplitude cos θ / sin θ from ``source`` to ``dest`` (2 two-qubit gates)."""
    circuit.h([source, dest])
    circuit.cz(source, dest)
    circuit.ry(theta, source)
    circuit.ry(-theta, dest)
    circuit.cz(source, dest)
    circuit.h([source, dest])


@lru_cache(maxsize=None)
def unary_schedule(loader: str, width: int) -> tuple[int, tuple[tuple[int, int, tuple[int, int], tuple[int, int]], ...]]:
    """(start lane, RBS steps) of a unary loader; a step is (source, dest, kept lanes, moved lanes).

    Each step splits the lanes a source holds into a part it keeps and a part it hands to
    ``dest``; ranges are half-open (lo, hi).
    """
    steps: list = []
    if loader == "parallel":  # Johri et al. Fig. 1a: a binary tree, breadth first (log depth)
        frontier = [(0, width)]
        while frontier:
            nxt = []
            for lo, hi in frontier:
                if hi - lo < 2:
                    continue
                mid = lo + (hi - lo + 1) // 2
                steps.append((lo, mid, (lo, mid), (mid, hi)))
                nxt += [(lo, mid), (mid, hi)]
            frontier = nxt
        return 0, tuple(steps)
    if loader == "diagonal":  # Fig. 1c: a chain 0 → 1 → … → d−1
        return 0, tuple((k, k + 1, (k, k + 1), (k + 1, width)) for k in range(width - 1))
    if loader == "semi_diagonal":  # Fig. 1b: from the middle, one chain each way
        mid = width // 2
        steps.append((mid, mid - 1, (mid, width), (0, mid)))
        right = [(k, k + 1, (k, k + 1), (k + 1, width)) for k in range(mid, width - 1)]
        left = [(k, k - 1, (k, k + 1), (0, k)) for k in range(mid - 1, 0, -1)]
        for i in range(max(len(left), len(right))):  # interleave: the two chains run in parallel
            steps += right[i:i + 1] + left[i:i + 1]
        return mid, tuple(steps)
    raise InternalError(f"unknown unary loader {loader!r}")


def unary_angles(units: np.ndarray, loader: str) -> np.ndarray:
    """RBS angles (R, width − 1): θ = atan2(R, L), a part's value being its signed amplitude
    when it is one lane and its norm otherwise (so signs are set where a lane is split off)."""
    width = units.shape[1]
    _, steps = unary_schedule(loader, width)

    def part(lo, hi):
        return units[:, lo] if hi - lo == 1 else np.linalg.norm(units[:, lo:hi], axis=1)

    return np.stack([np.arctan2(part(*moved), part(*kept)) for _, _, kept, moved in steps], axis=1) \
        if steps else np.zeros((len(units), 0))


# ------------------------------------------------------------------ registry
@dataclass(frozen=True)
class BinaryEncoding:
    """Real amplitudes on log2 d qubits: the open Ry tree, 2ⁿ − n − 1 CNOTs, 2ⁿ − 1 angles."""

    name = "binary"
    unary = False

    @staticmethod
    def width(d: int) -> int:
        return padded_width(max(2, d))

    def qubits(self, width: int) -> int:
        return num_qubits_for(width)

    def num_parameters(self, width: int) -> int:
        return width - 1

    def append(self, circuit, qubits, parameters) -> None:
        append_ry_tree(circuit, qubits, parameters, closing=False)

    def vector_parameters(self, units: np.ndarray) -> np.ndarray:
        return open_tree_angles(units)

    def two_qubit_gates(self, width: int) -> int:
        n = num_qubits_for(width)
        return (1 << n) - n - 1


@dataclass(frozen=True)
class UnaryEncoding:
    """Unary amplitudes on d qubits: X, then d − 1 RBS gates (2 two-qubit gates each)."""

    loader: str
    unary = True

    @property
    def name(self) -> str:
        return f"unary_{self.loader}"

    @staticmethod
    def width(d: int) -> int:
        return max(2, d)

    def qubits(self, width: int) -> int:
        return width

    def num_parameters(self, width: int) -> int:
        return width - 1

    def start(self, width: int) -> int:
        return unary_schedule(self.loader, width)[0]

    def append(self, circuit, qubits, parameters) -> None:
        start, steps = unary_schedule(self.loader, len(qubits))
        circuit.x(qubits[start])
        for theta, (source, dest, _, _) in zip(parameters, steps):
            append_rbs(circuit, theta, qubits[source], qubits[dest])

    def vector_parameters(self, units: np.ndarray) -> np.ndarray:
        return unary_angles(units, self.loader)

    def two_qubit_gates(self, width: int) -> int:
        return 2 * (width - 1)


@lru_cache(maxsize=None)
def _qiskit_structure(width: int):
    """Qiskit's synthesis of a generic vector in the ``cx, u`` basis: the gate sequence."""
    rng = np.random.default_rng(width)
    vector = rng.standard_normal(width)
    return _qiskit_synthesis(vector / np.linalg.norm(vector))[0]


def _qiskit_synthesis(vector: np.ndarray):
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit.library import StatePreparation

    n = num_qubits_for(len(vector))
    circuit = QuantumCircuit(n)
    circuit.append(StatePreparation(vector), range(n))
    out = transpile(circuit, basis_gates=["cx", "u"], optimization_level=0)
    structure = tuple((inst.operation.name, tuple(out.find_bit(q).index for q in inst.qubits)) for inst in out.data)
    angles = [float(p) for inst in out.data if inst.operation.name == "u" for p in inst.operation.params]
    return structure, np.array(angles)


@lru_cache(maxsize=None)
def _rotation(width: int) -> np.ndarray:
    """A fixed random orthogonal matrix (QR of a seeded Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(np.random.default_rng(1000 + width).standard_normal((width, width)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class QiskitEncoding:
    """Qiskit's ``StatePreparation`` (Iten et al. 2016) with its ``u`` angles as parameters.

    Each ``u(θ, φ, λ)`` is emitted as Rz(φ)·Ry(θ)·Rz(λ), equal up to a global phase: parametrised
    ``u`` gates take Qiskit's basis translator minutes on IBM targets. The loader is therefore
    exact up to a global phase, which only a controlled loader could see (no estimator controls it).
    """

    name = "qiskit"
    unary = False

    @staticmethod
    def width(d: int) -> int:
        return padded_width(max(8, d))  # below 3 qubits Qiskit's synthesis changes with the data

    def qubits(self, width: int) -> int:
        return num_qubits_for(width)

    def num_parameters(self, width: int) -> int:
        return 3 * sum(1 for name, _ in _qiskit_structure(width) if name == "u")

    def append(self, circuit, qubits, parameters) -> None:
        k = 0
        for name, where in _qiskit_structure(1 << len(qubits)):
            if name == "cx":
                circuit.cx(qubits[where[0]], qubits[where[1]])
            else:
                theta, phi, lam = parameters[k:k + 3]
                circuit.rz(lam, qubits[where[0]])
                circuit.ry(theta, qubits[where[0]])
                circuit.rz(phi, qubits[where[0]])
                k += 3

    def vector_parameters(self, units: np.ndarray) -> np.ndarray:
        structure = _qiskit_structure(units.shape[1])
        rows = []
        for vector in units:
            if not vector.any():  # a zero direction is never loaded; any valid vector will do
                vector = np.eye(len(vector))[0]
            vector = _rotation(len(vector)) @ vector
            got, angles = _qiskit_synthesis(vector / np.linalg.norm(vector))
            if got != structure:
                raise CompileError("encode: Qiskit synthesised a vector with a different gate structure; "
                                   "use encoding 'binary' for this data")
            rows.append(angles)
        return np.array(rows).reshape(len(units), -1)

    def two_qubit_gates(self, width: int) -> int:
        return sum(1 for name, _ in _qiskit_structure(width) if name == "cx")


ENCODINGS = {e.name: e for e in (BinaryEncoding(), UnaryEncoding("parallel"), UnaryEncoding("diagonal"),
                                 UnaryEncoding("semi_diagonal"), QiskitEncoding())}


def vectors_for(units: np.ndarray, d: int, width: int, offset: bool) -> np.ndarray:
    """The vectors a loader of ``width`` lanes loads: the directions, or (x, 1)/√2 with the
    offset component in lane d (unsigned estimators recover the sign from it)."""
    out = np.zeros((len(units), width))
    out[:, :d] = units[:, :d]
    if offset:
        out[:, d] = 1.0
        out /= np.sqrt(2.0)
    return out


@dataclass(frozen=True)
class Encode(Pass):
    """Compute every direction's encoding parameters (per-vector angles, no offset)."""

    name = "encode"
    reads = "L2"
    writes = "L2"
    method: str = field(default="binary")

    def __post_init__(self):
        if self.method not in ENCODINGS:
            raise CompileError(f"encode: unknown encoding '{self.method}'; choose one of {', '.join(ENCODINGS)}")

    def run(self, module: KernelPlan, context: CompileContext) -> KernelPlan:
        encoding = ENCODINGS[self.method]
        kernels = []
        for k in module.kernels:
            width = encoding.width(k.d)
            kernels.append(replace(k, lhs_angles=encoding.vector_parameters(vectors_for(k.lhs_units, k.d, width, False)),
                                   rhs_angles=encoding.vector_parameters(vectors_for(k.rhs_units, k.d, width, False))))
        return replace(module, kernels=tuple(kernels), encoding=self.method)
