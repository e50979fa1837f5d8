"""The ``binary`` encoding: real amplitudes on log2 d qubits, an open Ry-multiplexor tree.

A tree of uniformly controlled Ry rotations
(Möttönen, Vartiainen, Bergholm, Salomaa, QIC 5, 467 (2005)), each multiplexor in
Gray-code order *without its closing CNOT*. The closing CNOT of every level is controlled
by the top qubit, so leaving them out applies the fixed permutation
``Q: x ↦ x ⊕ (top ? 0…01…1 : 0)`` to the prepared state and to the later multiplexors'
controls; both are undone at bind time (the second half of the vector and of every level's
angle list is read backwards). Cost: 2ⁿ − n − 1 CNOTs (2ⁿ − 2 with the closing CNOTs),
2ⁿ − 1 angles — the count Qiskit's own ``StatePreparation`` reaches, with data-free gates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


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
