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

from qac.errors import CompileError
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
    raise CompileError(f"internal: unknown unary loader {loader!r}")


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
