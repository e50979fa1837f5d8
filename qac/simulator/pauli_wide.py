"""Noisy evolution of wide components in the real Pauli-transfer basis, on the qubits that matter.

``pauli`` keeps only the Pauli coefficients the measurement's light cone can reach; finding them
walks index sets of all 4^n coefficients once a step, which at 8 qubits (binary d = 128 with its
branch qubit) took ≈ 30 s a template. Here the light cone is taken a qubit at a time, which costs
nothing to plan and is exact for any CPTP step:

* **forward**: a qubit no multi-qubit step has touched yet is in a product state with the rest,
  so it is its own 4 coefficients a row (its one-qubit steps cost nothing) until its first
  multi-qubit step joins it to the entangled *cluster* (an outer product, ×4 the cluster);
* **backward**: after its last step in the measurement's backward light cone a qubit that is not
  measured is traced out (its I digit kept: r_{I⊗P} is the coefficient of P in the partial
  trace; a CPTP step never moves weight into an I digit), and steps outside the cone are skipped.

On the ibm_fez d = 128 template the cluster holds 0–8 qubits, on average ≈ 1/3 of the 4^8 work of
the full basis. The cluster is every coefficient r_P = Tr(P ρ) of its qubits, rows the last axis,
its axes in a tracked order. A step runs on the cluster's first ``FRONT`` axes (the *front*): a
fixed step (``pauli._ops``: fused superoperator, the model's error after the gate) is its
4^k × 4^k transfer matrix embedded in the front's 4^FRONT × 4^FRONT (as CSR: the same entries a
coefficient) times the state seen as (4^FRONT, rest · rows), no copy; only a step whose qubits are
not all in front moves axes (one copy), choosing the front to cover as many coming steps as it
can. An error-free diagonal one-qubit gate (the per-row rz of IBM templates) turns its qubit's
(X, Y) coefficients in place; on a qubit out of front it waits (it commutes with steps on other
qubits) for the next step that brings its qubit to the front, and is dropped if its qubit is
traced out or only measured next (I and Z are all that is read). Any other per-row gate is its
per-row transfer matrix, by fixed-order multiply-adds.

Every row's arithmetic is its own (sparse products a column at a time, element-wise products and
rotations), so a row's bits never depend on its chunk. ``docs/engine.md`` has the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.simulator.evolve import _operator, apply_readout
from qac.simulator.lowering import Component
from qac.simulator.pauli import _ops, transfer

#: Qubits of the cluster a step runs on without moving axes (a 4^FRONT-row sparse product);
#: measured on the ibm_fez d = 128 template: see docs/engine.md.
FRONT = 4
ROWS = -1  # the rows' axis in a schedule's axis order


@dataclass
class WidePlan:
    """``items``: the schedule, each ("single", q, kind, matrix or step) on a qubit still in a
    product state, ("merge", q, rows axis) joining it to the cluster as axis 0, ("move", axes)
    transposing the cluster, ("fixed", f, csr) on its first f axes, ("rotation", axis, rows axis,
    step), ("rows", k, step) on its first k axes (rows last), ("trace", axis); ``measured``: the
    final cluster's axis of each measured qubit in ``reversed(component.measured)`` order, then
    the rows'; ``qubits``: the component's; ``widest``: the largest cluster (qubits)."""
    items: list
    measured: list
    qubits: int
    widest: int


def _cone(ops: list, measured: list) -> dict:
    """qubit → index of its last step in the measurement's backward light cone (qubit level)."""
    cone, last = set(measured), {}
    for t in range(len(ops) - 1, -1, -1):
        touched = set(ops[t].qubits)
        if touched & cone:
            for q in touched:
                last.setdefault(q, t)
            cone |= touched
    return last


def _embedded(matrix: np.ndarray, qubits: tuple, front: list):
    """A k-qubit transfer matrix (local digit t ↔ ``qubits[t]``, least significant first) as a
    CSR matrix on the front's 4^f coefficients (axis 0 = ``front[0]``, most significant)."""
    import scipy.sparse as sp

    f = len(front)
    weight = {q: 2 * (f - 1 - i) for i, q in enumerate(front)}
    u = np.arange(4 ** f)
    local = np.zeros_like(u)
    base = u.copy()
    for t, q in enumerate(qubits):
        digit = (u >> weight[q]) & 3
        local |= digit << (2 * t)
        base -= digit << weight[q]
    k4 = 4 ** len(qubits)
    spread = sum(((np.arange(k4) >> (2 * t)) & 3) << weight[q] for t, q in enumerate(qubits))
    rows, cols, values = [], [], []
    for a in range(k4):
        inputs = np.flatnonzero(matrix[a])
        mine = u[local == a]
        rows.append(np.repeat(mine, len(inputs)))
        cols.append((base[mine][:, None] + spread[inputs][None, :]).ravel())
        values.append(np.tile(matrix[a, inputs], len(mine)))
    rows, cols, values = (np.concatenate(x) for x in (rows, cols, values))
    order = np.lexsort((cols, rows))
    return sp.csr_matrix((values[order], (rows[order], cols[order])), shape=(4 ** f, 4 ** f))


