"""``CompiledAttention.run``: check the options, run the plan on an engine, reconstruct a Result.

An exact run binds every data row and decodes its exact outcome distribution; a sampled run
builds a ``RunPlan``, runs it (one stage, or a pilot and a second stage for a precision), decodes
and mitigates (``estimates``). Both end in the same ``reconstruct``. Reads only the compiled
program and the run defaults (``seed``, ``shots``, ``precision``) of its spec.
"""

from __future__ import annotations

import numpy as np

from qac import seeds
from qac.errors import ExecutionError, InternalError
from qac.execution import engines, errorbars, memory
from qac.execution.closed_form import describe
from qac.execution.estimates import KernelEstimate, estimates
from qac.execution.options import DEFAULT_ENGINE, RunOptions
from qac.execution.plan import RunPlan
from qac.execution.precision import REFINEMENTS, allocate
from qac.execution.reconstruct import reconstruct
from qac.execution.result import Result
from qac.ir.packing import pairs_per_circuit, template_of
from qac.kernels.decode import estimate_from_probabilities, finish
from qac.kernels.exact import exact_distributions
from qac.limits import PILOT_SHOTS


def run(compiled, shots=None, *, noise=False, seed=None, exact=False, mitigation=None, precision=None,
        pilot_shots=None, engine=DEFAULT_ENGINE, workers=None, scheduler=None, progress=None,
        options: RunOptions | None = None, weights_keep=None, errorbars: str = "bootstrap") -> Result:
    """See ``CompiledAttention.run``: the keyword options, or one resolved ``RunOptions``."""
    if options is None:
        options = RunOptions.resolve(compiled.spec, shots=shots, noise=noise, seed=seed, exact=exact,
                                     mitigation=mitigation, precision=precision, pilot_shots=pilot_shots,
                                     engine=engine, workers=workers, scheduler=scheduler,
                                     pairs=sum(len(k.pairs) for k in compiled.kernels), errorbars=errorbars)
    engine = resolve_engine(options.engine, workers=options.workers, scheduler=options.scheduler, progress=progress)
    try:
        return _run(compiled, options, engine, weights_keep)
    finally:
        if options.workers is not None or options.scheduler is not None:
            engine.close()  # the Dask workers this run started


def _run(compiled, options: RunOptions, engine, weights_keep=None) -> Result:
    o = options
    if not two_stage(compiled.program):  # the two-stage run's second table is not in the bound yet
        memory.check(compiled, noise=o.noise, mitigation=o.mitigation, precision=o.precision, workers=o.workers or 0)
    if two_stage(compiled.program):  # pv: quantum
        from qac.execution.twostage import run_two_stage

        if o.errorbars != "bootstrap":
            raise ExecutionError("a pv: quantum run reports the two stages' joint bootstrap; "
                                 "errorbars='delta' is for one-stage runs")

        # this module's single-stage runners are handed over, so twostage does not import run
        return run_two_stage(compiled, exact=o.exact, shots=o.shots, noise_model=noise_model_of(compiled, o.noise),
                             seed=o.seed, mitigation=o.mitigation, precision=o.precision, pilot_shots=o.pilot_shots,
                             engine=engine, sample=sample, exact_estimates=exact_estimates,
                             weights_keep=weights_keep)
    if o.exact:
        return run_exact(compiled, engine)
    return run_sampled(compiled, shots=o.shots, noise=o.noise, seed=o.seed, mitigation=o.mitigation,
                       precision=o.precision, pilot_shots=o.pilot_shots, engine=engine, bars=o.errorbars)


def resolve_engine(engine, *, workers=None, scheduler=None, progress=None):
    """An engine object from a registry name, or the object itself if it has ``counts``."""
    if isinstance(engine, str):
        return engines.make(engine, workers=workers, scheduler=scheduler, progress=progress)
    if not callable(getattr(engine, "counts", None)):
        raise ExecutionError(f"an engine needs a counts(pubs, *, seed, noise_model) method; got {engine!r}")
    return engine


def engine_name(engine) -> str:
    return getattr(engine, "name", None) or type(engine).__name__


def two_stage(program) -> bool:
    """Whether the program lowers P·V to circuits too (``pv: quantum``: stage-2 kernels)."""
    return any(k.stage == 2 for k in program.module.plan.kernels)


