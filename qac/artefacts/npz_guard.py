"""Decompression bombs: an ``.npz`` is checked from its headers before it is loaded.

Each ``.npy`` member declares its shape and dtype in a short header; ``npz_shapes`` reads those
headers from the zip (inflating a few hundred bytes per member, never the data), so an 8 MB
archive that declares an 8 GiB array is refused before ``np.load`` allocates anything. The
limit comes from what the directory's manifest describes (``build_limit``: the arrays of a build
of that shape, with room to spare) and from the memory the machine has available.
"""

from __future__ import annotations

import math
import zipfile

import numpy as np

SLACK_BYTES = 64 << 20  # room beside the manifest's figure: small builds never come near a limit
SLACK_FACTOR = 4


def npz_shapes(path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Member name (without ``.npy``) → (shape, dtype) as each header declares them.
    ``ValueError`` / ``zipfile.BadZipFile`` for anything that is not an npz of ``.npy`` members."""
    fmt = np.lib.format
    out = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not a .npy array")
            with archive.open(info) as member:
                version = fmt.read_magic(member)
                reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, _, dtype = reader(member)
            out[info.filename[:-4]] = (tuple(int(n) for n in shape), np.dtype(dtype))
    return out


def declared_bytes(shapes: dict) -> int:
    """Bytes the arrays of ``npz_shapes`` would take once loaded (exact integers, no overflow)."""
    return sum(math.prod(shape) * dtype.itemsize for shape, dtype in shapes.values())


def check_npz(path, *, limit: int | None, error: type[Exception], fix: str, what: str = "what its manifest describes"
              ) -> dict:
    """``npz_shapes(path)``, after refusing (``error``, one line) an archive that is damaged,
    holds Python objects, or declares arrays larger than ``limit`` bytes or than the memory
    this machine has available. ``FileNotFoundError`` passes through."""
    from qac.limits import available

    try:
        shapes = npz_shapes(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise error(f"{path} is damaged ({type(exc).__name__}); {fix}") from None
    for key, (_, dtype) in shapes.items():
        if dtype.hasobject:
            raise error(f"{path}: array {key!r} holds Python objects; {fix}")
    need = declared_bytes(shapes)
    for bound, against in ((limit, what), (available(), "the memory this machine has available")):
        if bound is not None and need > bound:
            raise error(f"{path} declares arrays of {need / 1e9:.3g} GB, more than {against} ({bound / 1e9:.3g} GB), "
                        f"so it is not loaded; {fix}")
    return shapes


def load_npz(path, *, limit: int | None, error: type[Exception], fix: str, what: str = "what its manifest describes"
             ) -> dict[str, np.ndarray]:
    """Every array of ``path`` (checked by ``check_npz`` first), as plain arrays."""
    check_npz(path, limit=limit, error=error, fix=fix, what=what)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: np.array(archive[key]) for key in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise error(f"{path} is damaged ({type(exc).__name__}); {fix}") from None


def _number(value, default: int = 0) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else default


def build_limit(manifest: dict) -> int:
    """Bytes a build's ``program.npz`` or ``bindings.npz`` may declare, from manifest.json: the
    graph's Q, K, V; per kernel its vectors, angles, norms, mask and per pair its rows (values
    and sign partners) and indices; per template its outcome values and calibration rows — each
    float64, times ``SLACK_FACTOR``, plus ``SLACK_BYTES``."""
    spec = manifest.get("spec", {}) if isinstance(manifest.get("spec"), dict) else {}
    n, m, d, dv = (_number(spec.get(k)) for k in ("N", "M", "d", "dv"))
    templates = {t.get("name"): t for t in manifest.get("templates", []) if isinstance(t, dict)}
    words = n * d + m * d + m * dv
    for kernel in manifest.get("kernels", []):
        if not isinstance(kernel, dict):
            continue
        t = templates.get(kernel.get("template"), {})
        parameters, lanes = _number(t.get("parameters"), 1), _number(kernel.get("d_pad"), _number(kernel.get("d")))
        pairs = max(_number(kernel.get("pairs")), _number(kernel.get("circuits")) * max(1, _number(kernel.get("copies"), 1)))
        words += (n + m) * (3 * lanes + 1) + n * m + pairs * (2 * parameters + 3)
    for t in templates.values():
        qubits, parameters = min(_number(t.get("logical_qubits"), _number(t.get("qubits"))), 40), _number(t.get("parameters"))
        words += 4 * 2 ** qubits + 8 * (qubits + 2) * (2 * parameters + 1)
    return SLACK_FACTOR * 8 * words + SLACK_BYTES
