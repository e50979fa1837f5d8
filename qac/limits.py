"""How many shots qac will run: one cap, enforced by the spec, the CLI, the API and the
precision planner (``check_shots`` / ``check_run_shots``), so a request above it is refused
up front with the figure it would need instead of exhausting memory inside a simulator.

Measured on this project's 2-core, 24 GB machines (Aer 0.18, one 2-qubit row, counts only):
Aer holds about 100 bytes per shot while it samples (1e7 shots: 1.1 GB peak; 3e7: 3.1 GB),
at 1–2 µs per shot. So Aer runs are split into chunks of ``AER_SHOT_CHUNK`` shots (≈ 100 MB),
which bounds memory whatever the request; the caps bound time: ``MAX_SHOTS`` per circuit
(≈ 2–4 minutes of Aer for one row) and ``MAX_RUN_SHOTS`` for a whole run (≈ 3–6 hours of Aer).
The batched engine samples counts from probabilities, so its memory does not grow with shots.
"""

from __future__ import annotations

from qac.errors import ExecutionError

BYTES_PER_AER_SHOT = 100  # measured peak resident memory per shot of one Aer experiment
AER_SHOT_CHUNK = 10**6  # shots per Aer call: ≈ 100 MB
MAX_SHOTS = 10**8  # per circuit (per pair): the spec's bound since the first release
MAX_RUN_SHOTS = 10**10  # every shot of one run: data, sign partners, calibration, readout


def check_shots(value, where: str = "shots") -> int:
    """A positive whole number of shots per circuit up to ``MAX_SHOTS``, or an ExecutionError."""
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise ExecutionError(f"{where} must be a positive whole number, not {value!r}")
    value = int(value)
    if value <= 0:
        raise ExecutionError(f"{where} must be a positive whole number, not {value!r}")
    if value > MAX_SHOTS:
        raise ExecutionError(f"{where} = {value:.3g} is above qac's cap of {MAX_SHOTS:.0e} shots per circuit "
                             f"(Aer needs about {BYTES_PER_AER_SHOT} bytes and 1-2 µs per shot); "
                             f"ask for fewer shots or a looser --precision")
    return value


def check_run_shots(total: int, what: str = "this run") -> int:
    """Refuse a run whose shots add up to more than ``MAX_RUN_SHOTS``, naming the figure."""
    if total > MAX_RUN_SHOTS:
        raise ExecutionError(f"{what} needs {total:.3g} shots in all, above qac's cap of {MAX_RUN_SHOTS:.0e} "
                             f"per run; ask for fewer shots, a looser --precision or a smaller kernel")
    return int(total)
