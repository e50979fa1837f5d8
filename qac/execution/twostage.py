"""Two-stage runs (``pv: quantum``): Q·Kᵀ on circuits, softmax classically, P·V on circuits.

    stage 1: the Q·Kᵀ kernels (plan, engine, estimates, mitigation) ─▶ scores ─▶ softmax + mask ─▶ P̂
    stage 2: P̂'s unit rows bound into the P·V template by the L3 binder (``qac.kernels.binding``; V's
             directions were bound at compile time) ─▶ the same plan/engine/estimates ─▶ ⟨p̂_i|v̂_k⟩
    output:  O_ik = |p_i|·|v_k|·⟨p̂_i|v̂_k⟩; zero rows of P and zero columns of V give 0 classically

Each stage runs its own plan on the same engine, with its own calibration rows (bound at compile
time: the P·V template's are drawn like stage 1's) and its own seed. Error bars go through both
stages in one bootstrap (``qac.execution.stage2_errorbars``). A ``precision`` is split evenly in variance:
stage 1 aims at precision/√2 with its own planner (the bootstrap's sensitivities of the
classical P·V output), stage 2 at precision/√2 with shots per pair from its sensitivity
∂O_ik/∂c_ik = |p_i|·|v_k| and the pilot's per-shot noise; the final bars say what was reached.
Nothing here imports ``qac.passes`` or ``qac.ir.pipeline``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qac.errors import InternalError
from qac.execution import errorbars
from qac.execution.closed_form import describe
from qac.execution.errorbars import softmax_rows
from qac.execution.reconstruct import dense, head_inputs, reconstruct
from qac.execution.result import Result
from qac.execution.stage2_errorbars import two_stage_head
from qac.execution.stage2_precision import refine_stage2
from qac.ir import Binding
from qac.ir.packing import pairs_per_circuit
from qac.kernels import binding


def stage_view(program, stage: int):
    """The program restricted to one stage's kernels (templates, bindings and ISA shared)."""
    module = program.module
    kernels = tuple(k for k in module.plan.kernels if k.stage == stage)
    return replace(program, module=replace(module, plan=replace(module.plan, kernels=kernels)))


def weights_of(scores: np.ndarray) -> np.ndarray:
    """P = softmax of the (heads, N, M) scaled scores, −inf where masked (rows with no key: 0)."""
    return softmax_rows(scores)


def bind_weights(program, weights: np.ndarray, keep: np.ndarray | None = None):
    """The stage-2 program: each P·V kernel's lhs rows set to P̂'s unit rows and bound by the binder.
    ``keep`` (heads, N, M) multiplies P̂ first (attention dropout); a row it drops whole is bound as
    its first key's unit row and weighs 0 (its norm)."""
    if keep is not None:
        weights = weights * keep
    module, view = program.module, stage_view(program, 2)
    kernels, bindings = [], dict(module.bindings)
    for kernel in view.module.plan.kernels:
        units, norms = binding.unit_rows(weights[kernel.head], kernel.d_pad)
        rows = np.unique(kernel.pairs[:, 0])
        if keep is not None:
            units[norms == 0, 0] = 1.0  # dropped whole: any unit row binds; its norm 0 zeroes the output
        if keep is None and np.any(norms[rows] == 0):
            raise InternalError(f"{kernel.name}: a row of P with visible keys came out zero")
        kernel = replace(kernel, lhs_units=units, lhs_norms=norms, lhs_angles=None, rhs_angles=None)
        old = module.bindings[kernel.name]
        template = module.templates[old.template]
        rows = [binding.PairBinder(template.estimator, template.encoding, template.tree, kernel.d,
                                   template.num_parameters, kernel.lhs_units, kernel.rhs_units, kernel.pairs,
                                   partner=partner) for partner in (False, True)]
        partners = rows[1] if template.decoding.odd and len(kernel.pairs) else None
        bindings[kernel.name] = Binding(kernel.name, old.template, rows[0], partners)  # bound when read
        kernels.append(kernel)
    plan = replace(view.module.plan, kernels=tuple(kernels))
    return replace(program, module=replace(module, plan=plan, bindings=bindings))


