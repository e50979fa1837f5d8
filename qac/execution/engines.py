"""Every engine by name: the table ``run(engine=...)``, the CLI's ``--engine`` and the docs read.

``aer``: Aer (``engine.AerEngine``); ``batched``: qac's batched simulator (``batched.BatchedEngine``);
``auto`` (the default): batched wherever it supports the circuit and noise model, else Aer.
"""

from __future__ import annotations

from qac.execution.batched import AutoEngine, BatchedEngine
from qac.execution.aer_engine import AER

BATCHED = BatchedEngine()
ENGINES = {"aer": AER, "batched": BATCHED, "auto": AutoEngine(BATCHED, AER)}
DEFAULT_ENGINE = "auto"


def make(name: str, *, workers: int | None = None, scheduler: str | None = None, progress=None):
    """A fresh engine for one run (its own Dask workers or progress callback), or the shared one."""
    if name not in ENGINES:
        from qac.errors import ExecutionError

        raise ExecutionError(f"unknown engine {name!r}; engines: {', '.join(sorted(ENGINES))}")
    if workers is None and scheduler is None and progress is None:
        return ENGINES[name]
    if name == "aer":
        if workers is not None or scheduler is not None:
            from qac.errors import ExecutionError

            raise ExecutionError("--workers/--scheduler spread the batched engine's chunks; use --engine batched or auto")
        return AER
    batched = BatchedEngine(workers=workers, scheduler=scheduler, progress=progress)
    return batched if name == "batched" else AutoEngine(batched, AER)
