"""Error mitigation for noisy runs: readout correction, sign symmetrisation, signal rescale.

All three act on the decoded mean of the estimator's outcome value f, so they work for any
estimator that exposes ``outcome_values(num_bits)`` (and optionally ``finish(mean, sem)``):

* **readout** — per measured clbit, prepare-0 / prepare-1 calibration circuits in the same
  job give p(1|0) and p(0|1); the tensor-product confusion matrix A is inverted on the outcome
  *values* instead of the counts: E[f] = f·A⁻¹p = (A⁻ᵀf)·p, so decoding with g = A⁻ᵀf
  corrects the mean and its sample variance at once (Bravyi et al., PRA 103, 042605 (2021)
  for the tensor-product model).
* **sign symmetrisation** — for estimators whose ideal mean is odd in b̂ (``interference``,
  ``hadamard``), every pair also runs as (â, −b̂) with half the shots, and the estimate is
  (m(â,b̂) − m(â,−b̂))/2. State-dependent offsets (T1 relaxation, readout asymmetry) are even
  in the sign and cancel pair by pair; the shot-noise variance is unchanged.
* **signal rescale** — calibration pairs with known ideal means run as extra rows of the same
  ISA template (so the same layout and noise): (û, û) with overlap +1 and (û, ŵ) with ŵ ⟂ û
  (plus (û, −û) for estimators that are not odd). Under depolarising noise the mean is
  m = λ·μ + δ; a per-pattern least-squares fit over several random patterns gives λ and δ,
  and the mitigated mean is (m − δ)/λ (Vovrosh et al., PRE 104, 035309 (2021); Urbanek et al.,
  PRL 127, 270502 (2021)). The spread of λ and δ across patterns gives both the uncertainty of
  their means (shared by every pair: a correlated error term) and the pair-to-pair model
  error beyond shot noise (added to each pair's variance).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qac.errors import ExecutionError

CALIBRATION_PATTERNS = 6  # random û per template and copy
OVERLAPS = (0.9, 0.5, 0.0, -0.5, -0.9)  # known ⟨û|ŵ⟩ of the calibration partners


# ----------------------------------------------------------------------------- readout
def measured_qubits(circuit) -> dict[int, int]:
    """clbit index -> physical qubit index of each final measurement."""
    return {circuit.find_bit(inst.clbits[0]).index: circuit.find_bit(inst.qubits[0]).index
            for inst in circuit.data if inst.operation.name == "measure"}


def readout_circuits(circuit) -> list:
    """Prepare-0 and prepare-1 circuits on ``circuit``'s measured qubits, same registers."""
    measured = measured_qubits(circuit)
    circuits = []
    for flip in (False, True):
        cal = circuit.copy_empty_like(name=f"{circuit.name}_readout{int(flip)}")
        for clbit, qubit in sorted(measured.items()):
            if flip:
                cal.x(qubit)
            cal.measure(qubit, clbit)
        circuits.append(cal)
    return circuits


def flip_rates(prep0_counts: np.ndarray, prep1_counts: np.ndarray, num_bits: int) -> np.ndarray:
    """(num_bits, 2): per bit p(1|0) and p(0|1) from outcome counts (2^bits,) of the two circuits."""
    outcomes = np.arange(len(prep0_counts))
    rates = np.zeros((num_bits, 2))
    for b in range(num_bits):
        bit = (outcomes >> b) & 1
        rates[b, 0] = prep0_counts[bit == 1].sum() / max(prep0_counts.sum(), 1)
        rates[b, 1] = prep1_counts[bit == 0].sum() / max(prep1_counts.sum(), 1)
    return rates


