"""The cost model: what a kernel costs on a target, and the ranking ``auto`` picks from.

For each candidate (encoding, estimator) of a kernel shape the model transpiles its template
for the target (through the same ``TemplateCache`` as ``layout``; see the ``auto`` search below), then reads
the routed two-qubit count, depth, critical-path duration and the estimated success
probability ESP (``passes/resources.py``), and from these the expected error of the inner
product ĉ at a shot budget.

Noise model (global depolarising, the usual ESP reading, λ = ESP): the outcome value f of
one shot (``outcome_values``: two values f₋ < f₊) has mean m = λμ + (1 − λ)β, where μ is the
ideal mean (c for the signed estimators, s = ((1 + c)/2)² for the unsigned ones) and β the
mean of f over uniformly random outcomes (0 for ±1 on one qubit, 2^−k for ``compute_uncompute``
measuring k bits, 2^−n for ``destructive_swap``). Mitigation (``qac/mitigate.py``) rescales,
μ̂ = (m̂ − (1 − λ)β)/λ, so one shot has variance (f₊ − m)(m − f₋)/λ². Rescaling removes the
average attenuation but not each pair's own deviation from it: a residual of spread
b = κ·(1 − λ) per pair stays. The signed estimators read ĉ = μ̂; the unsigned ones decode
ĉ = 2√μ̂ − 1 (μ̂ clipped to [0, 1]), whose error grows as s → 0: near c = −1 the offset β
and the residual dominate s. So for S shots and one inner product c

    signed     MSE(c) = (f₊ − m)(m − f₋) / (λ² S) + b²
    unsigned   MSE(c) = E[(2√clip(μ̂) − 1 − c)²],  μ̂ ~ N(s, (f₊ − m)(m − f₋)/(λ² S) + b²)

(Gauss–Hermite quadrature), and the expected error is e(S) = √E_c[MSE(c)], with c distributed
as the inner product of two independent random directions in R^d — density ∝ (1 − c²)^((d−3)/2),
E[c²] = 1/d (Gauss–Jacobi quadrature). ``shots_for_precision`` is the least S with e(S) ≤ ε
(closed form for the signed estimators, bisection otherwise), null when no S reaches ε.
``variance_per_shot`` is the noiseless σ²(0) of ``passes/estimate``'s formulas, for reference.

Why a distribution over c and the decode map, not σ²(0): at c = 0 ``compute_uncompute``
looks better than ``interference`` (σ² = 3/4 against 1), and the earlier model picked it on
ibm_fez at d = 4. Measured (``python bench/cost_model.py``: noisy Aer, mitigated, 32,768
shots, 64 random pairs at d = 4), its error is 2.7× interference's on ibm_fez (0.0138 vs
0.0052) and 4.2× on ibm_brisbane (0.0242 vs 0.0057): the unsigned decode amplifies the noise
offset near c = −1. This model predicts interference within 6% (0.0052 and 0.0060) and
over-predicts the unsigned kernels by 1.2–2.9×. It puts interference first and
``destructive_swap`` last, as measured; between the unary and the binary ``compute_uncompute``
it has the order wrong (it over-predicts the binary one, which measures 3 bits, the most).
``tests/test_cost.py`` repeats a smaller version of that run.

κ = 0.1 is measured, not tuned: mitigated runs of the interference kernel on the ibm_brisbane
snapshot left per-pair residuals of 0.03–0.2 × (1 − ESP) (d = 8, N = M = 8: ≈ 0.006 at
1 − ESP ≈ 0.13; d = 4: ≈ 0.003–0.01 at 1 − ESP ≈ 0.04; tests/test_mitigation.py runs both); κ is
their geometric mean. Without the term every shot would be worth the same on a clean and on
a noisy kernel, and the ranking would ignore the two-qubit gates that mitigation cannot undo.

``auto`` picks the candidate with the lowest expected error at the spec's shots (ties:
fewer routed two-qubit gates, fewer qubits, then the name). Candidates that cannot win are
skipped with the reason recorded: templates the target cannot hold, and *dominated* ones
(``hadamard`` is ``interference`` plus generic controls, ``swap`` is ``destructive_swap``
plus an ancilla and controlled-SWAPs — same variance, strictly more gates), and *bounded* ones:
each candidate has a lower bound on its expected error — its noiseless error (ESP = 1, no
template built), refined when it comes first to the bound from its logical template
(``error_bound``: ESP at most Π(1 − e₂) over the target's ``links`` least-error couplers ·
Π(1 − r) over its ``bits`` least-error readouts, links = Σ (qubits − 1) over the groups of
qubits its multi-qubit gates connect — a connected group needs a spanning tree of two-qubit
gates on as many distinct couplers whatever the routing — and bits its measured bits, on
distinct qubits; the error only grows as ESP falls). Candidates are
routed best bound first, and one whose bound already exceeds the best routed candidate's
error is skipped unrouted: it cannot win (``prune=False`` routes them all). Ranking routes are
cheap (``ranking_layout``: level 1, one seed, one pass manager for all); the winner alone is
routed at the pipeline's layout options (and the ranking redone until its first is), through
the compile's ``TemplateCache``, so ``layout`` transpiles nothing of its own.

The ``choose`` pass (``passes/choose.py``) ranks the candidates with ``evaluate`` before
lowering; the ``cost`` pass (``passes/cost.py``) publishes the figures of the compiled
templates and the ranking (``IsaProgram.cost``, the manifest's ``cost`` key). Figures are
deterministic (no timings).
"""

