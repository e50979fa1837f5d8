"""The checkers (mqt.qcec decision diagrams with ZX off, exact statevectors) and the
verification of a compiled program's templates and bound rows."""

from __future__ import annotations

import time
import zlib
from typing import Any

import numpy as np

from qac import seeds
from qac.verify.pair import Pair, compact_pair
from qac.verify.report import PASSING, Check, Report, VerifyInputError

STATEVECTOR_MAX_QUBITS = 16
DEFAULT_ROWS = 3  # bound rows checked per kernel
DEFAULT_GENERIC = 2  # generic parameter points per template
DEFAULT_TIMEOUT = 120.0  # seconds per qcec call


def _bind(circuit, names: list[str], row: np.ndarray):
    by_name = {p.name: p for p in circuit.parameters}
    return circuit.assign_parameters({by_name[name]: float(x) for name, x in zip(names, row) if name in by_name})


def _qcec(a, b, *, seed: int, timeout: float) -> str:
    """qcec's verdict name for two bound circuits, decision diagrams only (ZX off)."""
    from mqt import qcec
    from mqt.qcec.pyqcec import Configuration

    configuration = Configuration()
    configuration.execution.run_zx_checker = False
    configuration.execution.parallel = False  # deterministic, and polite on shared machines
    configuration.execution.timeout = float(timeout)
    configuration.simulation.seed = int(seed)
    result = qcec.verify(a, b, configuration=configuration)
    return str(result.equivalence).rsplit(".", 1)[-1]


def _fidelity(a, b) -> float:
    from qiskit.quantum_info import Statevector

    return float(abs(np.vdot(Statevector(a).data, Statevector(b).data)) ** 2)


def run_method(kernel: str, template: str, method: str, points: list[np.ndarray], names: list[str],
                pair: Pair, *, seed: int, timeout: float) -> Check:
    started = time.perf_counter()
    label = f"{method}×{len(points)}"
    verdict, detail = "equivalent", ""
    try:
        for index, row in enumerate(points):
            a, b = _bind(pair.logical, names, row), _bind(pair.routed, names, row)
            if method == "statevector":
                fidelity = _fidelity(a, b)
                if not abs(fidelity - 1.0) < 1e-9:
                    verdict, detail = "not_equivalent", f"point {index}: fidelity {fidelity:.12f}"
                    break
            else:
                verdict = _qcec(a, b, seed=seeds.child_seed(seed, "qcec", index), timeout=timeout)
                if verdict not in PASSING:
                    detail = f"point {index}" + (": timed out or undecided" if verdict == "no_information" else "")
                    break
    except Exception as exc:  # a checker that cannot run is a failed check, never a pass
        verdict, detail = "error", f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
    ok = verdict in PASSING
    return Check(kernel, template, label, verdict, ok, time.perf_counter() - started, detail)


def rows_to_check(values: np.ndarray, count: int, seed: int) -> np.ndarray:
    """First, last and seeded others: at most ``count`` distinct rows."""
    total = len(values)
    if total == 0 or count <= 0:
        return values[:0]
    chosen = [0, total - 1][:count]
    rest = [i for i in range(1, total - 1)]
    if rest and count > len(set(chosen)):
        rng = np.random.default_rng(seed)
        chosen += list(rng.choice(rest, size=min(len(rest), count - len(set(chosen))), replace=False))
    return values[sorted(set(int(i) for i in chosen))]


#: ``qac[verify]`` resolves only from a package index; a source checkout installs its own extra.
INSTALL_HINT = "pip install -e '.[verify]' (source checkout) or pip install 'qac[verify]'"


def template_seed(seed: int, template: str) -> int:
    return seeds.child_seed(seed, "verify", zlib.crc32(template.encode()))


def _require_checkers() -> None:
    try:
        import mqt.qcec  # noqa: F401
    except ImportError:
        raise VerifyInputError(f"qac verify needs mqt.qcec, which is not installed; {INSTALL_HINT}") from None


def verify_program(logical: dict[str, Any], isa: dict[str, Any], kernels: list[tuple[str, str, np.ndarray]], *,
                   source: str, target: str, seed: int = 0, rows: int = DEFAULT_ROWS,
                   generic: int = DEFAULT_GENERIC, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Check every routed template against its logical one.

    Args:
        logical, isa: templates by name (the same names in both).
        kernels: ``(kernel name, template name, bindings values)`` in report order.
        rows: bound rows per kernel (qcec, and statevector when small enough).
        generic: seeded generic parameter points per template (qcec).
    """
    _require_checkers()
    report = Report(source, target)
    pairs: dict[str, Pair] = {}
    for name in sorted(isa):
        started = time.perf_counter()
        if name not in logical:
            report.checks.append(Check("-", name, "structure", "no logical template", False,
                                       time.perf_counter() - started, "logical.qpy lacks it"))
            continue
        try:
            pairs[name] = pair = compact_pair(logical[name], isa[name])
        except Exception as exc:
            report.checks.append(Check("-", name, "structure", "error", False, time.perf_counter() - started,
                                       f"{type(exc).__name__}: {exc}"))
            continue
        if pair.problems:
            report.checks.append(Check("-", name, "structure", "mismatch", False, time.perf_counter() - started,
                                       "; ".join(pair.problems)))
            continue
        names = sorted(p.name for p in logical[name].parameters)
        rng = np.random.default_rng(template_seed(seed, name))
        points = [rng.uniform(-np.pi, np.pi, len(names)) for _ in range(generic)]
        users = ",".join(k for k, t, _ in kernels if t == name) or "-"
        if generic > 0:
            report.checks.append(run_method(users, name, "qcec-generic", points, names, pair,
                                             seed=template_seed(seed, name), timeout=timeout))
    for kernel, template, values in kernels:
        if template not in pairs or pairs[template].problems:
            if template not in isa:
                report.checks.append(Check(kernel, template, "structure", "no routed template", False, 0.0))
            continue
        pair = pairs[template]
        names = sorted(p.name for p in logical[template].parameters)
        chosen = list(rows_to_check(np.asarray(values), rows, template_seed(seed, kernel)))
        if not chosen:
            report.checks.append(Check(kernel, template, "qcec-bound×0", "no circuits", True, 0.0,
                                       "every score is settled classically"))
            continue
        report.checks.append(run_method(kernel, template, "qcec-bound", chosen, names, pair,
                                         seed=template_seed(seed, kernel), timeout=timeout))
        if len(pair.active) <= STATEVECTOR_MAX_QUBITS:
            report.checks.append(run_method(kernel, template, "statevector", chosen, names, pair,
                                             seed=0, timeout=timeout))
    return report


def verify_compiled(compiled, **options) -> Report:
    """Verify an in-memory ``CompiledAttention`` (what ``qac compile --verify`` runs)."""
    program = compiled.program
    logical = {name: program.module.templates[name].circuit for name in program.isa}
    kernels = [(k.name, compiled.template_of(k), program.module.bindings[k.name].values) for k in compiled.kernels]
    source = str(compiled.spec.path) if compiled.spec.path is not None else compiled.spec.name
    options.setdefault("seed", compiled.spec.seed)
    return verify_program(logical, dict(program.isa), kernels, source=source, target=compiled.target.name,
                          **options)
