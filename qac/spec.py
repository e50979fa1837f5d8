"""L0 of qac: load and validate an attention spec into a frozen :class:`Spec`.

A spec describes the kernel ``softmax(Q·Kᵀ·scale + mask)·V``: three matrices (inline rows,
``.npy`` files or seeded random normals), heads, mask, shots, seed and compile options.
It comes from a YAML file or an already-parsed mapping (:func:`load_spec`).

Every mistake is raised as ONE line of :class:`~qac.errors.SpecError`::

    <file>:<line>: <field>: <what is wrong>; <how to fix it>

(``<spec>: <field>: ...`` when there is no file). Lines come from the YAML nodes. All values
are converted by our own code, not pydantic, so every message carries a fix. Sizes are
checked before anything is allocated, YAML aliases are refused (no alias bombs), ``.npy``
files are read without pickle, and Qiskit is not imported, so validation is instant.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import numbers
import os
import pathlib
import re
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationInfo, model_validator

from qac import choices
from qac.errors import SpecError
from qac.yamlfile import YamlRules, located, read_located_yaml

MAX_ROWS = 4096  # N and M: each query×key pair is one circuit
MAX_COLS = 1024  # d and dv
MAX_PAIRS = 2**20  # N·M·heads circuits
MAX_BINDING_VALUES = 2**27  # pairs × angles per pair: 1 GiB of float64 bindings
MAX_SHOTS = 10**8
MAX_SEED = 2**32 - 1
MAX_YAML_NODES = 200_000  # bigger inline data belongs in .npy files
MAX_YAML_DEPTH = 32  # specs nest 5 deep; this stops runaway recursion in the composer
MAX_FILE_BYTES = 32 * 2**20

TOP_KEYS = ("name", "seed", "heads", "mask", "scale", "shots", "precision", "Q", "K", "V", "compile")
COMPILE_KEYS = ("encoding", "estimator", "optimization_level", "passes")
SOURCE_KEYS = ("npy", "random")
RANDOM_KEYS = ("shape", "seed", "scale")

Loc = tuple[Any, ...]  # a path into the document, e.g. ("compile", "encoding") or ("K", 2, 0)


class _Invalid(Exception):
    """A problem found while converting; ``at`` locates it (prefixed on the way out by `_under`)."""

    def __init__(self, what: str, fix: str, at: Loc = ()):
        super().__init__(f"{what}; {fix}")
        self.at = tuple(at)


@contextmanager
def _under(*prefix: Any):
    try:
        yield
    except _Invalid as problem:
        problem.at = prefix + problem.at
        raise


def _show(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, (bool, np.bool_)):
        return f"the boolean {str(bool(value)).lower()}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, (Mapping, list, tuple)):
        return "a mapping" if isinstance(value, Mapping) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_message = located  # "<file>:<line>: <field>: <text>", one line (the CLI prints one line per error)


def _field_name(loc: Loc) -> str:
    """("compile", "encoding") -> "compile.encoding"; row/column indices are left out."""
    names = []
    for part in loc:
        if isinstance(part, int):
            break
        names.append(str(part))
    return ".".join(names) or "spec"


def _error(label: str, positions: dict[Loc, int] | None, problem: _Invalid) -> SpecError:
    line = None
    for n in range(len(problem.at), -1, -1):  # the nearest recorded parent if not the spot itself
        if positions is not None and problem.at[:n] in positions:
            line = positions[problem.at[:n]]
            break
    return SpecError(_message(label, line, _field_name(problem.at), str(problem)))


# --- scalars ----------------------------------------------------------------------------


def _check_keys(data: Mapping, valid: tuple[str, ...]) -> None:
    lowered = [v.lower() for v in valid]
    for key in data:
        if key in valid:
            continue
        if not isinstance(key, str):
            raise _Invalid(f"key {key!r} is not a name", f"valid keys are {', '.join(valid)}")
        close = difflib.get_close_matches(key.lower(), lowered, n=1, cutoff=0.6)
        fix = f"did you mean '{valid[lowered.index(close[0])]}'?" if close else f"valid keys are {', '.join(valid)}"
        raise _Invalid(f"unknown key {key!r}", fix, (key,))


def _choice(value: Any, options: tuple, kind: str) -> Any:
    if isinstance(value, str) and value in options:
        return value
    listed = ", ".join(map(str, options))
    if not isinstance(value, str):
        raise _Invalid(f"must be one of {listed}, got {_show(value)}", f"write e.g. {kind}: {options[0]}")
    close = difflib.get_close_matches(value.lower(), [str(o).lower() for o in options], n=1)
    raise _Invalid(f"unknown {kind} {value!r}", f"did you mean '{close[0]}'?" if close else f"use one of: {listed}")


def _as_int(value: Any, lo: int | None, hi: int | None, example: str) -> int:
    # bool is an int subclass in Python; `heads: true` is a mistake, not 1
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _Invalid(f"must be a whole number, got {_show(value)}", f"write e.g. {example}")
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        raise _Invalid(f"must be a whole number, got {value!r}", f"write e.g. {example}")  # 1e6 ok, 1.5 not
    n = int(value)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise _Invalid(f"is {n}, outside {lo}..{hi}", f"use a value from {lo} to {hi}")
    return n


def _as_float(value: Any, example: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _Invalid(f"must be a number, got {_show(value)}", f"write e.g. {example}")
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer
        number = math.inf
    if not math.isfinite(number):
        raise _Invalid(f"is {_show(value)}, not a finite number", f"write a finite number, e.g. {example}")
    return number


def _identifier(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be text, got {_show(value)}", "write e.g. name: toy_attention")
    name = re.sub(r"[^A-Za-z0-9_]", "_", value.strip())
    return ("_" + name if name[0].isdigit() else name)[:64] if name else "attention"


def _scale(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return None
    if isinstance(value, str):
        raise _Invalid(f"must be 'auto' or a number, got {_show(value)}", "write scale: auto or e.g. scale: 0.125")
    return _as_float(value, "scale: 0.125")


def _precision(value: Any) -> float | None:
    """Target standard error of the attention output; shots are then derived from it."""
    if value is None:
        return None
    number = _as_float(value, "precision: 0.01")
    if not 0 < number <= 1:
        raise _Invalid(f"must be in (0, 1], got {_show(value)}",
                       "write the wanted standard error of the output, e.g. precision: 0.01")
    return number


def _compile_fields(data: Any) -> dict[str, Any]:
    if data is None:  # `compile:` with nothing under it: the defaults
        return {}
    if not isinstance(data, Mapping):
        raise _Invalid(f"must be a mapping of options, got {_show(data)}", "write e.g. compile: {encoding: binary}")
    _check_keys(data, COMPILE_KEYS)
    out = {}
    for key, value in data.items():
        with _under(key):
            if key in ("encoding", "estimator"):  # read the choices now: later additions just work
                known = choices.ENCODINGS if key == "encoding" else choices.ESTIMATORS
                out[key] = _choice(value, (*known, "auto"), key)
            elif key == "optimization_level":
                levels = choices.OPTIMIZATION_LEVELS
                out[key] = level = _as_int(value, None, None, "optimization_level: 1")
                if level not in levels:
                    raise _Invalid(f"level {level} does not exist", f"use one of {', '.join(map(str, levels))}")
            elif value is not None and (not isinstance(value, str) or not value.strip()):
                raise _Invalid(f"must be non-empty pipeline text, got {_show(value)}",
                               "write a pass pipeline or delete the key")
            else:
                out[key] = value if value is None else value.strip()
    return out


# --- matrices ---------------------------------------------------------------------------


def _check_shape(rows: int, cols: int) -> None:
    """Called with the shape a source declares, before anything is allocated."""
    label = f"shape [{rows}, {cols}]"
    if rows < 1 or cols < 1:
        what = f"{rows} rows" if rows < 1 else f"{cols} columns"
        raise _Invalid(f"{label} has {what}", "a matrix needs at least one row and one column")
    if rows > MAX_ROWS:
        raise _Invalid(f"{label} has {rows} rows",
                       f"qac accepts at most {MAX_ROWS} rows per matrix (each query×key pair is one circuit): "
                       f"{rows} queries or keys need at least {rows} circuits")
    if cols > MAX_COLS:
        raise _Invalid(f"{label} has {cols} columns",
                       f"qac accepts at most {MAX_COLS} columns per matrix (the vector width d or dv): "
                       f"d = {cols} pads to {1 << (cols - 1).bit_length()} amplitudes per vector")


def _check_array_type(shape: tuple, dtype: np.dtype, what: str) -> None:
    if dtype.hasobject:
        raise _Invalid(f"{what} holds Python objects (pickle)", "save a numeric array with np.save")
    if dtype.kind not in "iuf":
        raise _Invalid(f"{what} holds {dtype} values, not real numbers",
                       "save a float array, e.g. np.save(path, x.astype(float))")
    if len(shape) != 2:
        fix = ("save it as a 2-D array of rows, e.g. x.reshape(1, -1)" if len(shape) < 2 else
               "save one 2-D array (rows × columns); heads split the columns, so put them side by side")
        raise _Invalid(f"{what} is {len(shape)}-D with shape {list(shape)}", fix)
    _check_shape(*shape)


def _frozen(array: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(array)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise _Invalid(f"row {i + 1}, column {j + 1} is {array[i, j]}", "use finite numbers (no nan or inf)")
    array.flags.writeable = False
    return array


def _from_array(array: np.ndarray) -> np.ndarray:
    if (array.dtype == np.float64 and array.ndim == 2 and array.base is None
            and not array.flags.writeable and array.flags.c_contiguous):
        return array  # already one of ours (e.g. with_options): no copy
    _check_array_type(array.shape, array.dtype, "the array")
    return _frozen(np.array(array, dtype=np.float64, order="C", copy=True))  # never alias the caller's data


def _from_rows(rows: list | tuple) -> np.ndarray:
    if len(rows) == 0:
        raise _Invalid("is empty", "give at least one row, e.g. [[1.0, 2.0]]")
    if not any(isinstance(row, (list, tuple)) for row in rows):
        raise _Invalid("is a flat list, not a list of rows", "write it as a list of rows, e.g. [[1, 2, 3]]")
    width = None
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)):
            raise _Invalid(f"row {i + 1} is {_show(row)}, not a list", "write every row as a list, e.g. [0.1, 0.2]", (i,))
        if not row:
            raise _Invalid(f"row {i + 1} is empty", "give every row at least one number, e.g. [[1.0, 2.0]]", (i,))
        if width is None:
            width = len(row)
            _check_shape(len(rows), width)
        elif len(row) != width:
            count = f"{len(row)} entr{'y' if len(row) == 1 else 'ies'}"
            raise _Invalid(f"row {i + 1} has {count} but row 1 has {width}",
                           "every row must have the same length", (i,))
        for j, x in enumerate(row):
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
                raise _Invalid(f"row {i + 1}, column {j + 1} is {_show(x)}, not a number",
                               "write a plain number such as 0.5", (i, j))
            try:
                _as_float(x, "0.5")
            except _Invalid:
                raise _Invalid(f"row {i + 1}, column {j + 1} is {_show(x)}", "use finite numbers (no .nan or .inf)",
                               (i, j)) from None
    return _frozen(np.array(rows, dtype=np.float64))


def _load_npy(source: Any, base_dir: pathlib.Path) -> np.ndarray:
    if not isinstance(source, (str, os.PathLike)):
        raise _Invalid(f"npy must be a file path, got {_show(source)}", "write e.g. {npy: data/k.npy}")
    given = os.fspath(source)
    path = pathlib.Path(given).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise _Invalid(f"file {given!r} not found (looked for {os.path.abspath(path)})",
                       "check the path; relative paths are relative to the spec file's directory")
    what, fmt = repr(given), np.lib.format
    try:
        with open(path, "rb") as f:  # read the header first: refuse type and size before loading
            magic = f.read(6)
            if magic[:1] == b"\x80":  # a raw pickle stream
                raise _Invalid(f"{what} holds Python objects (pickle)", "save a numeric array with np.save")
            if magic != b"\x93NUMPY":
                raise _Invalid(f"{what} is not a .npy file", "save the matrix with np.save(path, x)")
            f.seek(0)
            # versions 2.0 and 3.0 share a layout (3.0 allows UTF-8 field names)
            reader = fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = reader(f)
        _check_array_type(shape, dtype, what)
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _Invalid(f"{what} is not a valid .npy file ({exc})", "re-save it with np.save(path, x)") from None
    return _frozen(np.ascontiguousarray(array, dtype=np.float64))


def _random(spec: Any) -> np.ndarray:
    example = "{random: {shape: [4, 8], seed: 1}}"
    if not isinstance(spec, Mapping):
        raise _Invalid(f"random needs a mapping, got {_show(spec)}", f"write e.g. {example}")
    _check_keys(spec, RANDOM_KEYS)
    if "shape" not in spec:
        raise _Invalid("random has no shape", f"add shape: [rows, cols], e.g. {example}")
    shape = spec["shape"]
    with _under("shape"):
        if not isinstance(shape, (list, tuple)) or len(shape) != 2:
            raise _Invalid(f"must be [rows, cols], got {_show(shape)}", "write e.g. shape: [4, 8]")
        rows, cols = (_as_int(n, None, None, "shape: [4, 8]") for n in shape)
        _check_shape(rows, cols)
    with _under("seed"):
        seed = _as_int(spec.get("seed", 0), 0, MAX_SEED, "seed: 1")
    with _under("scale"):
        scale = _as_float(spec.get("scale", 1.0), "scale: 0.5")
    array = np.random.default_rng(seed).standard_normal((rows, cols))
    return _frozen(array * scale if scale != 1.0 else array)


def _matrix(value: Any, base_dir: pathlib.Path) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return _from_array(value)
    if isinstance(value, (list, tuple)):
        return _from_rows(value)
    if isinstance(value, (str, os.PathLike)):
        if not os.fspath(value).lower().endswith(".npy"):
            raise _Invalid(f"{os.fspath(value)!r} is not a .npy file path",
                           "save the matrix with np.save and give the .npy path, or write it inline as a list of rows")
        return _load_npy(value, base_dir)
    if isinstance(value, Mapping):
        _check_keys(value, SOURCE_KEYS)
        if len(value) != 1:
            raise _Invalid(f"has {len(value)} sources", "give exactly one of {npy: path} or {random: {...}}")
        if "npy" in value:
            with _under("npy"):
                return _load_npy(value["npy"], base_dir)
        with _under("random"):
            return _random(value["random"])
    raise _Invalid(f"is {_show(value)}",
                   "give a list of rows, a .npy path, {npy: path} or {random: {shape: [rows, cols]}}")


def _path(value: Any) -> pathlib.Path | None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise _Invalid(f"must be a file path, got {_show(value)}", "pass a str or pathlib.Path")
    return None if value is None else pathlib.Path(value)


# Each top-level key's converter: (value, base_dir) -> clean value. Looked up at call time.
_FIELDS = {
    "name": lambda v, _: _identifier(v),
    "heads": lambda v, _: _as_int(v, 1, MAX_COLS, "heads: 2"),
    "shots": lambda v, _: _as_int(v, 1, MAX_SHOTS, "shots: 4096"),
    "seed": lambda v, _: _as_int(v, 0, MAX_SEED, "seed: 7"),
    "scale": lambda v, _: _scale(v),
    "precision": lambda v, _: _precision(v),
    "mask": lambda v, _: _choice(v, choices.MASKS, "mask"),
    "Q": _matrix, "K": _matrix, "V": _matrix,
    "compile": lambda v, _: v if isinstance(v, CompileOptions) else CompileOptions(**_compile_fields(v)),
    "path": lambda v, _: _path(v),
}


# --- models -----------------------------------------------------------------------------


class CompileOptions(BaseModel):
    """How to compile: encoding, estimator, optimisation level and an optional pass pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    encoding: str = "binary"
    estimator: str = "interference"
    optimization_level: int = 1
    passes: str | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: Any) -> Any:
        if isinstance(data, CompileOptions):
            return data
        try:
            return handler(_compile_fields(data))
        except _Invalid as problem:
            raise _error("<spec>", None, problem) from None


