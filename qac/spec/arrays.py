"""Q, K and V: inline rows, ``.npy`` files (read without pickle, header first) or seeded
random normals, into read-only float64 arrays; shapes are checked before anything is allocated."""

from __future__ import annotations

import errno
import numbers
import os
import pathlib
import stat
from collections.abc import Mapping
from typing import Any

import numpy as np

from qac.spec.problems import Invalid, show, under
from qac.spec.sizes import MAX_COLS, MAX_ROWS, MAX_SEED, RANDOM_KEYS, SOURCE_KEYS
from qac.spec.values import as_float, as_int, check_keys


def check_shape(rows: int, cols: int) -> None:
    """Called with the shape a source declares, before anything is allocated."""
    label = f"shape [{rows}, {cols}]"
    if rows < 1 or cols < 1:
        what = f"{rows} rows" if rows < 1 else f"{cols} columns"
        raise Invalid(f"{label} has {what}", "a matrix needs at least one row and one column")
    if rows > MAX_ROWS:
        raise Invalid(f"{label} has {rows} rows",
                       f"qac accepts at most {MAX_ROWS} rows per matrix (each query×key pair is one circuit): "
                       f"{rows} queries or keys need at least {rows} circuits")
    if cols > MAX_COLS:
        raise Invalid(f"{label} has {cols} columns",
                       f"qac accepts at most {MAX_COLS} columns per matrix (the vector width d or dv): "
                       f"d = {cols} pads to {1 << (cols - 1).bit_length()} amplitudes per vector")


def check_array_type(shape: tuple, dtype: np.dtype, what: str) -> None:
    if dtype.hasobject:
        raise Invalid(f"{what} holds Python objects (pickle)", "save a numeric array with np.save")
    if dtype.kind not in "iuf":
        raise Invalid(f"{what} holds {dtype} values, not real numbers",
                       "save a float array, e.g. np.save(path, x.astype(float))")
    if len(shape) != 2:
        fix = ("save it as a 2-D array of rows, e.g. x.reshape(1, -1)" if len(shape) < 2 else
               "save one 2-D array (rows × columns); heads split the columns, so put them side by side")
        raise Invalid(f"{what} is {len(shape)}-D with shape {list(shape)}", fix)
    check_shape(*shape)


def frozen(array: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(array)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise Invalid(f"row {i + 1}, column {j + 1} is {array[i, j]}", "use finite numbers (no nan or inf)")
    array.flags.writeable = False
    return array


def from_array(array: np.ndarray) -> np.ndarray:
    if (array.dtype == np.float64 and array.ndim == 2 and array.base is None
            and not array.flags.writeable and array.flags.c_contiguous):
        return array  # already one of ours (e.g. with_options): no copy
    check_array_type(array.shape, array.dtype, "the array")
    return frozen(np.array(array, dtype=np.float64, order="C", copy=True))  # never alias the caller's data


_PLAIN = {float, int}  # exact types: bool, numpy scalars and strings take the checked path


def _plain_rows(rows) -> np.ndarray | None:
    """The array of a list of equal rows of plain finite floats and ints, or None (check each entry).

    ``isinstance(x, numbers.Real)`` goes through the ABC machinery for every entry: 1.3 s for
    the 147,456 entries of a 12-head, 128-token spec; exact type tests over whole rows take ~30 ms."""
    width = len(rows[0]) if isinstance(rows[0], list) else None
    if not width or not all(type(row) is list and len(row) == width and set(map(type, row)) <= _PLAIN for row in rows):
        return None
    try:
        array = np.array(rows, dtype=np.float64)
    except OverflowError:  # a 400-digit integer: the checked path says where
        return None
    return array if array.ndim == 2 and np.isfinite(array).all() else None


def from_rows(rows: list | tuple) -> np.ndarray:
    if len(rows) and (array := _plain_rows(rows)) is not None:
        check_shape(*array.shape)
        return frozen(array)
    if len(rows) == 0:
        raise Invalid("is empty", "give at least one row, e.g. [[1.0, 2.0]]")
    if not any(isinstance(row, (list, tuple)) for row in rows):
        raise Invalid("is a flat list, not a list of rows", "write it as a list of rows, e.g. [[1, 2, 3]]")
    width = None
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)):
            raise Invalid(f"row {i + 1} is {show(row)}, not a list", "write every row as a list, e.g. [0.1, 0.2]", (i,))
        if not row:
            raise Invalid(f"row {i + 1} is empty", "give every row at least one number, e.g. [[1.0, 2.0]]", (i,))
        if width is None:
            width = len(row)
            check_shape(len(rows), width)
        elif len(row) != width:
            count = f"{len(row)} entr{'y' if len(row) == 1 else 'ies'}"
            raise Invalid(f"row {i + 1} has {count} but row 1 has {width}",
                           "every row must have the same length", (i,))
        for j, x in enumerate(row):
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
                raise Invalid(f"row {i + 1}, column {j + 1} is {show(x)}, not a number",
                               "write a plain number such as 0.5", (i, j))
            try:
                as_float(x, "0.5")
            except Invalid:
                raise Invalid(f"row {i + 1}, column {j + 1} is {show(x)}", "use finite numbers (no .nan or .inf)",
                               (i, j)) from None
    return frozen(np.array(rows, dtype=np.float64))


