"""IBM device calibration snapshots shipped by qiskit-ibm-runtime's fake provider.

Descriptions (names, medians, dead couplers, catalogue rows) are read straight from the
``conf_<dir>.json`` / ``props_<dir>.json`` files, without importing qiskit or
qiskit_ibm_runtime (whose import costs ~1.3 s). Only ``qiskit_target``, ``backend`` and
``noise_model`` import the heavy packages, once per process, cached per target name.

A coupler is *dead* when its two-qubit gate error in the props file is >= 1.0 or missing;
a qubit is *bad* when its readout error is >= 0.5. Dead couplers and every coupler touching a
bad qubit are left out of ``coupling_edges`` and of the filtered qiskit ``Target``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import statistics
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from qac.errors import TargetError

from .description import TargetDescription

DEAD_TWO_QUBIT_ERROR = 1.0  # a 2q gate error >= this marks a dead coupler
BAD_READOUT_ERROR = 0.5  # a readout error >= this takes the qubit out of 2q connectivity
FRACTIONAL_GATES = frozenset({"rzz", "rx"})  # opt-in IBM gates, never "the" 2q gate
_TWO_QUBIT_PREFERENCE = ("ecr", "cz", "cx")  # tie-break when a device mixes 2q gates
_TIME_UNITS_NS = {"s": 1e9, "ms": 1e6, "us": 1e3, "µs": 1e3, "ns": 1.0, "ps": 1e-3}

# Status of the *real* device behind each snapshot, keyed by the snapshot directory name.
# As known on 2026-11; check IBM Quantum Platform for the live list
# (https://quantum.cloud.ibm.com/computers). Every ``ibmq_*`` device is retired too.
DEVICE_STATUS: dict[str, str] = {
    **dict.fromkeys(
        (
            # 1/5/7/16/20/27/28/33/53/65-qubit Canary/Falcon/Hummingbird/Egret-era devices
            "athens", "belem", "bogota", "casablanca", "jakarta", "lagos", "lima", "manila",
            "nairobi", "oslo", "perth", "quito", "santiago", "valencia", "vigo", "yorktown",
            "armonk", "burlington", "essex", "london", "ourense", "rome", "melbourne",
            "almaden", "boeblingen", "cambridge", "johannesburg", "poughkeepsie", "rochester",
            "singapore", "paris", "sydney", "toronto", "montreal", "mumbai", "kolkata",
            "guadalupe", "hanoi", "cairo", "auckland", "algiers", "geneva", "peekskill",
            "manhattan", "brooklyn", "washington", "prague",
            # 127-qubit Eagle devices
            "brisbane", "kyiv", "kyoto", "osaka", "cusco", "sherbrooke", "quebec", "kawasaki",
            "nazca",
        ),
        "retired",
    ),
    **dict.fromkeys(
        # Heron devices
        ("torino", "fez", "marrakesh", "kingston", "aachen", "boston", "pittsburgh", "miami"),
        "live",
    ),
}


def device_status(dirname: str, device_name: str) -> str:
    """'live' | 'retired' | 'unknown' for the real device behind a snapshot."""
    if dirname in DEVICE_STATUS:
        return DEVICE_STATUS[dirname]
    return "retired" if device_name.startswith("ibmq") else "unknown"


# ---------------------------------------------------------------------------- JSON layer
def backends_dir() -> Path | None:
    """``.../qiskit_ibm_runtime/fake_provider/backends`` located without importing the package."""
    try:
        spec = importlib.util.find_spec("qiskit_ibm_runtime")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "fake_provider" / "backends"
        if path.is_dir():
            return path
    return None


def _runtime_version() -> str:
    try:
        return metadata.version("qiskit-ibm-runtime")
    except metadata.PackageNotFoundError:  # pragma: no cover - odd installs
        return "(unknown version)"


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _params(entries: list[dict]) -> dict[str, tuple[float | None, str]]:
    return {e.get("name"): (e.get("value"), e.get("unit") or "") for e in entries}


def _to_ns(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    return float(value) * _TIME_UNITS_NS.get(unit, 1.0)


def _canonical_name(dirname: str, device_name: str) -> str:
    # Device name as in conf backend_name ("ibm_brisbane", "ibmq_athens", "ibmqx2"); the few
    # snapshots whose conf name is not an IBM device name (alt_cairo, fake_nighthawk...)
    # are called ibm_<dir>.
    return device_name if device_name.startswith("ibm") else f"ibm_{dirname}"


def parse_snapshot(directory: Path, version: str = "") -> TargetDescription | None:
    """Build a description from one snapshot directory's JSON files (no qiskit import)."""
    dirname = directory.name
    conf_path = directory / f"conf_{dirname}.json"
    props_path = directory / f"props_{dirname}.json"
    if not (conf_path.is_file() and props_path.is_file()):
        return None
    with open(conf_path, encoding="utf-8") as fh:
        conf = json.load(fh)
    with open(props_path, encoding="utf-8") as fh:
        props = json.load(fh)

    device_name = str(conf.get("backend_name") or dirname)
    name = _canonical_name(dirname, device_name)
    num_qubits = int(conf.get("n_qubits") or len(props.get("qubits") or []))
    basis = tuple(sorted(str(g) for g in conf.get("basis_gates") or ()))

    # Two-qubit gate entries of the (non-fractional) basis gates, per directed edge.
    edge_error: dict[tuple[int, int], float | None] = {}
    edge_length: dict[tuple[int, int], float | None] = {}
    counts: dict[str, int] = {}
    for gate in props.get("gates") or ():
        qubits = tuple(gate.get("qubits") or ())
        gname = gate.get("gate")
        if len(qubits) != 2 or gname not in basis or gname in FRACTIONAL_GATES:
            continue
        counts[gname] = counts.get(gname, 0) + 1
        params = _params(gate.get("parameters") or ())
        error = params.get("gate_error", (None, ""))[0]
        length = _to_ns(*params.get("gate_length", (None, "ns")))
        previous = edge_error.get(qubits)
        if qubits not in edge_error or (error is not None and (previous is None or error < previous)):
            edge_error[qubits] = None if error is None else float(error)
            edge_length[qubits] = length
    for edge in conf.get("coupling_map") or ():
        edge_error.setdefault(tuple(edge), None)  # in the coupling map but uncalibrated

    if counts:
        two_qubit_gate = max(
            counts,
            key=lambda g: (counts[g], -_TWO_QUBIT_PREFERENCE.index(g) if g in _TWO_QUBIT_PREFERENCE else -99),
        )
    else:
        two_qubit_gate = next((g for g in _TWO_QUBIT_PREFERENCE if g in basis), None)

    readout: dict[int, float] = {}
    for index, entries in enumerate(props.get("qubits") or ()):
        value = _params(entries).get("readout_error", (None, ""))[0]
        if value is not None:
            readout[index] = float(value)
    bad_qubits = tuple(sorted(q for q, r in readout.items() if r >= BAD_READOUT_ERROR))
    bad = set(bad_qubits)

    dead = tuple(sorted(e for e, err in edge_error.items() if err is None or err >= DEAD_TWO_QUBIT_ERROR))
    dead_set = set(dead)
    usable = tuple(
        sorted(e for e in edge_error if e not in dead_set and e[0] not in bad and e[1] not in bad)
    )
    last_update = str(props.get("last_update_date") or "") or None
    rel = f"qiskit_ibm_runtime/fake_provider/backends/{dirname}"
    aliases = tuple(
        sorted({f"fake_{dirname}", device_name, f"ibm_{dirname}", f"ibmq_{dirname}"} - {name})
    )
    return TargetDescription(
        name=name,
        kind="ibm_snapshot",
        num_qubits=num_qubits,
        basis_gates=basis,
        two_qubit_gate=two_qubit_gate,
        coupling_edges=usable,
        median_two_qubit_error=_median([edge_error[e] for e in usable]),
        median_readout_error=_median([r for q, r in readout.items() if q not in bad]),
        median_two_qubit_duration_ns=_median([edge_length[e] for e in usable if edge_length.get(e) is not None]),
        snapshot_date=last_update[:10] if last_update else None,
        status=device_status(dirname, device_name),
        provenance=(
            f"qiskit-ibm-runtime {version} fake provider calibration snapshot "
            f"{rel}/conf_{dirname}.json + props_{dirname}.json "
            f"(device {device_name}, updated {last_update})"
        ),
        dead_couplers=dead,
        bad_readout_qubits=bad_qubits,
        aliases=aliases,
        source=str(directory),
    )


