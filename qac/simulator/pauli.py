"""Noisy evolution in the real Pauli-transfer basis, on the coefficients that can matter only.

A density matrix is its real coefficients r_P = Tr(P ρ) over the n-qubit Pauli strings (digit
I, X, Y, Z = 0…3 per qubit, qubit 0 least significant; index Σ digit_q · 4^q), a k-qubit channel
its transfer matrix R[P, Q] = Tr(P E(Q)) / 2^k. The steps are ``evolve.plan``'s (per-row
diagonals layered, fixed gates fused as superoperators, the model's error after each gate),
each turned into this basis. A noisy Clifford block (sx, cz, ecr, … with Pauli and relaxation
errors) is then nearly a signed permutation (≈ 30 of 256 entries for two qubits), an rz a 2×2
rotation of its qubit's (X, Y) coefficients.

That sparsity is structural, so the plan also finds, step by step, which coefficients can be
non-zero (forward from |0…0⟩, whose non-zero coefficients are the strings of I and Z) and which
can reach the measured bits' I/Z coefficients (backward from them: the light cone of the
measurement in Pauli space). Only coefficients in both are kept: for an ibm_fez d = 32 template
2 to 1,429 of the 4,096 (median 213). Each fixed step becomes a sparse map from one kept set to
the next (consecutive maps multiplied while that adds no entries; a CSR product for all rows of
a chunk), each per-row gate a few gathers and multiply-adds of kept rows. Every row's arithmetic
is its own (no reduction across rows, no BLAS), so a row's bits never depend on its chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qac.simulator.evolve import DIAGONAL, _matmul, _operator, apply_readout, plan
from qac.simulator.gates import batched_matrix
from qac.simulator.lowering import Component

#: Transfer-matrix entries below this are the rounding residue of exact zeros (a CPTP map's
#: transfer entries are ≤ 1 in size; the residue is ~1e-17); kept, they would make every
#: coefficient reachable.
ZERO = 1e-14

_A = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [0, -1j, 1j, 0], [1, 0, 0, -1]])  # r = A · (ρ00, ρ10, ρ01, ρ11)


@lru_cache(maxsize=None)
def _basis(k: int) -> tuple[np.ndarray, np.ndarray]:
    """A^⊗k (qubit 0 least significant) and its inverse A^⊗k† / 2^k."""
    out = _A
    for _ in range(k - 1):
        out = np.kron(_A, out)
    return out, out.conj().T / (1 << k)


def transfer(superop: np.ndarray, k: int) -> np.ndarray:
    """The real Pauli-transfer matrix of a k-qubit superoperator in per-qubit digits (or of a
    (rows, 4^k, 4^k) batch: broadcast multiply-adds, each row its own)."""
    a, inverse = _basis(k)
    return np.ascontiguousarray(_matmul(_matmul(a, superop), inverse).real)


@dataclass
class _Op:
    """One step in the Pauli basis: ``matrix`` (4^k, 4^k) if fixed, else ``step`` (per row);
    ``inputs[a]``: the input digits of output digit a (None: a is left alone)."""
    qubits: tuple[int, ...]
    matrix: np.ndarray | None
    step: object
    inputs: list
    rotation: bool = False  # an error-free one-qubit diagonal gate (rz, p, u1): see ``_rotation``


def _inputs(matrix: np.ndarray, k: int, fixed: bool) -> list:
    """Structural non-zeros of each output row. A per-row gate's rows that equal the identity's
    (found at generic angles) are left alone; a fixed block keeps every entry it has."""
    nonzero = (np.abs(matrix) > ZERO).reshape(-1, 4 ** k, 4 ** k).any(axis=0)
    identity = np.all(np.abs(matrix - np.eye(4 ** k)) <= ZERO, axis=-1).reshape(-1, 4 ** k).all(axis=0)
    return [None if identity[a] and not fixed else list(np.flatnonzero(nonzero[a])) for a in range(4 ** k)]


def _digits(indices: np.ndarray, qubits: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(local digit over ``qubits``, the index with those qubits' digits zeroed) of each index."""
    local = np.zeros_like(indices)
    rest = indices.copy()
    for t, q in enumerate(qubits):
        d = (indices >> (2 * q)) & 3
        local |= d << (2 * t)
        rest -= d << (2 * q)
    return local, rest


def _spread(qubits: tuple[int, ...]) -> np.ndarray:
    """Local digit over ``qubits`` → the same digits placed in a full index."""
    local = np.arange(4 ** len(qubits))
    return sum(((local >> (2 * t)) & 3) << (2 * q) for t, q in enumerate(qubits))


