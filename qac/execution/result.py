"""``Result``: the attention output of a run with its error bars, next to numpy's."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def share_within(error: np.ndarray, stderr: np.ndarray, k: float) -> float:
    """Share of entries with |error| ≤ k·σ (1e-12 of slack for exact zeros); 1.0 for no entries."""
    error = np.asarray(error)
    return float(np.mean(np.abs(error) <= k * np.asarray(stderr) + 1e-12)) if error.size else 1.0


class Coverage(float):
    """The share of output entries within 2 reported standard errors of the exact value — a
    number, like ``max_error`` — that also answers for another multiple: ``result.coverage``
    is the 2σ share, ``result.coverage(3.0)`` the 3σ one (``result.coverage()`` = 2σ)."""

    def __new__(cls, error: np.ndarray, stderr: np.ndarray):
        share = super().__new__(cls, share_within(error, stderr, 2.0))
        share._error, share._stderr = error, stderr
        return share

    def __call__(self, k: float = 2.0) -> float:
        return share_within(self._error, self._stderr, k)

    def __repr__(self) -> str:
        return float.__repr__(self)

    def __reduce__(self):
        return Coverage, (self._error, self._stderr)


@dataclass(frozen=True)
class Result:
    """The attention output with its error bars, next to numpy's exact output.

    With mitigation, ``output``/``scores``/``inner_products`` are mitigated and the ``raw_*``
    fields hold the same job decoded without readout correction or signal rescale.
    """

    output: np.ndarray  # (N, dv)
    stderr: np.ndarray  # (N, dv) one standard error per entry (``error_method`` says how)
    exact: np.ndarray  # (N, dv) numpy attention
    scores: np.ndarray  # (heads, N, M) scaled scores, −inf where masked
    scores_stderr: np.ndarray
    inner_products: dict  # kernel name -> (estimates, stderr) over its pairs
    shots: int | None  # shots per pair (the largest, for a precision run); None: exact
    noise: bool
    target: str
    mitigated: bool = False
    raw_output: np.ndarray | None = None
    raw_stderr: np.ndarray | None = None
    raw_scores: np.ndarray | None = None
    raw_scores_stderr: np.ndarray | None = None
    raw_inner_products: dict | None = None
    shots_used: int = 0  # every shot the job ran: data, sign partners, calibration, readout
    circuits_run: int = 0  # bound circuits executed (a packed circuit counts once)
    pairs_per_circuit: float = 1.0
    mitigation: dict = field(default_factory=dict)  # per template/copy: attenuation, offset, readout
    precision: dict = field(default_factory=dict)  # requested, reached, achieved, pair shots (precision.py)
    error_method: str = ""  # what made the error bars: qac.execution.errorbars.METHOD for sampled runs
    engine: str = "exact"  # what ran the circuits: an ENGINES name, or the engine object's name
    engine_metadata: dict = field(default_factory=dict)  # e.g. backend, calibration time, job ids
    #: which path produced the counts and what was checked (closed form + spot check, or simulated)
    engine_path: str = ""
    stages: dict = field(default_factory=dict)  # pv: quantum — per stage: kernels, pairs, circuits, shots

    @property
    def error(self) -> np.ndarray:
        """output − exact, entry by entry."""
        return self.output - self.exact

    @property
    def raw_error(self) -> np.ndarray | None:
        return None if self.raw_output is None else self.raw_output - self.exact

    @property
    def max_error(self) -> float:
        return float(np.max(np.abs(self.error))) if self.error.size else 0.0

    @property
    def max_stderr(self) -> float:
        return float(np.max(self.stderr)) if self.stderr.size else 0.0

    @property
    def coverage(self) -> Coverage:
        """Share of output entries within 2 reported standard errors of the exact value; call it
        for another multiple k: ``coverage(3.0)``."""
        return Coverage(self.error, self.stderr)
