"""The validated spec models, :class:`Spec` and :class:`CompileOptions` (frozen pydantic v2;
every field converted by qac's own converters so each message carries a fix)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationInfo, model_validator

from qac.kernels import choices
from qac.limits import DEFAULT_SHOTS, range_problem
from qac.spec.arrays import matrix
from qac.spec.problems import Invalid, show, spec_error, under
from qac.spec.sizes import (
    MAX_BINDING_VALUES,
    MAX_COLS,
    MAX_PAIRS,
    MAX_SEED,
    MAX_SHOTS,
    TOP_KEYS,
)
from qac.spec.values import (
    as_int,
    check_keys,
    choice,
    compile_fields,
    identifier,
    precision_field,
    scale_field,
)


def path_field(value: Any) -> pathlib.Path | None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise Invalid(f"must be a file path, got {show(value)}", "pass a str or pathlib.Path")
    return None if value is None else pathlib.Path(value)


# Each top-level key's converter: (value, base_dir) -> clean value. Looked up at call time.
FIELDS = {
    "name": lambda v, _: identifier(v),
    "heads": lambda v, _: as_int(v, 1, MAX_COLS, "heads: 2"),
    "shots": lambda v, _: as_int(v, 1, MAX_SHOTS, "shots: 4096"),
    "seed": lambda v, _: as_int(v, 0, MAX_SEED, "seed: 7"),
    "scale": lambda v, _: scale_field(v),
    "precision": lambda v, _: precision_field(v),
    "mask": lambda v, _: choice(v, choices.MASKS, "mask"),
    "Q": matrix, "K": matrix, "V": matrix,
    "compile": lambda v, _: v if isinstance(v, CompileOptions) else CompileOptions(**compile_fields(v)),
    "path": lambda v, _: path_field(v),
}


class CompileOptions(BaseModel):
    """How to compile: encoding, estimator, optimisation level and an optional pass pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    encoding: str = "binary"
    estimator: str = "interference"
    optimization_level: int = 1
    passes: str | None = None
    pv: str = "classical"  # "quantum": O = P·V on circuits too (two-stage runs, docs/kernels.md)

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: Any) -> Any:
        if isinstance(data, CompileOptions):
            return data
        try:
            return handler(compile_fields(data))
        except Invalid as problem:
            raise spec_error("<spec>", None, problem) from None


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
    shots: int = DEFAULT_SHOTS
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
                raise Invalid(f"the spec must be a mapping, got {show(data)}", "give keys such as Q, K and V")
            check_keys(data, (*TOP_KEYS, "path"))
            for key in ("Q", "K", "V"):
                if key not in data:
                    raise Invalid(f"required key '{key}' is missing",
                                   f"add e.g. {key}: {{random: {{shape: [4, 8]}}}}", (key,))
            clean = {}
            for key, value in data.items():  # in file order, so the first problem is reported
                with under(key):
                    clean[key] = FIELDS[key](value, base_dir)
            spec = handler(clean)
            spec._check_shapes()
            return spec
        except Invalid as problem:
            raise spec_error(context.get("label", "<spec>"), context.get("positions"), problem) from None

    def _check_shapes(self) -> None:
        (n, d), (m, dk), (mv, dv) = self.Q.shape, self.K.shape, self.V.shape
        if dk != d:
            raise Invalid(f"has {dk} column{'s' if dk != 1 else ''} but Q has {d}", "Q and K must have the same width d", ("K",))
        if mv != m:
            raise Invalid(f"has {mv} row{'s' if mv != 1 else ''} but K has {m}",
                           "K and V must have the same number of rows M (one value row per key)", ("V",))
        if d % self.heads or dv % self.heads:
            raise Invalid(f"heads = {self.heads} does not divide d = {d} and dv = {dv}",
                           "choose a number of heads that divides both widths", ("heads",))
        if n * m * self.heads > MAX_PAIRS:
            raise Invalid(f"N×M×heads = {n}×{m}×{self.heads} = {n * m * self.heads} query×key pairs",
                           f"qac accepts at most {MAX_PAIRS} pairs (each pair is one circuit); use fewer rows",
                           ("Q",))
        # Any amplitude encoding binds at least d_head − 1 angles per vector, two vectors per pair.
        values = n * m * self.heads * 2 * max(self.d_head - 1, 1)
        if values > MAX_BINDING_VALUES:
            raise Invalid(f"{n}×{m}×{self.heads} pairs of width d_head = {self.d_head} need at least {values} "
                           f"circuit angles ({values * 8 / 2**30:.1f} GiB of bindings)",
                           f"qac accepts at most {MAX_BINDING_VALUES} (1 GiB); use fewer rows or a smaller d", ("Q",))
        problem = range_problem(self.Q, self.K, self.V, self.scale_value, self.heads)
        if problem is not None:
            raise Invalid(*problem)

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
            if options["compile"]["pv"] == "classical":  # the default leaves digests as they were
                del options["compile"]["pv"]
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
            # only the options the spec set: a default encoding must not collide with new passes
            changes["compile"] = {**self.compile.model_dump(exclude_unset=True), **changes["compile"]}
        base_dir = self.path.parent if self.path is not None else None
        return Spec.model_validate({**data, **changes}, context={"base_dir": base_dir})
