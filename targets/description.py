"""The ``TargetDescription`` dataclass: one place a compiled attention kernel can run.

Pure data plus a few lazy accessors. Everything heavy (qiskit, qiskit-ibm-runtime, qiskit-aer)
is imported inside the kind module that builds it, on first use, and cached per target name.

A target ``kind`` maps to a module in this package (``_KIND_MODULES``) that provides three
functions taking the target *name*: ``qiskit_target(name)``, ``backend(name)`` and
``noise_model(name)``, each cached at module level. A new kind (e.g. a YAML "device_file")
slots in by adding a module with those functions and an entry in ``_KIND_MODULES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qac.errors import TargetError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from qiskit.transpiler import Target
    from qiskit_aer.noise import NoiseModel

KINDS = ("simulator", "ibm_snapshot", "device_file")
STATUSES = ("simulator", "retired", "live", "unknown", "published-specs", "calibration", "hypothetical")

_KIND_MODULES = {
    "simulator": "qac.targets.aer",
    "ibm_snapshot": "qac.targets.ibm",
    "device_file": "qac.targets.device_noise",  # YAML vendor devices (IonQ, Quantinuum, IQM, Rigetti, user files)
}


def _kind_module(kind: str):
    try:
        return importlib.import_module(_KIND_MODULES[kind])
    except KeyError:
        raise TargetError(
            f"target kind {kind!r} is not supported by this qac version; "
            f"use one of {sorted(_KIND_MODULES)} (run `qac targets` to list targets)"
        ) from None


@dataclass(frozen=True, eq=False)
class TargetDescription:
    """A compilation/execution target.

    Medians describe the *usable* part of the device: ``median_two_qubit_error`` and
    ``median_two_qubit_duration_ns`` are over ``coupling_edges`` (dead couplers and couplers
    touching a bad-readout qubit excluded); ``median_readout_error`` is over qubits whose
    readout error is < 0.5 (i.e. not in ``bad_readout_qubits``).
    """

    name: str  # "aer", "ibm_brisbane"
    kind: str  # "simulator" | "ibm_snapshot" | "device_file"
    num_qubits: int
    basis_gates: tuple[str, ...]
    two_qubit_gate: str | None  # "ecr", "cz", "cx"
    # Directed edges usable by layout (dead couplers removed); None = all-to-all.
    coupling_edges: tuple[tuple[int, int], ...] | None
    median_two_qubit_error: float | None
    median_readout_error: float | None
    median_two_qubit_duration_ns: float | None
    snapshot_date: str | None  # ISO date (YYYY-MM-DD) of the calibration snapshot
    # "simulator" | "retired" | "live" | "unknown" (status of the real device behind a snapshot);
    # device files: "published-specs" (vendor averages) | "calibration" | "hypothetical"
    status: str
    provenance: str  # one line: package + version + file
    dead_couplers: tuple[tuple[int, int], ...] = ()  # 2q error >= 1.0 or missing
    # --- extras (defaults so new kinds need not fill them) ---
    bad_readout_qubits: tuple[int, ...] = ()  # readout error >= 0.5: no 2q connectivity
    aliases: tuple[str, ...] = ()  # other accepted names, e.g. ("fake_brisbane",)
    source: str | None = None  # directory / file the data was read from
    # key the kind module is called with (default: name); a user device file's resolved path,
    # so two user files that share a ``name`` never share a cached Target or noise model
    key: str | None = None

    # ------------------------------------------------------------------ lazy accessors
    def qiskit_target(self) -> Target | None:
        """The qiskit ``Target`` to compile against (cached); ``None`` = all-to-all simulator.

        For IBM snapshots this is a filtered copy of the fake backend's Target with dead
        couplers and couplers touching bad-readout qubits removed.
        """
        return _kind_module(self.kind).qiskit_target(self.key or self.name)

    def backend(self) -> Any:
        """Cached backend to run on: the fake IBM backend, or ``AerSimulator()`` for aer."""
        return _kind_module(self.kind).backend(self.key or self.name)

    def noise_model(self) -> NoiseModel | None:
        """Cached Aer ``NoiseModel`` built from the snapshot or device file (``None`` for the ideal simulator)."""
        return _kind_module(self.kind).noise_model(self.key or self.name)

    def noise_model_for(self, qubits) -> NoiseModel | None:
        """A noise model with (at least) the errors on ``qubits``: built for those qubits only and
        cached on disk where the kind can (IBM snapshots), else the whole target's."""
        build = getattr(_kind_module(self.kind), "noise_model_for", None)
        return self.noise_model() if build is None else build(self.key or self.name, qubits)

    def transpile_kwargs(self) -> dict:
        """Extra kwargs for ``generate_preset_pass_manager`` (besides optimization_level/seed)."""
        target = self.qiskit_target()
        if target is None:
            return {"basis_gates": list(self.basis_gates)}
        return {"target": target}

    # ------------------------------------------------------------------ checks
    @property
    def all_to_all(self) -> bool:
        """Every pair of qubits couples: no coupling graph, or a complete one."""
        if self.coupling_edges is None:
            return True
        pairs = {tuple(sorted(e)) for e in self.coupling_edges}
        return len(pairs) == self.num_qubits * (self.num_qubits - 1) // 2

    def largest_connected_qubits(self) -> int:
        """Size of the largest set of qubits connected through ``coupling_edges``."""
        if self.coupling_edges is None:
            return self.num_qubits
        from qac.kernels.qubits import components

        return max(map(len, components((), self.coupling_edges)), default=1 if self.num_qubits else 0)

    def require_noise(self) -> None:
        """A noisy run needs the target's noise model: the ideal simulator has none."""
        if self.kind == "simulator":
            from qac.errors import ExecutionError

            raise ExecutionError(f"target '{self.name}' has no noise model; "
                                 f"use a device target such as ibm_brisbane for --noise")

    def require(self, num_qubits: int) -> None:
        """Raise ``TargetError`` unless a kernel on ``num_qubits`` connected qubits fits here."""
        if num_qubits > self.num_qubits:
            raise TargetError(
                f"the kernel needs {num_qubits} qubits but target {self.name!r} has "
                f"{self.num_qubits}; shrink the kernel or pick a larger target (`qac targets`)"
            )
        if num_qubits > 1:
            if not self.coupling_edges and self.coupling_edges is not None:
                raise TargetError(
                    f"target {self.name!r} has no working two-qubit coupler in its snapshot; "
                    "pick another target (run `qac targets`)"
                )
            best = self.largest_connected_qubits()
            if num_qubits > best:
                raise TargetError(
                    f"the kernel needs {num_qubits} connected qubits but the largest working "
                    f"region of {self.name!r} has {best}; pick another target (`qac targets`)"
                )

    def summary(self) -> dict:
        """One catalogue row (see ``qac.targets.catalogue``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "qubits": self.num_qubits,
            "two_qubit_gate": self.two_qubit_gate,
            "median_two_qubit_error": self.median_two_qubit_error,
            "median_readout_error": self.median_readout_error,
            "snapshot_date": self.snapshot_date,
            "status": self.status,
            "dead_couplers": len(self.dead_couplers),
        }

    def __repr__(self) -> str:
        return (
            f"TargetDescription(name={self.name!r}, kind={self.kind!r}, "
            f"num_qubits={self.num_qubits}, two_qubit_gate={self.two_qubit_gate!r}, "
            f"status={self.status!r})"
        )
