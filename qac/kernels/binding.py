"""The L3 binder: unit vectors → rows of template parameters, for every encoding × estimator.

Level-neutral on purpose: the ``estimate`` pass binds data, sign-partner and calibration rows
with it at compile time, and a two-stage run (``pv: quantum``) binds the estimated rows of the
attention weights P into the P·V template at run time with the very same code
(``qac/execution/twostage.py``), without importing ``qac.passes`` or ``qac.ir.pipeline``.
Imports neither of those nor ``qac.execution``.

A row is the lhs vector's parameters then the rhs vector's, except for ``interference``: with
``binary`` one joint tree program on (â, b̂)/√2 (cut to the branch's light cone), with a unary
loader the multiplexed RBS angles (m + δ, m − δ) = (θ_a, θ_b).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from qac.kernels.choices import SIGNED
from qac.kernels.encodings import ENCODINGS
from qac.kernels.encodings.trees import (
    light_cone,
    routed_tree_program,
    star_tree_program,
    tree_program_angles,
)

#: pairs bound at once: the binder's working arrays are a few (BIND_ROWS, 2^n) float64 tables
#: (≈ 4 MiB each at 64 lanes), whatever the number of pairs
BIND_ROWS = 8192


def vectors_for(units: np.ndarray, d: int, width: int, offset: bool) -> np.ndarray:
    """The vectors a loader of ``width`` lanes loads: the directions, or (x, 1)/√2 with the
    offset component in lane d (unsigned estimators recover the sign from it)."""
    out = np.zeros((len(units), width))
    out[:, :d] = units[:, :d]
    if offset:
        out[:, d] = 1.0
        out /= np.sqrt(2.0)
    return out


def register_width(estimator: str, d: int, encoding: str = "binary") -> int:
    """Lanes of one vector register: d, plus the offset lane for unsigned estimators."""
    return ENCODINGS[encoding].width(d + (0 if SIGNED[estimator] else 1))


@lru_cache(maxsize=None)
def joint_program(num_qubits: int, tree: str = "routed"):
    """Binary interference's joint tree on log2 d + 1 qubits — ``routed`` (CNOTs on a heavy-hex
    shape) or ``star`` (the open Möttönen tree) — and its light cone from the branch (the top
    qubit): (program, kept operations, kept parameter indices). Cached (read only): a model
    forward binds hundreds of (batch, head) kernels of one template."""
    program = routed_tree_program(num_qubits) if tree == "routed" else star_tree_program(num_qubits)
    return program, *light_cone(program, num_qubits - 1)


def vector_parameters(estimator: str, encoding: str, d: int, lhs_units, rhs_units, lhs_angles=None,
                      rhs_angles=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-vector loader parameters of both sides (the ``encode`` pass's angles when they fit)."""
    enc, width = ENCODINGS[encoding], register_width(estimator, d, encoding)
    signed = SIGNED[estimator]
    if signed and lhs_angles is not None and lhs_angles.shape[1] == enc.num_parameters(width):
        return lhs_angles, rhs_angles  # what `encode` computed
    offset = not signed
    return (enc.vector_parameters(vectors_for(lhs_units, d, width, offset)),
            enc.vector_parameters(vectors_for(rhs_units, d, width, offset)))


def bind_pairs(estimator: str, encoding: str, tree: str, d: int, lhs_units: np.ndarray, rhs_units: np.ndarray,
               pairs: np.ndarray, lhs_angles=None, rhs_angles=None) -> np.ndarray:
    """Rows (P, params) of the template of (encoding, estimator, tree) for the pairs (i, j) of
    ``lhs_units[i]``, ``rhs_units[j]`` (unit rows of width ≥ d; components past d are ignored).

    Pairs are bound ``BIND_ROWS`` at a time into the one output table, so the binder's working
    arrays (gathered vectors, the joint tree's levels) stay a fixed size whatever P is; every
    step is row by row, so the rows are the same bits whatever the chunking."""
    if estimator == "interference" and encoding == "binary":  # the joint vector (â, b̂)/√2, branch on top
        width = register_width(estimator, d, encoding)
        program, _, kept = joint_program((2 * width).bit_length() - 1, tree)
        lhs, rhs = vectors_for(lhs_units, d, width, False), vectors_for(rhs_units, d, width, False)
        kept = list(kept)

        def rows(i, j):
            joint = np.concatenate([lhs[i], rhs[j]], axis=1) / np.sqrt(2.0)
            return tree_program_angles(program, joint)[:, kept]
        columns = len(kept)
    else:
        lhs, rhs = vector_parameters(estimator, encoding, d, lhs_units, rhs_units, lhs_angles, rhs_angles)
        columns = lhs.shape[1] + rhs.shape[1]
        if estimator == "interference":  # unary: branch 0 sees m + δ = θ_a, branch 1 m − δ = θ_b
            def rows(i, j):
                a, b = lhs[i], rhs[j]
                out = np.empty((len(i), 2 * a.shape[1]))
                out[:, 0::2], out[:, 1::2] = (a + b) / 2, (a - b) / 2
                return out
        else:
            def rows(i, j):
                return np.concatenate([lhs[i], rhs[j]], axis=1)
    out = np.empty((len(pairs), columns))
    for chunk in row_chunks(len(pairs)):
        out[chunk] = rows(pairs[chunk, 0], pairs[chunk, 1])
    return out