from __future__ import annotations

import heapq
import math
from functools import lru_cache

from qac.passes.layout import routed
from qac.passes.resources import calibration, physical_qubits, template_resources

from qac.errors import CompileError, QacError
from qac.ir.pipeline import CompileContext
from qac.ir.records import (
    AutoChoice,
    CandidateCost,
    LayoutOptions,
    Skipped,
    TemplateResources,
)

DEFAULT_PRECISION = 0.01
AUTO_OPTIMIZATION_LEVEL = 3  # the template is transpiled once, so auto can afford to be thorough
AUTO_TRIALS = 4  # layout seeds per candidate on a coupled target (all-to-all: nothing to route, 1)
RANK_OPTIMIZATION_LEVEL = 1  # candidates are ranked at this level, one seed; the winner at the layout's
DOMINATED = {"hadamard": "interference", "swap": "destructive_swap"}


RESIDUAL_BIAS = 0.1  # κ: per-pair error left after signal rescale, per unit of infidelity (module doc)


QUADRATURE_NODES = 48  # Gauss–Jacobi nodes over c and Gauss–Hermite nodes over μ̂: fixed, so figures are deterministic


@lru_cache(maxsize=64)
def inner_product_nodes(d: int) -> tuple:
    """Nodes and weights for c = ⟨â|b̂⟩ of independent random unit vectors in R^d."""
    import numpy as np

    if d <= 1:
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    from scipy.special import roots_jacobi

    alpha = (d - 3) / 2
    nodes, weights = roots_jacobi(QUADRATURE_NODES, alpha, alpha)
    return nodes, weights / weights.sum()


@lru_cache(maxsize=1)
def _hermite() -> tuple:
    import numpy as np

    z, w = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    return z, w / w.sum()


def _mean_squared_error(signed: bool, values, esp: float, shots: float, bias: float, d: int) -> float:
    """E_c[MSE(c)] of the mitigated estimate at ``shots`` (module doc)."""
    import numpy as np

    c, weight = inner_product_nodes(d)
    low, high, background = float(values.min()), float(values.max()), float(values.mean())
    mu = c if signed else ((1.0 + c) / 2.0) ** 2
    m = esp * mu + (1.0 - esp) * background
    spread = np.clip((high - m) * (m - low), 0.0, None) / (esp**2 * shots) + bias**2
    if signed:
        return float(weight @ spread)
    z, wz = _hermite()
    draws = np.clip(mu[:, None] + np.sqrt(spread)[:, None] * z[None, :], 0.0, 1.0)
    decoded = 2.0 * np.sqrt(draws) - 1.0
    return float(weight @ (((decoded - c[:, None]) ** 2) @ wz))


