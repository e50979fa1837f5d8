"""Noisy evolution of wide components in the full real Pauli-transfer basis (no light cone).

``pauli`` keeps only the coefficients the measurement's light cone can reach; finding them walks
index sets of all 4^n coefficients once a step, which at 8 qubits (binary d = 128 with its branch
qubit) took ≈ 30 s a template, for a light cone that covers all 4^8 coefficients anyway. Here the
state is every coefficient r_P = Tr(P ρ) (4^n reals a row, qubit q's digit I, X, Y, Z at 4^q,
rows the last axis), so nothing has to be found:

* each fixed step (``pauli._ops``: fused superoperators, the model's error after each gate, in
  the Pauli basis) is one sparse map built directly from its 4^k × 4^k transfer matrix — entry
  (a, b) becomes the 4^(n−k) entries (rest + a, rest + b) — and consecutive maps are multiplied
  while that adds no entries (``pauli._fused``); a chunk runs one CSR product a map;
* an error-free one-qubit diagonal gate (the per-row rz of IBM templates) turns its qubit's
  (X, Y) coefficients by the row's angle in place, on two strided views of the state (no gather);
* any other per-row gate is its per-row transfer matrix contracted with the state's axes of its
  qubits.

Every row's arithmetic is its own (sparse products a column at a time, element-wise rotations),
so a row's bits never depend on its chunk. ``docs/engine.md`` has the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.simulator.evolve import _operator, apply_readout
from qac.simulator.pauli import ZERO, _fused, _keep_indices, _ops, _rotation, _spread, transfer
from qac.simulator.lowering import Component


#: True: each fixed step a sparse (4^n, 4^n) CSR map (≈ 110,000 entries a step at 8 qubits, 600 MB
#: for a d = 128 template); False: its small transfer matrix applied to strided slices of the state
#: (a few kB a step). Measured in docs/engine.md.
SPARSE_MAPS = False


@dataclass
class WidePlan:
    """``start``: the 4^n coefficients before the first per-row step (the same for every row);
    ``items``: ("fixed", csr) or ("rotation", qubit, step) or ("rows", qubits, step);
    ``keep``: the measured bits' I/Z coefficients, (2,)*m full indices."""
    start: np.ndarray
    items: list
    keep: np.ndarray


def _full_map(matrix: np.ndarray, qubits: tuple[int, ...], n: int):
    """A k-qubit transfer matrix as a sparse (4^n, 4^n) map on the whole Pauli basis."""
    import scipy.sparse as sp

    spread = _spread(qubits)
    other = [q for q in range(n) if q not in qubits]
    rest = _spread(tuple(other)) if other else np.zeros(1, dtype=np.int64)
    a, b = np.nonzero(np.abs(matrix) > ZERO)
    values = np.repeat(matrix[a, b], len(rest))
    rows = (spread[a][:, None] + rest[None, :]).ravel()
    cols = (spread[b][:, None] + rest[None, :]).ravel()
    return ("fixed", sp.csr_matrix((values, (rows, cols)), shape=(4 ** n, 4 ** n)))


def _block(matrix: np.ndarray, qubits: tuple[int, ...], n: int):
    """A k-qubit transfer matrix kept small: per output digit tuple, its non-zero inputs, each an
    index of the state's (4,)*n + (rows,) tensor (the gate's qubits' axes fixed, others whole)."""
    k = len(qubits)

    def where(local: int) -> tuple:
        index = [slice(None)] * (n + 1)
        for t, q in enumerate(qubits):
            index[n - 1 - q] = (local >> (2 * t)) & 3
        return tuple(index)
    terms = []
    for a in range(4 ** k):
        inputs = [(where(b), float(matrix[a, b])) for b in np.flatnonzero(np.abs(matrix[a]) > ZERO)]
        terms.append((where(a), inputs))
    return ("block", terms)


def _apply_block(state: np.ndarray, terms: list, n: int) -> np.ndarray:
    """A small fixed map on the state's axes: a few multiply-adds of strided slices an output."""
    tensor = state.reshape((4,) * n + (-1,))
    out = np.empty_like(tensor)
    for a, inputs in terms:
        target = out[a]
        if not inputs:
            target[...] = 0.0
            continue
        np.multiply(tensor[inputs[0][0]], inputs[0][1], out=target)
        for b, value in inputs[1:]:
            target += tensor[b] * value
    return out.reshape(state.shape)