def _front_for(ops: list, t: int, needed: list, cluster: list, last: dict) -> list:
    """``needed`` first, then the cluster qubits of the next multi-qubit steps, in order, while
    they fit ``FRONT``: the front that serves the longest run of coming steps without a move."""
    front = list(needed)
    for op in ops[t + 1:]:
        if len(op.qubits) < 2 or max(last.get(q, -1) for q in op.qubits) < t:
            continue
        new = [q for q in op.qubits if q not in front and q in cluster]
        if len(front) + len(new) > max(FRONT, len(needed)) or len(new) < sum(q not in front for q in op.qubits):
            break  # full, or a qubit joins the cluster there (a merge reorders the front anyway)
        front += new
    return front


def wide_plan(component: Component, num_parameters: int) -> WidePlan:
    """Lower a component's noisy plan into the schedule above, once."""
    cached = getattr(component, "_plan_wide", None)
    if cached is not None:
        return cached
    ops = _ops(component, num_parameters)
    last = _cone(ops, component.measured)
    measured = set(component.measured)
    singles, pending, items, widest, maps = set(range(len(component.qubits))), {}, [], 0, {}
    order = [ROWS]  # the cluster's axes: qubits, and ROWS where the rows are

    def front(k=1):  # the first axes a step on k qubits runs on
        return order[:min(max(FRONT, k), order.index(ROWS))]

    def flush(q):
        for step in pending.pop(q, []):
            items.append(("rotation", order.index(q), order.index(ROWS), step))

    def to_front(needed, t, exact=False):
        if (order[:len(needed)] == needed and order[-1] == ROWS) if exact else set(needed) <= set(front(len(needed))):
            return
        ahead = _front_for(ops, t, needed, order, last)
        if exact:  # a per-row gate's multiply-adds want the rows last
            new = ahead + [q for q in order if q not in ahead and q != ROWS] + [ROWS]
        else:  # the rows next: a rotation's per-row factors then broadcast over long runs
            new = ahead + [ROWS] + [q for q in order if q not in ahead and q != ROWS]
        items.append(("move", [order.index(q) for q in new]))
        order[:] = new

    for t, op in enumerate(ops):
        if max(last.get(q, -1) for q in op.qubits) < t:
            continue  # outside the light cone: cannot change what is measured
        qubits = op.qubits
        kind = "fixed" if op.matrix is not None else "rotation" if op.rotation else "rows"
        if len(qubits) == 1 and qubits[0] in singles:
            items.append(("single", qubits[0], kind, op.matrix if kind == "fixed" else op.step))
        elif len(qubits) == 1 and kind == "rotation":
            q = qubits[0]
            if q in front():
                flush(q)
                items.append(("rotation", order.index(q), order.index(ROWS), op.step))
            else:
                pending.setdefault(q, []).append(op.step)
        else:
            for q in qubits:
                if q in singles:
                    singles.discard(q)
                    items.append(("merge", q, order.index(ROWS)))
                    order.insert(0, q)
            widest = max(widest, len(order) - 1)
            if kind == "rows":
                to_front(list(reversed(qubits)), t, exact=True)
            else:
                to_front(list(qubits), t)
            for q in qubits:
                flush(q)
            if kind == "rows":
                items.append(("rows", len(qubits), op.step))
            else:
                here = front(len(qubits))
                key = (op.matrix.tobytes(), len(here), tuple(here.index(q) for q in qubits))
                if key not in maps:  # a template repeats its few noisy blocks (d = 128: 90 maps, 268 steps)
                    maps[key] = _embedded(op.matrix, qubits, here)
                items.append(("fixed", len(here), maps[key]))
        for q in qubits:
            if last.get(q) == t and q not in measured and q in order:
                pending.pop(q, None)  # diagonal: leaves the I digit that is kept alone
                items.append(("trace", order.index(q)))
                order.remove(q)
    for q in component.measured:
        if q in singles:
            singles.discard(q)
            items.append(("merge", q, order.index(ROWS)))
            order.insert(0, q)
    widest = max(widest, len(order) - 1)
    result = WidePlan(items, [order.index(q) for q in reversed(component.measured)] + [order.index(ROWS)],
                      len(component.qubits), widest)
    component._plan_wide = result
    return result


