"""``CompiledAttention.run``: check the options, run the plan on an engine, reconstruct a Result.

An exact run binds every data row and decodes its exact outcome distribution; a sampled run
builds a ``Plan``, runs it (one stage, or a pilot and a second stage for a precision), decodes
and mitigates (``estimates``). Both end in the same ``reconstruct``. Reads only the compiled
program and the run defaults (``seed``, ``shots``, ``precision``) of its spec.
"""

from __future__ import annotations

import numpy as np

from qac.decode import estimate_from_probabilities, finish
from qac.errors import ExecutionError
from qac.exact import exact_distributions
from qac.execution.engine import ENGINES
from qac.execution.estimates import KernelEstimate, estimates
from qac.execution.plan import Plan
from qac.execution.precision import PILOT_SHOTS, allocate
from qac.execution.reconstruct import reconstruct
from qac.execution.result import Result
from qac.packing import pairs_per_circuit, template_of


def check_options(defaults, *, shots, exact: bool, noise: bool, mitigation, precision, pilot_shots):
    """(shots, mitigation, precision, pilot_shots) with defaults filled in, or an ExecutionError."""
    if precision is None:
        precision = getattr(defaults, "precision", None)
    if precision is not None:
        if isinstance(precision, bool) or not isinstance(precision, (int, float, np.floating)) \
                or not np.isfinite(precision) or not 0 < precision <= 1:
            raise ExecutionError(f"precision must be in (0, 1], not {precision!r}; "
                                 f"give the wanted standard error of the output, e.g. 0.01")
    if mitigation is None:
        mitigation = bool(noise)
    if exact:
        if noise or mitigation or precision is not None:
            raise ExecutionError("exact=True computes noiseless infinite-shot probabilities; "
                                 "drop noise/mitigation/precision or exact=True")
        return None, False, None, None
    explicit = shots is not None
    shots = defaults.shots if shots is None else shots
    for label, value in (("shots", shots), ("pilot_shots", pilot_shots)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0):
            raise ExecutionError(f"{label} must be a positive whole number, not {value!r}")
    if precision is not None and pilot_shots is None and explicit:
        pilot_shots = int(shots)
    return int(shots), bool(mitigation), precision, pilot_shots


def run(compiled, shots=None, *, noise=False, seed=None, exact=False, mitigation=None, precision=None,
        pilot_shots=None, engine: str = "aer") -> Result:
    """See ``CompiledAttention.run``."""
    shots, mitigation, precision, pilot_shots = check_options(
        compiled.spec, shots=shots, exact=exact, noise=noise, mitigation=mitigation, precision=precision,
        pilot_shots=pilot_shots)
    if exact:
        return run_exact(compiled)
    seed = compiled.spec.seed if seed is None else seed
    return run_sampled(compiled, shots=shots, noise=noise, seed=seed, mitigation=mitigation, precision=precision,
                       pilot_shots=pilot_shots, engine=ENGINES[engine])


def exact_estimates(program) -> dict[str, KernelEstimate]:
    """Per kernel: every data row bound, its exact distribution decoded like sampled counts."""
    out = {}
    for kernel in program.module.plan.kernels:
        values = program.module.bindings[kernel.name].values
        if not len(values):
            out[kernel.name] = KernelEstimate(np.zeros(0), np.zeros(0))
            continue
        name = template_of(program, kernel)
        decoding = program.module.templates[name].decoding
        distributions = exact_distributions(program.isa[name], values)
        mean, sem = estimate_from_probabilities(distributions, decoding.outcome_values)
        out[kernel.name] = KernelEstimate(*finish(mean, sem, signed=decoding.signed))
    return out


def run_exact(compiled) -> Result:
    estimated = exact_estimates(compiled.program)
    r = reconstruct(compiled.program, estimated)
    return Result(output=r.output, stderr=r.stderr, exact=compiled.exact, scores=r.scores,
                  scores_stderr=r.scores_stderr, inner_products=r.inner_products, shots=None, noise=False,
                  target=compiled.target.name)


