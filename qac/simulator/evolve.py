"""Batched evolution of one component: lower its steps once into a plan, then apply the plan
to a (rows, D^n) state — D = 2 for a statevector batch (ideal), D = 4 for a density-matrix
batch (noisy), where each qubit's digit is (i, j) of ρ[i, j] (digit = i + 2j) and a k-qubit
channel is a 4^k × 4^k superoperator.

The plan (``plan``): per-row diagonal gates gathered into layers by commutation, each layer one
phase multiply; the fixed gates between them fused (runs of one-qubit operators into one, a
pending one-qubit operator into the next multi-qubit block on that qubit or the last one,
consecutive blocks on the same pair into one) and, for small ideal components, multiplied into
one dense matrix a run. With noise every gate is first turned into its superoperator (error
after gate, as Aer applies it), so fusion never moves an error across a gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qac.simulator.gates import batched_matrix
from qac.simulator.lowering import Component, Step


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


#: Gates whose matrix is diagonal whatever their parameters: a per-row one is a phase multiply.
DIAGONAL = {"rz", "p", "u1", "rzz"}
#: Components up to this many qubits run ideal in dense mode: every run of fixed gates between
#: two per-row phase layers is one 2^n × 2^n matrix (one BLAS gemm a layer, compute-bound).
DENSE_QUBITS = 7
#: Dense chunks are padded to a multiple of this many rows (see ``evolve``).
DENSE_ROW_MULTIPLE = 8
#: Up to this many rows a dense plan takes all its rz layers' phases in one gather and product
#: (``_rz_layers``): no per-gate Python, which is what costs at a spot check's 32 rows; past it the
#: (rows, layers, gates, 2^n) gather outweighs the per-gate steps it saves
FUSED_ROWS = 64
#: A dense plan's fused fixed block goes sparse at or below this share of non-zero entries
SPARSE_DENSITY = 0.25


@dataclass
class StepPlan:
    """A component's steps, lowered once: ``items`` in order, each ("fixed", qubits, operator),
    ("diag", [(qubits, step), …]) (per-row diagonal gates, all commuting, applied as one phase
    vector) or ("rows", qubits, step) (a per-row non-diagonal gate); ``dense`` when every fixed
    item is a whole-component matrix."""
    items: list
    dense: bool


def _is_diagonal(step: Step) -> bool:
    return step.matrix is None and step.operation.name in DIAGONAL and step.channel is None


def _layered(steps: list[Step]) -> list[Step]:
    """The steps reordered so per-row diagonal gates gather into as few layers as possible:
    each step goes as early as the steps it does not commute with allow (a diagonal commutes
    with other diagonals and with anything on other qubits; everything else keeps its order on
    shared qubits). Layer 2i + 1 holds diagonals, even layers everything else."""
    layer_of: list[int] = []
    last: dict[int, int] = {}  # qubit → highest layer of a step on it
    for step in steps:
        diagonal = _is_diagonal(step)
        floor = max((last.get(q, -1) for q in step.qubits), default=-1)
        if diagonal:  # odd layer, not before the last non-diagonal on its qubits
            layer = floor if floor % 2 == 1 else floor + 1
        else:
            layer = floor if floor >= 0 and floor % 2 == 0 else floor + 1
        layer_of.append(layer)
        for q in step.qubits:
            last[q] = layer
    return [s for _, _, s in sorted(zip(layer_of, range(len(steps)), steps), key=lambda t: (t[0], t[1]))]


def plan(component: Component, noisy: bool) -> StepPlan:
    """Lower a component once per (circuit, noise model): layer the diagonals, fuse the fixed
    gates (runs of one-qubit gates into one, pending one-qubit gates into the next block on
    their qubit, consecutive blocks on the same pair into one) and, when small enough and
    ideal, multiply each run of fixed blocks into one dense matrix."""
    key = "_plan_noisy" if noisy else "_plan_ideal"
    cached = getattr(component, key, None)
    if cached is not None:
        return cached
    digit = 4 if noisy else 2
    eye = np.eye(digit, dtype=complex)
    items: list[list] = []
    last: dict[int, int] = {}  # qubit → index of the last item touching it
    fixed: dict[int, np.ndarray] = {}  # a qubit's pending product of fixed one-qubit operators

    def flush(q):
        """Put q's pending product right after the last item on q (nothing since touched q),
        multiplied into it if that is a fixed block, else as a block of its own."""
        if q not in fixed:
            return
        op, b = fixed.pop(q), last.get(q)
        if b is not None and items[b][0] == "fixed":
            items[b][2] = _kron_le([op if p == q else eye for p in items[b][1]]) @ items[b][2]
        else:
            items.insert(len(items) if b is None else b + 1, ["fixed", (q,), op])
            for p, i in list(last.items()):
                if b is not None and i > b:
                    last[p] = i + 1
            last[q] = len(items) - 1 if b is None else b + 1

    for step in _layered(component.steps):
        qubits = step.qubits
        if step.matrix is None:
            for q in qubits:
                flush(q)
            if _is_diagonal(step):
                if items and items[-1][0] == "diag":
                    items[-1][1].append((qubits, step))
                else:
                    items.append(["diag", [(qubits, step)]])
            else:
                items.append(["rows", qubits, step])
            for q in qubits:
                last[q] = len(items) - 1
            continue
        op = _operator(step, None, noisy)
        if len(qubits) == 1:
            q = qubits[0]
            fixed[q] = op if q not in fixed else op @ fixed[q]
            continue
        op = op @ _kron_le([fixed.pop(q, eye) for q in qubits])
        previous = {last.get(q) for q in qubits}
        if len(previous) == 1 and None not in previous:
            b = previous.pop()
            if items[b][0] == "fixed":
                if tuple(items[b][1]) == qubits:
                    items[b][2] = op @ items[b][2]
                    continue
                if len(qubits) == 2 and tuple(items[b][1]) == qubits[::-1]:
                    items[b][2] = _swap_digits(op, digit) @ items[b][2]
                    continue
        items.append(["fixed", qubits, op])
        for q in qubits:
            last[q] = len(items) - 1
    for q in sorted(fixed):
        flush(q)
    n = len(component.qubits)
    # dense: the state stays in C order; a per-row gate on one qubit (aer's ry) steps it in place
    dense = not noisy and n <= DENSE_QUBITS and all(len(item[1]) == 1 for item in items if item[0] == "rows")
    if dense:
        items = [item + [_sparse_transpose(item[2])] if item[0] == "fixed" else item for item in _densify(items, n)]
    result = StepPlan([tuple(item) for item in items], dense)
    setattr(component, key, result)
    return result


def _sparse_transpose(matrix: np.ndarray):
    """A fused block as a CSR matrix of its transpose when most entries are 0 (a layer of sx and cz
    between two rz layers maps each basis state to 1–8 others: 2–13% of the entries), else None:
    ``(Mᵀ @ stateᵀ)ᵀ`` then costs rows × nnz, against rows × 4^n for the dense product. Each row
    of the state is a column of its own in the product, so a row's bits do not depend on the chunk."""
    if np.count_nonzero(matrix) > SPARSE_DENSITY * matrix.size:
        return None
    from scipy import sparse

    return sparse.csr_matrix(matrix.T)


