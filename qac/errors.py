"""Typed errors. Every error carries a fix in its message and is raised where the bad value
is first seen; the CLI prints ``str(error)`` as one line and exits 2."""

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
    """A bug in qac, not bad input: shown with its traceback and a request to report it."""
