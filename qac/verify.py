"""Equivalence of every routed kernel with its logical template (``qac verify``).

A routed ISA template acts on the whole device; the logical template on log2 d + 1 qubits.
Qiskit's transpiler preserves the unitary up to two permutations (``TranspileLayout``): the
initial layout puts virtual qubit v on physical ``s[v]``, and routing leaves it on ``e[v]``.
So on the *active* physical qubits A (touched by a gate, or holding a logical qubit at the
start or the end, closed under the routing permutation) the routed circuit R_A must equal

    P_route · (L ⊗ I_ancillas)          (up to a global phase)

where L sits on the compact positions of ``s[0..n-1]`` and P_route moves position(s[v]) to
position(e[v]) for every virtual qubit v, ancillas included. We build both sides as plain
circuits on |A| qubits (P_route as SWAPs), strip the final measurements and check separately
that the routed circuit measures e[q] into the clbit the logical one measures q into.

Methods (one report line each):

- ``qcec-generic×k``: the *template* with its symbolic parameters, instantiated at k seeded
  generic points and checked by mqt.qcec's decision-diagram checkers (ZX checker off). Both
  sides are analytic in the parameters, so a difference that vanishes at a generic point
  vanishes everywhere except on a measure-zero set. mqt.qcec 3.11 proves symbolic circuits
  only with the ZX checker (``method='auto'`` forces it on in ``check_parameterized``;
  every other method raises "does not support symbolic circuits"), so with ZX off this
  instantiation scheme is what qcec can do.
- ``qcec-bound×k``: k rows of the kernel's bindings table (first, last, seeded others),
  bound into both sides and checked by qcec (ZX off).
- ``statevector×k``: the same rows, exact statevectors from |0…0⟩ compared with numpy
  (fidelity 1 within 1e-9), when A has at most ``STATEVECTOR_MAX_QUBITS`` qubits.

Only ``equivalent`` and ``equivalent_up_to_global_phase`` pass; ``no_information``,
``probably_equivalent`` and every other qcec verdict fail (a timeout is no proof).
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qac.errors import QacError

STATEVECTOR_MAX_QUBITS = 16
DEFAULT_ROWS = 3  # bound rows checked per kernel
DEFAULT_GENERIC = 2  # generic parameter points per template
DEFAULT_TIMEOUT = 120.0  # seconds per qcec call
PASSING = ("equivalent", "equivalent_up_to_global_phase")


class VerifyInputError(QacError):
    """A program directory given to ``qac verify`` is missing a file or is malformed."""


@dataclass(frozen=True)
class Check:
    """One verdict: a kernel (or template) checked by one method."""

    kernel: str
    template: str
    method: str
    verdict: str
    ok: bool
    seconds: float
    detail: str = ""

    def line(self, widths: tuple[int, int, int, int] = (14, 28, 16, 30)) -> str:
        status = "PASS" if self.ok else "FAIL"
        detail = f"  ({self.detail})" if self.detail else ""
        k, t, m, v = widths
        return (f"{status}  {self.kernel:<{k}} {self.template:<{t}} {self.method:<{m}} "
                f"{self.verdict:<{v}} {self.seconds:8.3f}s{detail}")


@dataclass
class Report:
    """Every check of one compiled program; ``ok`` only if there is at least one and all pass."""

    source: str
    target: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        total = sum(c.seconds for c in self.checks)
        if self.ok:
            return f"verify: {len(self.checks)} checks passed for {self.source} on {self.target} ({total:.2f}s)"
        names = sorted({f"{c.kernel} ({c.template})" for c in self.failures}) or ["no checks ran"]
        return (f"verify: FAILED {len(self.failures)} of {len(self.checks)} checks for {self.source} on "
                f"{self.target}: {', '.join(names)}")


# ------------------------------------------------------------------ the compact pair
@dataclass(frozen=True)
class Pair:
    """Logical (with the routing permutation appended) and routed circuits on the active qubits."""

    logical: Any  # QuantumCircuit on |A| qubits, measurements stripped, SWAPs appended
    routed: Any  # QuantumCircuit on |A| qubits, measurements stripped
    active: tuple[int, ...]  # physical qubit of each compact position
    problems: tuple[str, ...]  # structural mismatches (parameters, measurements)


def _split_measurements(circuit) -> tuple[list, dict[int, int], list[str]]:
    """(unitary instructions, {clbit: qubit} of the final measurements, problems)."""
    ops, measured, problems = [], {}, []
    for inst in circuit.data:
        name = inst.operation.name
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        if name == "measure":
            measured[circuit.find_bit(inst.clbits[0]).index] = qubits[0]
        elif name in ("barrier", "delay"):
            continue
        elif any(q in measured.values() for q in qubits):
            problems.append(f"'{name}' acts on qubit {qubits} after it was measured")
        elif name == "reset" or inst.clbits:
            problems.append(f"non-unitary '{name}' cannot be checked for equivalence")
        else:
            ops.append((inst.operation, qubits))
    return ops, measured, problems


def _layouts(isa) -> tuple[list[int], list[int]]:
    """Start and end physical qubit of every virtual qubit (logical ones first, then ancillas)."""
    layout = isa.layout
    if layout is None:
        trivial = list(range(isa.num_qubits))
        return trivial, trivial
    return ([int(p) for p in layout.initial_index_layout(filter_ancillas=False)],
            [int(p) for p in layout.final_index_layout(filter_ancillas=False)])


def compact_pair(logical, isa) -> Pair:
    """Restrict ``isa`` to its active qubits and line ``logical`` up with it (see the module doc)."""
    from qiskit import QuantumCircuit, QuantumRegister

    n = logical.num_qubits
    start, end = _layouts(isa)
    problems: list[str] = []
    logical_names = sorted(p.name for p in logical.parameters)
    isa_names = sorted(p.name for p in isa.parameters)
    if logical_names != isa_names:
        problems.append(f"parameters differ: logical has {len(logical_names)}, routed has {len(isa_names)}")
    l_ops, l_meas, l_problems = _split_measurements(logical)
    r_ops, r_meas, r_problems = _split_measurements(isa)
    problems += [f"logical: {p}" for p in l_problems] + [f"routed: {p}" for p in r_problems]
    expected = {c: end[q] for c, q in l_meas.items()}
    if expected != r_meas:
        problems.append(f"measurements differ: logical qubits {dict(sorted(l_meas.items()))} end on physical "
                        f"{dict(sorted(expected.items()))}, routed measures {dict(sorted(r_meas.items()))}")

    touched = {q for _, qubits in r_ops for q in qubits} | set(r_meas.values())
    active = touched | {start[v] for v in range(n)} | {end[v] for v in range(n)}
    virtual_at = {p: v for v, p in enumerate(start)}
    while True:  # close under the routing permutation, so P_route maps A onto A
        extra = {end[virtual_at[p]] for p in active} - active
        if not extra:
            break
        active |= extra
    order = [start[v] for v in range(n)] + sorted(active - {start[v] for v in range(n)})
    position = {p: i for i, p in enumerate(order)}

    routed = QuantumCircuit(QuantumRegister(len(order), "q"), name=isa.name, global_phase=isa.global_phase)
    for operation, qubits in r_ops:
        routed.append(operation, [position[q] for q in qubits])
    lined_up = QuantumCircuit(QuantumRegister(len(order), "q"), name=logical.name, global_phase=logical.global_phase)
    for operation, qubits in l_ops:
        lined_up.append(operation, qubits)  # logical qubit i sits on compact position i
    # P_route as SWAPs: the state at position(s[v]) must end at position(e[v]).
    holder = list(range(len(order)))  # holder[k]: the position whose state is now at k
    where = list(range(len(order)))
    for i, p in enumerate(order):
        goal = position[end[virtual_at[p]]]
        now = where[i]
        if now != goal:
            other = holder[goal]
            lined_up.swap(now, goal)
            holder[now], holder[goal] = other, i
            where[other], where[i] = now, goal
    return Pair(lined_up, routed, tuple(order), tuple(problems))


def physical_pair(loaded, isa, first: list[int]) -> Pair:
    """Two circuits on the same physical qubits (a QASM file loaded back, and its QPY template),
    restricted to the qubits either touches; ``first`` (the manifest's layout) leads the order."""
    from qiskit import QuantumCircuit, QuantumRegister

    a_ops, a_meas, a_problems = _split_measurements(loaded)
    b_ops, b_meas, b_problems = _split_measurements(isa)
    problems = [f"qasm: {p}" for p in a_problems] + [f"qpy: {p}" for p in b_problems]
    if a_meas != b_meas:
        problems.append(f"measurements differ: qasm {dict(sorted(a_meas.items()))}, qpy {dict(sorted(b_meas.items()))}")
    if sorted(p.name for p in loaded.parameters) != sorted(p.name for p in isa.parameters):
        problems.append("the QASM inputs are not the template's parameters")
    active = {q for _, qs in a_ops + b_ops for q in qs} | set(a_meas.values()) | set(b_meas.values()) | set(first)
    order = [q for q in first if q in active] + sorted(active - set(first))
    position = {p: i for i, p in enumerate(order)}
    circuits = []
    for source, ops in ((loaded, a_ops), (isa, b_ops)):
        out = QuantumCircuit(QuantumRegister(len(order), "q"), global_phase=source.global_phase)
        for operation, qubits in ops:
            out.append(operation, [position[q] for q in qubits])
        circuits.append(out)
    return Pair(circuits[0], circuits[1], tuple(order), tuple(problems))


# ------------------------------------------------------------------ the checkers
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


def _run_method(kernel: str, template: str, method: str, points: list[np.ndarray], names: list[str],
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
                verdict = _qcec(a, b, seed=seed + index, timeout=timeout)
                if verdict not in PASSING:
                    detail = f"point {index}" + (": timed out or undecided" if verdict == "no_information" else "")
                    break
    except Exception as exc:  # a checker that cannot run is a failed check, never a pass
        verdict, detail = "error", f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
    ok = verdict in PASSING
    return Check(kernel, template, label, verdict, ok, time.perf_counter() - started, detail)


def _rows_to_check(values: np.ndarray, count: int, seed: int) -> np.ndarray:
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


def _template_seed(seed: int, template: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(template.encode())) % 2**32


def _require_checkers() -> None:
    try:
        import mqt.qcec  # noqa: F401
    except ImportError:
        raise VerifyInputError("qac verify needs mqt.qcec, which is not installed; "
                               "pip install 'qac[verify]' (or 'mqt.qcec>=3.0')") from None


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
        rng = np.random.default_rng(_template_seed(seed, name))
        points = [rng.uniform(-np.pi, np.pi, len(names)) for _ in range(generic)]
        users = ",".join(k for k, t, _ in kernels if t == name) or "-"
        if generic > 0:
            report.checks.append(_run_method(users, name, "qcec-generic", points, names, pair,
                                             seed=_template_seed(seed, name), timeout=timeout))
    for kernel, template, values in kernels:
        if template not in pairs or pairs[template].problems:
            if template not in isa:
                report.checks.append(Check(kernel, template, "structure", "no routed template", False, 0.0))
            continue
        pair = pairs[template]
        names = sorted(p.name for p in logical[template].parameters)
        chosen = list(_rows_to_check(np.asarray(values), rows, _template_seed(seed, kernel)))
        if not chosen:
            report.checks.append(Check(kernel, template, "qcec-bound×0", "no circuits", True, 0.0,
                                       "every score is settled classically"))
            continue
        report.checks.append(_run_method(kernel, template, "qcec-bound", chosen, names, pair,
                                         seed=_template_seed(seed, kernel), timeout=timeout))
        if len(pair.active) <= STATEVECTOR_MAX_QUBITS:
            report.checks.append(_run_method(kernel, template, "statevector", chosen, names, pair,
                                             seed=0, timeout=timeout))
    return report


def verify_compiled(compiled, **options) -> Report:
    """Verify an in-memory ``CompiledAttention`` (what ``qac compile --verify`` runs)."""
    program = compiled.program
    logical = {name: program.module.templates[name].circuit for name in program.isa}
    kernels = [(k.name, compiled._template_of(k), program.module.bindings[k.name].values) for k in compiled.kernels]
    source = str(compiled.spec.path) if compiled.spec.path is not None else compiled.spec.name
    options.setdefault("seed", compiled.spec.seed)
    return verify_program(logical, dict(program.isa), kernels, source=source, target=compiled.target.name,
                          **options)


# ------------------------------------------------------------------ program directories
def _need(directory: Path, relative: str) -> Path:
    path = directory / relative
    if not path.is_file():
        raise VerifyInputError(f"{directory}: {relative} is missing; give a directory written by "
                               f"`qac compile -o DIR`, or a spec file")
    return path


def _load_qpy(path: Path, label: str) -> list:
    from qiskit import qpy

    try:
        with open(path, "rb") as handle:
            return list(qpy.load(handle))
    except Exception as exc:
        raise VerifyInputError(f"{path}: cannot read {label} ({type(exc).__name__}); "
                               f"re-create the directory with `qac compile -o DIR --force`") from None


def load_directory(directory: str | Path) -> tuple[dict, dict, list, dict]:
    """(logical, isa, kernels, manifest) from a ``qac compile -o DIR`` directory."""
    directory = Path(directory)
    fix = "re-create the directory with `qac compile -o DIR --force`"
    try:
        manifest = json.loads(_need(directory, "manifest.json").read_text(encoding="utf-8"))
        templates = [t["name"] for t in manifest["templates"]]
        kernel_rows = [(k["kernel"], k["template"]) for k in manifest["kernels"]]
    except VerifyInputError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise VerifyInputError(f"{directory / 'manifest.json'}: not a qac manifest ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:80]}); {fix}") from None
    isa_list = _load_qpy(_need(directory, "program.qpy"), "the ISA templates")
    logical_list = _load_qpy(_need(directory, "logical.qpy"), "the logical templates")
    if not len(isa_list) == len(logical_list) == len(templates):
        raise VerifyInputError(f"{directory}: the manifest lists {len(templates)} templates but program.qpy holds "
                               f"{len(isa_list)} and logical.qpy {len(logical_list)}; {fix}")
    try:
        with np.load(_need(directory, "bindings.npz"), allow_pickle=False) as archive:
            tables = {key: np.array(archive[key]) for key in archive.files}
    except VerifyInputError:
        raise
    except Exception as exc:
        raise VerifyInputError(f"{directory / 'bindings.npz'}: cannot read the bindings "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:80]}); {fix}") from None
    kernels = []
    for kernel, template in kernel_rows:
        key = f"{kernel}.values"
        if key not in tables:
            raise VerifyInputError(f"{directory / 'bindings.npz'}: no table '{key}' for kernel {kernel}; {fix}")
        if template not in templates:
            raise VerifyInputError(f"{directory / 'manifest.json'}: kernel {kernel} uses template {template!r}, "
                                   f"which is not listed; {fix}")
        values = tables[key]
        if values.ndim != 2 or values.dtype.kind != "f":
            raise VerifyInputError(f"{directory / 'bindings.npz'}: '{key}' is not a 2-D float table; {fix}")
        kernels.append((kernel, template, values))
    return (dict(zip(templates, logical_list)), dict(zip(templates, isa_list)), kernels, manifest)