def run_sampled(compiled, *, shots: int, noise: bool, seed: int, mitigation: bool, precision: float | None,
                pilot_shots: int | None, engine) -> Result:
    """Sample (and mitigate) every kernel; with ``precision``, a pilot stage then shots per score
    from the delta-method Jacobian (``qac/execution/precision.py``)."""
    noise_model = None
    if noise:
        noise_model = compiled.target.noise_model()
        if noise_model is None:
            raise ExecutionError(f"target '{compiled.target.name}' has no noise model; "
                                 f"use a device target such as ibm_brisbane for --noise")
    program = compiled.program
    plan = Plan(program, compiled.execution_circuits, mitigation=mitigation)
    first = shots if precision is None else (pilot_shots or PILOT_SHOTS)

    def stage(pair_shots: dict, calibration: int, stage_seed: int):
        requests = []
        for kernel, extra in pair_shots.items():
            blocks = plan.data_blocks(kernel)
            per_block = -(-np.asarray(extra, dtype=np.int64) // len(blocks))
            requests += [(b, per_block) for b in blocks]
        if calibration:
            for b in plan.calibration_blocks():
                paired = plan.templates[b.template].symmetrise and b.circuit is None
                per_row = -(-calibration // 2) if paired else calibration
                requests.append((b, np.full(len(b.copy), per_row, dtype=np.int64)))
        plan.run(requests, engine=engine, seed=stage_seed, noise_model=noise_model)

    stage({k: np.full(len(plan.data_blocks(k)[0].copy), first) for k in plan.kernels}, first if mitigation else 0, seed)
    estimated, report = estimates(plan)
    allocation = {}
    if precision is not None:
        extra, uniform_total, adaptive_total = allocate(program, estimated, precision, first)
        calibration = int(max((np.max(e.shots + extra[k]) for k, e in estimated.items() if e is not None), default=0))
        stage(extra, calibration if mitigation else 0, seed + 1)
        estimated, report = estimates(plan)
        used = sum(int(np.sum(e.shots)) for e in estimated.values() if e is not None)
        allocation = {"requested": precision, "pair_shots": used, "uniform_pair_shots": uniform_total,
                      "planned_pair_shots": adaptive_total,
                      "saving": 1.0 - used / uniform_total if uniform_total else 0.0, "pilot_shots": first}
    circuits, used = plan.device_cost()
    return sampled_result(compiled, estimated, report, shots=first if precision is None else None, noise=noise,
                          mitigation=mitigation, circuits=circuits, shots_used=used, precision=allocation, seed=seed)


def sampled_result(compiled, estimated: dict, report: dict, *, shots: int | None, noise: bool, mitigation: bool,
                   circuits: int, shots_used: int, precision: dict, seed: int) -> Result:
    """Per-kernel sampled estimates → the Result (raw and, mitigated, both reconstructions).
    The one tail of every sampled path: runs and ``decode_counts`` (``qac/execution/counts.py``).
    ``shots``: per pair; None: the largest any pair got. ``seed``: the run seed (error bars that
    are resampled draw from it)."""
    program = compiled.program
    raw = reconstruct(program, {k: None if e is None else e.raw for k, e in estimated.items()})
    main = reconstruct(program, {k: None if e is None else e.mitigated for k, e in estimated.items()}) \
        if mitigation else raw
    if shots is None:
        shots = int(max((np.max(e.shots) for e in estimated.values() if e is not None and len(e.shots)), default=0))
    return Result(output=main.output, stderr=main.stderr, exact=compiled.exact, scores=main.scores,
                  scores_stderr=main.scores_stderr, inner_products=main.inner_products,
                  shots=shots, noise=noise, target=compiled.target.name,
                  mitigated=mitigation, raw_output=raw.output, raw_stderr=raw.stderr, raw_scores=raw.scores,
                  raw_scores_stderr=raw.scores_stderr, raw_inner_products=raw.inner_products, shots_used=shots_used,
                  circuits_run=circuits, pairs_per_circuit=pairs_per_circuit(program), mitigation=report,
                  precision=precision)
