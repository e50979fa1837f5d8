"""``encode`` (L2 → L2): amplitude encodings of the unit directions.

``binary``: a real amplitude vector of length 2ⁿ on n qubits by a tree of uniformly
controlled Ry rotations (Möttönen, Vartiainen, Bergholm, Salomaa, "Transformation of quantum
states using uniformly controlled rotations", QIC 5, 467 (2005)). Level ℓ rotates qubit
n−1−ℓ, multiplexed on the ℓ qubits above it; the last level uses signed atan2 so negative
amplitudes come out exactly. Each multiplexor of 2^ℓ angles is 2^ℓ Ry and 2^ℓ CNOTs in
Gray-code order, so a whole tree costs 2ⁿ − 2 CNOTs and 2ⁿ − 1 angles.

The pass computes each vector's tree angles (its ``encoding parameters``); the estimator
assembles them into rows of the template's parameters.
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


def multiplexed_ry(circuit, thetas, target, controls) -> None:
    """Append a uniformly controlled Ry: control j of the value x is ``controls[j]``."""
    k = len(thetas)
    for i, theta in enumerate(thetas):
        circuit.ry(theta, target)
        if k > 1:
            changed = gray(i) ^ gray((i + 1) % k)
            circuit.cx(controls[changed.bit_length() - 1], target)


def append_ry_tree(circuit, qubits, parameters) -> None:
    """Append the tree on ``qubits`` (least significant first) with Gray-code ``parameters``."""
    n = len(qubits)
    for level in range(n):
        target = n - 1 - level
        lo, hi = (1 << level) - 1, (1 << (level + 1)) - 1
        multiplexed_ry(circuit, parameters[lo:hi], qubits[target], qubits[target + 1:])


# ------------------------------------------------------------------ registry and pass
@dataclass(frozen=True)
class BinaryEncoding:
    """Real amplitudes on log2 d qubits (Möttönen et al. 2005): 2^n − 2 CNOTs, 2^n − 1 angles."""

    name = "binary"
    signed = True

    @staticmethod
    def qubits(d_pad: int) -> int:
        return num_qubits_for(d_pad)

    @staticmethod
    def vector_angles(units: np.ndarray) -> np.ndarray:
        return tree_angles(units)


ENCODINGS = {"binary": BinaryEncoding()}


@dataclass(frozen=True)
class Encode(Pass):
    """Compute every direction's encoding parameters (per-vector angles)."""

    name = "encode"
    reads = "L2"
    writes = "L2"
    method: str = field(default="binary")

    def __post_init__(self):
        if self.method not in ENCODINGS:
            raise CompileError(f"encode: unknown encoding '{self.method}'; choose one of {', '.join(ENCODINGS)}")

    def run(self, module: KernelPlan, context: CompileContext) -> KernelPlan:
        encoding = ENCODINGS[self.method]
        kernels = tuple(replace(k, lhs_angles=encoding.vector_angles(k.lhs_units),
                                rhs_angles=encoding.vector_angles(k.rhs_units)) for k in module.kernels)
        return replace(module, kernels=kernels, encoding=self.method)
