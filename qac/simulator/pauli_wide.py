"""Noisy evolution of wide components in the full real Pauli-transfer basis (no light cone).

``pauli`` keeps only the coefficients the measurement's light cone can reach; finding them walks
index sets of all 4^n coefficients once a step, which at 8 qubits (binary d = 128 with its branch
qubit) took ≈ 30 s a template, for a light cone that covers all 4^8 coefficients anyway. Here the
state is every coefficient r_P = Tr(P ρ) (4^n reals a row, qubit q's digit I, X, Y, Z at 4^q,
rows the last axis), so nothing has to be found:

* each fixed step (``pauli._ops``: fused superoperators, the model's error after each gate, in
  the Pauli basis) stays its small 4^k × 4^k transfer matrix (a noisy cz block: ≈ 30 of 256
  entries, as a CSR matrix): the state's axes of its qubits are moved to the front (one copy), and
  the step is one sparse × dense product over contiguous rows of 4^(n−k) · rows numbers. The state
  stays in that axis order until the next step moves its own qubits (no copy back);
* an error-free one-qubit diagonal gate (the per-row rz of IBM templates) turns its qubit's
  (X, Y) coefficients by the row's angle in place, on two strided views of the state (no gather);
* any other per-row gate is its per-row transfer matrix applied the same way, by fixed-order
  multiply-adds.

Every row's arithmetic is its own (a sparse product a column at a time, element-wise rotations),
so a row's bits never depend on its chunk. The plan is a few kB; the same maps as CSR matrices
over the whole basis ran ≈ 1.9× faster but held ≈ 750 MB for one d = 128 template.
``docs/engine.md`` has the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.simulator.evolve import _operator, apply_readout
from qac.simulator.lowering import Component
from qac.simulator.pauli import _keep_indices, _ops, _rotation, transfer


@dataclass
class WidePlan:
    """``start``: the 4^n coefficients before the first per-row step (the same for every row), in
    index order; ``items``: ("fixed", qubits, csr) with the step's small 4^k × 4^k transfer matrix,
    ("rotation", qubit, step) or ("rows", qubits, step); ``keep``: the measured bits' I/Z
    coefficients, (2,)*m full indices."""
    start: np.ndarray
    items: list
    keep: np.ndarray


def _to_front(tensor: np.ndarray, order: list, qubits: tuple) -> tuple[np.ndarray, list]:
    """The state with ``qubits``' axes first (most significant gate digit first), contiguous, as
    (4^k, rest): one copy; and the new axis order (axis i holds qubit order[i])."""
    k = len(qubits)
    axes = [order.index(q) for q in reversed(qubits)]
    moved = np.ascontiguousarray(np.moveaxis(tensor, axes, list(range(k))))
    rest = [order[i] for i in range(len(order)) if i not in axes]
    return moved.reshape(4 ** k, -1), list(reversed(qubits)) + rest


def wide_plan(component: Component, num_parameters: int) -> WidePlan:
    """Lower a component's noisy plan into steps on the full Pauli basis, once."""
    import scipy.sparse as sp

    cached = getattr(component, "_plan_wide", None)
    if cached is not None:
        return cached
    n = len(component.qubits)
    items = []
    for op in _ops(component, num_parameters):
        if op.matrix is not None:
            items.append(("fixed", op.qubits, sp.csr_matrix(op.matrix)))
        elif op.rotation:
            items.append(("rotation", op.qubits[0], op.step))
        else:
            items.append(("rows", op.qubits, op.step))
    digits = np.arange(4 ** n)
    # |0…0⟩: r_P = 1 for the strings of I and Z, 0 for the others
    start = np.all([((digits >> (2 * q)) & 3) % 3 == 0 for q in range(n)], axis=0).astype(float)
    first = next((i for i, item in enumerate(items) if item[0] != "fixed"), len(items))
    if first:  # nothing per row yet: the same for every row
        start = _run(start[:, None], items[:first], None, n)[:, 0]
    result = WidePlan(start, items[first:], _keep_indices(component))
    component._plan_wide = result
    return result


def _run(state: np.ndarray, items: list, values, n: int) -> np.ndarray:
    """Apply ``items`` to a (4^n, rows) state in index order; return it in index order."""
    rows = state.shape[1]
    tensor = state.reshape((4,) * n + (rows,))
    order = list(range(n - 1, -1, -1))  # axis i holds qubit order[i]: index order
    for item in items:
        if item[0] == "rotation":
            _rotate(tensor, order.index(item[1]), item[2], values)
            continue
        qubits = item[1]
        flat, order = _to_front(tensor, order, qubits)
        if item[0] == "fixed":  # each output column a sum over the map's entries: a row's own arithmetic
            flat = item[2] @ flat
        else:
            flat = _per_row(flat, item[2], values, len(qubits))
        tensor = flat.reshape((4,) * n + (rows,))
    back = [order.index(q) for q in range(n - 1, -1, -1)]
    return np.ascontiguousarray(tensor.transpose(back + [n])).reshape(4 ** n, rows)


def _rotate(tensor: np.ndarray, axis: int, step, values: np.ndarray) -> None:
    """diag(u0, u1) on the qubit at ``axis`` for every row, in place: (r_X + i r_Y) turns by
    w = u1 · conj(u0)."""
    r = _rotation(step, values)  # (rows, 4, 4): [1, 1] = Re w, [2, 1] = Im w
    c, s = r[:, 1, 1], r[:, 2, 1]
    x = tensor[(slice(None),) * axis + (1,)]
    y = tensor[(slice(None),) * axis + (2,)]
    turned = x * c
    scratch = y * s
    turned -= scratch
    np.multiply(x, s, out=scratch)
    y *= c
    y += scratch
    x[...] = turned


def _per_row(flat: np.ndarray, step, values: np.ndarray, k: int) -> np.ndarray:
    """A per-row k-qubit gate (its transfer matrix a row) on (4^k, rest · rows), gate digits first."""
    rows = len(values)
    matrix = transfer(_operator(step, values, True), k)  # (rows, 4^k, 4^k), digits little-endian over qubits
    moved = flat.reshape(4 ** k, -1, rows)
    out = np.empty_like(moved)
    for a in range(4 ** k):  # multiply-adds in a fixed order: a row's bits never depend on the others
        out[a] = moved[0] * matrix[:, a, 0]
        for b in range(1, 4 ** k):
            out[a] += moved[b] * matrix[:, a, b]
    return out.reshape(flat.shape)


def probabilities(component: Component, values: np.ndarray, num_parameters: int) -> np.ndarray:
    """(rows, 2, …, 2) probabilities of the component's measured bits under its noise, axis a ↔
    clbit ``component.clbits[-1 - a]``, readout errors applied."""
    plan = wide_plan(component, num_parameters)
    n = len(component.qubits)
    rows = len(values)
    state = _run(np.repeat(plan.start[:, None], rows, axis=1), plan.items, values, n)
    c = state[plan.keep.ravel()].reshape(plan.keep.shape + (rows,))
    for axis in range(c.ndim - 1):  # (I, Z) → (P(0), P(1)) = ((I + Z) / 2, (I − Z) / 2)
        i, z = np.take(c, 0, axis=axis), np.take(c, 1, axis=axis)
        c = np.stack([(i + z) * 0.5, (i - z) * 0.5], axis=axis)
    return apply_readout(np.moveaxis(c, -1, 0), component)
