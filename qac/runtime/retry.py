"""Bounded retry with exponential backoff for the runtime's transient failures.

A transient failure is one that says nothing about the job: the network dropped, the service
answered 5xx or 429 (too many requests), a request timed out. Anything else (a 4xx, a job that
ended in ERROR) is final and is reported, not retried. The clock is injected (``sleep``) so tests
run the whole schedule in no time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: Exception classes (by name, anywhere in the MRO) that mean "try again": the standard
#: library's, requests' and the runtime client's. Names, so this module imports none of them.
TRANSIENT = frozenset({"ConnectionError", "TimeoutError", "ConnectTimeout", "ReadTimeout",
                       "ChunkedEncodingError", "RequestsApiError", "IBMApiError", "TransientRuntimeError"})


def is_transient(exc: BaseException) -> bool:
    if not any(cls.__name__ in TRANSIENT for cls in type(exc).__mro__):
        return False
    status = getattr(exc, "status_code", None)  # the runtime's API errors carry the HTTP status
    return status is None or status == 429 or status >= 500


@dataclass(frozen=True)
class Backoff:
    """``attempts`` tries in all; waits ``first``, ``first·factor``, … seconds, at most ``ceiling``."""

    attempts: int = 6
    first: float = 2.0
    factor: float = 2.0
    ceiling: float = 120.0

    def delays(self) -> list[float]:
        return [min(self.ceiling, self.first * self.factor**i) for i in range(self.attempts - 1)]


def call(fn, *, backoff: Backoff = Backoff(), sleep=time.sleep, on_retry=None):
    """``fn()``, retried after transient failures on the ``backoff`` schedule; the last error is raised."""
    delays = backoff.delays()
    for attempt in range(backoff.attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc) or attempt == len(delays):
                raise
            if on_retry is not None:
                on_retry(attempt + 1, exc)
            sleep(delays[attempt])
    raise AssertionError("unreachable")  # pragma: no cover
