"""``cost`` (L4 → L4, analysis): what a kernel costs on a target, and the ``auto`` choice.

For each candidate (encoding, estimator) of a kernel shape the model transpiles its template
for the target exactly as ``layout`` would, then reports the routed two-qubit count, depth,
critical-path duration and the estimated success probability ESP (``layout.calibration``),
and the shot-noise variance of the estimate at a typical inner product c = 0 (unrelated
directions; ``passes/estimate`` has each estimator's formula σ²(c)).

Noise model (global depolarising, the usual ESP reading): the decoded mean shrinks by ESP,
and rescaling it back (``qac/mitigate.py``) inflates the shot noise by 1/ESP. Rescaling
removes the average attenuation but not each pair's own deviation from it, so a residual
bias proportional to the infidelity stays, b = κ·(1 − ESP). For S shots and precision ε

    expected error  e(S) = √(σ² / (ESP² · S) + b²),   shots for ε   S(ε) = ⌈σ² / (ESP² (ε² − b²))⌉,

and ε ≤ b cannot be reached with shots (``shots_for_precision`` is then null). κ = 0.1 is
measured, not tuned: mitigated runs of the interference kernel on the ibm_brisbane snapshot
left per-pair residuals of 0.05–0.2 × (1 − ESP) (d = 8, N = M = 8: ≈ 0.006 at 1 − ESP ≈ 0.13;
d = 4: ≈ 0.01 at 1 − ESP ≈ 0.05; tests/test_mitigation.py runs both); κ is their geometric mean.
Without the term every shot would be worth the same on a clean and on a noisy kernel, and
the ranking would ignore the two-qubit gates that mitigation cannot undo.

``auto`` picks the candidate with the lowest expected error at the spec's shots (ties:
fewer routed two-qubit gates, fewer qubits, then the name). Candidates that cannot win are
skipped with the reason recorded: templates the target cannot hold, and *dominated* ones
(``hadamard`` is ``interference`` plus generic controls, ``swap`` is ``destructive_swap``
plus an ancilla and controlled-SWAPs — same variance, strictly more gates).

As a pass, ``cost`` publishes these figures for the compiled templates — and, when it
follows an ``auto`` choice, the ranked candidates and the runner-up — under the manifest's
``cost`` key (``program.facts["manifest"]["cost"]``). Figures are deterministic (no timings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from qac.errors import CompileError, QacError
from qac.ir import IsaProgram
from qac.pipeline import CompileContext, Pass

DEFAULT_PRECISION = 0.01
AUTO_OPTIMIZATION_LEVEL = 3  # the template is transpiled once, so auto can afford to be thorough
AUTO_TRIALS = 4
DOMINATED = {"hadamard": "interference", "swap": "destructive_swap"}


RESIDUAL_BIAS = 0.1  # κ: per-pair error left after signal rescale, per unit of infidelity (module doc)


def statistics(estimator: str, esp: float, shots: int, precision: float) -> dict:
    """Variance per shot, expected error at ``shots`` and shots for ``precision`` (see module doc)."""
    from qac.passes.estimate import ESTIMATORS

    variance = float(ESTIMATORS[estimator].per_shot_variance(0.0))
    esp = max(esp, 1e-300)
    bias = RESIDUAL_BIAS * (1.0 - min(esp, 1.0))
    reachable = precision > bias
    return {"variance_per_shot": round(variance, 12), "residual_bias": float(f"{bias:.12g}"),
            "expected_error": float(f"{math.sqrt(variance / (shots * esp**2) + bias**2):.12g}"),
            "shots_for_precision": int(math.ceil(variance / (esp**2 * (precision**2 - bias**2)) - 1e-9))
            if reachable else None}


def program_figures(isa, target) -> dict:
    """Routed resources + calibration of one ISA circuit."""
    from qac.passes.layout import calibration, physical_qubits, resources

    res, cal = resources(isa), calibration(isa, target)
    return {"qubits": res["qubits"], "two_qubit_gates": res["two_qubit_gates"], "depth": res["depth"],
            "duration_ns": cal["duration_ns"], "esp": float(f"{cal['esp']:.12g}"),
            "physical_qubits": physical_qubits(isa)}


@lru_cache(maxsize=256)
def _routed(encoding: str, estimator: str, d: int, target_name: str, optimization_level: int,
            trials: int, seed: int) -> tuple:
    """Transpile a candidate's template (memoised: the pure function of its arguments)."""
    from qac import targets
    from qac.passes.estimate import ESTIMATORS, template_name
    from qac.passes.layout import transpile_template

    target = targets.get(target_name)
    est = ESTIMATORS[estimator]
    name = template_name(encoding, estimator, est.width(d, encoding))
    isa = transpile_template(est.build(d, name, encoding), target, optimization_level=optimization_level,
                             seed=seed, trials=trials)
    return tuple(sorted(program_figures(isa, target).items()))


def candidate_figures(encoding: str, estimator: str, d: int, target, *, optimization_level: int,
                      trials: int, seed: int, shots: int, precision: float) -> dict:
    figures = dict(_routed(encoding, estimator, d, target.name, optimization_level, trials, seed))
    figures["physical_qubits"] = list(figures["physical_qubits"])
    return {"encoding": encoding, "estimator": estimator, **figures,
            **statistics(estimator, figures["esp"], shots, precision)}


def candidates(encoding: str = "auto", estimator: str = "auto") -> list[tuple[str, str]]:
    """Every compatible (encoding, estimator) pair the spec's choices leave open."""
    from qac.passes.encode import ENCODINGS
    from qac.passes.estimate import ESTIMATORS

    return [(e, s) for s in ESTIMATORS for e in ENCODINGS
            if e in ESTIMATORS[s].encodings and encoding in ("auto", e) and estimator in ("auto", s)]


