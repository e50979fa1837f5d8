"""Target registry: where compiled attention kernels run.

Names:
  * ``aer`` (default): the ideal all-to-all Aer simulator; no account, no network.
  * ``ibm_<device>`` / ``ibmq_<device>``: every IBM calibration snapshot shipped by
    qiskit-ibm-runtime's fake provider, by device name (``ibm_brisbane``, ``ibm_torino``,
    ``ibmq_athens``...). ``fake_<dir>`` (``fake_brisbane``) is accepted as an alias.
  * vendor devices described by YAML files shipped in this package (``ionq_aria``,
    ``quantinuum_h2``, ``iqm_garnet``, ``rigetti_ankaa3``): vendor-published average error
    rates, not calibration snapshots (``docs/devices.md``).
  * a path ending in ``.yaml``/``.yml``: a user's own device file (relative to the current
    directory; cached by resolved path).

Importing this package is light (stdlib only). ``get``/``names``/``catalogue`` read the
snapshot JSON files directly; qiskit, qiskit-aer and qiskit-ibm-runtime are imported only
by ``TargetDescription.qiskit_target()/backend()/noise_model()``, cached per target.
"""

from __future__ import annotations

import difflib
import functools
import os

from qac.errors import TargetError

from . import aer as _aer
from . import device_loader as _devices
from . import ibm as _ibm
from .description import KINDS, STATUSES, TargetDescription

__all__ = [
    "DEFAULT",
    "KINDS",
    "STATUSES",
    "TargetDescription",
    "catalogue",
    "get",
    "names",
]

DEFAULT = _aer.NAME
_LIST_HINT = "run `qac targets` to list them"


def names() -> list[str]:
    """All canonical target names: ``"aer"`` first, then IBM snapshots and device files sorted."""
    return [DEFAULT, *sorted({*_ibm.registry().targets, *_devices.SHIPPED})]


def _all_keys() -> list[str]:
    return [*names(), *_ibm.registry().aliases]


def _canonical(key: str) -> str:
    if key == DEFAULT:
        return key
    return _ibm.registry().aliases.get(key, key)


def _unknown(raw: str, key: str) -> TargetError:
    if key.startswith(("ibm", "fake_")) and _ibm.backends_dir() is None:
        return TargetError(
            f"target {raw!r} needs qiskit-ibm-runtime's device snapshots; "
            "install qiskit-ibm-runtime or use target 'aer'"
        )
    match = difflib.get_close_matches(key, _all_keys(), n=1, cutoff=0.6)
    if match:
        return TargetError(
            f"unknown target {raw!r}; did you mean {_canonical(match[0])!r}? {_LIST_HINT}"
        )
    return TargetError(f"unknown target {raw!r}; {_LIST_HINT}")


def get(name: str | os.PathLike) -> TargetDescription:
    """The target called ``name`` (canonical name or alias, case-insensitive), or the device
    file at a path ending in ``.yaml``/``.yml``; cached."""
    if isinstance(name, os.PathLike) or (
        isinstance(name, str) and name.strip().lower().endswith((".yaml", ".yml"))
    ):
        return _devices.from_path(name)
    if not isinstance(name, str):
        raise TargetError(
            f"target name must be a string, got {type(name).__name__}; "
            f"use e.g. 'aer' or 'ibm_brisbane' ({_LIST_HINT})"
        )
    key = name.strip().lower()
    if not key:
        raise TargetError(f"target name is empty; use e.g. 'aer' or 'ibm_brisbane' ({_LIST_HINT})")
    return _get(key, name)


@functools.lru_cache(maxsize=None)
def _get_canonical(key: str) -> TargetDescription | None:
    if key == DEFAULT:
        return _aer.description()
    return _devices.shipped(key) or _ibm.lookup(key)


def _get(key: str, raw: str) -> TargetDescription:
    desc = _get_canonical(_canonical(key))
    if desc is None:
        raise _unknown(raw, key)
    return desc


@functools.cache
def _catalogue_rows() -> tuple[dict, ...]:
    return tuple(get(n).summary() for n in names())


def catalogue() -> list[dict]:
    """One row per target for ``qac targets`` (fast: JSON only, no qiskit import).

    Keys: name, kind, qubits, two_qubit_gate, median_two_qubit_error, median_readout_error,
    snapshot_date, status, dead_couplers (count of excluded couplers).
    """
    return [dict(row) for row in _catalogue_rows()]