def outputs(program, view1, view2, first: dict, second: dict, *, rng, keep=None) -> tuple[np.ndarray, np.ndarray]:
    """(output, σ) with heads on the feature axis, from per-kernel estimates of both stages."""
    graph = program.module.plan.graph
    by_head = {k.head: k for k in view1.module.plan.kernels}
    out, err = [], []
    for k2 in view2.module.plan.kernels:
        k1 = by_head[k2.head]
        scale, _ = head_inputs(graph, k2.head)
        inner, sem, g1, c1 = dense(k1, first.get(k1.name))
        c2, sem2, g2, cov2 = dense(k2, second.get(k2.name))
        estimated = np.zeros(k2.shape, dtype=bool)
        estimated[k2.pairs[:, 0], k2.pairs[:, 1]] = True
        o, s = two_stage_head(
            {"inner": inner, "sem": sem, "lhs_norms": k1.lhs_norms, "rhs_norms": k1.rhs_norms, "visible": k1.visible,
             "scale": scale, "bias": getattr(k1, "bias", None), "gradient": g1, "covariance": c1,
             "keep": None if keep is None else keep[k2.head]},
            {"c2": c2, "sem": sem2, "estimated": estimated, "bound": k2.lhs_units[:, :k2.d],
             "v_units": k2.rhs_units[:, :k2.d], "v_norms": k2.rhs_norms, "gradient": g2, "covariance": cov2},
            rng=rng)
        out.append(o)
        err.append(s)
    return np.concatenate(out, axis=1), np.concatenate(err, axis=1)


def run_two_stage(compiled, *, exact: bool, shots, noise_model, seed: int, mitigation: bool, precision,
                  pilot_shots, engine, sample, exact_estimates, weights_keep=None) -> Result:
    """See ``CompiledAttention.run``; the stages are described in the module docstring. ``sample``
    and ``exact_estimates`` are ``qac.execution.run``'s single-stage runners (passed in: no cycle)."""
    program = compiled.program
    view1 = stage_view(program, 1)
    if exact:
        first = exact_estimates(view1, engine)
        r1 = reconstruct(view1, first)
        view2 = bind_weights(program, weights_of(r1.scores), weights_keep)
        second = exact_estimates(view2, engine)
        output, stderr = outputs(program, view1, view2, first, second, rng=np.random.default_rng(0),
                                 keep=weights_keep)
        return Result(output=output, stderr=np.zeros_like(output), exact=compiled.exact, scores=r1.scores,
                      scores_stderr=r1.scores_stderr, inner_products={**r1.inner_products, **pairs_of(view2, second)},
                      shots=None, noise=False, target=compiled.target.name,
                      error_method="exact (infinite shots: no error)", stages=stage_table(program, view1, view2),
                      engine=engine_label(engine))
    return run_sampled_two_stage(compiled, view1, shots=shots, noise_model=noise_model, seed=seed,
                                 mitigation=mitigation, precision=precision, pilot_shots=pilot_shots, engine=engine,
                                 sample=sample, weights_keep=weights_keep)


def pairs_of(view, estimated: dict) -> dict:
    return {k.name: (np.zeros(0), np.zeros(0)) if estimated.get(k.name) is None else
            (estimated[k.name].mean, estimated[k.name].sem) for k in view.module.plan.kernels}


def stage_table(program, view1, view2, plans=None) -> dict:
    """Per stage: kernels, pairs and (sampled runs) the circuits and shots a device would run."""
    out = {}
    for stage, view in ((1, view1), (2, view2)):
        kernels = view.module.plan.kernels
        entry = {"kernels": [k.name for k in kernels], "pairs": int(sum(len(k.pairs) for k in kernels))}
        if plans is not None:
            entry["circuits"], entry["shots"] = plans[stage - 1].device_cost()
        out[f"stage{stage}"] = entry
    return out