def rank_key(row: dict) -> tuple:
    return (row["expected_error"], row["two_qubit_gates"], row["qubits"], row["encoding"], row["estimator"])


def choose(d: int, target, *, encoding: str = "auto", estimator: str = "auto", shots: int = 4096,
           precision: float | None = None, seed: int = 0, optimization_level: int = AUTO_OPTIMIZATION_LEVEL,
           trials: int = AUTO_TRIALS) -> dict:
    """Evaluate the candidates for a kernel of width ``d`` on ``target``; the best first.

    Returns ``{"choice", "runner_up", "candidates" (ranked, evaluated), "skipped"}``.
    """
    from qac.passes.estimate import ESTIMATORS

    precision = DEFAULT_PRECISION if precision is None else precision
    pool = candidates(encoding, estimator)
    if not pool:
        raise CompileError(f"cost: encoding '{encoding}' and estimator '{estimator}' do not work together; "
                           f"set one of them to auto")
    evaluated, skipped = [], []
    for enc, est in pool:
        rival = DOMINATED.get(est)
        if rival and (enc, rival) in pool:
            skipped.append({"encoding": enc, "estimator": est, "reason": f"dominated by {enc}/{rival}"})
            continue
        need = ESTIMATORS[est].qubits(d, enc)
        if need > target.num_qubits:
            skipped.append({"encoding": enc, "estimator": est, "reason": f"needs {need} qubits"})
            continue
        try:
            evaluated.append(candidate_figures(enc, est, d, target, optimization_level=optimization_level,
                                               trials=trials, seed=seed, shots=shots, precision=precision))
        except QacError as exc:  # e.g. no connected region large enough
            skipped.append({"encoding": enc, "estimator": est, "reason": str(exc).split(";")[0]})
    if not evaluated:
        reasons = "; ".join(f"{s['encoding']}/{s['estimator']}: {s['reason']}" for s in skipped)
        raise CompileError(f"cost: no candidate fits target '{target.name}' for d={d} ({reasons}); "
                           f"use a larger target or more heads")
    evaluated.sort(key=rank_key)
    return {"d": d, "target": target.name, "shots": shots, "precision": precision,
            "optimization_level": optimization_level, "trials": trials,
            "choice": evaluated[0], "runner_up": evaluated[1] if len(evaluated) > 1 else None,
            "candidates": evaluated, "skipped": skipped}


def widest_head(spec) -> int:
    return spec.d // spec.heads


def auto_pipeline(spec, target) -> str:
    """Concrete pipeline text for a spec whose encoding or estimator is ``auto``."""
    options = spec.compile
    trials = AUTO_TRIALS if target.coupling_edges is not None else 1  # all-to-all: nothing to route
    report = choose(widest_head(spec), target, encoding=options.encoding, estimator=options.estimator,
                    shots=spec.shots, precision=spec.precision, seed=spec.seed, trials=trials)
    best = report["choice"]
    auto = "+".join(k for k in ("encoding", "estimator") if getattr(options, k) == "auto")
    return (f"normalize,encode{{method={best['encoding']}}},estimate{{method={best['estimator']}}},"
            f"layout{{optimization_level={report['optimization_level']},trials={report['trials']}}},"
            f"cost{{auto={auto},shots={spec.shots},precision={report['precision']}}}")


@dataclass(frozen=True)
class Cost(Pass):
    """Publish each template's cost figures; after an ``auto`` choice, the ranked candidates."""

    name = "cost"
    reads = "L4"
    writes = "L4"
    auto: str = field(default="")  # "", "encoding", "estimator" or "encoding+estimator"
    shots: int = field(default=4096)
    precision: float = field(default=DEFAULT_PRECISION)

    def __post_init__(self):
        if self.auto not in ("", "encoding", "estimator", "encoding+estimator"):
            raise CompileError(f"cost: auto must be encoding, estimator or encoding+estimator, not '{self.auto}'")
        if self.shots < 1 or not self.precision > 0:
            raise CompileError("cost: shots must be >= 1 and precision > 0; fix the pipeline text")

    def options_text(self) -> str:
        auto = f"auto={self.auto}," if self.auto else ""
        return f"{self.name}{{{auto}shots={self.shots},precision={self.precision}}}"

    def run(self, module: IsaProgram, context: CompileContext) -> IsaProgram:
        templates = {}
        for name, isa in sorted(module.isa.items()):
            t = module.module.templates[name]
            figures = program_figures(isa, context.target)
            templates[name] = {"encoding": t.encoding, "estimator": t.estimator, **figures,
                               **statistics(t.estimator, figures["esp"], self.shots, self.precision)}
        published = {"shots": self.shots, "precision": self.precision, "templates": templates}
        if self.auto:
            plan = module.module.plan
            fixed = {"encoding": plan.encoding, "estimator": plan.estimator}
            open_choice = {k: ("auto" if k in self.auto.split("+") else v) for k, v in fixed.items()}
            level, trials = _layout_options(module)
            d = max(k.d for k in plan.kernels)
            report = choose(d, context.target, shots=self.shots, precision=self.precision, seed=context.seed,
                            optimization_level=level, trials=trials, **open_choice)
            published["auto"] = {key: report[key] for key in ("d", "choice", "runner_up", "candidates", "skipped")}
            published["auto"]["chose"] = self.auto
        facts = dict(module.facts)
        facts["manifest"] = {**facts.get("manifest", {}), "cost": published}
        return IsaProgram(module.module, module.isa, module.target, facts)


def _layout_options(program: IsaProgram) -> tuple[int, int]:
    options = program.facts.get("layout_options")
    return options if options else (AUTO_OPTIMIZATION_LEVEL, AUTO_TRIALS)
