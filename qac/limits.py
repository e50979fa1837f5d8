"""What qac will run: one cap on shots, one rule for seeds and the range of numbers the
pipeline carries, each enforced by the spec, the CLI, the API and the precision planner, so
a request outside them is refused up front with the figure it would need instead of
exhausting memory inside a simulator or printing NaN.

Shots. Measured on this project's 2-core, 24 GB machines (Aer 0.18, one 2-qubit row, counts
only): Aer holds about 100 bytes per shot of one row while it samples (1e7 shots: 1.1 GB peak;
3e7: 3.1 GB; the rows of one call share that peak: 10 rows × 1e6 shots peak like 3 rows),
at 1–2 µs per shot. So Aer runs are split into chunks of ``AER_SHOT_CHUNK`` shots per row
(≈ 100–250 MB), which bounds memory whatever the request; the caps bound time: ``MAX_SHOTS``
per circuit (≈ 2–4 minutes of Aer for one row) and ``MAX_RUN_SHOTS`` for a whole run (≈ 3–6
hours of Aer). The batched engine samples counts from probabilities, so its memory does not
grow with shots.

Seeds: 0 … 2³²−1 for the spec's ``seed``, ``--seed`` and ``run(seed=)`` alike.

Numbers (``range_problem``): every quantity the run squares must stay finite in float64
(largest 1.8e308, so squares overflow beyond 1.3e154): the norms |q|² and |k|² (entries of Q
and K up to ``MAX_INPUT``), the scaled logits s = scale·|q|·|k| (up to ``MAX_LOGIT``: the
delta method and the precision planner square a score's error, which is of the size of s),
and the value rows (entries of V up to ``MAX_VALUE``: an output error is a difference of
values, and the delta method multiplies it by a score's error before squaring, so
MAX_VALUE·MAX_LOGIT = 1e150 leaves a factor of 1e8 for sums over 4096 keys). A softmax is
one-hot long before any of these (logit gaps beyond ~745 underflow exp), so the limits
refuse only inputs whose figures would overflow, and the message says what to rescale.
"""

from __future__ import annotations

import numpy as np

from qac.errors import ExecutionError, SpecError

BYTES_PER_AER_SHOT = 100  # measured peak resident memory per shot of one Aer experiment
AER_SHOT_CHUNK = 10**6  # shots per row per Aer call: ≈ 100–250 MB whatever the request
MAX_SHOTS = 10**8  # per circuit (per pair): the spec's bound since the first release
MAX_RUN_SHOTS = 10**10  # every shot of one run: data, sign partners, calibration, readout
MAX_SEED = 2**32 - 1  # seeds are 32-bit: the spec, --seed and run(seed=) share this rule
DEFAULT_SHOTS = 4096  # per pair, when neither the spec nor the call says (spec, API, torch, `qac model`)
PILOT_SHOTS = 512  # per pair, the pilot of a precision run without explicit shots

MAX_INPUT = 1e150  # |entries| of Q and K: |q|² ≤ 1024·1e300 stays finite
MAX_LOGIT = 1e100  # |scale|·|q|·|k| for every query and key of a head
MAX_VALUE = 1e50  # |entries| of V


def figure(n) -> str:
    """A count as digits up to 10¹², beyond in 3 significant figures (also past float range)."""
    if abs(int(n)) < 10**12:
        return str(int(n))
    try:
        return f"{n:.3g}"
    except OverflowError:
        return f"about 1e{len(str(abs(int(n)))) - 1}"


def check_shots(value, where: str = "shots") -> int:
    """A positive whole number of shots per circuit up to ``MAX_SHOTS``, or an ExecutionError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise ExecutionError(f"{where} must be a positive whole number, not {value!r}")
    value = int(value)
    if value <= 0:
        raise ExecutionError(f"{where} must be a positive whole number, not {value!r}")
    if value > MAX_SHOTS:
        raise ExecutionError(f"{where} = {figure(value)} is above qac's cap of {figure(MAX_SHOTS)} shots per circuit "
                             f"(Aer needs about {BYTES_PER_AER_SHOT} bytes and 1-2 µs per shot); "
                             f"ask for fewer shots or a looser --precision")
    return value


def check_run_shots(total: int, what: str = "this run") -> int:
    """Refuse a run whose shots add up to more than ``MAX_RUN_SHOTS``, naming the figure."""
    if total > MAX_RUN_SHOTS:
        raise ExecutionError(f"{what} needs {figure(total)} shots in all, above qac's cap of {figure(MAX_RUN_SHOTS)} "
                             f"per run; ask for fewer shots, a looser --precision or a smaller kernel")
    return int(total)


def check_seed(value, where: str = "seed", error: type = ExecutionError) -> int:
    """A whole number from 0 to ``MAX_SEED`` (the spec, ``--seed`` and ``run(seed=)`` alike)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise error(f"{where} must be a whole number from 0 to {MAX_SEED}, not {value!r}")
    if not 0 <= int(value) <= MAX_SEED:
        raise error(f"{where} must be from 0 to {MAX_SEED}, not {int(value)}; pass e.g. {where}=7"
                    if where.isidentifier() else
                    f"{where} must be from 0 to {MAX_SEED}, not {int(value)}; pass e.g. {where} 7")
    return int(value)


