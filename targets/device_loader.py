"""Loading device files: the YAML limits, shipped files by name and users' files by path.

Shipped files live next to this module (``targets/<name>.yaml``) and are listed by name; any
path ending in ``.yaml``/``.yml`` given to ``qac.targets.get`` loads a user's file (relative
to the current directory, cached by resolved path). Stdlib + PyYAML only, so ``qac targets``
stays instant.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from qac.errors import TargetError
from qac.spec.yamlfile import YamlRules, one_line, read_located_yaml

from .description import TargetDescription
from .device_schema import Device, Loc, field_name, parse_device

KIND = "device_file"
DEVICE_DIR = Path(__file__).resolve().parent
SHIPPED = ("ionq_aria", "iqm_garnet", "quantinuum_h2", "rigetti_ankaa3")
MAX_FILE_BYTES = 4 * 2**20
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 16


YAML_RULES = YamlRules(
    error=TargetError, field_name=field_name, max_bytes=MAX_FILE_BYTES, max_nodes=MAX_YAML_NODES,
    max_depth=MAX_YAML_DEPTH,
    noun="device file", directory="give the path of a device .yaml file",
    too_big="device files are at most {max_bytes} bytes",
    too_many="more than {max_nodes} values; use coupling: {{grid: ...}} or all-to-all instead of long edge lists",
    empty="write a device mapping (see docs/devices.md)",
    not_mapping="write top-level keys such as name:, qubits: and gates:",
    key_example="qubits or gates",
)


def read_yaml(path: Path, label: str) -> tuple[dict, dict[Loc, int]]:
    """Parse a device file into plain Python values plus the 1-based line of every key."""
    return read_located_yaml(path, label, YAML_RULES)


def load_device(path: str | os.PathLike, *, key: str | None = None, label: str | None = None) -> Device:
    """Read and validate one device file."""
    path = Path(path)
    label = label if label is not None else os.fspath(path)
    data, positions = read_yaml(path, label)
    return parse_device(data, positions, label, path, key if key is not None else str(path.resolve()))


_devices: dict[str, Device] = {}  # registry key -> parsed file (shipped: name; user: resolved path)


def shipped_path(name: str) -> Path:
    return DEVICE_DIR / f"{name}.yaml"


def _describe(dev: Device) -> TargetDescription:
    two = dev.two_qubit_gate
    when = f", as of {dev.as_of}" if dev.as_of else ""
    kind_text = {"published-specs": "vendor-published averages, not a calibration snapshot",
                 "calibration": "a calibration snapshot", "hypothetical": "hypothetical figures",
                 "unknown": "figures of unstated origin"}[dev.status]
    return TargetDescription(
        name=dev.name,
        kind=KIND,
        num_qubits=dev.num_qubits,
        basis_gates=tuple(sorted(g.name for g in dev.gates)),
        two_qubit_gate=two.name,
        coupling_edges=dev.directed_edges,
        median_two_qubit_error=two.error,
        median_readout_error=dev.readout_error,
        median_two_qubit_duration_ns=two.duration_ns,
        snapshot_date=None,
        status=dev.status,
        provenance=one_line(f"{dev.vendor} {dev.device} device file {dev.path.name} ({kind_text}{when}); "
                             f"source: {dev.source}"),
        source=str(dev.path),
        key=dev.key,
    )


@functools.cache
def shipped(name: str) -> TargetDescription | None:
    """The description of a shipped device file by name, or ``None`` if there is none."""
    if name not in SHIPPED:
        return None
    path = shipped_path(name)
    dev = load_device(path, key=name, label=f"targets/{path.name}")
    if dev.name != name:  # pragma: no cover - guards the shipped files
        raise TargetError(f"targets/{path.name}: name: is {dev.name!r}; the file must be called {dev.name}.yaml")
    _devices[name] = dev
    return _describe(dev)


_user_files: dict[str, TargetDescription] = {}  # resolved path -> description


def _from_resolved(resolved: str, label: str) -> TargetDescription:
    if resolved not in _user_files:
        dev = load_device(Path(resolved), key=resolved, label=label)
        _devices[resolved] = dev
        _user_files[resolved] = _describe(dev)
    return _user_files[resolved]


def from_path(path: str | os.PathLike) -> TargetDescription:
    """A user's device file (relative paths against the current directory), cached by resolved path."""
    given = os.fspath(path).strip()
    resolved = Path(given).expanduser().resolve()
    if not resolved.exists():
        raise TargetError(f"{given}: device file not found (looked for {resolved}); check the path, "
                          f"or use a target name (run `qac targets` to list them)")
    return _from_resolved(str(resolved), given)


def device(key: str) -> Device:
    if key not in _devices:
        if shipped(key) is None:  # pragma: no cover - descriptions always come through the registry
            raise TargetError(f"device {key!r} is not loaded; use qac.targets.get(...) first")
    return _devices[key]
