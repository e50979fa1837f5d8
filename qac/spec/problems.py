"""Located spec problems: a converter raises ``Invalid`` at a path into the document; the
loader turns it into one ``SpecError`` line, ``<file>:<line>: <field>: <what>; <fix>``."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from qac.errors import SpecError
from qac.spec.yamlfile import located

Loc = tuple[Any, ...]  # a path into the document, e.g. ("compile", "encoding") or ("K", 2, 0)


class Invalid(Exception):
    """A problem found while converting; ``at`` locates it (prefixed on the way out by `under`)."""

    def __init__(self, what: str, fix: str, at: Loc = ()):
        super().__init__(f"{what}; {fix}")
        self.at = tuple(at)


@contextmanager
def under(*prefix: Any):
    try:
        yield
    except Invalid as problem:
        problem.at = prefix + problem.at
        raise


def show(value: Any) -> str:
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


message = located  # "<file>:<line>: <field>: <text>", one line (the CLI prints one line per error)


def field_name(loc: Loc) -> str:
    """("compile", "encoding") -> "compile.encoding"; row/column indices are left out."""
    names = []
    for part in loc:
        if isinstance(part, int):
            break
        names.append(str(part))
    return ".".join(names) or "spec"


def spec_error(label: str, positions: dict[Loc, int] | None, problem: Invalid) -> SpecError:
    line = None
    for n in range(len(problem.at), -1, -1):  # the nearest recorded parent if not the spot itself
        if positions is not None and problem.at[:n] in positions:
            line = positions[problem.at[:n]]
            break
    return SpecError(message(label, line, field_name(problem.at), str(problem)))