def run_sampled_two_stage(compiled, view1, *, shots: int, noise_model, seed: int, mitigation: bool, precision,
                          pilot_shots, engine, sample, weights_keep=None) -> Result:
    program, circuits = compiled.program, compiled.execution_circuits
    noise = noise_model is not None
    kind = "mitigated" if mitigation else "raw"
    split = None if precision is None else float(precision / np.sqrt(2.0))
    plan1, est1, report1, alloc1, first = sample(view1, circuits, shots=shots, noise_model=noise_model, seed=seed,
                                                 mitigation=mitigation, precision=split, pilot_shots=pilot_shots,
                                                 engine=engine)
    pick = {name: {k: None if e is None else getattr(e, name) for k, e in est1.items()} for name in ("raw", kind)}
    r1 = {name: reconstruct(view1, pick[name]) for name in pick}
    view2 = bind_weights(program, weights_of(r1[kind].scores), weights_keep)
    plan2, est2, report2, alloc2 = sample_stage2(view2, circuits, shots=first,
                                                 noise_model=noise_model, seed=seed,
                                                 mitigation=mitigation, precision=split, engine=engine, sample=sample)
    second = {name: {k: None if e is None else getattr(e, name) for k, e in est2.items()} for name in ("raw", kind)}
    results = {}
    for name in ("raw", kind):
        results[name] = outputs(program, view1, view2, pick[name], second[name],
                                rng=errorbars.bootstrap_rng(seed, f"stage2_{name}"), keep=weights_keep)
    (output, stderr), (raw_output, raw_stderr) = results[kind], results["raw"]
    c1, used1 = plan1.device_cost()
    c2, used2 = plan2.device_cost()
    allocation = {} if precision is None else {"requested": precision, "stage1": alloc1, "stage2": alloc2,
                                               "achieved": float(np.max(stderr)) if stderr.size else 0.0,
                                               "reached": bool(stderr.size == 0 or np.max(stderr) <= precision)}
    path, metadata = describe([plan1.paths, plan2.paths], engine_label(engine))
    largest = int(max((np.max(e.shots) for est in (est1, est2) for e in est.values() if e is not None), default=0))
    return Result(output=output, stderr=stderr, exact=compiled.exact, scores=r1[kind].scores,
                  scores_stderr=r1[kind].scores_stderr,
                  inner_products={**r1[kind].inner_products, **pairs_of(view2, second[kind])},
                  shots=first if precision is None else largest, noise=noise, target=compiled.target.name,
                  mitigated=mitigation, raw_output=raw_output, raw_stderr=raw_stderr, raw_scores=r1["raw"].scores,
                  raw_scores_stderr=r1["raw"].scores_stderr,
                  raw_inner_products={**r1["raw"].inner_products, **pairs_of(view2, second["raw"])},
                  shots_used=used1 + used2, circuits_run=c1 + c2, pairs_per_circuit=pairs_per_circuit(program),
                  mitigation={**report1, **{f"stage2:{k}": v for k, v in report2.items()}}, precision=allocation,
                  error_method=errorbars.method(noise=noise, mitigation=mitigation,
                                                suffix=" through both stages (qac.execution.stage2_errorbars)"),
                  stages=stage_table(program, view1, view2, (plan1, plan2)), engine=engine_label(engine),
                  engine_metadata=metadata, engine_path=path)


def engine_label(engine) -> str:
    return getattr(engine, "name", None) or type(engine).__name__


def sample_stage2(view2, circuits, *, shots: int, noise_model, seed: int, mitigation: bool, precision, engine,
                  sample):
    """Stage 2's run: ``shots`` per pair, or with ``precision`` a pilot of ``shots`` per pair then
    shots per pair from the sensitivity |p_i|·|v_k| (see the module docstring)."""
    plan, estimated, report, _, _ = sample(view2, circuits, shots=shots, noise_model=noise_model, seed=seed,
                                           mitigation=mitigation, precision=None, pilot_shots=None, engine=engine,
                                           stream="stage2")
    if precision is None:
        return plan, estimated, report, {}

    return refine_stage2(plan, estimated, report, shots=shots, seed=seed, mitigation=mitigation,
                         precision=precision, engine=engine, noise_model=noise_model)