#: the model reads f's extremes and mean only: f over at most 2^MODEL_BITS outcomes (a unary
#: compute-uncompute measures d bits: 2^32 outcomes at d = 32 would be 32 GiB; past 20 bits its
#: background mean 2^-bits moves the expected error below its 6th digit)
MODEL_BITS = 20


def model_outcome_values(est, measured_bits: int):
    """f over the outcomes of ``min(measured_bits, MODEL_BITS)`` bits, for the error model."""
    return est.outcome_values(min(int(measured_bits), MODEL_BITS))


def expected_error(estimator: str, esp: float, shots: int, *, d: int, measured_bits: int) -> float:
    """``statistics(...)["expected_error"]`` alone (no search for the shots a precision needs)."""
    from qac.kernels.estimators import ESTIMATORS

    est = ESTIMATORS[estimator]
    esp = min(max(esp, 1e-12), 1.0)
    mse = _mean_squared_error(est.signed, model_outcome_values(est, measured_bits), esp, float(shots),
                              RESIDUAL_BIAS * (1.0 - esp), d)
    return float(f"{math.sqrt(mse):.12g}")


def statistics(estimator: str, esp: float, shots: int, precision: float, *, d: int, measured_bits: int) -> dict:
    """Variance per shot, expected error at ``shots`` and shots for ``precision`` (module doc)."""
    from qac.kernels.estimators import ESTIMATORS

    est = ESTIMATORS[estimator]
    values = model_outcome_values(est, measured_bits)
    variance = float(est.per_shot_variance(0.0))
    esp = min(max(esp, 1e-12), 1.0)
    bias = RESIDUAL_BIAS * (1.0 - esp)

    def error(s: float) -> float:
        return math.sqrt(_mean_squared_error(est.signed, values, esp, s, bias, d))

    needed = None
    if est.signed:
        if precision > bias:
            per_shot = _mean_squared_error(True, values, esp, 1.0, 0.0, d)
            needed = int(math.ceil(per_shot / (precision**2 - bias**2) - 1e-9))
    elif error(float(2**60)) <= precision:
        low, high = 0, 1
        while error(float(high)) > precision:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if error(float(mid)) <= precision else (mid, high)
        needed = high
    return {"variance_per_shot": float(f"{variance:.12g}"), "residual_bias": float(f"{bias:.12g}"),
            "expected_error": float(f"{error(float(shots)):.12g}"), "shots_for_precision": needed}


def candidate_cost(encoding: str, estimator: str, resources: TemplateResources, *, shots: int,
                   precision: float, d: int) -> CandidateCost:
    """A routed template's figures and the error model's statistics at ``shots``."""
    return _cost(encoding, estimator, resources.figures(), resources.measured_bits, shots=shots, precision=precision,
                 d=d)


def _cost(encoding: str, estimator: str, figures: dict, measured_bits: int, *, shots: int, precision: float,
          d: int) -> CandidateCost:
    return CandidateCost(encoding=encoding, estimator=estimator, qubits=figures["qubits"],
                         two_qubit_gates=figures["two_qubit_gates"], depth=figures["depth"],
                         duration_ns=figures["duration_ns"], esp=figures["esp"],
                         physical_qubits=tuple(figures["physical_qubits"]),
                         **statistics(estimator, figures["esp"], shots, precision, d=d,
                                      measured_bits=measured_bits))