def wide_plan(component: Component, num_parameters: int) -> WidePlan:
    """Lower a component's noisy plan into sparse maps on the full Pauli basis, once."""
    cached = getattr(component, "_plan_wide", None)
    if cached is not None:
        return cached
    n = len(component.qubits)
    items = []
    for op in _ops(component, num_parameters):
        if op.matrix is not None and not SPARSE_MAPS:
            items.append(_block(op.matrix, op.qubits, n))
        elif op.matrix is not None:
            items.append(_full_map(op.matrix, op.qubits, n))
        elif op.rotation:
            items.append(("rotation", op.qubits[0], op.step))
        else:
            items.append(("rows", op.qubits, op.step))
    items = _fused(items)
    digits = np.arange(4 ** n)
    # |0…0⟩: r_P = 1 for the strings of I and Z, 0 for the others
    state = np.all([((digits >> (2 * q)) & 3) % 3 == 0 for q in range(n)], axis=0).astype(float)
    while items and items[0][0] in ("fixed", "block"):  # nothing per row yet: the same for every row
        item = items.pop(0)
        state = item[1] @ state if item[0] == "fixed" else _apply_block(state[:, None], item[1], n)[:, 0]
    result = WidePlan(state, items, _keep_indices(component))
    component._plan_wide = result
    return result


def _rotate(state: np.ndarray, qubit: int, step, values: np.ndarray, n: int) -> None:
    """diag(u0, u1) on ``qubit`` for every row, in place: (r_X + i r_Y) turns by w = u1 · conj(u0)."""
    r = _rotation(step, values)  # (rows, 4, 4): [1, 1] = Re w, [2, 1] = Im w
    c, s = r[:, 1, 1], r[:, 2, 1]
    view = state.reshape(4 ** (n - 1 - qubit), 4, 4 ** qubit, len(values))
    x, y = view[:, 1], view[:, 2]
    turned = x * c
    scratch = y * s
    turned -= scratch
    np.multiply(x, s, out=scratch)
    y *= c
    y += scratch
    x[...] = turned


def _per_row(state: np.ndarray, qubits: tuple[int, ...], step, values: np.ndarray, n: int) -> np.ndarray:
    """A per-row k-qubit gate (its transfer matrix a row) on the state's axes of ``qubits``."""
    rows, k = len(values), len(qubits)
    matrix = transfer(_operator(step, values, True), k)  # (rows, 4^k, 4^k), digits little-endian over qubits
    tensor = state.reshape((4,) * n + (rows,))
    axes = [n - 1 - q for q in reversed(qubits)]  # most significant gate qubit first
    moved = np.moveaxis(tensor, axes, list(range(k))).reshape(4 ** k, -1, rows)
    out = np.empty_like(moved)
    for a in range(4 ** k):  # multiply-adds in a fixed order: a row's bits never depend on the others
        out[a] = moved[0] * matrix[:, a, 0]
        for b in range(1, 4 ** k):
            out[a] += moved[b] * matrix[:, a, b]
    out = out.reshape((4,) * n + (rows,))
    return np.ascontiguousarray(np.moveaxis(out, list(range(k)), axes)).reshape(4 ** n, rows)


def probabilities(component: Component, values: np.ndarray, num_parameters: int) -> np.ndarray:
    """(rows, 2, …, 2) probabilities of the component's measured bits under its noise, axis a ↔
    clbit ``component.clbits[-1 - a]``, readout errors applied."""
    plan = wide_plan(component, num_parameters)
    n = len(component.qubits)
    rows = len(values)
    state = np.repeat(plan.start[:, None], rows, axis=1)
    for item in plan.items:
        if item[0] == "fixed":
            state = item[1] @ state
        elif item[0] == "block":
            state = _apply_block(state, item[1], n)
        elif item[0] == "rotation":
            _rotate(state, item[1], item[2], values, n)
        else:
            state = _per_row(state, item[1], item[2], values, n)
    c = state[plan.keep.ravel()].reshape(plan.keep.shape + (rows,))
    for axis in range(c.ndim - 1):  # (I, Z) → (P(0), P(1)) = ((I + Z) / 2, (I − Z) / 2)
        i, z = np.take(c, 0, axis=axis), np.take(c, 1, axis=axis)
        c = np.stack([(i + z) * 0.5, (i - z) * 0.5], axis=axis)
    return apply_readout(np.moveaxis(c, -1, 0), component)
