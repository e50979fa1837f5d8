"""The device-file schema (``qac-device/1``) and its validation, into a frozen :class:`Device`.

A device file gives the qubit count, the coupling graph, the native gates as Qiskit standard
gate names with their *published average* error and duration, the readout error, optionally
T1/T2, and the source of every figure; ``docs/devices.md`` documents it. Stdlib only. Every
problem is an ``Invalid`` at a path into the file, turned into ONE line of
:class:`~qac.errors.TargetError`::

    <file>:<line>: <field>: <what is wrong>; <how to fix it>
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qac.errors import TargetError
from qac.spec.yamlfile import one_line

DEVICE_STATUSES = ("published-specs", "calibration", "hypothetical")
FORMAT = "qac-device/1"
MAX_QUBITS = 1024
MAX_ALL_TO_ALL = 128  # all-to-all lists n·(n−1) directed edges

TOP_KEYS = ("format", "name", "vendor", "device", "status", "as_of", "qubits", "coupling", "gates",
            "readout", "coherence", "source", "notes")
REQUIRED = ("format", "name", "vendor", "qubits", "coupling", "gates", "readout", "source")
GATE_KEYS = ("error", "duration_ns", "source", "notes")
READOUT_KEYS = ("error", "p1_given_0", "p0_given_1", "duration_ns", "source", "notes")
COHERENCE_KEYS = ("t1_us", "t2_us", "source", "notes")
COUPLING_KEYS = ("grid", "edges", "source", "notes")

# Qiskit standard gates that qiskit-aer executes by name (so a transpiled circuit runs with no
# "unknown instruction") and that Qiskit's BasisTranslator reaches from cx/h/ry.
ONE_QUBIT_GATES = ("r", "rx", "ry", "rz", "sx", "x", "u", "p", "h")
TWO_QUBIT_GATES = ("cz", "cx", "ecr", "rxx", "ryy", "rzz", "rzx")
GATE_HINTS = {
    "iswap": "qiskit-aer has no 'iswap' instruction (AerError: unknown instruction: iswap); "
             "model the entangler as cz and say so in notes",
    "ms": "qiskit-aer has no 'ms' instruction; write rxx (IonQ's MS(0,0,θ) is RXX(θ))",
    "gpi": "write r (GPI(φ) = R(π, φ) up to phase)",
    "gpi2": "write r (GPI2(φ) = R(π/2, φ))",
    "prx": "write r (IQM's PRX(θ, φ) is Qiskit's R(θ, φ))",
    "zz": "write rzz (ZZ = RZZ(π/2))",
    "u1q": "write r (Quantinuum's U1q(θ, φ) is Qiskit's R(θ, φ))",
    "cnot": "write cx",
}

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class Gate:
    name: str
    num_qubits: int
    error: float
    duration_ns: float


@dataclass(frozen=True)
class Device:
    """A validated device file (pure data; no qiskit)."""

    key: str  # registry key: the name for shipped files, the resolved path for user files
    path: Path
    name: str
    vendor: str
    device: str
    status: str
    as_of: str | None
    num_qubits: int
    all_to_all: bool
    edges: tuple[tuple[int, int], ...]  # undirected, as written (a < b not required)
    gates: tuple[Gate, ...]
    readout_p1_given_0: float
    readout_p0_given_1: float
    readout_duration_ns: float | None
    t1_us: float | None
    t2_us: float | None
    source: str

    @property
    def two_qubit_gate(self) -> Gate:
        return next(g for g in self.gates if g.num_qubits == 2)

    @property
    def directed_edges(self) -> tuple[tuple[int, int], ...]:
        return tuple(sorted({e for a, b in self.edges for e in ((a, b), (b, a))}))

    @property
    def readout_error(self) -> float:
        return (self.readout_p1_given_0 + self.readout_p0_given_1) / 2


class _Invalid(Exception):
    def __init__(self, what: str, fix: str, at: Loc = ()):
        super().__init__(f"{what}; {fix}")
        self.at = tuple(at)


def field_name(loc: Loc) -> str:
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "device"


def _located(label: str, positions: dict[Loc, int], problem: _Invalid) -> TargetError:
    line = None
    for n in range(len(problem.at), -1, -1):  # the spot itself, else the nearest parent
        if problem.at[:n] in positions:
            line = positions[problem.at[:n]]
            break
    where = label if line is None else f"{label}:{line}"
    return TargetError(one_line(f"{where}: {field_name(problem.at)}: {problem}"))


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)[:40]


def _check_keys(data: dict, valid: tuple[str, ...], loc: Loc) -> None:
    for key in data:
        if key in valid:
            continue
        close = difflib.get_close_matches(key.lower(), valid, n=1, cutoff=0.6)
        fix = f"did you mean '{close[0]}'?" if close else f"valid keys are {', '.join(valid)}"
        raise _Invalid(f"unknown key {key!r}", fix, loc + (key,))


def _mapping(value: Any, loc: Loc, example: str) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping, got {_show(value)}", f"write e.g. {example}", loc)
    return value


def _text(value: Any, loc: Loc, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"must be non-empty text, got {_show(value)}", f"write e.g. {example}", loc)
    return " ".join(value.split())


def _int(value: Any, lo: int, hi: int, loc: Loc, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _Invalid(f"must be a whole number, got {_show(value)}", f"write e.g. {example}", loc)
    if not lo <= value <= hi:
        raise _Invalid(f"is {value}, outside {lo}..{hi}", f"use a value from {lo} to {hi}", loc)
    return int(value)


def _number(value: Any, lo: float, hi: float, loc: Loc, example: str, *, hi_open: bool = False,
            what: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Invalid(f"must be {what}, got {_show(value)}", f"write e.g. {example}", loc)
    number = float(value)
    if not math.isfinite(number):
        raise _Invalid(f"is {value}, not a finite number", f"write e.g. {example}", loc)
    if number < lo or number > hi or (hi_open and number >= hi):
        bound = f"[{lo:g}, {hi:g})" if hi_open else f"[{lo:g}, {hi:g}]"
        raise _Invalid(f"is {value}, outside {bound}", f"write {what} in {bound}, e.g. {example}", loc)
    return number


def _error_rate(value: Any, loc: Loc, example: str) -> float:
    return _number(value, 0.0, 1.0, loc, example, hi_open=True,
                   what="an error probability (1 - average gate fidelity)")


def _duration(value: Any, loc: Loc) -> float:
    return _number(value, 0.0, 1e12, loc, "duration_ns: 40", what="a duration in nanoseconds")


def _edges(value: Any, num_qubits: int, loc: Loc) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list) or not value:
        raise _Invalid(f"must be a non-empty list of [a, b] qubit pairs, got {_show(value)}",
                       "write e.g. edges: [[0, 1], [1, 2]]", loc)
    seen: dict[frozenset, int] = {}
    out = []
    for i, edge in enumerate(value):
        at = loc + (i,)
        if not isinstance(edge, list) or len(edge) != 2:
            raise _Invalid(f"edge {i + 1} is {_show(edge)}, not a pair", "write each edge as [a, b]", at)
        a, b = (_int(q, 0, 10**9, at, "[0, 1]") for q in edge)
        for q in (a, b):
            if q >= num_qubits:
                raise _Invalid(f"edge {i + 1} [{a}, {b}] uses qubit {q}, but qubits are 0..{num_qubits - 1}",
                               f"use qubit indices below qubits: {num_qubits} (qubits are numbered from 0)", at)
        if a == b:
            raise _Invalid(f"edge {i + 1} [{a}, {b}] couples a qubit to itself", "remove it", at)
        pair = frozenset((a, b))
        if pair in seen:
            raise _Invalid(f"edge {i + 1} [{a}, {b}] repeats edge {seen[pair] + 1}",
                           "list each coupler once (edges are undirected; both directions are used)", at)
        seen[pair] = i
        out.append((a, b))
    return tuple(out)


def _coupling(value: Any, num_qubits: int) -> tuple[bool, tuple[tuple[int, int], ...]]:
    loc = ("coupling",)
    if isinstance(value, str):
        if value == "all-to-all":
            if num_qubits > MAX_ALL_TO_ALL:
                raise _Invalid(f"all-to-all with {num_qubits} qubits is too large",
                               f"all-to-all allows up to {MAX_ALL_TO_ALL} qubits; list edges instead", loc)
            return True, tuple((a, b) for a in range(num_qubits) for b in range(a + 1, num_qubits))
        close = difflib.get_close_matches(value.lower(), ["all-to-all"], n=1, cutoff=0.5)
        fix = "did you mean 'all-to-all'?" if close else "write all-to-all, {grid: [rows, cols]} or {edges: [[0, 1], ...]}"
        raise _Invalid(f"unknown coupling {value!r}", fix, loc)
    data = _mapping(value, loc, "coupling: {grid: [4, 5]}")
    _check_keys(data, COUPLING_KEYS, loc)
    shapes = [k for k in ("grid", "edges") if k in data]
    if len(shapes) != 1:
        what = "both grid and edges" if len(shapes) == 2 else "neither grid nor edges"
        raise _Invalid(f"has {what}", "give exactly one of grid: [rows, cols] or edges: [[a, b], ...]", loc)
    if "edges" in data:
        return False, _edges(data["edges"], num_qubits, loc + ("edges",))
    grid, at = data["grid"], loc + ("grid",)
    if not isinstance(grid, list) or len(grid) != 2:
        raise _Invalid(f"must be [rows, cols], got {_show(grid)}", "write e.g. grid: [4, 5]", at)
    rows, cols = (_int(n, 1, MAX_QUBITS, at, "grid: [4, 5]") for n in grid)
    if rows * cols != num_qubits:
        raise _Invalid(f"[{rows}, {cols}] has {rows * cols} qubits but qubits is {num_qubits}",
                       "make rows × cols equal qubits, or list the edges", at)
    edges = []
    for r in range(rows):  # row-major numbering: qubit r*cols + c
        for c in range(cols):
            q = r * cols + c
            if c + 1 < cols:
                edges.append((q, q + 1))
            if r + 1 < rows:
                edges.append((q, q + cols))
    return False, tuple(edges)


def _gates(value: Any) -> tuple[Gate, ...]:
    loc = ("gates",)
    data = _mapping(value, loc, "gates: {rz: {error: 0, duration_ns: 0}, r: {...}, cz: {...}}")
    if not data:
        raise _Invalid("is empty", "list the native gates, e.g. rz, r and cz", loc)
    known = (*ONE_QUBIT_GATES, *TWO_QUBIT_GATES)
    gates = []
    for name, entry in data.items():
        at = loc + (name,)
        if name not in known:
            hint = GATE_HINTS.get(name.lower())
            if hint is None:
                close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"use Qiskit gate names: {', '.join(known)}"
            raise _Invalid(f"gate {name!r} is not supported", hint, at)
        entry = _mapping(entry, at, f"{name}: {{error: 0.001, duration_ns: 40}}")
        _check_keys(entry, GATE_KEYS, at)
        for key in ("error", "duration_ns"):
            if key not in entry:
                raise _Invalid(f"missing {key}", f"add {key}: (e.g. {name}: {{error: 0.001, duration_ns: 40}})", at)
        error = _error_rate(entry["error"], at + ("error",), "error: 0.001")
        duration = _duration(entry["duration_ns"], at + ("duration_ns",))
        if "source" in entry:
            _text(entry["source"], at + ("source",), "source: 'vendor data sheet, 2024'")
        gates.append(Gate(name, 2 if name in TWO_QUBIT_GATES else 1, error, duration))
    two = [g.name for g in gates if g.num_qubits == 2]
    if len(two) != 1:
        what = "no two-qubit gate" if not two else f"{len(two)} two-qubit gates ({', '.join(two)})"
        raise _Invalid(f"has {what}", f"give exactly one of {', '.join(TWO_QUBIT_GATES)}", loc)
    one = {g.name for g in gates if g.num_qubits == 1}
    universal = ("r" in one or "u" in one or {"rx", "ry"} <= one
                 or ("rz" in one or "p" in one) and bool(one & {"rx", "ry", "sx", "h"}))
    if not universal:
        raise _Invalid(f"single-qubit gates {sorted(one) or 'none'} cannot make every rotation",
                       "add r or u, or rz with rx/ry/sx", loc)
    return tuple(gates)


def _readout(value: Any) -> tuple[float, float, float | None]:
    loc = ("readout",)
    data = _mapping(value, loc, "readout: {error: 0.02, duration_ns: 1500}")
    _check_keys(data, READOUT_KEYS, loc)
    asym = [k for k in ("p1_given_0", "p0_given_1") if k in data]
    if "error" in data and asym:
        raise _Invalid("has both error and p1_given_0/p0_given_1",
                       "give error (symmetric) or both p1_given_0 and p0_given_1", loc)
    if "error" in data:
        p = _number(data["error"], 0.0, 0.5, loc + ("error",), "error: 0.02", what="a probability")
        p10 = p01 = p
    elif len(asym) == 2:
        p10 = _number(data["p1_given_0"], 0.0, 0.5, loc + ("p1_given_0",), "p1_given_0: 0.01", what="a probability")
        p01 = _number(data["p0_given_1"], 0.0, 0.5, loc + ("p0_given_1",), "p0_given_1: 0.03", what="a probability")
    else:
        raise _Invalid("missing error", "add error: (symmetric) or both p1_given_0: and p0_given_1:", loc)
    duration = _duration(data["duration_ns"], loc + ("duration_ns",)) if "duration_ns" in data else None
    if "source" in data:
        _text(data["source"], loc + ("source",), "source: 'vendor data sheet, 2024'")
    return p10, p01, duration


def _coherence(value: Any) -> tuple[float | None, float | None]:
    loc = ("coherence",)
    if value is None:
        return None, None
    data = _mapping(value, loc, "coherence: {t1_us: 100, t2_us: 80}")
    _check_keys(data, COHERENCE_KEYS, loc)
    for key in ("t1_us", "t2_us"):
        if key not in data:
            raise _Invalid(f"missing {key}", "give both t1_us and t2_us (microseconds), or drop coherence", loc)
    t1 = _number(data["t1_us"], 0.0, 1e15, loc + ("t1_us",), "t1_us: 100", what="a time in microseconds")
    t2 = _number(data["t2_us"], 0.0, 1e15, loc + ("t2_us",), "t2_us: 80", what="a time in microseconds")
    if t1 <= 0 or t2 <= 0:
        raise _Invalid("t1_us and t2_us must be positive", "give coherence times in microseconds, e.g. t1_us: 100", loc)
    if t2 > 2 * t1:
        raise _Invalid(f"t2_us {t2:g} is more than 2 × t1_us {t1:g}, which is unphysical",
                       "check the values (T2 <= 2·T1)", loc + ("t2_us",))
    return t1, t2


def parse_device(data: dict, positions: dict[Loc, int], label: str, path: Path, key: str) -> Device:
    """Validate a parsed device file; raises a one-line ``TargetError``."""
    try:
        _check_keys(data, TOP_KEYS, ())
        for field in REQUIRED:
            if field not in data:
                raise _Invalid("missing", f"add {field}: (see docs/devices.md for a full example)", (field,))
        if data["format"] != FORMAT:
            raise _Invalid(f"unknown format {_show(data['format'])}", f"write format: {FORMAT}", ("format",))
        name = _text(data["name"], ("name",), "name: my_device")
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
            raise _Invalid(f"{name!r} is not a lower-case identifier", "use letters, digits and _, e.g. my_device",
                           ("name",))
        vendor = _text(data["vendor"], ("vendor",), "vendor: Acme")
        device = _text(data.get("device", name), ("device",), "device: Aria") if "device" in data else name
        status = data.get("status", "unknown")  # "unknown" when a user file does not say
        if status not in DEVICE_STATUSES and "status" in data:
            close = difflib.get_close_matches(str(status), DEVICE_STATUSES, n=1, cutoff=0.5)
            raise _Invalid(f"unknown status {status!r}",
                           f"did you mean '{close[0]}'?" if close else f"use one of {', '.join(DEVICE_STATUSES)}",
                           ("status",))
        as_of = None
        if "as_of" in data:
            as_of = str(data["as_of"]).strip() if isinstance(data["as_of"], (str, int)) else None
            if not as_of or isinstance(data["as_of"], bool):
                raise _Invalid(f"must be a year or date, got {_show(data['as_of'])}", "write e.g. as_of: '2024-10'",
                               ("as_of",))
        source = _text(data["source"], ("source",), "source: 'Acme data sheet, 2024 (https://...)'")
        if "notes" in data:
            _text(data["notes"], ("notes",), "notes: 'approximate published averages'")
        num_qubits = _int(data["qubits"], 2, MAX_QUBITS, ("qubits",), "qubits: 20")
        all_to_all, edges = _coupling(data["coupling"], num_qubits)
        gates = _gates(data["gates"])
        p10, p01, readout_ns = _readout(data["readout"])
        t1, t2 = _coherence(data.get("coherence"))
    except _Invalid as problem:
        raise _located(label, positions, problem) from None
    return Device(key=key, path=path, name=name, vendor=vendor, device=device, status=status, as_of=as_of,
                  num_qubits=num_qubits, all_to_all=all_to_all, edges=edges, gates=gates,
                  readout_p1_given_0=p10, readout_p0_given_1=p01, readout_duration_ns=readout_ns,
                  t1_us=t1, t2_us=t2, source=source)
