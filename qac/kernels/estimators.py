"""The inner-product estimator circuit library: one class per estimator, its template and decoding.

Each estimator names f(outcome) whose mean over shots is decoded (``outcome_values``), and
``finish`` maps that mean to c = ⟨â|b̂⟩. Per-shot variances (S shots, c the inner product):

``interference`` (signed; Schuld, Sinayskiy, Petruccione, "Quantum computing for pattern
classification", PRICAI 2014): prepare (|0⟩|â⟩ + |1⟩|b̂⟩)/√2, H on the branch, measure it:
P(0) = (1 + c)/2, f = ±1, Var[ĉ] = (1 − c²)/S. With ``binary`` the joint state is one routed
tree program on log2 d + 1 qubits (``encodings.trees.routed_tree_program``: CNOTs on a heavy-hex
shape; the open star tree on all-to-all targets, ``tree``), cut to the branch's light cone
(``encodings.trees.light_cone``): only the branch is measured, so the gates after its last one that
touch only the vector register are left out — the register ends in W|·⟩ for a fixed unitary
W, and P(0) is unchanged. With a unary loader every RBS is multiplexed on the branch as
RBS(m)·CZ·RBS(δ)·CZ (Z on one lane flips an RBS angle), m ± δ = the two vectors' angles.

``hadamard`` (signed; the Hadamard test with controlled preparations, Aharonov, Jones,
Landau, STOC 2006): H, 0-controlled L(â), 1-controlled L(b̂), H, measure the ancilla —
the same distribution as interference for any encoding, at the price of generic controls.

``swap`` (unsigned; Buhrman, Cleve, Watrous, de Wolf, PRL 87, 167902 (2001)): H, a
controlled-SWAP per qubit pair of the two registers, H: P(0) = (1 + s)/2, s = ⟨a'|b'⟩².

``destructive_swap`` (unsigned; Garcia-Escartin & Chamorro-Posada, PRA 87, 052330 (2013)):
CX + H per qubit pair (a Bell-basis measurement), 2n qubits, no ancilla; the mean of
f = (−1)^{Σ_i a_i b_i} over the measured bits is s.

``compute_uncompute`` (unsigned; Havlíček et al., Nature 567, 209 (2019), the kernel
estimator): L(a'), L(b')†, P(0…0) = s, f = [outcome = 0…0]. A unary loader returns the
excitation to its start lane only from b', so one measured qubit suffices.

Unsigned estimators load a' = (â, 1)/√2 and b' = (b̂, 1)/√2 (the offset component in lane
d, which needs a free lane: d = 2ⁿ doubles the binary width), so ⟨a'|b'⟩ = (1 + c)/2 ≥ 0 and
ĉ = 2√ŝ − 1. By the delta method Var[ĉ] = Var[ŝ]/s with s = ((1 + c)/2)²:
(1 − s²)/(S·s) for swap and destructive_swap (f = ±1), (1 − s)/S for compute_uncompute
(f ∈ {0, 1}); near c = −1 (s → 0) the unsigned estimators lose precision.

Structure depends only on (encoding, estimator, register width): one template per shape,
shared by every head of that width; each (query, key) pair is a row of parameter values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from qac.errors import TargetError
from qac.ir import Decoding, Kernel
from qac.kernels import binding
from qac.kernels.choices import SIGNED
from qac.kernels.decode import finish
from qac.kernels.encodings import ENCODINGS
from qac.kernels.encodings.trees import append_tree_program
from qac.kernels.encodings.unary import unary_schedule

UNARY = ("unary_parallel", "unary_diagonal", "unary_semi_diagonal")


def parameter_names(count: int) -> list[str]:
    """Zero-padded names: sorted order is index order, and they are valid QASM identifiers."""
    width = max(2, len(str(count - 1)))
    return [f"theta_{i:0{width}d}" for i in range(count)]


def template_parameters(count: int) -> list:
    """Parameters whose UUIDs derive from their names, so QPY output is byte-identical."""
    from qiskit.circuit import Parameter

    return [Parameter(name, uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"qac:{name}")) for name in parameter_names(count)]


def _circuit(num_qubits: int, num_bits: int, name: str):
    from qiskit import ClassicalRegister, QuantumCircuit
    from qiskit.circuit import Qubit

    # Register-less qubits: qpy.dump orders a layout's registers nondeterministically.
    qubits = [Qubit() for _ in range(num_qubits)]
    return QuantumCircuit(qubits, ClassicalRegister(num_bits, "meas"), name=name), qubits


def _loader(encoding, width: int, parameters, name: str):
    """The encoding's loader on a register of its own (a sub-circuit to compose or control)."""
    from qiskit import QuantumCircuit

    sub = QuantumCircuit(encoding.qubits(width), name=name)
    encoding.append(sub, list(sub.qubits), parameters)
    return sub