@dataclass(frozen=True)
class _Registry:
    targets: dict[str, TargetDescription]  # canonical name -> description
    aliases: dict[str, str]  # alias -> canonical name
    dirnames: dict[str, str]  # canonical name -> snapshot directory name


@functools.cache
def registry() -> _Registry:
    """Parse every shipped snapshot once per process (~0.2 s)."""
    root = backends_dir()
    targets: dict[str, TargetDescription] = {}
    dirnames: dict[str, str] = {}
    if root is not None:
        version = _runtime_version()
        for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
            try:
                desc = parse_snapshot(directory, version)
            except (OSError, ValueError, TypeError, KeyError):  # unreadable snapshot: skip it
                continue
            if desc is not None and desc.name not in targets:
                targets[desc.name] = desc
                dirnames[desc.name] = directory.name
    aliases: dict[str, str] = {}
    for name, desc in targets.items():
        for alias in desc.aliases:
            if alias not in targets:
                aliases.setdefault(alias, name)
    return _Registry(targets, aliases, dirnames)


def lookup(key: str) -> TargetDescription | None:
    reg = registry()
    name = reg.aliases.get(key, key)
    return reg.targets.get(name)


# ---------------------------------------------------------------------------- qiskit layer
@functools.cache
def backend(name: str):
    """The fake backend instance for a snapshot (imports qiskit_ibm_runtime, ~1.3 s once)."""
    reg = registry()
    dirname = reg.dirnames[name]
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    module = importlib.import_module(f"qiskit_ibm_runtime.fake_provider.backends.{dirname}")
    for obj in vars(module).values():
        if (
            isinstance(obj, type)
            and issubclass(obj, FakeBackendV2)
            and getattr(obj, "conf_filename", None) == f"conf_{dirname}.json"
        ):
            return obj()
    raise TargetError(  # pragma: no cover - would mean the runtime package changed layout
        f"no fake backend class found for {name!r} in qiskit_ibm_runtime; "
        "reinstall qiskit-ibm-runtime or pick another target (run `qac targets`)"
    )