def _densify(items: list, n: int) -> list:
    """Each run of fixed blocks as one (2^n, 2^n) matrix, stored transposed (state @ it)."""
    out: list = []
    for item in items:
        if item[0] != "fixed":
            out.append(item)
            continue
        if not out or out[-1][0] != "fixed":
            out.append(["fixed", tuple(range(n)), np.eye(1 << n, dtype=complex)])
        # rows of the identity evolve into the rows of Uᵀ: apply the block to them locally
        basis, order = _apply_fixed(out[-1][2].reshape((1 << n,) + (2,) * n), list(range(n - 1, -1, -1)),
                                    item[1], item[2], 2)
        out[-1][2] = _in_order(basis, order, 2).reshape(1 << n, 1 << n)
    return out


def _in_order(state: np.ndarray, order: list[int], digit: int) -> np.ndarray:
    """The state with its axes back in C order (axis 1 + a ↔ qubit n − 1 − a)."""
    n = len(order)
    return state.transpose([0] + [1 + order.index(q) for q in range(n - 1, -1, -1)]).reshape((len(state),) + (digit,) * n)


def _apply_fixed(state, order, qubits, op, digit):
    """One operator on ``qubits`` for every row: move their axes last, one BLAS gemm."""
    rows, n, k = state.shape[0], len(order), len(qubits)
    targets = [1 + order.index(q) for q in reversed(qubits)]
    rest = [a for a in range(1, n + 1) if a not in targets]
    x = state.transpose([0] + rest + targets).reshape(-1, digit ** k)
    if op.ndim == 3:
        y = x.reshape(rows, -1, digit ** k) @ op.swapaxes(-1, -2)
    elif len(x) < DENSE_ROW_MULTIPLE:  # a product this short would go to gemv (see ``evolve``)
        y = (np.concatenate([x, np.zeros((DENSE_ROW_MULTIPLE - len(x), x.shape[1]), dtype=x.dtype)]) @ op.T)[:len(x)]
    else:
        y = x @ op.T
    order = [order[a - 1] for a in rest] + list(reversed(qubits))
    return y.reshape((rows,) + (digit,) * n), order


