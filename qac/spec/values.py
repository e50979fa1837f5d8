"""Converters for the spec's scalar fields and its ``compile:`` options; each raises
``Invalid`` with a fix."""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from qac.kernels import choices
from qac.spec.problems import Invalid, show, under
from qac.spec.sizes import COMPILE_KEYS


def check_keys(data: Mapping, valid: tuple[str, ...]) -> None:
    lowered = [v.lower() for v in valid]
    for key in data:
        if key in valid:
            continue
        if not isinstance(key, str):
            raise Invalid(f"key {key!r} is not a name", f"valid keys are {', '.join(valid)}")
        close = difflib.get_close_matches(key.lower(), lowered, n=1, cutoff=0.6)
        fix = f"did you mean '{valid[lowered.index(close[0])]}'?" if close else f"valid keys are {', '.join(valid)}"
        raise Invalid(f"unknown key {key!r}", fix, (key,))


def choice(value: Any, options: tuple, kind: str) -> Any:
    if isinstance(value, str) and value in options:
        return value
    listed = ", ".join(map(str, options))
    if not isinstance(value, str):
        raise Invalid(f"must be one of {listed}, got {show(value)}", f"write e.g. {kind}: {options[0]}")
    close = difflib.get_close_matches(value.lower(), [str(o).lower() for o in options], n=1)
    raise Invalid(f"unknown {kind} {value!r}", f"did you mean '{close[0]}'?" if close else f"use one of: {listed}")


def as_int(value: Any, lo: int | None, hi: int | None, example: str) -> int:
    # bool is an int subclass in Python; `heads: true` is a mistake, not 1
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise Invalid(f"must be a whole number, got {show(value)}", f"write e.g. {example}")
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        raise Invalid(f"must be a whole number, got {value!r}", f"write e.g. {example}")  # 1e6 ok, 1.5 not
    n = int(value)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise Invalid(f"is {n}, outside {lo}..{hi}", f"use a value from {lo} to {hi}")
    return n


def as_float(value: Any, example: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise Invalid(f"must be a number, got {show(value)}", f"write e.g. {example}")
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer
        number = math.inf
    if not math.isfinite(number):
        raise Invalid(f"is {show(value)}, not a finite number", f"write a finite number, e.g. {example}")
    return number


def identifier(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be text, got {show(value)}", "write e.g. name: toy_attention")
    name = re.sub(r"[^A-Za-z0-9_]", "_", value.strip())
    return ("_" + name if name[0].isdigit() else name)[:64] if name else "attention"


def scale_field(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value == "auto"):
        return None
    if isinstance(value, str):
        raise Invalid(f"must be 'auto' or a number, got {show(value)}", "write scale: auto or e.g. scale: 0.125")
    return as_float(value, "scale: 0.125")


def precision_field(value: Any) -> float | None:
    """Target standard error of the attention output; shots are then derived from it."""
    if value is None:
        return None
    number = as_float(value, "precision: 0.01")
    if not 0 < number <= 1:
        raise Invalid(f"must be in (0, 1], got {show(value)}",
                       "write the wanted standard error of the output, e.g. precision: 0.01")
    return number


def compile_fields(data: Any) -> dict[str, Any]:
    if data is None:  # `compile:` with nothing under it: the defaults
        return {}
    if not isinstance(data, Mapping):
        raise Invalid(f"must be a mapping of options, got {show(data)}", "write e.g. compile: {encoding: binary}")
    check_keys(data, COMPILE_KEYS)
    out = {}
    for key, value in data.items():
        with under(key):
            if key in ("encoding", "estimator"):  # read the choices now: later additions just work
                known = choices.ENCODINGS if key == "encoding" else choices.ESTIMATORS
                out[key] = choice(value, (*known, "auto"), key)
            elif key == "pv":  # issue 14: the second MatMul on circuits or in numpy
                out[key] = choice(value, choices.PV, key)
            elif key == "optimization_level":
                levels = choices.OPTIMIZATION_LEVELS
                out[key] = level = as_int(value, None, None, "optimization_level: 1")
                if level not in levels:
                    raise Invalid(f"level {level} does not exist", f"use one of {', '.join(map(str, levels))}")
            elif value is not None and (not isinstance(value, str) or not value.strip()):
                raise Invalid(f"must be non-empty pipeline text, got {show(value)}",
                               "write a pass pipeline or delete the key")
            else:
                out[key] = value if value is None else value.strip()
    if out.get("passes") is not None:
        overridden = [key for key in ("encoding", "estimator", "optimization_level") if key in out]
        if overridden:  # the pipeline would silently win over them
            listed = " and ".join(overridden)
            example = {"encoding": f"encode{{method={out.get('encoding')}}}",
                       "estimator": f"estimate{{method={out.get('estimator')}}}",
                       "optimization_level": f"layout{{optimization_level={out.get('optimization_level')}}}"}
            example.update({k: f"choose{{{k}=auto}}" for k in ("encoding", "estimator") if out.get(k) == "auto"})
            raise Invalid(f"sets a pipeline and {listed}, which the pipeline overrides",
                          f"write {' and '.join(example[k] for k in overridden)} in the pipeline text or delete "
                          f"{'them' if len(overridden) > 1 else 'it'}", ("passes",))
        with under("passes"):
            check_pipeline(out["passes"])
    return out


def check_pipeline(text: str) -> None:
    """Parse the spec's pipeline text now, so its errors carry the spec's file and line."""
    from qac.errors import CompileError
    from qac.passes import parse

    try:
        parse(text)
    except CompileError as exc:
        what, _, fix = str(exc).partition("; ")
        raise Invalid(what, fix or "fix the pipeline text") from None