def candidate_template(encoding: str, estimator: str, d: int, target):
    """A candidate's logical template, built as ``estimate`` builds it."""
    from qac.kernels.estimators import ESTIMATORS, resolve_tree, template_name

    est = ESTIMATORS[estimator]
    return est.build(d, template_name(encoding, estimator, est.width(d, encoding)), encoding,
                     resolve_tree("auto", target))


def routed_candidate(encoding: str, estimator: str, d: int, context: CompileContext, *, optimization_level: int,
                     trials: int, template=None, managers: dict | None = None) -> TemplateResources:
    """Build a candidate's template as ``estimate`` would and route it as ``layout`` would."""
    template = candidate_template(encoding, estimator, d, context.target) if template is None else template
    isa = routed(template, context, optimization_level=optimization_level, trials=trials, managers=managers)
    return template_resources(isa, context.target)


def ranking_figures(isa, target) -> dict:
    """``template_resources(isa, target).figures()``, counted on the circuit's DAG (its depth, idle
    wires and two-qubit operations are native code: 10× faster than walking the circuit, a third
    of a ranking transpile's cost on heavy-hex) and without what the ranking does not read."""
    from qiskit.circuit import Qubit
    from qiskit.converters import circuit_to_dag

    dag = circuit_to_dag(isa, copy_operations=False)
    directives = "barrier" in dag.count_ops()  # QuantumCircuit.depth skips them; the DAG's does not
    idle = sum(1 for wire in dag.idle_wires() if isinstance(wire, Qubit))
    cal = calibration(isa, target)
    return {"qubits": isa.num_qubits - idle, "two_qubit_gates": len(dag.two_qubit_ops()),
            "depth": isa.depth() if directives else dag.depth(), "duration_ns": cal["duration_ns"],
            "esp": float(f"{cal['esp']:.12g}"), "physical_qubits": physical_qubits(isa)}


def candidates(encoding: str = "auto", estimator: str = "auto") -> list[tuple[str, str]]:
    """Every compatible (encoding, estimator) pair the spec's choices leave open."""
    from qac.kernels.encodings import ENCODINGS
    from qac.kernels.estimators import ESTIMATORS

    return [(e, s) for s in ESTIMATORS for e in ENCODINGS
            if e in ESTIMATORS[s].encodings and encoding in ("auto", e) and estimator in ("auto", s)]


def open_choices(encoding: str, estimator: str) -> str:
    """"encoding", "estimator", "encoding+estimator" (the ones set to auto) or ""."""
    return "+".join(key for key, value in (("encoding", encoding), ("estimator", estimator)) if value == "auto")


def auto_layout(target) -> LayoutOptions:
    """How ``auto`` lays candidates out: level 3; several seeds unless all-to-all (nothing to route)."""
    return LayoutOptions(AUTO_OPTIMIZATION_LEVEL, AUTO_TRIALS if target.coupling_edges is not None else 1)


def _links(circuit) -> int:
    """Σ (size − 1) over the groups of qubits that the circuit's multi-qubit instructions connect."""
    parent = list(range(circuit.num_qubits))

    def root(q: int) -> int:
        while parent[q] != q:
            q = parent[q]
        return q
    for inst in circuit.data:
        if inst.operation.num_qubits > 1 and inst.operation.name != "barrier":
            first = root(circuit.find_bit(inst.qubits[0]).index)
            for q in inst.qubits[1:]:
                other = root(circuit.find_bit(q).index)
                if other != first:
                    parent[other] = first
    return circuit.num_qubits - len({root(q) for q in range(circuit.num_qubits)})