def _phases(entries, order, rows, noisy) -> np.ndarray:
    """One broadcastable phase tensor for a layer of per-row diagonal gates: the gates on one
    qubit multiply first (rows, D), then the qubits' factors as an outer product."""
    digit = 4 if noisy else 2
    n = len(order)
    by_qubits: dict[tuple, np.ndarray] = {}
    for qubits, d in entries:
        key = tuple(sorted(qubits))
        if key != tuple(qubits):  # a two-qubit diagonal listed high-first: reorder its digits
            d = d.reshape(rows, digit, digit).swapaxes(1, 2).reshape(rows, -1)
        by_qubits[key] = d if key not in by_qubits else by_qubits[key] * d
    phase = None
    for qubits, d in by_qubits.items():
        axes = [1 + order.index(q) for q in reversed(qubits)]  # d's axes: qubits high to low
        t = d.reshape((rows,) + (digit,) * len(qubits))
        t = np.moveaxis(t, list(range(1, len(qubits) + 1)), [1 + sorted(axes).index(a) for a in axes])
        shape = [rows] + [1] * n
        for a in axes:
            shape[a] = digit
        t = t.reshape(shape)
        phase = t if phase is None else phase * t
    return phase


def _row_gate(state: np.ndarray, n: int, qubit: int, ops: np.ndarray) -> np.ndarray:
    """Per-row 2×2 matrices ``ops`` (rows, 2, 2) on ``qubit`` of a C-order (rows, 2, …, 2) state:
    the amplitude pairs that differ in that bit, as (rows, high bits, 2, low bits) views."""
    rows = state.shape[0]
    x = state.reshape(rows, 1 << (n - 1 - qubit), 2, 1 << qubit)
    a, b = x[:, :, 0, :], x[:, :, 1, :]
    m = ops[:, :, :, None, None]  # (rows, 2, 2, 1, 1) against (rows, high, low)
    out = np.empty_like(x)
    out[:, :, 0, :] = m[:, 0, 0] * a + m[:, 0, 1] * b
    out[:, :, 1, :] = m[:, 1, 0] * a + m[:, 1, 1] * b
    return out.reshape(state.shape)