def exact_estimates(program, engine=None) -> dict[str, KernelEstimate]:
    """Per kernel: every data row bound, its exact distribution decoded like sampled counts; the
    distributions from the engine's ``probabilities`` when it has them (the batched engine: all
    rows at once), else a statevector per row (``qac.kernels.exact``)."""
    out = {}
    for kernel in program.module.plan.kernels:
        values = program.module.bindings[kernel.name].values
        if not len(values):
            out[kernel.name] = KernelEstimate(np.zeros(0), np.zeros(0))
            continue
        name = template_of(program, kernel)
        decoding = program.module.templates[name].decoding
        distributions = None
        if engine is not None and callable(getattr(engine, "probabilities", None)):
            distributions = engine.probabilities(program.isa[name], values)
        if distributions is None:
            distributions = exact_distributions(program.isa[name], values)
        mean, sem = estimate_from_probabilities(distributions, decoding.outcome_values)
        out[kernel.name] = KernelEstimate(*finish(mean, sem, signed=decoding.signed))
    return out


def run_exact(compiled, engine=None) -> Result:
    estimated = exact_estimates(compiled.program, engine)
    r = reconstruct(compiled.program, estimated)
    return Result(output=r.output, stderr=r.stderr, exact=compiled.exact, scores=r.scores,
                  scores_stderr=r.scores_stderr, inner_products=r.inner_products, shots=None, noise=False,
                  target=compiled.target.name, error_method="exact (infinite shots: no error)",
                  engine=engine_name(engine) if callable(getattr(engine, "probabilities", None)) else "statevector")


def run_sampled(compiled, *, shots: int, noise: bool, seed: int, mitigation: bool, precision: float | None,
                pilot_shots: int | None, engine, bars: str = "bootstrap") -> Result:
    """Sample (and mitigate) every kernel; with ``precision``, a pilot stage then shots per score
    from the bootstrap's sensitivities (``qac/execution/precision.py``)."""
    plan, estimated, report, allocation, first = sample(
        compiled.program, compiled.execution_circuits, shots=shots, noise_model=noise_model_of(compiled, noise),
        seed=seed, mitigation=mitigation, precision=precision, pilot_shots=pilot_shots, engine=engine)
    circuits, used = plan.device_cost()
    path, metadata = describe([plan.paths], engine_name(engine))
    return sampled_result(compiled, estimated, report, shots=first if precision is None else None, noise=noise,
                          mitigation=mitigation, circuits=circuits, shots_used=used, precision=allocation, seed=seed,
                          engine=engine_name(engine), engine_metadata=metadata, engine_path=path, bars=bars)


def noise_model_of(compiled, noise: bool):
    """The target's Aer noise model for a noisy run (None when ideal), or an ExecutionError."""
    if not noise:
        return None
    compiled.target.require_noise()
    from qac.execution.aer_engine import active_qubits

    qubits = set().union(*(active_qubits(c) for c in compiled.program.isa.values()))
    noise_model = compiled.target.noise_model_for(qubits)  # only the qubits the program uses (cached)
    if noise_model is None:
        raise InternalError(f"target '{compiled.target.name}' ({compiled.target.kind}) built no noise model")
    return noise_model


def sample(program, circuits, *, shots: int, noise_model, seed: int, mitigation: bool, precision: float | None,
           pilot_shots: int | None, engine, stream: str = "stage"):
    """Run every kernel of ``program`` (a pilot and refinements with ``precision``) and decode:
    (plan, estimates per kernel, mitigation report, precision record, first-stage shots).
    Stage k samples with ``seeds.stage_seed(seed, stream, k)`` (a two-stage run's P·V stage:
    ``stream="stage2"``), so no stage of any run seed shares another's draws."""
    plan = RunPlan(program, circuits, mitigation=mitigation)
    first = shots if precision is None else (pilot_shots or PILOT_SHOTS)

    def stage(pair_shots: dict, calibration: int, index: int):
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
        plan.run(requests, engine=engine, seed=seeds.stage_seed(seed, stream, index), noise_model=noise_model)

    stage({k: np.full(len(plan.data_blocks(k)[0].copy), first) for k in plan.kernels}, first if mitigation else 0, 0)
    estimated, report = estimates(plan)
    allocation = {}
    if precision is not None:
        allocation = refine(program, plan, estimated, precision, first, seed=seed, mitigation=mitigation, stage=stage)
        estimated, report = estimates(plan)
    return plan, estimated, report, allocation, first