def _angle_bounds(target, name: str):
    if not target.gate_has_angle_bounds(name):
        return None
    try:  # no public getter in qiskit 2.x; the pickled state carries them
        return target.__getstate__()["base"]["gate_map"][name]["angle_bounds"]
    except (KeyError, TypeError, AttributeError):  # pragma: no cover
        import math

        return [(0.0, math.pi / 2)] if name == "rzz" else None


def filtered_target(raw, keep: set[tuple[int, int]], description: str | None = None):
    """Copy of ``raw`` (a qiskit Target) whose 2q instructions only act on ``keep`` edges.

    A 2q qarg is also dropped when its error is missing or >= 1.0. Everything else (qubit
    properties, dt, timing constraints, 1q/measure/control-flow instructions) is copied.
    """
    from qiskit.transpiler import Target

    new = Target(
        description=description or raw.description,
        num_qubits=raw.num_qubits,
        dt=raw.dt,
        granularity=raw.granularity,
        min_length=raw.min_length,
        pulse_alignment=raw.pulse_alignment,
        acquire_alignment=raw.acquire_alignment,
        qubit_properties=raw.qubit_properties,
        concurrent_measurements=raw.concurrent_measurements,
    )
    for op_name in raw.operation_names:
        operation = raw.operation_from_name(op_name)
        props = raw[op_name]
        if isinstance(operation, type) or props is None or None in props:
            # variadic (control flow) or global instruction: copy as is
            new.add_instruction(operation, None if props is None or None in props else dict(props), name=op_name)
            continue
        if operation.num_qubits == 2:
            props = {
                qargs: p
                for qargs, p in props.items()
                if tuple(qargs) in keep
                and p is not None
                and p.error is not None
                and p.error < DEAD_TWO_QUBIT_ERROR
            }
            if not props:
                continue
        new.add_instruction(
            operation, dict(props), name=op_name, angle_bounds=_angle_bounds(raw, op_name)
        )
    return new


@functools.cache
def qiskit_target(name: str):
    """The fake backend's Target minus dead couplers and couplers on bad-readout qubits."""
    desc = registry().targets[name]
    if desc.num_qubits > 1 and not desc.coupling_edges:
        raise TargetError(
            f"target {name!r} has no working two-qubit coupler in its calibration snapshot "
            f"(all {len(desc.dead_couplers)} {desc.two_qubit_gate} couplers report error >= 1.0); "
            "pick another target, e.g. 'ibm_brisbane' (run `qac targets`)"
        )
    raw = backend(name).target
    return filtered_target(
        raw,
        set(desc.coupling_edges or ()),
        description=f"{name} calibration snapshot ({desc.snapshot_date}), dead couplers removed",
    )


@functools.cache
def noise_model(name: str):
    """``NoiseModel.from_backend`` of the fake backend (~2.6 s; built once per process)."""
    from qiskit_aer.noise import NoiseModel

    return NoiseModel.from_backend(backend(name))


@functools.cache
def calibration_digest(name: str) -> str:
    """sha256 of the snapshot's conf and props files and the qiskit-ibm-runtime version."""
    from .noise_cache import file_digest

    reg = registry()
    dirname = reg.dirnames[name]
    directory = Path(reg.targets[name].source)
    return file_digest(directory / f"conf_{dirname}.json", directory / f"props_{dirname}.json",
                       extra=_runtime_version())


def noise_model_for(name: str, qubits):
    """The noise model's errors on ``qubits`` only, built without the rest of the device and kept
    on disk per (target, calibration digest, qubits): ``targets/noise_cache.py``."""
    from .noise_cache import cached_model, subset_model

    return cached_model(name, calibration_digest(name), qubits, lambda kept: subset_model(backend(name), kept))

