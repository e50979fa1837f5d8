"""The unary encodings: amplitudes on d qubits, loaded by d − 1 RBS gates.

Unary amplitude encoding ``|x⟩ = Σ x_i |e_i⟩`` on d qubits with d − 1 reconfigurable beam splitters (RBS), one
X on the start qubit (Johri et al., "Nearest centroid classification on a trapped ion
quantum computer", npj Quantum Inf. 7, 122 (2021), Fig. 1; Kerenidis & Prakash,
"Quantum recommendation systems", ITCS 2017, for the tree of norms). The three loaders
differ only in which RBS moves which part of the vector: ``parallel`` is the log-depth
binary tree, ``diagonal`` a chain (depth d − 1, nearest neighbours on a line: it routes on
heavy-hex with no SWAPs), ``semi_diagonal`` two chains from the middle (depth d/2, still a
line). RBS(θ) on (i, j): |1_i0_j⟩ → cos θ|1_i0_j⟩ + sin θ|0_i1_j⟩, |0_i1_j⟩ → −sin θ|1_i0_j⟩ +
cos θ|0_i1_j⟩, built as (H⊗H)·CZ·(Ry(θ)⊗Ry(−θ))·CZ·(H⊗H): 2 two-qubit gates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qac.errors import InternalError


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