def _first_beyond(array: np.ndarray, bound: float) -> tuple[int, int] | None:
    beyond = np.abs(array) > bound
    return tuple(int(x) for x in np.argwhere(beyond)[0]) if beyond.any() else None


def range_problem(Q, K, V, scale: float, heads: int = 1) -> tuple[str, str, tuple] | None:
    """The first number outside the range the pipeline carries, or ``None``.

    Returns (what is wrong, how to fix it, where: ``("Q", row, column)``, ``("K", row)``,
    ``("scale",)`` …, rows and columns from 0). Q and K are (N, d) and (M, d), V is (M, dv);
    heads split d, and ``scale`` is the one every head uses (1/√d_head for ``auto``).
    """
    for key, array, bound, fix in (
            ("Q", Q, MAX_INPUT, "divide Q by a common factor and multiply scale by it (the scores stay the same)"),
            ("K", K, MAX_INPUT, "divide K by a common factor and multiply scale by it (the scores stay the same)"),
            ("V", V, MAX_VALUE, "divide V by a common factor and multiply the output by it (the output is linear in V)")):
        array = np.asarray(array, dtype=float)
        bad = ~np.isfinite(array)
        if bad.any():  # a spec refuses these when it reads the matrix; arrays given directly meet them here
            i, j = (int(x) for x in np.argwhere(bad)[0])
            return f"row {i + 1}, column {j + 1} is {array[i, j]}", "use finite numbers (no nan or inf)", (key, i, j)
        spot = _first_beyond(array, bound)
        if spot is not None:
            i, j = spot
            return (f"row {i + 1}, column {j + 1} is {array[i, j]:.3g}, beyond the ±{bound:.0e} qac can carry "
                    f"(error bars square it)", fix, (key, i, j))
    Q, K = np.asarray(Q, dtype=float), np.asarray(K, dtype=float)
    d = Q.shape[1] // heads
    if not (len(Q) and len(K) and d):
        return None
    # every head's row norms in one call (a model forward has hundreds of heads): (rows, heads)
    q_all = np.linalg.norm(Q[:, :heads * d].reshape(len(Q), heads, d), axis=2)
    k_all = np.linalg.norm(K[:, :heads * d].reshape(len(K), heads, d), axis=2)
    tops = abs(float(scale)) * q_all.max(axis=0) * k_all.max(axis=0)
    for h in np.flatnonzero(~(tops <= MAX_LOGIT)):  # NaN or beyond: the heads to report, first first
        q_norms, k_norms = q_all[:, h], k_all[:, h]
        i, j = int(np.argmax(q_norms)), int(np.argmax(k_norms))
        logit = abs(float(scale)) * float(q_norms[i]) * float(k_norms[j])  # a Python float: inf, never a warning
        if logit > MAX_LOGIT:
            where = f" in head {h}" if heads > 1 else ""
            factors = {"scale": abs(float(scale)), "Q": float(q_norms[i]), "K": float(k_norms[j])}
            culprit = max(factors, key=lambda name: factors[name])
            at = {"scale": ("scale",), "Q": ("Q", i), "K": ("K", j)}[culprit]
            return (f"scale·|q|·|k| reaches {logit:.3g}{where} (query row {i + 1}, key row {j + 1}), beyond the "
                    f"{MAX_LOGIT:.0e} qac can carry (error bars square it)",
                    f"rescale Q or K, or lower scale, to bring it under {MAX_LOGIT:.0e} "
                    f"(a softmax is one-hot long before: for scores ~1e3 apart)", at)
    return None


def check_range(Q, K, V, scale: float, heads: int = 1) -> None:
    """``range_problem`` as a SpecError, for inputs that do not come from a spec (e.g. tensors)."""
    problem = range_problem(Q, K, V, scale, heads)
    if problem is not None:
        what, fix, at = problem
        raise SpecError(f"{at[0]}: {what}; {fix}")


def available() -> int | None:
    """Bytes the machine can still give (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
