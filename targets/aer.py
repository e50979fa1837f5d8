"""The ideal all-to-all Aer simulator target (``aer``): no account, no network, no noise."""

from __future__ import annotations

import functools
from importlib import metadata

from .description import TargetDescription

NAME = "aer"
#: Statevector memory bound: 2**30 complex128 amplitudes = 16 GiB.
NUM_QUBITS = 30
BASIS_GATES = ("cx", "ry", "rz", "sx", "x", "h")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "(not installed)"


@functools.cache
def description() -> TargetDescription:
    return TargetDescription(
        name=NAME,
        kind="simulator",
        num_qubits=NUM_QUBITS,
        basis_gates=BASIS_GATES,
        two_qubit_gate="cx",
        coupling_edges=None,
        median_two_qubit_error=None,
        median_readout_error=None,
        median_two_qubit_duration_ns=None,
        snapshot_date=None,
        status="simulator",
        provenance=f"qiskit-aer {_version('qiskit-aer')} AerSimulator (ideal, all-to-all, no noise)",
        dead_couplers=(),
    )


def qiskit_target(name: str = NAME) -> None:
    """All-to-all: no Target; transpile with ``basis_gates`` only."""
    return None


@functools.cache
def backend(name: str = NAME):
    from qiskit_aer import AerSimulator

    return AerSimulator()


def noise_model(name: str = NAME) -> None:
    return None