def _sorted_errors(target) -> tuple[list[float], list[float]]:
    """(two-qubit errors per coupler, readout errors per qubit), each ascending; a coupler's error
    is its best two-qubit gate's, and an error the calibration does not give counts as 0 (as in
    ``resources.calibration``). Empty without a calibration (aer)."""
    qiskit_target = target.qiskit_target()
    if qiskit_target is None:
        return [], []
    two, readout = {}, {}
    for name in qiskit_target.operation_names:
        op = qiskit_target.operation_from_name(name)
        table = readout if name == "measure" else two if getattr(op, "num_qubits", 0) == 2 else None
        if table is None:
            continue
        for qargs, props in qiskit_target[name].items():
            error = (props.error if props is not None else None) or 0.0
            key = None if qargs is None else frozenset(qargs)
            table[key] = min(table.get(key, error), error)
    # qargs None: the gate acts on every qubit (pair) alike; a bound takes at most num_qubits of each
    return tuple(sorted([*(e for k, e in table.items() if k is not None),
                         *([table[None]] * target.num_qubits if None in table else [])]) for table in (two, readout))


def error_bound(encoding: str, estimator: str, d: int, context: CompileContext, *, shots: int,
                precision: float, template=None, errors: tuple[list, list] | None = None) -> float:
    """A lower bound on the candidate's expected error from its logical template (module doc).

    Sound for any routing, at any optimisation level: a routed circuit keeps every connected
    group of qubits connected, so its two-qubit gates cover at least ``links`` distinct couplers,
    whatever the basis (several two-qubit gate types: a coupler's least error over all of them),
    and it measures the same bits on distinct qubits — assuming, as every qac
    template satisfies, that the gates linking a group are not all diagonal gates just before a
    measurement (which Qiskit may drop). Not the logical two-qubit count: level 1 already turns
    the 32 logical CXs of unary_parallel/compute_uncompute at d = 8 into 24 on aer."""
    template = candidate_template(encoding, estimator, d, context.target) if template is None else template
    two, readout = _sorted_errors(context.target) if errors is None else errors
    links, bits = _links(template), template.num_clbits
    # links two-qubit gates spanning a connected group of physical qubits lie on ≥ links distinct
    # couplers, and bits measurements on bits distinct qubits: at best the least-error ones (a
    # list shorter than links only drops factors ≤ 1, which weakens the bound)
    esp = math.prod(1.0 - min(e, 0.999999) for e in two[:links]) * math.prod(
        1.0 - min(e, 0.999999) for e in readout[:bits])
    return expected_error(estimator, esp, shots, d=d, measured_bits=template.num_clbits)


def noiseless_bound(estimator: str, d: int, measured_bits: int, *, shots: int) -> float:
    """The expected error at ESP = 1: a lower bound on ``error_bound`` without building the template.

    At λ = 1 the model reads only the ideal mean and the extreme outcome values (the background
    β is weighted by 1 − λ = 0), which do not depend on the number of measured bits for any
    estimator (±1; 0 and 1), and the error only grows as λ falls."""
    return expected_error(estimator, 1.0, shots, d=d, measured_bits=measured_bits)


def ranking_layout(layout: LayoutOptions) -> LayoutOptions:
    """How candidates are ranked: one seed at level ≤ 1 (level 3 with several seeds costs 10–100×
    as much on the all-to-all vendor targets); the winner is then routed with ``layout``."""
    return LayoutOptions(min(layout.optimization_level, RANK_OPTIMIZATION_LEVEL), 1)