def corrected_values(values: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """g = A⁻ᵀ f for the tensor-product confusion matrix of per-bit flip ``rates``."""
    num_bits = rates.shape[0]
    g = np.asarray(values, dtype=float).reshape([2] * num_bits) if num_bits else np.asarray(values, float)
    for b in range(num_bits):
        e0, e1 = rates[b]
        if e0 + e1 >= 0.9:
            raise ExecutionError(f"readout of clbit {b} is unusable (p(1|0)={e0:.2f}, p(0|1)={e1:.2f}); "
                                 f"run with --no-mitigation or pick other qubits")
        confusion = np.array([[1 - e0, e1], [e0, 1 - e1]])  # rows: measured, columns: prepared
        axis = num_bits - 1 - b  # C-order reshape: the most significant bit first
        g = np.moveaxis(np.tensordot(np.linalg.inv(confusion).T, g, axes=([1], [axis])), 0, axis)
    return g.reshape(-1)


# ----------------------------------------------------------------------------- calibration pairs
@dataclass(frozen=True)
class Calibration:
    """Calibration pairs for one template: rows of parameters and their ideal means of f."""

    values: np.ndarray  # (R, num_parameters)
    negated: np.ndarray | None  # (R, num_parameters): (û, −ŵ) partners when symmetrised
    ideal: np.ndarray  # (R,) exact mean of f (symmetrised when ``negated`` is set)
    pattern: np.ndarray  # (R,) which random pattern each row belongs to


def bind_pairs(compiled, template: str, kernel, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Bind (lhs[r], rhs[r]) rows into ``template`` the way the pipeline binds a kernel's pairs."""
    from qac.ir import KernelPlan
    from qac.passes.estimate import ESTIMATORS
    from qac.pipeline import CompileContext

    module = compiled.program.module
    t = module.templates[template]
    count = len(lhs)
    probe = replace(kernel, name=f"{kernel.name}_calibration", lhs_units=lhs, rhs_units=rhs,
                    lhs_norms=np.ones(count), rhs_norms=np.ones(count),
                    pairs=np.stack([np.arange(count), np.arange(count)], axis=1),
                    visible=np.eye(count, dtype=bool), lhs_angles=None, rhs_angles=None)
    encode = next((p for p in compiled.passes if p.name == "encode"), None)
    plan = KernelPlan(module.plan.graph, (probe,), None, None)
    if encode is not None:
        plan = encode.run(plan, CompileContext(target=compiled.target, seed=compiled.spec.seed))
    estimator = ESTIMATORS[t.estimator]
    return estimator.bind(plan.kernels[0], t.encoding, t.tree)


def exact_means(logical, values: np.ndarray, outcome_values: np.ndarray) -> np.ndarray:
    from qac.execute import exact_distribution

    return np.array([exact_distribution(logical.assign_parameters(row)) @ outcome_values for row in values])


def calibration(compiled, template: str, kernel, *, symmetrise: bool, seed: int,
                patterns: int = CALIBRATION_PATTERNS) -> Calibration:
    """Per pattern a random unit û and partners ŵ = c·û + √(1−c²)·v̂ (v̂ ⟂ û random) of known
    overlap c ∈ ``OVERLAPS`` (positive ones only when symmetrised: the −ŵ partner gives −c).

    Overlaps strictly inside (−1, 1) matter: with ŵ = ±û the two branches of the interference
    circuit carry the same state, noise on the data qubits barely touches the interference, and
    the attenuation comes out smaller than the data pairs see (measured on ibm_brisbane: 0.95
    from ±û against 0.93 for data pairs at d = 4). Ideal means of f come from the logical template.
    """
    rng = np.random.default_rng([seed, 0x51A1])
    d, width = kernel.d, kernel.lhs_units.shape[1]
    overlaps = [c for c in OVERLAPS if c >= 0] if symmetrise else list(OVERLAPS)
    if d == 1:  # only ±1 overlaps exist in one dimension
        overlaps = [1.0] if symmetrise else [1.0, -1.0]
    u = np.zeros((patterns, width))
    u[:, :d] = rng.standard_normal((patterns, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.zeros((patterns, width))
    if d > 1:
        v[:, :d] = rng.standard_normal((patterns, d))
        v -= np.sum(v * u, axis=1, keepdims=True) * u
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    lhs = np.concatenate([u] * len(overlaps))
    rhs = np.concatenate([c * u + np.sqrt(max(0.0, 1 - c * c)) * v for c in overlaps])
    pattern = np.tile(np.arange(patterns), len(overlaps))
    values = bind_pairs(compiled, template, kernel, lhs, rhs)
    negated = bind_pairs(compiled, template, kernel, lhs, -rhs) if symmetrise else None
    logical = compiled.program.module.templates[template].circuit
    f = compiled.outcome_values(template)
    ideal = exact_means(logical, values, f)
    if negated is not None:
        ideal = (ideal - exact_means(logical, negated, f)) / 2
    return Calibration(values, negated, ideal, pattern)


def is_odd(compiled, template: str, kernel, seed: int) -> bool:
    """Whether the estimator's ideal mean of f flips sign with b̂ (then pairs are symmetrised)."""
    rng = np.random.default_rng([seed, 0x0DD])
    d, width = kernel.d, kernel.lhs_units.shape[1]
    a, b = np.zeros((2, width)), np.zeros((2, width))
    a[:, :d], b[:, :d] = rng.standard_normal((2, d)), rng.standard_normal((2, d))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    logical = compiled.program.module.templates[template].circuit
    f = compiled.outcome_values(template)
    plus = exact_means(logical, bind_pairs(compiled, template, kernel, a, b), f)
    minus = exact_means(logical, bind_pairs(compiled, template, kernel, a, -b), f)
    return bool(np.allclose(plus, -minus, atol=1e-9) and np.max(np.abs(plus)) > 1e-6)


# ----------------------------------------------------------------------------- signal rescale
@dataclass(frozen=True)
class Rescale:
    """m = λ·μ + δ, fitted per pattern; means, their covariance and the pattern-to-pattern spread."""

    attenuation: float  # λ (mean over patterns)
    offset: float  # δ
    covariance: np.ndarray  # (2, 2) of (λ, δ) means: shared by every pair
    spread: np.ndarray  # (2, 2) pattern-to-pattern covariance of (λ, δ) beyond shot noise

    def apply(self, mean: np.ndarray, sem: np.ndarray):
        """Mitigated mean, its independent σ (shot noise + model spread) and ∂/∂(λ, δ)."""
        lam, off = self.attenuation, self.offset
        mitigated = (mean - off) / lam
        model = (mitigated**2 * self.spread[0, 0] + 2 * mitigated * self.spread[0, 1] + self.spread[1, 1])
        independent = np.sqrt(sem**2 + np.maximum(model, 0.0)) / lam
        gradient = np.stack([-mitigated / lam, -np.ones_like(mean) / lam])  # (2, P)
        return mitigated, independent, gradient

    def as_dict(self) -> dict:
        return {"attenuation": float(self.attenuation), "offset": float(self.offset),
                "attenuation_stderr": float(np.sqrt(self.covariance[0, 0])),
                "offset_stderr": float(np.sqrt(self.covariance[1, 1]))}


def fit_rescale(means: np.ndarray, sems: np.ndarray, ideal: np.ndarray, pattern: np.ndarray | None = None) -> Rescale:
    """Least-squares fit of m = λ·μ + δ over every calibration row.

    The residual scatter estimates each row's total error (shot noise plus the pair-to-pair
    model error); the coefficients' covariance is that scatter times (XᵀX)⁻¹, and the model
    error beyond shot noise, τ² = RSS/(R − 2) − mean σ², is what every data pair adds.
    """
    mu, m = np.asarray(ideal, float), np.asarray(means, float)
    rows = len(m)
    if np.ptp(mu) < 1e-6:  # one distinct ideal mean: attenuation only
        lam = float(np.sum(mu * m) / np.sum(mu * mu))
        residual = m - lam * mu
        scatter = max(np.sum(residual**2) / max(rows - 1, 1), np.mean(sems**2))
        covariance = np.diag([scatter / np.sum(mu * mu), 0.0])
        spread = np.diag([0.0, max(0.0, scatter - np.mean(sems**2))])
        return Rescale(lam, 0.0, covariance, spread)
    design = np.stack([mu, np.ones_like(mu)], axis=1)
    beta, *_ = np.linalg.lstsq(design, m, rcond=None)
    residual = m - design @ beta
    shot = float(np.mean(np.asarray(sems) ** 2))
    scatter = max(float(np.sum(residual**2)) / max(rows - 2, 1), shot)  # never below shot noise
    covariance = scatter * np.linalg.inv(design.T @ design)
    if beta[0] <= 0.05:
        raise ExecutionError(f"the calibration circuits show no signal (attenuation {beta[0]:.3f}); the "
                             f"device noise swamps this kernel: use a smaller d, another target or --no-mitigation")
    spread = np.diag([0.0, scatter - shot])  # pair-to-pair model error, as an offset variance
    return Rescale(float(beta[0]), float(beta[1]), covariance, spread)


# ----------------------------------------------------------------------------- ESP
def success_probability(isa, target) -> float | None:
    """Estimated success probability: Π (1 − error) over the ISA circuit's gates and measurements."""
    qiskit_target = target.qiskit_target()
    if qiskit_target is None:
        return None
    esp = 1.0
    for inst in isa.data:
        name = inst.operation.name
        if name == "barrier" or name not in qiskit_target.operation_names:
            continue
        qargs = tuple(isa.find_bit(q).index for q in inst.qubits)
        props = qiskit_target[name].get(qargs) if qiskit_target[name] is not None else None
        if props is not None and props.error is not None:
            esp *= max(0.0, 1.0 - props.error)
    return esp
