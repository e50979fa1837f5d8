"""Deterministic file bytes: JSON with sorted keys, npz archives with a fixed zip date, QPY.

A leaf module (the build's writers — ``qac.artefacts.emit``, ``qac.artefacts.bundle``, ``qac.artefacts.rundir`` — share it),
so the same inputs give byte-identical files.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np


def json_text(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez`` with a fixed zip date, so identical arrays give identical bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w") as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(arrays[key]), allow_pickle=False)
    return buffer.getvalue()


def qpy_bytes(circuits) -> bytes:
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(circuits, buffer)
    return buffer.getvalue()
