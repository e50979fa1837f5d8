"""A progress bar for long runs on a terminal (rich), fed by the batched engine's chunk callback.

Nothing is drawn when stderr is not a terminal (pipes, CI, tests) or before the run has taken
``DELAY`` seconds, so short runs print exactly what they always printed.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

DELAY = 2.0  # seconds before a bar appears


@contextmanager
def progress_bar(description: str = "simulating"):
    """Yields a callback ``(done, total)`` that draws a rich bar on a terminal; a no-op elsewhere."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    started = time.monotonic()
    bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
    state = {"task": None}

    def update(done: int, total: int) -> None:
        if state["task"] is None:
            if time.monotonic() - started < DELAY:
                return
            bar.start()
            state["task"] = bar.add_task(f"{description} (rows)", total=total)
        bar.update(state["task"], completed=done, total=total)

    try:
        yield update
    finally:
        if state["task"] is not None:
            bar.stop()