def verify_directory(directory: str | Path, **options) -> Report:
    """Verify a program directory: program.qpy against logical.qpy, rows from bindings.npz."""
    logical, isa, kernels, manifest = load_directory(directory)
    target = str(manifest.get("target", {}).get("name", "?"))
    options.setdefault("seed", int(manifest.get("seed", 0) or 0))
    report = verify_program(logical, isa, kernels, source=str(directory), target=target, **options)
    report.checks += verify_qasm_files(Path(directory), isa, kernels, manifest, rows=options.get("rows", DEFAULT_ROWS),
                                       seed=options["seed"], timeout=options.get("timeout", DEFAULT_TIMEOUT))
    return report


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
        points = list(_rows_to_check(tables[0], max(rows, 1), seed)) if tables else \
            [np.random.default_rng(_template_seed(seed, name)).uniform(-np.pi, np.pi, len(names))]
        method = "statevector" if len(pair.active) <= STATEVECTOR_MAX_QUBITS else "qcec"
        check = _run_method(entry.get("file", name), name, method, points, names, pair, seed=seed, timeout=timeout)
        checks.append(Check(check.kernel, name, f"qasm-{check.method}", check.verdict, check.ok, check.seconds,
                            check.detail))
    return checks


def print_report(report: Report, console) -> None:
    """One line per check, then a summary line."""
    widths = tuple(max([len(getattr(c, key)) for c in report.checks] + [minimum])
                   for key, minimum in (("kernel", 9), ("template", 20), ("method", 14), ("verdict", 10)))
    for check in report.checks:
        console.print(check.line(widths), markup=False, highlight=False, soft_wrap=True)
    console.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
