"""Run options: one frozen record, resolved and validated once.

Every way into a run — ``qac run``, ``CompiledAttention.run``, ``qac.torch`` and the runtime —
builds a ``RunOptions`` with ``RunOptions.resolve``: the defaults of the spec (or of a program
built from arrays: ``RunDefaults``) are applied here and only here, every figure is checked
against ``qac/limits.py``, and the run reads the record without checking anything again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.errors import ExecutionError
from qac.execution.engines import DEFAULT_ENGINE, check_workers
from qac.limits import (
    DEFAULT_SHOTS,
    PILOT_SHOTS,
    check_run_shots,
    check_seed,
    check_shots,
)

ERRORBARS = ("bootstrap", "delta")


@dataclass(frozen=True)
class RunOptions:
    """What a run does, every default applied.

    ``shots`` is ``None`` for an exact run; ``first_shots`` is what the first stage samples per
    pair (the shots, or a precision run's pilot)."""

    shots: int | None = DEFAULT_SHOTS
    seed: int = 0
    noise: bool = False
    exact: bool = False
    mitigation: bool = False
    precision: float | None = None
    pilot_shots: int | None = None
    engine: str | object = DEFAULT_ENGINE
    workers: int | None = None
    scheduler: str | None = None
    #: how a sampled run's output bars are made: ``bootstrap`` (``qac.execution.errorbars``; holds
    #: where the softmax is peaked) or ``delta`` (the linearisation every run computes anyway:
    #: free, but it under-covers peaked rows; what a training step, which reads no bar, asks for)
    errorbars: str = "bootstrap"

    @property
    def first_shots(self) -> int | None:
        if self.exact:
            return None
        return self.shots if self.precision is None else (self.pilot_shots or PILOT_SHOTS)

    @classmethod
    def resolve(cls, defaults=None, *, shots=None, seed=None, noise: bool = False, exact: bool = False,
                mitigation=None, precision=None, pilot_shots=None, engine=DEFAULT_ENGINE, workers=None,
                scheduler=None, pairs: int = 0, errorbars: str = "bootstrap") -> RunOptions:
        """The record for one run, or an ``ExecutionError`` naming the bad option.

        ``defaults`` carries ``shots``, ``seed`` and ``precision`` (a ``Spec`` or ``RunDefaults``);
        a value given here wins. Shots and pilot shots are whole numbers from 1 to
        ``qac.limits.MAX_SHOTS`` per circuit, the seed is 0 … 2³²−1, and ``pairs`` × the first
        stage's shots must stay within ``MAX_RUN_SHOTS``.
        """
        seed = check_seed(getattr(defaults, "seed", 0) if seed is None else seed)
        if precision is None:
            precision = getattr(defaults, "precision", None)
        if precision is not None and (isinstance(precision, bool) or not isinstance(precision, (int, float, np.floating))
                                      or not np.isfinite(precision) or not 0 < precision <= 1):
            raise ExecutionError(f"precision must be in (0, 1], not {precision!r}; "
                                 f"give the wanted standard error of the output, e.g. 0.01")
        mitigation = bool(noise) if mitigation is None else bool(mitigation)
        if errorbars not in ERRORBARS:
            raise ExecutionError(f"errorbars must be one of {', '.join(ERRORBARS)}, not {errorbars!r}")
        if errorbars == "delta" and precision is not None:
            raise ExecutionError("a precision run plans its shots on the bootstrap's bars and checks them; "
                                 "drop errorbars='delta' or the precision")
        check_workers(workers, scheduler, cores=False)  # the CLI caps by cores before it compiles
        common = dict(seed=seed, engine=engine, workers=workers, scheduler=scheduler, errorbars=errorbars)
        if exact:
            if noise or mitigation or precision is not None:
                raise ExecutionError("exact=True computes noiseless infinite-shot probabilities; "
                                     "drop noise/mitigation/precision or exact=True")
            return cls(shots=None, exact=True, **common)
        explicit = shots is not None
        shots = check_shots(getattr(defaults, "shots", DEFAULT_SHOTS) if shots is None else shots)
        if pilot_shots is not None:
            pilot_shots = check_shots(pilot_shots, "pilot_shots")
        if precision is not None and pilot_shots is None and explicit:
            pilot_shots = shots
        options = cls(shots=shots, noise=bool(noise), mitigation=mitigation, precision=precision,
                      pilot_shots=pilot_shots, **common)
        check_run_shots(pairs * options.first_shots, f"{pairs} pairs × {options.first_shots} shots")
        return options
