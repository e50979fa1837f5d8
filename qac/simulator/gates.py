"""Gate matrices for a batch of parameter rows: a table of vectorised closed forms (the
matrices of Qiskit's standard gates, little-endian over the gate's qubits), and the
evaluation of an instruction's parameter expressions (``rz(θ + π/2)``) for every row at once.

A gate outside the table falls back to Qiskit's own ``to_matrix`` — once if its parameters are
fixed, row by row if they are not (correct, slow; the table covers every gate qac targets use).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _rz(lam):
    return _diag(np.exp(-0.5j * lam), np.exp(0.5j * lam))


def _diag(*entries):
    entries = np.broadcast_arrays(*[np.asarray(e, dtype=complex) for e in entries])
    out = np.zeros(entries[0].shape + (len(entries), len(entries)), dtype=complex)
    for k, e in enumerate(entries):
        out[..., k, k] = e
    return out


def _mat2(a, b, c, d):
    a, b, c, d = np.broadcast_arrays(*[np.asarray(x, dtype=complex) for x in (a, b, c, d)])
    return np.stack([np.stack([a, b], -1), np.stack([c, d], -1)], -2)


def _rx(t):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return _mat2(c, -1j * s, -1j * s, c)


def _ry(t):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return _mat2(c, -s, s, c)


def _r(t, phi):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return _mat2(c, -1j * np.exp(-1j * phi) * s, -1j * np.exp(1j * phi) * s, c)


def _u(t, phi, lam):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return _mat2(c, -np.exp(1j * lam) * s, np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c)


def _two(pauli: np.ndarray):
    """exp(−iθ/2 · P⊗P) for an involutory two-qubit P."""
    def gate(t):
        t = np.asarray(t, dtype=float)[..., None, None]
        return np.cos(t / 2) * np.eye(4) - 1j * np.sin(t / 2) * pauli
    return gate


_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]])
_Z = np.diag([1.0 + 0j, -1.0])

#: name → (matrix of a batch of parameter arrays): the parametrised gates of every qac target
#: (aer: ry, rz; IBM: rz; IonQ: r, rxx; Quantinuum: r, rz, rzz; IQM: r; Rigetti: rx, rz) and kin.
PARAMETRIC: dict[str, Callable] = {
    "rz": _rz, "rx": _rx, "ry": _ry, "r": _r, "u": _u, "u3": _u,
    "p": lambda lam: _diag(np.ones_like(lam), np.exp(1j * lam)), "u1": lambda lam: _diag(np.ones_like(lam), np.exp(1j * lam)),
    "u2": lambda phi, lam: _u(np.full_like(np.asarray(phi, dtype=float), np.pi / 2), phi, lam),
    "rxx": _two(np.kron(_X, _X)), "ryy": _two(np.kron(_Y, _Y)), "rzz": _two(np.kron(_Z, _Z)),
    "rzx": _two(np.kron(_X, _Z)),  # Qiskit's RZX(θ) = exp(−iθ/2 · Z⊗X) on (q0: Z, q1: X), little-endian
}


class Affine:
    """values (rows, P) → values[:, columns] @ slope + offset (a constant when ``columns`` is
    empty, one column when ``slope`` is None); ``affine`` is (columns, slope, offset), for
    whole-plan products (``qac.simulator.evolve``'s rz layers)."""

    def __init__(self, columns: list[int], slope: np.ndarray | None, offset: float):
        self.columns, self.slope, self.offset = columns, slope, offset

    @property
    def affine(self) -> tuple[list[int], np.ndarray, float]:
        return self.columns, np.ones(1) if self.slope is None else self.slope, self.offset

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if not self.columns:
            return np.full(len(values), self.offset)
        if self.slope is None:
            return values[:, self.columns[0]]
        return values[:, self.columns] @ self.slope + self.offset


def parameter_function(expression, parameter_index: dict) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised function values (rows, P) → (rows,) for one instruction parameter."""
    from qiskit.circuit import ParameterExpression

    if not isinstance(expression, ParameterExpression):
        return Affine([], None, float(expression))
    if not expression.parameters:
        return Affine([], None, float(expression.numeric()))
    if expression.is_symbol():
        return Affine([parameter_index[next(iter(expression.parameters))]], None, 0.0)
    parameters = sorted(expression.parameters, key=lambda p: parameter_index[p])
    slopes = [expression.gradient(p) for p in parameters]
    if not any(getattr(g, "parameters", None) for g in slopes):
        # affine (rz(θ + π/2), rz(−θ)…): exact slopes and offset, no symbolic algebra per row
        slope = np.array([float(g) for g in slopes])
        offset = float(expression.bind({p: 0.0 for p in parameters}).numeric())
        return Affine([parameter_index[p] for p in parameters], slope, offset)
    import sympy

    parameters = sorted(expression.parameters, key=lambda p: parameter_index[p])
    symbolic = expression.sympify()
    by_name = {s.name: s for s in symbolic.free_symbols}
    symbols = [by_name[p.name] for p in parameters]
    function = sympy.lambdify(symbols, symbolic, modules="numpy", dummify=True)
    columns = [parameter_index[p] for p in parameters]

    def evaluate(values):
        out = np.asarray(function(*(values[:, c] for c in columns)))
        if np.iscomplexobj(out):
            out = out.real
        return np.broadcast_to(out.astype(float), (len(values),))
    return evaluate


def fixed_matrix(operation) -> np.ndarray:
    """The matrix of an instruction whose parameters are all numbers."""
    name = operation.name
    if name in PARAMETRIC:
        return PARAMETRIC[name](*[float(p) for p in operation.params])
    if name in ("delay", "id"):
        return np.eye(1 << operation.num_qubits, dtype=complex)
    return np.asarray(operation.to_matrix(), dtype=complex)


def batched_matrix(operation, functions, values: np.ndarray) -> np.ndarray:
    """The matrices (rows, k, k) of a parametrised instruction, one per row of ``values``."""
    angles = [f(values) for f in functions]
    if operation.name in PARAMETRIC:
        return PARAMETRIC[operation.name](*angles)
    out = []
    for row in zip(*angles):
        out.append(np.asarray(operation.base_class(*row).to_matrix(), dtype=complex))
    return np.array(out).reshape(len(values), 1 << operation.num_qubits, 1 << operation.num_qubits)