class Spec(BaseModel):
    """A validated attention spec. Arrays are read-only float64; equality and hash use :meth:`digest`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str = "attention"
    Q: np.ndarray
    K: np.ndarray
    V: np.ndarray
    heads: int = 1
    scale: float | None = None
    mask: str = "none"
    shots: int = 4096
    precision: float | None = None  # wanted output standard error; sets shots when given
    seed: int = 0
    compile: CompileOptions = CompileOptions()
    path: pathlib.Path | None = None

    _digest: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        """Convert every field with our own checks; raise ONE SpecError located by the loader's lines."""
        if isinstance(data, Spec):
            return data
        context = info.context or {}
        base_dir = pathlib.Path(context.get("base_dir") or pathlib.Path.cwd())
        try:
            if not isinstance(data, Mapping):
                raise _Invalid(f"the spec must be a mapping, got {_show(data)}", "give keys such as Q, K and V")
            _check_keys(data, (*TOP_KEYS, "path"))
            for key in ("Q", "K", "V"):
                if key not in data:
                    raise _Invalid(f"required key '{key}' is missing",
                                   f"add e.g. {key}: {{random: {{shape: [4, 8]}}}}", (key,))
            clean = {}
            for key, value in data.items():  # in file order, so the first problem is reported
                with _under(key):
                    clean[key] = _FIELDS[key](value, base_dir)
            spec = handler(clean)
            spec._check_shapes()
            return spec
        except _Invalid as problem:
            raise _error(context.get("label", "<spec>"), context.get("positions"), problem) from None

    def _check_shapes(self) -> None:
        (n, d), (m, dk), (mv, dv) = self.Q.shape, self.K.shape, self.V.shape
        if dk != d:
            raise _Invalid(f"has {dk} column{'s' if dk != 1 else ''} but Q has {d}", "Q and K must have the same width d", ("K",))
        if mv != m:
            raise _Invalid(f"has {mv} row{'s' if mv != 1 else ''} but K has {m}",
                           "K and V must have the same number of rows M (one value row per key)", ("V",))
        if d % self.heads or dv % self.heads:
            raise _Invalid(f"heads = {self.heads} does not divide d = {d} and dv = {dv}",
                           "choose a number of heads that divides both widths", ("heads",))
        if n * m * self.heads > MAX_PAIRS:
            raise _Invalid(f"N×M×heads = {n}×{m}×{self.heads} = {n * m * self.heads} query×key pairs",
                           f"qac accepts at most {MAX_PAIRS} pairs (each pair is one circuit); use fewer rows",
                           ("Q",))
        # Any amplitude encoding binds at least d_head − 1 angles per vector, two vectors per pair.
        values = n * m * self.heads * 2 * max(self.d_head - 1, 1)
        if values > MAX_BINDING_VALUES:
            raise _Invalid(f"{n}×{m}×{self.heads} pairs of width d_head = {self.d_head} need at least {values} "
                           f"circuit angles ({values * 8 / 2**30:.1f} GiB of bindings)",
                           f"qac accepts at most {MAX_BINDING_VALUES} (1 GiB); use fewer rows or a smaller d", ("Q",))

    N = property(lambda self: self.Q.shape[0], doc="number of queries")
    M = property(lambda self: self.K.shape[0], doc="number of keys")
    d = property(lambda self: self.Q.shape[1], doc="query/key width")
    dv = property(lambda self: self.V.shape[1], doc="value width")
    d_head = property(lambda self: self.d // self.heads, doc="query/key width per head")
    dv_head = property(lambda self: self.dv // self.heads, doc="value width per head")

    @property
    def scale_value(self) -> float:
        return self.scale if self.scale is not None else 1.0 / math.sqrt(self.d_head)

    def digest(self) -> str:
        """sha256 over the options (sorted-key JSON) and each array's shape, dtype and <f8 bytes; not ``path``."""
        if self._digest is None:
            options = self.model_dump(mode="json", exclude={"Q", "K", "V", "path"})
            h = hashlib.sha256(json.dumps(options, sort_keys=True, separators=(",", ":")).encode())
            for key in ("Q", "K", "V"):
                array = getattr(self, key)
                h.update(f"\n{key}:{list(array.shape)}:<f8\n".encode())
                h.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
            self._digest = h.hexdigest()
        return self._digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Spec) and self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())

    def with_options(self, **changes: Any) -> Spec:
        """A copy with top-level fields replaced and re-validated; a ``compile`` mapping is merged in."""
        data = {key: getattr(self, key) for key in type(self).model_fields}
        if isinstance(changes.get("compile"), Mapping):
            changes["compile"] = {**self.compile.model_dump(), **changes["compile"]}
        base_dir = self.path.parent if self.path is not None else None
        return Spec.model_validate({**data, **changes}, context={"base_dir": base_dir})