def evaluate(d: int, context: CompileContext, *, encoding: str = "auto", estimator: str = "auto",
             shots: int = 4096, precision: float | None = None, layout: LayoutOptions | None = None,
             prune: bool = True, ranking: LayoutOptions | None = None) -> AutoChoice:
    """Rank the candidates for a kernel of width ``d`` on the context's target, best first.

    Candidates are routed at ``ranking`` (default ``ranking_layout(layout)``), best logical bound
    first; with ``prune`` one whose bound exceeds the best routed error is skipped untranspiled
    (it cannot win the ranking). The best is then routed at ``layout`` (the pipeline's, so
    ``layout`` finds it in the cache) and the ranking redone, until the first is routed at
    ``layout``: the choice's figures are those of the compiled template. Candidates that cannot
    win are skipped with the reason: dominated ones, ones the target cannot hold, ones the
    transpiler cannot place.
    """
    from qac.kernels.estimators import ESTIMATORS

    target = context.target
    precision = DEFAULT_PRECISION if precision is None else precision
    layout = auto_layout(target) if layout is None else layout
    ranking = ranking_layout(layout) if ranking is None else ranking
    pool = candidates(encoding, estimator)
    if not pool:
        raise CompileError(f"cost: encoding '{encoding}' and estimator '{estimator}' do not work together; "
                           f"set one of them to auto")
    skipped, heap, templates, managers = [], [], {}, {}
    errors = _sorted_errors(target)
    for index, (enc, est) in enumerate(pool):
        rival = DOMINATED.get(est)
        if rival and (enc, rival) in pool:
            skipped.append(Skipped(enc, est, f"dominated by {enc}/{rival}"))
            continue
        need = ESTIMATORS[est].qubits(d, enc)
        if need > target.num_qubits:
            skipped.append(Skipped(enc, est, f"needs {need} qubits"))
            continue
        heap.append((noiseless_bound(est, d, need, shots=shots), index, False, enc, est))
    heapq.heapify(heap)

    def route(enc: str, est: str, options: LayoutOptions) -> CandidateCost | None:
        try:
            isa = routed(templates[enc, est], context, optimization_level=options.optimization_level,
                         trials=options.trials, managers=managers)
        except QacError as exc:  # e.g. no connected region large enough
            skipped.append(Skipped(enc, est, str(exc).split(";")[0]))
            return None
        return _cost(enc, est, ranking_figures(isa, target), isa.num_clbits, shots=shots, precision=precision, d=d)

    # Best bound first, bounds refined lazily: a candidate enters with its noiseless bound (no
    # template built) and is refined to its logical-circuit bound (≥ the noiseless one) when it
    # comes first; routed when it comes first refined. So candidates are routed in the order of
    # their logical-circuit bounds (ties: pool order), as if every bound were computed up front,
    # and once the first bound exceeds the best routed error, every one left is cut.
    ranked: dict[tuple[str, str], CandidateCost] = {}
    while heap:
        bound, index, refined, enc, est = heapq.heappop(heap)
        best = min(ranked.values(), key=CandidateCost.rank_key, default=None)
        if prune and best is not None and bound > best.expected_error:
            source = "its logical circuit" if refined else "its shot noise alone"
            skipped.append(Skipped(enc, est, f"cannot beat {best.encoding}/{best.estimator}: expected error "
                                             f">= {bound:.4g} > {best.expected_error:.4g} (bound from {source}; "
                                             f"ranked at optimization_level={ranking.optimization_level})"))
            continue
        if not refined:
            templates[enc, est] = candidate_template(enc, est, d, target)
            refined_bound = error_bound(enc, est, d, context, shots=shots, precision=precision,
                                        template=templates[enc, est], errors=errors)
            heapq.heappush(heap, (refined_bound, index, True, enc, est))
            continue
        cost = route(enc, est, ranking)
        if cost is not None:
            ranked[enc, est] = cost
    final = set() if ranking != layout else set(ranked)
    while ranked:
        key = min(ranked, key=lambda k: ranked[k].rank_key())
        if key in final:
            break
        final.add(key)
        cost = route(*key, layout)
        if cost is None:
            del ranked[key]
        else:
            ranked[key] = cost
    if not ranked:
        reasons = "; ".join(f"{s.encoding}/{s.estimator}: {s.reason}" for s in skipped)
        raise CompileError(f"cost: no candidate fits target '{target.name}' for d={d} ({reasons}); "
                           f"use a larger target or more heads")
    evaluated = sorted(ranked.values(), key=CandidateCost.rank_key)
    return AutoChoice(open=open_choices(encoding, estimator), d=d, target=target.name, shots=shots,
                      precision=precision, optimization_level=layout.optimization_level, trials=layout.trials,
                      candidates=tuple(evaluated), skipped=tuple(skipped))