def not_a_file(path: pathlib.Path) -> str | None:
    """What is at ``path`` if it is not a readable regular file ("is a directory", …), else None."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks: a loop or a dangling link raises here
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if os.path.islink(path):
            return f"is a symbolic link to {os.readlink(path)!r}, which does not exist"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "not found"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, socket or pipe)"
    return None


def load_npy(source: Any, base_dir: pathlib.Path) -> np.ndarray:
    if not isinstance(source, (str, os.PathLike)):
        raise Invalid(f"npy must be a file path, got {show(source)}", "write e.g. {npy: data/k.npy}")
    given = os.fspath(source)
    path = pathlib.Path(given).expanduser()
    path = path if path.is_absolute() else base_dir / path
    problem = not_a_file(path)
    if problem == "not found":
        raise Invalid(f"file {given!r} not found (looked for {os.path.abspath(path)})",
                       "check the path; relative paths are relative to the spec file's directory")
    if problem is not None:
        raise Invalid(f"{given!r} {problem} (at {os.path.abspath(path)})", "give the path of a .npy file")
    what, fmt = repr(given), np.lib.format
    try:
        with open(path, "rb") as f:  # read the header first: refuse type and size before loading
            magic = f.read(6)
            if magic[:1] == b"\x80":  # a raw pickle stream
                raise Invalid(f"{what} holds Python objects (pickle)", "save a numeric array with np.save")
            if magic != b"\x93NUMPY":
                raise Invalid(f"{what} is not a .npy file", "save the matrix with np.save(path, x)")
            f.seek(0)
            # versions 2.0 and 3.0 share a layout (3.0 allows UTF-8 field names)
            reader = fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = reader(f)
        check_array_type(shape, dtype, what)
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise Invalid(f"{what} is not a valid .npy file ({exc})", "re-save it with np.save(path, x)") from None
    return frozen(np.ascontiguousarray(array, dtype=np.float64))


def random_normals(spec: Any) -> np.ndarray:
    example = "{random: {shape: [4, 8], seed: 1}}"
    if not isinstance(spec, Mapping):
        raise Invalid(f"random needs a mapping, got {show(spec)}", f"write e.g. {example}")
    check_keys(spec, RANDOM_KEYS)
    if "shape" not in spec:
        raise Invalid("random has no shape", f"add shape: [rows, cols], e.g. {example}")
    shape = spec["shape"]
    with under("shape"):
        if not isinstance(shape, (list, tuple)) or len(shape) != 2:
            raise Invalid(f"must be [rows, cols], got {show(shape)}", "write e.g. shape: [4, 8]")
        rows, cols = (as_int(n, None, None, "shape: [4, 8]") for n in shape)
        check_shape(rows, cols)
    with under("seed"):
        seed = as_int(spec.get("seed", 0), 0, MAX_SEED, "seed: 1")
    with under("scale"):
        scale = as_float(spec.get("scale", 1.0), "scale: 0.5")
    array = np.random.default_rng(seed).standard_normal((rows, cols))
    return frozen(array * scale if scale != 1.0 else array)


def matrix(value: Any, base_dir: pathlib.Path) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return from_array(value)
    if isinstance(value, (list, tuple)):
        return from_rows(value)
    if isinstance(value, (str, os.PathLike)):
        if not os.fspath(value).lower().endswith(".npy"):
            raise Invalid(f"{os.fspath(value)!r} is not a .npy file path",
                           "save the matrix with np.save and give the .npy path, or write it inline as a list of rows")
        return load_npy(value, base_dir)
    if isinstance(value, Mapping):
        check_keys(value, SOURCE_KEYS)
        if len(value) != 1:
            raise Invalid(f"has {len(value)} sources", "give exactly one of {npy: path} or {random: {...}}")
        if "npy" in value:
            with under("npy"):
                return load_npy(value["npy"], base_dir)
        with under("random"):
            return random_normals(value["random"])
    raise Invalid(f"is {show(value)}",
                   "give a list of rows, a .npy path, {npy: path} or {random: {shape: [rows, cols]}}")
