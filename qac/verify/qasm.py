"""The emitted QASM files against their QPY templates: gate for gate when they match,
simulated on bound rows when they do not."""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import numpy as np

from qac.verify.checkers import (
    STATEVECTOR_MAX_QUBITS,
    rows_to_check,
    run_method,
    template_seed,
)
from qac.verify.pair import physical_pair
from qac.verify.report import Check


def _matrix(operation) -> np.ndarray:
    from qiskit.quantum_info import Operator

    return Operator(operation).data


_PROBES = np.random.default_rng(20250101).uniform(-np.pi, np.pi, (3, 4096))


def _value(angle, probe: np.ndarray) -> complex:
    symbols = getattr(angle, "parameters", None)
    if symbols:
        angle = angle.bind({p: float(probe[zlib.crc32(p.name.encode()) % probe.size]) for p in symbols})
    return complex(angle)


def _same_angle(a, b) -> bool:
    """Equal as functions of the parameters (same symbols, same values at seeded probe points)."""
    names = lambda x: sorted(p.name for p in getattr(x, "parameters", ()))  # noqa: E731
    if names(a) != names(b):
        return False
    return all(abs(_value(a, probe) - _value(b, probe)) <= 1e-12 for probe in _PROBES)


def same_gates(loaded, isa) -> tuple[bool, str]:
    """Whether a loaded QASM circuit is ``isa`` gate for gate: same names, physical qubits and
    (symbolic) angles, and every gate the QASM file defines itself (e.g. ``ecr``) has the
    standard gate's matrix up to a global phase."""
    by_name = {p.name: p for p in isa.parameters}
    if sorted(p.name for p in loaded.parameters) != sorted(by_name):
        return False, "different parameters"
    a = [inst for inst in loaded.data if inst.operation.name != "barrier"]
    b = [inst for inst in isa.data if inst.operation.name != "barrier"]
    if len(a) != len(b):
        return False, f"{len(a)} vs {len(b)} instructions"
    checked: dict[str, bool] = {}
    for x, y in zip(a, b):
        ox, oy = x.operation, y.operation
        if (ox.name != oy.name or [loaded.find_bit(q).index for q in x.qubits] != [isa.find_bit(q).index for q in y.qubits]
                or [loaded.find_bit(c).index for c in x.clbits] != [isa.find_bit(c).index for c in y.clbits]
                or len(ox.params) != len(oy.params)):
            return False, f"'{ox.name}' differs from '{oy.name}'"
        for px, py in zip(ox.params, oy.params):
            if not _same_angle(px, py):
                return False, f"'{ox.name}' angle {px} differs from {py}"
        if ox.name not in checked and ox.name != "measure" and type(ox) is not type(oy):
            try:
                mx, my = _matrix(ox), _matrix(oy)
                overlap = abs(np.vdot(mx.ravel(), my.ravel())) / mx.shape[0]
                checked[ox.name] = bool(abs(overlap - 1) < 1e-12)
            except Exception:  # parametrised definitions: leave them to the statevector check
                checked[ox.name] = False
            if not checked[ox.name]:
                return False, f"the file's definition of '{ox.name}' is not the standard gate"
    defined = sorted(name for name in checked)
    return True, ("gate definitions checked: " + ", ".join(defined)) if defined else ""


def verify_qasm_files(directory: Path, isa: dict, kernels: list, manifest: dict, *, rows: int, seed: int,
                      timeout: float) -> list[Check]:
    """Each ``kernels/*.qasm`` loaded back (``qiskit.qasm3.loads``) against its QPY template, with
    the manifest's physical qubits leading the order, on bound rows of a kernel that uses it."""
    from qiskit import qasm3

    checks = []
    for entry in manifest["templates"]:
        name, started = entry["name"], time.perf_counter()
        path = directory / entry.get("file", f"kernels/{name}.qasm")
        try:
            loaded = qasm3.loads(path.read_text(encoding="utf-8"))
            pair = physical_pair(loaded, isa[name], [int(q) for q in entry.get("physical_qubits", [])])
        except Exception as exc:
            checks.append(Check("-", name, "qasm", "error", False, time.perf_counter() - started,
                                f"{path.name}: {type(exc).__name__}: {' '.join(str(exc).split())[:120]}"))
            continue
        if pair.problems:
            checks.append(Check("-", name, "qasm", "mismatch", False, time.perf_counter() - started,
                                "; ".join(pair.problems)))
            continue
        names = sorted(p.name for p in isa[name].parameters)
        try:
            same, why = same_gates(loaded, isa[name])
        except Exception as exc:  # fall back to simulating both
            same, why = False, f"{type(exc).__name__}"
        if same:  # gate for gate the same circuit: equivalent without simulating anything
            checks.append(Check(entry.get("file", name), name, "qasm-gates", "equivalent", True,
                                time.perf_counter() - started, why))
            continue
        tables = [values for _, template, values in kernels if template == name and len(values)]
        points = list(rows_to_check(tables[0], max(rows, 1), seed)) if tables else \
            [np.random.default_rng(template_seed(seed, name)).uniform(-np.pi, np.pi, len(names))]
        method = "statevector" if len(pair.active) <= STATEVECTOR_MAX_QUBITS else "qcec"
        check = run_method(entry.get("file", name), name, method, points, names, pair, seed=seed, timeout=timeout)
        checks.append(Check(check.kernel, name, f"qasm-{check.method}", check.verdict, check.ok, check.seconds,
                            check.detail))
    return checks
