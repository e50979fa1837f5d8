"""The ``qiskit`` encoding: Qiskit's ``StatePreparation``, the baseline to beat.

``StatePreparation`` (Iten et al., "Quantum circuits for isometries", PRA 93, 032318 (2016))
synthesised once for a generic vector; every ``u`` gate becomes three parameters and each
vector binds the angles Qiskit synthesises for it. Qiskit leaves out gates for zero amplitudes
(padding, the offset lane), so every vector is first turned by one fixed random rotation R
(seeded by the width): ⟨Rx|Ry⟩ = ⟨x|y⟩, and Rx has no zeros; a synthesis with another
structure (a measure-zero event) is a ``CompileError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qac.errors import CompileError
from qac.kernels.encodings.binary import num_qubits_for, padded_width


@lru_cache(maxsize=None)
def _qiskit_structure(width: int):
    """Qiskit's synthesis of a generic vector in the ``cx, u`` basis: the gate sequence."""
    rng = np.random.default_rng(width)
    vector = rng.standard_normal(width)
    return _qiskit_synthesis(vector / np.linalg.norm(vector))[0]


def _qiskit_synthesis(vector: np.ndarray):
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit.library import StatePreparation

    n = num_qubits_for(len(vector))
    circuit = QuantumCircuit(n)
    circuit.append(StatePreparation(vector), range(n))
    out = transpile(circuit, basis_gates=["cx", "u"], optimization_level=0)
    structure = tuple((inst.operation.name, tuple(out.find_bit(q).index for q in inst.qubits)) for inst in out.data)
    angles = [float(p) for inst in out.data if inst.operation.name == "u" for p in inst.operation.params]
    return structure, np.array(angles)


@lru_cache(maxsize=None)
def _rotation(width: int) -> np.ndarray:
    """A fixed random orthogonal matrix (QR of a seeded Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(np.random.default_rng(1000 + width).standard_normal((width, width)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class QiskitEncoding:
    """Qiskit's ``StatePreparation`` (Iten et al. 2016) with its ``u`` angles as parameters.

    Each ``u(θ, φ, λ)`` is emitted as Rz(φ)·Ry(θ)·Rz(λ), equal up to a global phase: parametrised
    ``u`` gates take Qiskit's basis translator minutes on IBM targets. The loader is therefore
    exact up to a global phase, which only a controlled loader could see (no estimator controls it).
    """

    name = "qiskit"
    unary = False

    @staticmethod
    def width(d: int) -> int:
        return padded_width(max(8, d))  # below 3 qubits Qiskit's synthesis changes with the data

    def qubits(self, width: int) -> int:
        return num_qubits_for(width)

    def num_parameters(self, width: int) -> int:
        return 3 * sum(1 for name, _ in _qiskit_structure(width) if name == "u")

    def append(self, circuit, qubits, parameters) -> None:
        k = 0
        for name, where in _qiskit_structure(1 << len(qubits)):
            if name == "cx":
                circuit.cx(qubits[where[0]], qubits[where[1]])
            else:
                theta, phi, lam = parameters[k:k + 3]
                circuit.rz(lam, qubits[where[0]])
                circuit.ry(theta, qubits[where[0]])
                circuit.rz(phi, qubits[where[0]])
                k += 3

    def vector_parameters(self, units: np.ndarray) -> np.ndarray:
        structure = _qiskit_structure(units.shape[1])
        rows = []
        for vector in units:
            if not vector.any():  # a zero direction is never loaded; any valid vector will do
                vector = np.eye(len(vector))[0]
            vector = _rotation(len(vector)) @ vector
            got, angles = _qiskit_synthesis(vector / np.linalg.norm(vector))
            if got != structure:
                raise CompileError("encode: Qiskit synthesised a vector with a different gate structure; "
                                   "use encoding 'binary' for this data")
            rows.append(angles)
        return np.array(rows).reshape(len(units), -1)