def _row_rotation(state: np.ndarray, n: int, qubit: int, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """ry(θ) per row on ``qubit`` of a C-order state, from cos(θ/2) and sin(θ/2) (real): the
    matrix [[c, −s], [s, c]] without building (rows, 2, 2) complex matrices."""
    rows = state.shape[0]
    x = state.reshape(rows, 1 << (n - 1 - qubit), 2, 1 << qubit)
    a, b = x[:, :, 0, :], x[:, :, 1, :]
    c, s = cos[:, None, None], sin[:, None, None]
    out = np.empty_like(x)
    out[:, :, 0, :] = c * a - s * b
    out[:, :, 1, :] = s * a + c * b
    return out.reshape(state.shape)


def _rz_layers(program: StepPlan, n: int, parameters: int):
    """For a dense plan whose diag items are all rz gates of affine angles: (slope, offset, index),
    every layer's phases from one small product: the G gates' angles θ = values @ slope + offset,
    e = exp(−iθ/2) (rows, G), and layer l's phase at basis state b the product over its gates of e_g
    (gate g's qubit 0 in b, little-endian) or ē_g (1): ``index`` (layers, most gates, 2^n) picks
    from [e, ē, 1] (1 pads short layers). Built on first use and kept on the plan (None when a diag
    item holds another gate): one state step per layer and 2 exps a gate, no per-gate Python."""
    cache = program.__dict__.setdefault("_rz_layers", {})
    if parameters not in cache:
        basis = np.arange(1 << n)
        diags = [item[1] for item in program.items if item[0] == "diag"]
        ok = all(step.operation.name == "rz" and len(qubits) == 1 and len(step.functions) == 1
                 and hasattr(step.functions[0], "affine") for entries in diags for qubits, step in entries)
        if not ok or not diags:
            cache[parameters] = None
        else:
            gates = sum(len(entries) for entries in diags)
            slope, offset = np.zeros((parameters, gates)), np.zeros(gates)
            index = np.full((len(diags), max(len(e) for e in diags), 1 << n), 2 * gates)
            g = 0
            for layer, entries in enumerate(diags):
                for slot, (qubits, step) in enumerate(entries):
                    columns, weights, constant = step.functions[0].affine
                    slope[columns, g] += weights
                    offset[g] = constant
                    index[layer, slot] = g + gates * ((basis >> qubits[0]) & 1)
                    g += 1
            cache[parameters] = (slope, offset, index)
    return cache[parameters]


def evolve(component: Component, values: np.ndarray, noisy: bool) -> tuple[np.ndarray, list[int]]:
    """The final (rows, D, …, D) state of the component, and which qubit each state axis holds."""
    digit = 4 if noisy else 2
    n = len(component.qubits)
    program = plan(component, noisy)
    given = len(values)
    if program.dense and given % DENSE_ROW_MULTIPLE:
        # BLAS hands a one-row product to gemv, whose sums round differently: pad the chunk
        # to whole 8-row tiles so a row's bits never depend on the chunk it came in
        values = np.concatenate([values, np.zeros((-given % DENSE_ROW_MULTIPLE, values.shape[1]))])
    rows = len(values)
    state = np.zeros((rows, digit ** n), dtype=complex)
    state[:, 0] = 1.0
    state = state.reshape((rows,) + (digit,) * n)
    order = list(range(n - 1, -1, -1))  # axis 1 + a holds qubit order[a]: C order, little-endian index
    # few rows (a closed-form spot check): per-gate Python steps dominate, so every layer's phases in
    # one product; many rows: the per-layer exps (rows × 2^n each, against 2 a gate) dominate instead
    layers = _rz_layers(program, n, values.shape[1]) if program.dense and not noisy and rows <= FUSED_ROWS else None
    if layers is not None:  # every rz layer's phases at once (state in C order throughout)
        slope, offset, index = layers
        e = np.exp(-0.5j * (values @ slope + offset))
        phases = np.concatenate([e, e.conj(), np.ones((rows, 1))], axis=1)[:, index].prod(axis=2)
        layer = 0
    for item in program.items:
        kind = item[0]
        if kind == "diag" and layers is not None:
            state = state * phases[:, layer].reshape(state.shape)
            layer += 1
        elif kind == "diag":
            entries = [(qubits, np.diagonal(_operator(step, values, noisy), axis1=1, axis2=2)) for qubits, step in item[1]]
            state = state * _phases(entries, order, rows, noisy)
        elif kind == "rows" and program.dense and item[2].operation.name == "ry":  # aer's per-row ry
            half = 0.5 * item[2].functions[0](values)
            state = _row_rotation(state, n, item[1][0], np.cos(half), np.sin(half))
        elif kind == "rows" and program.dense:  # a per-row one-qubit gate, state in C order
            state = _row_gate(state, n, item[1][0], _operator(item[2], values, noisy))
        elif kind == "fixed" and program.dense and item[3] is not None:  # sparse: Mᵀ·stateᵀ
            state = np.ascontiguousarray((item[3] @ state.reshape(rows, -1).T).T).reshape(state.shape)
        elif kind == "fixed" and program.dense:  # the whole component's matrix, state in C order
            state = (state.reshape(rows, -1) @ item[2]).reshape(state.shape)
        elif kind == "fixed":
            state, order = _apply_fixed(state, order, item[1], item[2], digit)
        else:
            state, order = _apply_fixed(state, order, item[1], _operator(item[2], values, noisy), digit)
    return state[:given], order


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
    return apply_readout(probs.transpose([0] + keep), component)


def apply_readout(probs: np.ndarray, component: Component) -> np.ndarray:
    """Each measured bit's 2×2 confusion matrix P(recorded | true) on (rows, 2, …, 2)
    probabilities, axis a ↔ clbit ``component.clbits[-1 - a]``."""
    for position, confusion in enumerate(reversed(component.readout)):
        if confusion is not None:
            probs = np.moveaxis(np.tensordot(probs, confusion, axes=([1 + position], [0])), -1, 1 + position)
    return probs