def _encoding(name: str):
    return ENCODINGS[name]


class Estimator:
    """Shared plumbing: register width, offset vectors, per-pair gathering.

    ``tree`` ("routed" or "star") is the shape of the joint tree; only ``interference`` with
    ``binary`` has one, the other estimators accept and ignore it."""

    name: str
    #: the ideal mean of f flips sign with b̂ (then a noisy run symmetrises each pair with (â, −b̂));
    #: declared, and checked against exact simulation by tests/test_semantics.py
    odd: bool
    encodings: tuple[str, ...]

    @property
    def signed(self) -> bool:
        """Whether the mean of f is ⟨â|b̂⟩ itself (one table for all: ``qac.kernels.choices.SIGNED``)."""
        return SIGNED[self.name]

    def width(self, d: int, encoding: str = "binary") -> int:
        """Lanes of one vector register: d, plus the offset lane for unsigned estimators."""
        return binding.register_width(self.name, d, encoding)

    def vector_parameters(self, kernel: Kernel, encoding: str) -> tuple[np.ndarray, np.ndarray]:
        return binding.vector_parameters(self.name, encoding, kernel.d, kernel.lhs_units, kernel.rhs_units,
                                         kernel.lhs_angles, kernel.rhs_angles)

    def bind(self, kernel: Kernel, encoding: str = "binary", tree: str = "routed") -> np.ndarray:
        """Rows (P, params) for the kernel's pairs: the level-neutral binder (``qac.kernels.binding``),
        which a two-stage run also uses to bind P's rows into the P·V template."""
        return binding.bind_pairs(self.name, encoding, tree, kernel.d, kernel.lhs_units, kernel.rhs_units,
                                  kernel.pairs, kernel.lhs_angles, kernel.rhs_angles)

    def qubits(self, d: int, encoding: str = "binary") -> int:
        """One vector register and the branch qubit (the signed estimators; the others override)."""
        return _encoding(encoding).qubits(self.width(d, encoding)) + 1

    def num_parameters(self, d: int, encoding: str = "binary", tree: str = "routed") -> int:
        """Both vectors' loader parameters (``interference`` with ``binary`` has a joint program)."""
        return 2 * _encoding(encoding).num_parameters(self.width(d, encoding))

    def per_shot_variance(self, inner_product: float) -> float:
        """Var[f]/(dĉ/dE f)² for one shot: the shot-noise variance of ĉ times S."""
        raise NotImplementedError

    def finish(self, mean: np.ndarray, sem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mean of f → the inner product (``qac.kernels.decode.finish``: c = 2√s − 1 when unsigned)."""
        return finish(mean, sem, signed=self.signed)

    def decoding(self, num_bits: int) -> Decoding:
        """What a run needs to decode this estimator's outcomes (carried by the template)."""
        return Decoding(np.asarray(self.outcome_values(num_bits), dtype=float), self.signed, self.odd)


def _unsigned_overlap(c: float) -> float:
    return ((1.0 + c) / 2.0) ** 2


@dataclass(frozen=True)
class Interference(Estimator):
    """Signed inner product from one joint state; P(0) = (1 + ⟨â|b̂⟩)/2 on the branch qubit."""

    name = "interference"
    odd = True
    encodings = ("binary", *UNARY)

    @staticmethod
    def joint_program(num_qubits: int, tree: str = "routed"):
        """The joint tree on log2 d + 1 qubits — ``routed`` (CNOTs on a heavy-hex shape) or ``star``
        (the open Möttönen tree, fewest CNOTs when any pair of qubits couples) — and its light
        cone from the branch (the top qubit)."""
        return binding.joint_program(num_qubits, tree)

    def num_parameters(self, d: int, encoding: str = "binary", tree: str = "routed") -> int:
        width = self.width(d, encoding)
        if encoding == "binary":
            return len(self.joint_program(_encoding(encoding).qubits(width) + 1, tree)[2])
        return 2 * (width - 1)

    def build(self, d: int, name: str, encoding: str = "binary", tree: str = "routed"):
        enc, width = _encoding(encoding), self.width(d, encoding)
        n = enc.qubits(width)
        circuit, qubits = _circuit(n + 1, 1, name)
        params = template_parameters(self.num_parameters(d, encoding, tree))
        branch = qubits[n]
        if encoding == "binary":  # the joint tree on n + 1 qubits, branch on top, cut to its light cone
            program, ops, _ = self.joint_program(n + 1, tree)
            append_tree_program(circuit, qubits, params, program, ops)
        else:
            circuit.h(branch)
            start, steps = unary_schedule(enc.loader, width)
            circuit.x(qubits[start])
            from qac.kernels.encodings.unary import append_rbs

            for k, (source, dest, _, _) in enumerate(steps):
                append_rbs(circuit, params[2 * k], qubits[source], qubits[dest])
                circuit.cz(branch, qubits[dest])
                append_rbs(circuit, params[2 * k + 1], qubits[source], qubits[dest])
                circuit.cz(branch, qubits[dest])
        circuit.h(branch)
        circuit.measure(branch, 0)
        return circuit

    @staticmethod
    def outcome_values(num_bits: int) -> np.ndarray:
        """f(outcome) whose mean is the inner product: +1 for branch 0, −1 for branch 1."""
        return np.array([1.0, -1.0])

    def per_shot_variance(self, inner_product: float) -> float:
        return 1.0 - inner_product**2


@dataclass(frozen=True)
class Hadamard(Estimator):
    """The Hadamard test with controlled preparations: 0-controlled L(â), 1-controlled L(b̂)."""

    name = "hadamard"
    odd = True
    # Not `qiskit`: controlled `u` gates bind through nested parameter expressions (seconds a row).
    encodings = ("binary", *UNARY)

    def build(self, d: int, name: str, encoding: str = "binary", tree: str = "routed"):
        enc, width = _encoding(encoding), self.width(d, encoding)
        n, k = enc.qubits(width), enc.num_parameters(width)
        circuit, qubits = _circuit(n + 1, 1, name)
        params = template_parameters(2 * k)
        branch = qubits[n]
        circuit.h(branch)
        for state, part in ((0, params[:k]), (1, params[k:])):
            gate = _loader(enc, width, part, f"load_{'ab'[state]}").to_gate()
            circuit.append(gate.control(1, ctrl_state=state), [branch, *qubits[:n]])
        circuit.h(branch)
        circuit.measure(branch, 0)
        return circuit

    outcome_values = staticmethod(Interference.outcome_values)
    per_shot_variance = Interference.per_shot_variance


@dataclass(frozen=True)
class Swap(Estimator):
    """The controlled-SWAP test on (â, 1)/√2 and (b̂, 1)/√2; P(0) = (1 + ⟨a'|b'⟩²)/2."""

    name = "swap"
    odd = False
    encodings = ("binary", *UNARY, "qiskit")

    def qubits(self, d: int, encoding: str = "binary") -> int:
        return 2 * _encoding(encoding).qubits(self.width(d, encoding)) + 1

    def build(self, d: int, name: str, encoding: str = "binary", tree: str = "routed"):
        enc, width = _encoding(encoding), self.width(d, encoding)
        n, k = enc.qubits(width), enc.num_parameters(width)
        circuit, qubits = _circuit(2 * n + 1, 1, name)
        params = template_parameters(2 * k)
        circuit.compose(_loader(enc, width, params[:k], "load_a"), qubits[:n], inplace=True)
        circuit.compose(_loader(enc, width, params[k:], "load_b"), qubits[n:2 * n], inplace=True)
        ancilla = qubits[2 * n]
        circuit.h(ancilla)
        for a, b in zip(qubits[:n], qubits[n:2 * n]):
            circuit.cswap(ancilla, a, b)
        circuit.h(ancilla)
        circuit.measure(ancilla, 0)
        return circuit

    outcome_values = staticmethod(Interference.outcome_values)

    def per_shot_variance(self, inner_product: float) -> float:
        s = _unsigned_overlap(inner_product)
        return (1.0 - s * s) / s if s > 0 else np.inf


@dataclass(frozen=True)
class DestructiveSwap(Estimator):
    """Bell-basis measurement of the two registers; mean of (−1)^{Σ a_i b_i} is ⟨a'|b'⟩²."""

    name = "destructive_swap"
    odd = False
    encodings = ("binary", "qiskit")  # a unary register would measure 2d bits
    per_shot_variance = Swap.per_shot_variance  # the same ±1 statistics of s

    def qubits(self, d: int, encoding: str = "binary") -> int:
        return 2 * _encoding(encoding).qubits(self.width(d, encoding))

    def build(self, d: int, name: str, encoding: str = "binary", tree: str = "routed"):
        enc, width = _encoding(encoding), self.width(d, encoding)
        n, k = enc.qubits(width), enc.num_parameters(width)
        circuit, qubits = _circuit(2 * n, 2 * n, name)
        params = template_parameters(2 * k)
        circuit.compose(_loader(enc, width, params[:k], "load_a"), qubits[:n], inplace=True)
        circuit.compose(_loader(enc, width, params[k:], "load_b"), qubits[n:], inplace=True)
        for a, b in zip(qubits[:n], qubits[n:]):
            circuit.cx(a, b)
            circuit.h(a)
        circuit.measure(qubits, list(range(2 * n)))  # clbit i: a_i, clbit n + i: b_i
        return circuit

    @staticmethod
    def outcome_values(num_bits: int) -> np.ndarray:
        n = num_bits // 2
        outcomes = np.arange(1 << num_bits)
        both = (outcomes & ((1 << n) - 1)) & (outcomes >> n)
        parity = np.array([bin(int(x)).count("1") & 1 for x in both])
        return np.where(parity == 1, -1.0, 1.0)



@dataclass(frozen=True)
class ComputeUncompute(Estimator):
    """L(a') then L(b')†: P(0…0) = ⟨a'|b'⟩² (one measured qubit for unary loaders)."""

    name = "compute_uncompute"
    odd = False
    encodings = ("binary", *UNARY, "qiskit")

    def qubits(self, d: int, encoding: str = "binary") -> int:
        return _encoding(encoding).qubits(self.width(d, encoding))

    def build(self, d: int, name: str, encoding: str = "binary", tree: str = "routed"):
        enc, width = _encoding(encoding), self.width(d, encoding)
        n, k = enc.qubits(width), enc.num_parameters(width)
        measured = [enc.start(width)] if enc.unary else list(range(n))
        circuit, qubits = _circuit(n, len(measured), name)
        params = template_parameters(2 * k)
        circuit.compose(_loader(enc, width, params[:k], "load_a"), qubits, inplace=True)
        circuit.compose(_loader(enc, width, params[k:], "load_b").inverse(), qubits, inplace=True)
        circuit.measure([qubits[q] for q in measured], list(range(len(measured))))
        return circuit

    @staticmethod
    def outcome_values(num_bits: int) -> np.ndarray:
        """1 for the all-zero outcome (the state returned to |0…0⟩), 0 otherwise."""
        values = np.zeros(1 << num_bits)
        values[0] = 1.0
        return values

    def per_shot_variance(self, inner_product: float) -> float:
        s = _unsigned_overlap(inner_product)
        return (1.0 - s) if s > 0 else np.inf


ESTIMATORS = {e.name: e for e in (Interference(), Swap(), DestructiveSwap(), ComputeUncompute(), Hadamard())}


TREES = ("auto", "routed", "star")


def resolve_tree(tree: str, target) -> str:
    """``auto``: the routed tree when the target has a coupling graph, else the star tree, which
    has the fewest CNOTs (2ⁿ − n − 1 before the light cone) when every pair of qubits couples."""
    if tree != "auto":
        return tree
    return "star" if target is not None and target.all_to_all else "routed"


def template_name(encoding: str, estimator: str, width: int) -> str:
    return f"{encoding}_{estimator}_d{width}"


def check_fits(encoding: str, estimator: str, d: int, target) -> None:
    """A clear error before building a kernel the target cannot hold."""
    est = ESTIMATORS[estimator]
    need, width = est.qubits(d, encoding), est.width(d, encoding)
    if target is None or need <= target.num_qubits:
        return
    enc = ENCODINGS[encoding]
    if enc.unary:
        raise TargetError(f"encoding '{encoding}' puts one qubit per component: d={d} with estimator "
                          f"'{estimator}' needs {need} qubits but target '{target.name}' has {target.num_qubits}; "
                          f"use encoding 'binary' (log2 d qubits) or more heads")
    if not est.signed and ESTIMATORS["interference"].qubits(d) <= target.num_qubits:
        raise TargetError(f"estimator '{estimator}' is unsigned and needs an offset lane: d={d} pads to {width} "
                          f"lanes, {need} qubits, but target '{target.name}' has {target.num_qubits}; "
                          f"use the signed 'interference' estimator or a larger target")
    raise TargetError(f"the kernel needs {need} qubits ({encoding}/{estimator}, d={d}) but target "
                      f"'{target.name}' has {target.num_qubits}; use a larger target or more heads")