def sampled_result(compiled, estimated: dict, report: dict, *, shots: int | None, noise: bool, mitigation: bool,
                   circuits: int, shots_used: int, precision: dict, seed: int, engine: str,
                   engine_metadata: dict | None = None, engine_path: str = "", bars: str = "bootstrap") -> Result:
    """Per-kernel sampled estimates → the Result (raw and, mitigated, both reconstructions, with
    bootstrap bars from the run seed, or the delta method's with ``bars="delta"``). The one tail of
    every sampled path: runs and ``decode_counts`` (``qac/execution/counts.py``). ``shots``: per
    pair; None: the largest any pair got."""
    program = compiled.program

    def rng(kind: str):
        return errorbars.bootstrap_rng(seed, kind) if bars == "bootstrap" else None
    raw = reconstruct(program, {k: None if e is None else e.raw for k, e in estimated.items()}, rng=rng("raw"))
    main = reconstruct(program, {k: None if e is None else e.mitigated for k, e in estimated.items()},
                       rng=rng("mitigated")) if mitigation else raw
    if shots is None:
        shots = int(max((np.max(e.shots) for e in estimated.values() if e is not None and len(e.shots)), default=0))
    return Result(output=main.output, stderr=main.stderr, exact=compiled.exact, scores=main.scores,
                  scores_stderr=main.scores_stderr, inner_products=main.inner_products,
                  shots=shots, noise=noise, target=compiled.target.name,
                  mitigated=mitigation, raw_output=raw.output, raw_stderr=raw.stderr, raw_scores=raw.scores,
                  raw_scores_stderr=raw.scores_stderr, raw_inner_products=raw.inner_products, shots_used=shots_used,
                  circuits_run=circuits, pairs_per_circuit=pairs_per_circuit(program), mitigation=report,
                  precision=precision, error_method=errorbars.method(noise=noise, mitigation=mitigation, bars=bars), engine=engine,
                  engine_metadata=engine_metadata or {}, engine_path=engine_path)


def reported_sigma(program, estimated, seed: int, mitigation: bool) -> float:
    """The largest σ the result will report for these estimates (same bootstrap seeds)."""
    kind = "mitigated" if mitigation else "raw"
    bars = reconstruct(program, {k: None if e is None else getattr(e, kind) for k, e in estimated.items()},
                       rng=errorbars.bootstrap_rng(seed, kind))
    return float(np.max(bars.stderr)) if bars.stderr.size else 0.0


def refine(program, plan, estimated, precision: float, first: int, *, seed: int, mitigation: bool, stage) -> dict:
    """After the pilot: up to ``REFINEMENTS`` stages of planned shots, each checked against the
    bootstrap bars the result will report (same seeds), stopping once every entry's σ ≤ precision."""
    planning = errorbars.bootstrap_rng(seed, "pilot")
    uniform_total = planned_total = 0
    stages = 0
    achieved = reported_sigma(program, estimated, seed, mitigation)  # the pilot may already reach it
    for refinement in range(1, REFINEMENTS + 1):
        extra, uniform, planned_total = allocate(program, estimated, precision, first, rng=planning)
        uniform_total = uniform_total or uniform
        if achieved <= precision or not any(np.any(shots > 0) for shots in extra.values()):
            break
        calibration = int(max((np.max(e.shots + extra[k]) for k, e in estimated.items() if e is not None),
                              default=0))
        stage(extra, calibration if mitigation else 0, refinement)
        stages += 1
        estimated, _ = estimates(plan)
        achieved = reported_sigma(program, estimated, seed, mitigation)
        if achieved <= precision:
            break
    used = sum(int(np.sum(e.shots)) for e in estimated.values() if e is not None)
    return {"requested": precision, "reached": bool(achieved <= precision), "achieved": achieved,
            "pair_shots": used, "planned_pair_shots": planned_total, "uniform_pair_shots_model": uniform_total,
            "pilot_shots": first, "stages": 1 + stages}