def bind_partners(estimator: str, encoding: str, tree: str, d: int, lhs_units: np.ndarray, rhs_units: np.ndarray,
                  pairs: np.ndarray) -> np.ndarray:
    """Rows of every pair's sign partner (â_i, −b̂_j), in the order of ``pairs`` (odd estimators),
    ``BIND_ROWS`` pairs at a time (each chunk's vectors gathered, negated and bound)."""
    out = None
    for chunk in row_chunks(len(pairs)) or [slice(0, 0)]:
        lhs, rhs = lhs_units[pairs[chunk, 0]], -rhs_units[pairs[chunk, 1]]
        count = len(lhs)
        rows = bind_pairs(estimator, encoding, tree, d, lhs, rhs, np.stack([np.arange(count)] * 2, axis=1))
        if out is None:
            out = np.empty((len(pairs), rows.shape[1]))
        out[chunk] = rows
    return out


class PairBinder:
    """``binder(index)``: the rows of the pairs ``pairs[index]`` (or of their sign partners), bound
    on demand — what ``qac.ir.Binding`` holds until a run reads the table. A plain object (no
    closure), so a compiled program still pickles; the rows equal ``bind_pairs`` on all pairs."""

    def __init__(self, estimator: str, encoding: str, tree: str, d: int, columns: int, lhs_units, rhs_units,
                 pairs, lhs_angles=None, rhs_angles=None, *, partner: bool = False):
        self.args = (estimator, encoding, tree, d)
        self.units, self.angles, self.pairs, self.partner = (lhs_units, rhs_units), (lhs_angles, rhs_angles), pairs, partner
        self.shape = (len(pairs), columns)

    def __call__(self, index: np.ndarray) -> np.ndarray:
        pairs = self.pairs[index]
        if not len(pairs):
            return np.zeros((0, self.shape[1]))
        if self.partner:
            return bind_partners(*self.args, *self.units, pairs)
        return bind_pairs(*self.args, *self.units, pairs, *self.angles)

    @staticmethod
    def bind_many(requests: list) -> list[np.ndarray]:
        """``[binder(index) for binder, index in requests]``, the requests of binders of one
        template (estimator, encoding, tree, d) bound in one call on their gathered vectors: a spot
        check reads a few rows from each of hundreds of kernels. Rows as the binder's, to rounding
        (the loaders' angles are recomputed from the same unit vectors)."""
        groups: dict = {}
        for n, (binder, index) in enumerate(requests):
            groups.setdefault((binder.args, binder.shape[1]), []).append(n)
        out: list = [None] * len(requests)
        for (args, columns), members in groups.items():
            lhs, rhs = [], []
            for n in members:
                binder, index = requests[n]
                pairs = binder.pairs[np.asarray(index, dtype=np.int64)]
                lhs.append(binder.units[0][pairs[:, 0]])
                rhs.append(-binder.units[1][pairs[:, 1]] if binder.partner else binder.units[1][pairs[:, 1]])
            lhs, rhs = np.concatenate(lhs), np.concatenate(rhs)
            rows = bind_pairs(*args, lhs, rhs, np.stack([np.arange(len(lhs))] * 2, axis=1)) if len(lhs) else \
                np.zeros((0, columns))
            edges = np.cumsum([0] + [len(requests[n][1]) for n in members])
            for n, a, b in zip(members, edges, edges[1:]):
                out[n] = rows[a:b]
        return out


def row_chunks(count: int) -> list[slice]:
    """``count`` rows cut into runs of ``BIND_ROWS`` (read at call time); a last run of one row
    joins the run before it, because numpy multiplies a one-row matrix with gemv, not gemm, and
    gemv rounds differently: the rows then carry the same bits as one unchunked call."""
    edges = list(range(0, count, BIND_ROWS)) + [count]
    if count > 1 and edges[-1] - edges[-2] == 1:
        del edges[-2]
    return [slice(a, b) for a, b in zip(edges, edges[1:])]


def unit_rows(rows: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions of ``rows`` zero-padded to ``width`` columns (zero rows stay zero), and the
    norms — as ``normalize`` splits them (renormalised once more, |x̂| = 1 to the last ulp)."""
    norms = np.linalg.norm(rows, axis=1)
    units = np.zeros((rows.shape[0], width))
    nonzero = norms > 0
    units[nonzero, :rows.shape[1]] = rows[nonzero] / norms[nonzero, None]
    units[nonzero] /= np.linalg.norm(units[nonzero], axis=1)[:, None]
    return units, norms