def _entries(op: _Op, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every structural entry of ``op`` in the rows ``indices``: (position in ``indices``,
    input index, local (a, b) as a · 4^k + b); a coefficient left alone is its own input."""
    k4 = 4 ** len(op.qubits)
    mask = np.zeros((k4, k4), dtype=bool)
    for a, inputs in enumerate(op.inputs):
        mask[a, [a] if inputs is None else inputs] = True
    counts = mask.sum(axis=1)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pairs = np.flatnonzero(mask)  # a · 4^k + b, row by row
    local, rest = _digits(indices, op.qubits)
    per = counts[local]
    position = np.repeat(np.arange(len(indices)), per)
    offset = np.arange(len(position)) - np.repeat(np.cumsum(per) - per, per)
    pair = pairs[first[local[position]] + offset]
    return position, rest[position] + _spread(op.qubits)[pair % k4], pair


def _forward(support: np.ndarray, op: _Op) -> np.ndarray:
    """Which coefficients can be non-zero after ``op``, given those that can before."""
    position, source, _ = _entries(op, np.arange(len(support)))
    return np.bincount(position, weights=support[source], minlength=len(support)) > 0


def _backward(needed: np.ndarray, op: _Op) -> np.ndarray:
    """Which coefficients before ``op`` reach the needed ones after it."""
    position, source, _ = _entries(op, np.flatnonzero(needed))
    out = np.zeros_like(needed)
    out[source] = True
    return out


@dataclass
class PauliPlan:
    """``start``: the kept coefficients before the first per-row step (the same for every row),
    a zero appended; ``items``: ("fixed", csr) or ("rows", op, size, copy_out, copy_in, [(a, out, [(b, in)])]),
    each mapping one kept set (+ a zero row) to the next; ``keep``: where each measured-bit
    I/Z coefficient sits in the last kept set, (2,)*m (the zero row if it cannot be non-zero);
    ``widest``: the largest kept set + 1 (chunk sizing)."""
    start: np.ndarray
    items: list
    keep: np.ndarray
    widest: int


def _generic_values(num_parameters: int) -> np.ndarray:
    """Two rows of angles with no special values, to find a per-row gate's structural zeros."""
    return np.random.default_rng(12345).uniform(0.3, 2.8, size=(2, num_parameters))


def _ops(component: Component, num_parameters: int) -> list[_Op]:
    generic = _generic_values(num_parameters)
    ops = []
    for item in plan(component, True).items:
        if item[0] == "fixed":
            matrix = transfer(item[2], len(item[1]))
            matrix[np.abs(matrix) < ZERO] = 0
            ops.append(_Op(item[1], matrix, None, _inputs(matrix, len(item[1]), True)))
            continue
        for qubits, step in (item[1] if item[0] == "diag" else [(item[1], item[2])]):
            shape = transfer(_operator(step, generic, True), len(qubits))
            if not np.all(np.isfinite(shape)):  # an expression undefined there: assume no structure
                shape = np.full(shape.shape, 0.5)
            rotation = len(qubits) == 1 and step.channel is None and step.operation.name in DIAGONAL
            ops.append(_Op(qubits, None, step, _inputs(shape, len(qubits), False), rotation))
    return ops


def _rotation(step, values: np.ndarray) -> np.ndarray:
    """The transfer matrices of a one-qubit diagonal gate diag(u0, u1) for every row: with
    w = u1 · conj(u0), ρ10 → w ρ10, so (r_X + i r_Y) turns by w and I, Z stay."""
    u = batched_matrix(step.operation, step.functions, values)
    w = u[:, 1, 1] * u[:, 0, 0].conj()
    out = np.zeros((len(values), 4, 4))
    out[:, 0, 0] = out[:, 3, 3] = 1.0
    out[:, 1, 1] = out[:, 2, 2] = w.real
    out[:, 2, 1] = w.imag
    out[:, 1, 2] = -w.imag
    return out


def _keep_indices(component: Component) -> np.ndarray:
    """(2,)*m Pauli indices of the measured bits' I/Z strings, axis a ↔ clbit ``clbits[-1 - a]``."""
    m = len(component.measured)
    keep = np.zeros((2,) * m, dtype=np.int64)
    for a, q in enumerate(reversed(component.measured)):
        shape = [1] * m
        shape[a] = 2
        keep = keep + np.array([0, 3 << (2 * q)]).reshape(shape)
    return keep


def _positions(kept: np.ndarray, size: int) -> np.ndarray:
    """Full index → position in ``kept`` (len(kept), the zero row, where absent)."""
    out = np.full(size, len(kept), dtype=np.int64)
    out[kept] = np.arange(len(kept))
    return out


def _compact(op: _Op, kept_in: np.ndarray, kept_out: np.ndarray, size: int):
    """``op`` as a map from the kept set before it to the kept set after it (each + a zero row)."""
    import scipy.sparse as sp

    where = _positions(kept_in, size)
    position, source, pair = _entries(op, kept_out)
    source = where[source]
    if op.matrix is not None:
        present = source < len(kept_in)  # the others are structurally zero here
        values = op.matrix.ravel()[pair[present]]
        return ("fixed", sp.csr_matrix((values, (position[present], source[present])),
                                       shape=(len(kept_out) + 1, len(kept_in) + 1)))
    k4 = 4 ** len(op.qubits)
    a_of = pair // k4
    alone = np.array([inputs is None for inputs in op.inputs])[a_of]
    terms = []
    for a in np.unique(a_of[~alone]):
        mine = a_of == a
        outputs = np.unique(position[mine])
        terms.append((int(a), outputs, [(int(b), source[mine & (pair % k4 == b)]) for b in op.inputs[a]]))
    return ("rows", op, len(kept_out) + 1, position[alone], source[alone], terms)


def _fused(items: list) -> list:
    """Consecutive fixed maps multiplied together while the product has no more entries than
    its factors plus one pass over the kept set."""
    out: list = []
    for item in items:
        if item[0] == "fixed" and out and out[-1][0] == "fixed":
            product = item[1] @ out[-1][1]
            product.data[np.abs(product.data) < ZERO] = 0
            product.eliminate_zeros()
            if product.nnz <= item[1].nnz + out[-1][1].nnz + product.shape[0]:
                out[-1] = ("fixed", product)
                continue
        out.append(item)
    return out


def pauli_plan(component: Component, num_parameters: int) -> PauliPlan:
    """Lower a component's noisy plan into the Pauli basis on its kept coefficients, once."""
    cached = getattr(component, "_plan_pauli", None)
    if cached is not None:
        return cached
    n = len(component.qubits)
    size = 4 ** n
    ops = _ops(component, num_parameters)
    digits = np.arange(size)
    # |0…0⟩: r_P = 1 for the strings of I and Z, 0 for the others
    start = np.all([((digits >> (2 * q)) & 3) % 3 == 0 for q in range(n)], axis=0)
    possible = [start]
    for op in ops:
        possible.append(_forward(possible[-1], op))
    keep = _keep_indices(component)
    needed = np.zeros(size, dtype=bool)
    needed[keep.ravel()] = True
    kept = [None] * (len(ops) + 1)
    kept[-1] = np.flatnonzero(needed & possible[-1])
    for t in range(len(ops) - 1, -1, -1):
        needed = _backward(needed, ops[t])
        kept[t] = np.flatnonzero(needed & possible[t])
    items = _fused([_compact(op, kept[t], kept[t + 1], size) for t, op in enumerate(ops)])
    state = np.append(start[kept[0]].astype(float), 0.0)
    while items and items[0][0] == "fixed":  # nothing per row yet: the same for every row
        state = items.pop(0)[1] @ state
    result = PauliPlan(state, items, _positions(kept[-1], size)[keep], max(len(k) for k in kept) + 1)
    component._plan_pauli = result
    return result


def _same_set(item: tuple, size_in: int) -> bool:
    """Whether a per-row step maps its kept set onto itself with every coefficient it leaves
    alone in its own place (true of most rz): then it updates its outputs in place instead of
    copying the rest into a new state (same products and sums: the same bits)."""
    _, op, size, copy_out, copy_in, _ = item
    memo = getattr(op, "_same_set", None)
    if memo is None or memo[0] != size_in:
        memo = (size_in, size == size_in and np.array_equal(copy_out, copy_in))
        op._same_set = memo
    return memo[1]


def probabilities(component: Component, values: np.ndarray, num_parameters: int) -> np.ndarray:
    """(rows, 2, …, 2) probabilities of the component's measured bits under its noise, axis a ↔
    clbit ``component.clbits[-1 - a]``, readout errors applied."""
    pp = pauli_plan(component, num_parameters)
    rows = len(values)
    state = np.repeat(pp.start[:, None], rows, axis=1)
    for item in pp.items:
        if item[0] == "fixed":
            state = item[1] @ state
            continue
        _, op, size, copy_out, copy_in, terms = item
        matrix = _rotation(op.step, values) if op.rotation else transfer(_operator(op.step, values, True), len(op.qubits))
        results = []
        for a, mine, inputs in terms:
            (b, source), rest = inputs[0], inputs[1:]  # a kept output has an input (it can be non-zero)
            acc = state[source] * matrix[:, a, b]
            for b, source in rest:
                acc += state[source] * matrix[:, a, b]
            results.append((mine, acc))
        if not _same_set(item, len(state)):
            out = np.zeros((size, rows))
            out[copy_out] = state[copy_in]
            state = out
        for mine, acc in results:  # same set (rz): the coefficients left alone stay where they are
            state[mine] = acc
    c = state[pp.keep.ravel()].reshape(pp.keep.shape + (rows,))
    for axis in range(c.ndim - 1):  # (I, Z) → (P(0), P(1)) = ((I + Z) / 2, (I − Z) / 2)
        i, z = np.take(c, 0, axis=axis), np.take(c, 1, axis=axis)
        c = np.stack([(i + z) * 0.5, (i - z) * 0.5], axis=axis)
    return apply_readout(np.moveaxis(c, -1, 0), component)
