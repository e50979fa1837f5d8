"""Noise models for the qubits a program uses, built once and kept on disk.

``NoiseModel.from_backend`` converts every instruction of the device: 23 s for ibm_fez's 156
qubits, most of a cold noisy run, although a program touches a handful of qubits. ``subset_model``
builds the same errors for those qubits only — Aer's own ``_basic_device_target_gate_errors`` and
``basic_device_readout_errors`` on a view of the backend's ``Target`` holding only instructions
whose qubits are all in the set — which is what ``qac.execution.aer_engine.restricted_noise_model``
cuts out of the full model (tested equal; like it, no delay-relaxation pass).

``cached_model(label, digest, qubits, build)`` keeps each model in a file per (target,
calibration digest, qubits) under ``$QAC_CACHE_DIR`` or ``$XDG_CACHE_HOME/qac`` or
``~/.cache/qac`` (``noise/``), pickled with a header (format, digest, qubits, Aer version);
written atomically (a temporary file, then ``os.replace``); a file that cannot be read or does
not match is ignored and rebuilt. ``QAC_NOISE_CACHE=0`` turns the disk cache off. Within a
process the same object is returned for the same key (the engines cache by object).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import threading
from importlib import metadata
from pathlib import Path

FORMAT = 1
_MEMO: dict = {}
_LOCK = threading.Lock()


def cache_dir() -> Path:
    root = os.environ.get("QAC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "qac")
    return Path(root) / "noise"


def file_digest(*paths: Path, extra: str = "") -> str:
    """sha256 of the calibration files' bytes and ``extra`` (package versions)."""
    h = hashlib.sha256(extra.encode())
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()


def _versions() -> str:
    out = []
    for package in ("qiskit-aer", "qiskit"):
        try:
            out.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:  # pragma: no cover
            out.append(f"{package}=?")
    return ";".join(out)


def cached_model(label: str, digest: str, qubits, build):
    """The model for ``qubits``: this process's, else the disk cache's, else ``build(qubits)``."""
    qubits = tuple(sorted(int(q) for q in qubits))
    key = (label, digest, qubits)
    with _LOCK:
        if key in _MEMO:
            return _MEMO[key]
    header = {"format": FORMAT, "label": label, "digest": digest, "qubits": list(qubits), "versions": _versions()}
    name = hashlib.sha256(repr(sorted(header.items())).encode()).hexdigest()[:24]
    path = cache_dir() / f"{label}-{name}.pkl"
    use_disk = os.environ.get("QAC_NOISE_CACHE", "1") != "0"
    model = _read(path, header) if use_disk else None
    if model is None:
        model = build(qubits)
        if use_disk:
            _write(path, header, model)
    with _LOCK:
        return _MEMO.setdefault(key, model)


def _read(path: Path, header: dict):
    try:
        with open(path, "rb") as fh:
            stored = pickle.load(fh)
        if stored.get("header") != header:
            return None
        return stored["model"]
    except Exception:  # missing, truncated, from another version: rebuild
        return None


def _write(path: Path, header: dict, model) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({"header": header, "model": model}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:  # a read-only or full cache directory: the model is still used, just not kept
        pass


class _Subset:
    """A backend ``Target`` seen through a qubit set: instructions on those qubits only."""

    def __init__(self, target, qubits):
        self._target, self._qubits = target, frozenset(qubits)
        self.num_qubits = target.num_qubits
        self.qubit_properties = target.qubit_properties

    def operation_from_name(self, name):
        return self._target.operation_from_name(name)

    def _keep(self, props):
        if props is None:
            return None
        return {q: p for q, p in props.items() if q is not None and set(q) <= self._qubits}

    def items(self):
        for name, props in self._target.items():
            yield name, self._keep(props)

    def get(self, name, default=None):
        props = self._target.get(name, None)
        return default if props is None else self._keep(props)


def subset_model(backend, qubits):
    """``NoiseModel.from_backend(backend)``'s gate and readout errors on ``qubits`` only."""
    from warnings import catch_warnings, filterwarnings

    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device.models import (
        _basic_device_target_gate_errors,
        basic_device_readout_errors,
    )

    view = _Subset(backend.target, qubits)
    model = NoiseModel(basis_gates=backend.operation_names)
    for where, error in basic_device_readout_errors(target=view):
        model.add_readout_error(error, where)
    with catch_warnings():
        filterwarnings("ignore", category=DeprecationWarning, module="qiskit_aer.noise")
        errors = _basic_device_target_gate_errors(view)
    for name, where, error in errors:
        model.add_quantum_error(error, name, where)
    return model
