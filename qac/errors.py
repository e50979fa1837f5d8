"""Typed errors. A ``QacError`` is something the user can fix: it carries the fix in its
message, is raised where the bad value is first seen, and the CLI prints it as one line and
exits 2. An ``InternalError`` is a bug in qac (a broken invariant): the CLI shows its traceback
and asks for a report, exit 1."""

from __future__ import annotations


class QacError(Exception):
    """Base of every error qac raises on purpose (bad input, impossible request)."""

    exit_code = 2


class SpecError(QacError):
    """The attention spec (YAML, arrays, options) is invalid."""


class TargetError(QacError):
    """The target is unknown, malformed, or cannot hold the kernel."""


class CompileError(QacError):
    """Compilation cannot proceed with these options."""


class ExecutionError(QacError):
    """Running, decoding or reconstructing failed."""


class OutputError(QacError):
    """An output path cannot be written (exists without --force, not a directory, no permission)."""


class InternalError(Exception):
    """A broken invariant inside qac: a bug, not bad input. Not a ``QacError``: the CLI shows
    its traceback and asks to report it."""