def _rotate(tensor: np.ndarray, axis: int, rows_axis: int, step, values: np.ndarray) -> None:
    """diag(u0, u1) on the qubit at ``axis`` for every row (rows at ``rows_axis``), in place:
    (r_X + i r_Y) turns by w = u1 · conj(u0)."""
    from qac.simulator.pauli import _rotation

    r = _rotation(step, values)  # (rows, 4, 4): [1, 1] = Re w, [2, 1] = Im w
    # each row's factor repeated over the axes after the rows: numpy's inner loop then runs over
    # rows × rest contiguous numbers, not over rest alone (measured: 0.4–1.4× the broadcast's time
    # by the qubit's axis, no clear gain overall; preallocated temporaries gained nothing either)
    after = tensor.shape[rows_axis + 1:]
    size = int(np.prod(after, dtype=np.int64))
    c, s = (np.repeat(r[:, i, 1], size).reshape((-1,) + after) for i in (1, 2))
    x = tensor[(slice(None),) * axis + (1,)]
    y = tensor[(slice(None),) * axis + (2,)]
    turned = x * s
    x *= c  # x c − y s, y c + x s: each product rounded, then the sum
    scratch = y * s
    x -= scratch
    y *= c
    y += turned


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


def _single(state: np.ndarray, kind: str, what, values: np.ndarray) -> np.ndarray:
    """A one-qubit step on a qubit's own (4, rows) coefficients."""
    if kind == "rotation":
        _rotate(state, 0, 1, what, values)
        return state
    if kind == "rows":
        return _per_row(state, what, values, 1)
    out = np.zeros_like(state)
    for a in range(4):
        for b in np.flatnonzero(what[a]):
            out[a] += what[a, b] * state[b]
    return out


def probabilities(component: Component, values: np.ndarray, num_parameters: int) -> np.ndarray:
    """(rows, 2, …, 2) probabilities of the component's measured bits under its noise, axis a ↔
    clbit ``component.clbits[-1 - a]``, readout errors applied."""
    plan = wide_plan(component, num_parameters)
    rows = len(values)
    singles = {q: np.repeat(np.array([[1.0], [0.0], [0.0], [1.0]]), rows, axis=1) for q in range(plan.qubits)}
    tensor = np.ones(rows)  # the cluster, (4,)*c + (rows,); |0⟩: r_I = r_Z = 1
    for item in plan.items:
        kind = item[0]
        if kind == "single":
            singles[item[1]] = _single(singles[item[1]], item[2], item[3], values)
        elif kind == "merge":  # a new axis 0, the qubit's own coefficients along it
            shape = (4,) + (1,) * item[2] + (rows,) + (1,) * (tensor.ndim - 1 - item[2])
            tensor = singles.pop(item[1]).reshape(shape) * tensor
        elif kind == "move":
            tensor = np.ascontiguousarray(tensor.transpose(item[1]))
        elif kind == "fixed":
            shape = tensor.shape
            tensor = (item[2] @ tensor.reshape(4 ** item[1], -1)).reshape(shape)
        elif kind == "rotation":
            _rotate(tensor, item[1], item[2], item[3], values)
        elif kind == "rows":
            tensor = _per_row(tensor.reshape(4 ** item[1], -1), item[2], values, item[1]).reshape(tensor.shape)
        else:  # trace
            tensor = np.ascontiguousarray(tensor[(slice(None),) * item[1] + (0,)])
    c = tensor.transpose(plan.measured)[(slice(0, 4, 3),) * (len(plan.measured) - 1)]
    for axis in range(c.ndim - 1):  # (I, Z) → (P(0), P(1)) = ((I + Z) / 2, (I − Z) / 2)
        i, z = np.take(c, 0, axis=axis), np.take(c, 1, axis=axis)
        c = np.stack([(i + z) * 0.5, (i - z) * 0.5], axis=axis)
    return apply_readout(np.moveaxis(c, -1, 0), component)
