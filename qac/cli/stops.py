"""How a command stops when it is told to: SIGTERM raised as an interrupt, a closed stdout pipe."""

from __future__ import annotations

import sys

import click


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, CI and ``docker stop`` send), raised where the program is, so
    the same cleanup runs as for Ctrl-C: staging removed, one line, exit 143."""


def _on_sigterm(signum, frame):
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the cleanup it starts is not cut short
    raise Terminated()


def sigterm_as_interrupt():
    """Install the SIGTERM handler (main thread only); returns the previous handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def closed_pipe():
    """The reader of stdout went away (``qac inspect DIR --qasm | head``): stop quietly, exit 0.
    stdout goes to /dev/null so the interpreter's last flush does not fail again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def interrupted(exc: KeyboardInterrupt):
    """Ctrl-C or SIGTERM: one line (and what was kept), exit 130 or 143."""
    what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
    click.echo(f"error: {what}; {getattr(exc, 'qac_note', None) or 'nothing was written'}", err=True)
    sys.exit(143 if isinstance(exc, Terminated) else 130)


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The interrupt an exception was raised from or during, if any (a fault, not a bug)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
