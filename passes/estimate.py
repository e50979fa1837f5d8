"""``estimate`` (L2 → L3): inner-product estimators as parametrised templates + bindings.

``interference`` (signed): prepare (|0⟩|â⟩ + |1⟩|b̂⟩)/√2, apply H to the branch qubit and
measure it: P(0) = |â + b̂|²/4 = (1 + ⟨â|b̂⟩)/2, so the ±1 outcome value f(0)=+1, f(1)=−1
has mean ⟨â|b̂⟩ and variance 1 − ⟨â|b̂⟩² per shot (Schuld, Sinayskiy, Petruccione, "Quantum
computing for pattern classification", 2014; the "interference circuit"). With the binary
encoding the joint state is one Ry tree on log2 d + 1 qubits whose top level is fixed at
π/2 and whose lower levels are the two vectors' trees multiplexed on the branch qubit.

Structure depends only on (d_pad, encoding, estimator): one template per shape, shared by
every head of that width; each (query, key) pair is a row of parameter values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from qac.errors import CompileError
from qac.ir import Binding, CircuitModule, Kernel, KernelPlan, Template
from qac.pipeline import CompileContext, Pass
from qac.passes.encode import append_ry_tree, gray_angles, num_qubits_for


def parameter_names(count: int) -> list[str]:
    """Zero-padded names: sorted order is index order, and they are valid QASM identifiers."""
    width = max(2, len(str(count - 1)))
    return [f"theta_{i:0{width}d}" for i in range(count)]


def template_parameters(count: int) -> list:
    """Parameters whose UUIDs derive from their names, so QPY output is byte-identical."""
    from qiskit.circuit import Parameter

    return [Parameter(name, uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"qac:{name}")) for name in parameter_names(count)]


@dataclass(frozen=True)
class Interference:
    """Signed inner product from one joint state on log2 d + 1 qubits; P(0) = (1 + ⟨â|b̂⟩)/2."""

    name = "interference"
    signed = True
    encodings = ("binary",)

    @staticmethod
    def qubits(d_pad: int) -> int:
        return num_qubits_for(d_pad) + 1

    def build(self, d_pad: int, name: str):
        from qiskit import ClassicalRegister, QuantumCircuit
        from qiskit.circuit import Qubit

        n = num_qubits_for(d_pad)
        # Register-less qubits: qpy.dump orders a layout's registers nondeterministically,
        # and byte-identical output matters more than register names (qubit n is the branch).
        qubits = [Qubit() for _ in range(n + 1)]  # least significant first: branch on top
        meas = ClassicalRegister(1, "meas")
        circuit = QuantumCircuit(qubits, meas, name=name)
        params = template_parameters((2 << n) - 1)
        append_ry_tree(circuit, qubits, params)
        circuit.h(qubits[n])
        circuit.measure(qubits[n], meas[0])
        return circuit

    def bind(self, kernel: Kernel) -> np.ndarray:
        """Rows of Gray-code angles of the joint tree, one per pair (i, j)."""
        n = num_qubits_for(kernel.d_pad)
        i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
        if n == 0:  # d = 1: the joint vector (â, b̂)/√2 is a single signed leaf pair
            top = 2.0 * np.arctan2(kernel.rhs_units[j, 0], kernel.lhs_units[i, 0])
        else:  # both branches have norm 1/√2
            top = np.full(len(i), np.pi / 2)
        raw = [top[:, None]]
        for level in range(n):
            lo, hi = (1 << level) - 1, (1 << (level + 1)) - 1
            raw += [kernel.lhs_angles[i, lo:hi], kernel.rhs_angles[j, lo:hi]]
        return gray_angles(np.concatenate(raw, axis=1), n + 1)

    @staticmethod
    def outcome_values(num_bits: int) -> np.ndarray:
        """f(outcome) whose mean is the inner product: +1 for branch 0, −1 for branch 1."""
        return np.array([1.0, -1.0])


ESTIMATORS = {"interference": Interference()}


def template_name(encoding: str, estimator: str, d_pad: int) -> str:
    return f"{encoding}_{estimator}_d{d_pad}"


@dataclass(frozen=True)
class Estimate(Pass):
    """Build one parametrised template per kernel shape and each kernel's bindings table."""

    name = "estimate"
    reads = "L2"
    writes = "L3"
    method: str = field(default="interference")

    def __post_init__(self):
        if self.method not in ESTIMATORS:
            raise CompileError(f"estimate: unknown estimator '{self.method}'; choose one of {', '.join(ESTIMATORS)}")

    def run(self, module: KernelPlan, context: CompileContext) -> CircuitModule:
        estimator = ESTIMATORS[self.method]
        if module.encoding is None:
            raise CompileError("pipeline: 'estimate' needs the 'encode' pass before it; add encode to the pipeline")
        if module.encoding not in estimator.encodings:
            raise CompileError(f"estimate: estimator '{self.method}' does not work with encoding "
                               f"'{module.encoding}'; use one of {', '.join(estimator.encodings)}")
        templates: dict[str, Template] = {}
        bindings: dict[str, Binding] = {}
        for kernel in module.kernels:
            name = template_name(module.encoding, self.method, kernel.d_pad)
            if name not in templates:
                templates[name] = Template(name, estimator.build(kernel.d_pad, name),
                                           module.encoding, self.method, kernel.d_pad)
            bindings[kernel.name] = Binding(kernel.name, name, estimator.bind(kernel))
        plan = KernelPlan(module.graph, module.kernels, module.encoding, self.method)
        return CircuitModule(plan, templates, bindings)
