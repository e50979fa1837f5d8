"""Batched evolution of one component: fuse its steps for a chunk of parameter rows, then apply
each fused block to a (rows, D^n) state with one stacked matmul — D = 2 for a statevector
batch (ideal), D = 4 for a density-matrix batch (noisy), where each qubit's digit is
(i, j) of ρ[i, j] (digit = i + 2j) and a k-qubit channel is a 4^k × 4^k superoperator.

Fusion: runs of one-qubit operators multiply into one per qubit; a pending one-qubit operator
is absorbed into the next multi-qubit block on that qubit (or the last one, at the end);
consecutive blocks on the same qubit pair multiply into one. With noise every gate is first
turned into its superoperator (error after gate, as Aer applies it), so fusion never moves
an error across a gate.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from qac.simulator.gates import batched_matrix
from qac.simulator.program import Component, Step


@lru_cache(maxsize=None)
def _grouped(k: int) -> np.ndarray:
    """Index permutation from Qiskit's superoperator order (i bits, then j bits) to per-qubit
    digits (i_t + 2 j_t for qubit t, little-endian over the gate's qubits)."""
    out = np.zeros(4 ** k, dtype=np.int64)
    for grouped in range(4 ** k):
        qiskit = 0
        for t in range(k):
            digit = (grouped >> (2 * t)) & 3
            qiskit |= (digit & 1) << t
            qiskit |= (digit >> 1) << (k + t)
        out[grouped] = qiskit
    return out


def superoperator(unitary: np.ndarray, channel: np.ndarray | None, k: int) -> np.ndarray:
    """conj(U) ⊗ U (vec(UρU†), column stacking), then the error's channel, in per-qubit digits.
    ``unitary`` is (2^k, 2^k) or a batch (rows, 2^k, 2^k)."""
    dim = 1 << k
    lead = unitary.shape[:-2]
    sup = np.einsum("...ab,...cd->...acbd", unitary.conj(), unitary).reshape(*lead, dim * dim, dim * dim)
    if channel is not None:
        sup = _matmul(channel, sup)
    if k > 1:
        perm = _grouped(k)
        sup = sup[..., perm[:, None], perm[None, :]]
    return sup


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for small (possibly stacked) matrices, as k broadcast multiply-adds: numpy's
    stacked matmul loops over 2×2 and 4×4 matrices one at a time (≈20× slower here), and a
    row's result never depends on the other rows (chunking cannot change a bit)."""
    if a.ndim == 2 and b.ndim == 2:
        return a @ b
    out = a[..., :, 0, None] * b[..., None, 0, :]
    for l in range(1, a.shape[-1]):
        out += a[..., :, l, None] * b[..., None, l, :]
    return out


def _operator(step: Step, values: np.ndarray, noisy: bool) -> np.ndarray:
    if step.matrix is not None:
        cached = getattr(step, "_cached", None)
        if cached is None or cached[0] != noisy:
            op = superoperator(step.matrix, step.channel, len(step.qubits)) if noisy else step.matrix
            step._cached = cached = (noisy, op)
        return cached[1]
    unitary = batched_matrix(step.operation, step.functions, values)
    return superoperator(unitary, step.channel, len(step.qubits)) if noisy else unitary


def _kron_le(factors: list[np.ndarray]) -> np.ndarray:
    """kron over qubits listed least significant first (possibly batched)."""
    out = factors[0]
    for f in factors[1:]:
        d1, d2 = out.shape[-1], f.shape[-1]
        out = np.einsum("...ab,...cd->...cadb", out, f).reshape(*np.broadcast_shapes(out.shape[:-2], f.shape[:-2]),
                                                                  d1 * d2, d1 * d2)
    return out


def _swap_digits(op: np.ndarray, digit: int) -> np.ndarray:
    """A two-qubit operator with its two qubits' roles exchanged."""
    lead = op.shape[:-2]
    t = op.reshape(*lead, digit, digit, digit, digit)  # (out_hi, out_lo, in_hi, in_lo)
    n = len(lead)
    t = np.moveaxis(t, [n, n + 1, n + 2, n + 3], [n + 1, n, n + 3, n + 2])
    return t.reshape(*lead, digit * digit, digit * digit)


def fuse(component: Component, values: np.ndarray, noisy: bool) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """The component's steps for these rows as a short list of (qubits, operator) blocks."""
    digit = 4 if noisy else 2
    blocks: list[list] = []  # [qubits, operator]
    last: dict[int, int] = {}  # qubit → index of the last block touching it
    eye = np.eye(digit, dtype=complex)
    fixed: dict[int, np.ndarray] = {}  # a qubit's pending product of fixed one-qubit operators

    def flush(q):
        """Put q's pending fixed product on the left of the last block on q (no later block
        touches q, so it commutes with everything in between), or in a block of its own."""
        if q not in fixed:
            return
        op, b = fixed.pop(q), last.get(q)
        if b is None:
            blocks.append([(q,), op])
            last[q] = len(blocks) - 1
        else:
            blocks[b][1] = _matmul(_kron_le([op if p == q else eye for p in blocks[b][0]]), blocks[b][1])

    for step in component.steps:
        op = _operator(step, values, noisy)
        qubits = step.qubits
        if len(qubits) == 1:
            q = qubits[0]
            if op.ndim == 2:
                fixed[q] = op if q not in fixed else op @ fixed[q]
                continue
            # a per-row gate (rz(θ)): its own block, so the fixed blocks around it stay one
            # gemm over the chunk; a diagonal one is applied as a phase, without a transpose
            b = last.get(q)
            if q not in fixed and b is not None and blocks[b][0] == (q,) and blocks[b][1].ndim == 3:
                blocks[b][1] = _matmul(op, blocks[b][1])
                continue
            flush(q)
            blocks.append([(q,), op])
            last[q] = len(blocks) - 1
            continue
        op = _matmul(op, _kron_le([fixed.pop(q, eye) for q in qubits]))
        previous = {last.get(q) for q in qubits}
        if len(previous) == 1 and None not in previous:
            b = previous.pop()
            if blocks[b][1].ndim == op.ndim == 2:
                if tuple(blocks[b][0]) == qubits:
                    blocks[b][1] = op @ blocks[b][1]
                    continue
                if len(qubits) == 2 and tuple(blocks[b][0]) == qubits[::-1]:
                    blocks[b][1] = _swap_digits(op, digit) @ blocks[b][1]
                    continue
        blocks.append([qubits, op])
        for q in qubits:
            last[q] = len(blocks) - 1
    for q in sorted(fixed):
        flush(q)
    return [(tuple(q), op) for q, op in blocks]


def evolve(component: Component, values: np.ndarray, noisy: bool) -> tuple[np.ndarray, list[int]]:
    """The final (rows, D, …, D) state of the component, and which qubit each state axis holds."""
    digit = 4 if noisy else 2
    n = len(component.qubits)
    rows = len(values)
    state = np.zeros((rows, digit ** n), dtype=complex)
    state[:, 0] = 1.0
    state = state.reshape((rows,) + (digit,) * n)
    order = list(range(n - 1, -1, -1))  # axis 1 + a holds qubit order[a]: C order, little-endian index
    for qubits, op in fuse(component, values, noisy):
        k = len(qubits)
        if op.ndim == 3 and k == 1 and not np.any(op * (1 - np.eye(digit))):
            shape = [rows] + [1] * n
            shape[1 + order.index(qubits[0])] = digit
            state = state * np.diagonal(op, axis1=1, axis2=2).reshape(shape)
            continue
        targets = [1 + order.index(q) for q in reversed(qubits)]
        rest = [a for a in range(1, n + 1) if a not in targets]
        x = state.transpose([0] + rest + targets).reshape(rows, -1, digit ** k)
        if op.ndim == 3:  # per-row operators: one small matmul per row (numpy's stacked matmul)
            y = x @ op.swapaxes(-1, -2)
        else:  # one operator for every row: one BLAS gemm over the whole chunk
            y = (x.reshape(-1, x.shape[-1]) @ op.T).reshape(x.shape)
        order = [order[a - 1] for a in rest] + list(reversed(qubits))
        state = y.reshape((rows,) + (digit,) * n)
    return state, order


def outcome_probabilities(component: Component, state: np.ndarray, order: list[int], noisy: bool) -> np.ndarray:
    """(rows, 2, …, 2) probabilities of the component's measured bits, axis a ↔ clbit
    ``component.clbits[-1 - a]`` (most significant first), readout errors applied."""
    rows, n = state.shape[0], len(order)
    if noisy:
        letters = "abcdefghijklmnopqrstuvwxyz"
        split = state.reshape((rows,) + (2, 2) * n)  # per qubit (j, i)
        subscripts = "Z" + "".join(letters[a] * 2 for a in range(n)) + "->Z" + letters[:n]
        probs = np.einsum(subscripts, split).real.copy()
    else:
        probs = np.abs(state) ** 2
    # marginalise the unmeasured qubits, then put measured axes in clbit order (most significant first)
    axis_of = {q: 1 + a for a, q in enumerate(order)}
    keep = [axis_of[q] for q in reversed(component.measured)]
    drop = tuple(a for a in range(1, n + 1) if a not in keep)
    if drop:
        probs = probs.sum(axis=drop)
        remaining = [a for a in range(1, n + 1) if a not in drop]
        keep = [1 + remaining.index(a) for a in keep]
    probs = probs.transpose([0] + keep)
    for position, confusion in enumerate(reversed(component.readout)):
        if confusion is not None:
            probs = np.moveaxis(np.tensordot(probs, confusion, axes=([1 + position], [0])), -1, 1 + position)
    return probs