# --- YAML -------------------------------------------------------------------------------

YAML_RULES = YamlRules(
    error=SpecError, field_name=_field_name, max_bytes=MAX_FILE_BYTES, max_nodes=MAX_YAML_NODES,
    max_depth=MAX_YAML_DEPTH,
    directory="give the path of the spec's .yaml file",
    too_big="qac reads spec files up to {max_bytes} bytes, store large matrices in .npy files",
    not_found="file not found; check the path (relative to {cwd})",
    unreadable="cannot read the file ({reason}); check the path and permissions",
    too_many="the document has more than {max_nodes} values; store large matrices in .npy files",
    too_deep="flatten the document",
    empty="write a mapping with at least Q, K and V",
    not_mapping="write top-level keys such as Q:, K: and V:",
    key_example="heads or Q",
    more_tags=("timestamp",),
)


def load_spec(source: Any, *, base_dir: str | os.PathLike | None = None) -> Spec:
    """Load and validate a spec from a YAML path, a mapping or a :class:`Spec` (returned as-is).

    ``.npy`` paths resolve against ``base_dir`` if given, else the YAML file's directory
    (file sources) or the current directory (mappings). Raises :class:`SpecError`.
    """
    if isinstance(source, Spec):
        return source
    if isinstance(source, Mapping):
        label, positions, data, path = "<spec>", None, dict(source), None
        base = pathlib.Path(base_dir) if base_dir is not None else pathlib.Path.cwd()
    elif isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        path = pathlib.Path(label)
        data, positions = read_located_yaml(path, label, YAML_RULES)
        base = pathlib.Path(base_dir) if base_dir is not None else path.parent
    else:
        raise SpecError(f"<spec>: expected a YAML file path, a mapping or a Spec, got {type(source).__name__}; "
                        "pass e.g. load_spec('attention.yaml')")
    try:
        _check_keys(data, TOP_KEYS)  # `path` is set by the loader, never by the user
    except _Invalid as problem:
        raise _error(label, positions, problem) from None
    context = {"base_dir": base, "label": label, "positions": positions}
    return Spec.model_validate({**data, "path": path}, context=context)
