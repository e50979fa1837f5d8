"""Every engine by name: the table ``run(engine=...)``, the CLI's ``--engine`` and the docs read.

``aer``: Aer (``aer_engine.AerEngine``); ``batched``: qac's batched simulator
(``batched.BatchedEngine``); ``auto`` (the default): batched wherever it supports the circuit and
noise model, else Aer. The table's names are known without importing numpy or an engine (the
CLI's ``--engine`` choices, ``qac --help``); each shared engine is built on first use.
"""

from __future__ import annotations

from collections.abc import Mapping


def _aer():
    from qac.execution.aer_engine import AER

    return AER


def _batched():
    from qac.execution.batched import BatchedEngine

    return BatchedEngine()


def _auto():
    from qac.execution.batched import AutoEngine

    return AutoEngine(ENGINES["batched"], ENGINES["aer"])


class EngineTable(Mapping):
    """Engine name → the shared engine, built when first asked for."""

    def __init__(self, factories: dict):
        self._factories, self._built = factories, {}

    def __getitem__(self, name: str):
        if name not in self._built:
            self._built[name] = self._factories[name]()
        return self._built[name]

    def __iter__(self):
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)


ENGINES = EngineTable({"auto": _auto, "batched": _batched, "aer": _aer})
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
        return ENGINES["aer"]
    from qac.execution.batched import AutoEngine, BatchedEngine

    batched = BatchedEngine(workers=workers, scheduler=scheduler, progress=progress)
    return batched if name == "batched" else AutoEngine(batched, ENGINES["aer"])
