"""Execution: sampler PUBs on Aer (ideal or with the target's noise model), or exact
outcome probabilities (statevector), then decode → reconstruct → ``Result``.

Both paths feed the same decoder (``qac.decode``) and the same reconstruction
(``qac.attention``), so the infinite-shot semantics test checks the code ``run`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qac.attention import reconstruct_head, reference_attention
from qac.decode import estimate_from_counts, estimate_from_probabilities, outcome_counts
from qac.errors import ExecutionError


@dataclass(frozen=True)
class Result:
    """The attention output with its error bars, next to numpy's exact output."""

    output: np.ndarray  # (N, dv)
    stderr: np.ndarray  # (N, dv) one standard error per entry (delta method)
    exact: np.ndarray  # (N, dv) numpy attention
    scores: np.ndarray  # (heads, N, M) scaled scores, −inf where masked
    scores_stderr: np.ndarray
    inner_products: dict  # kernel name -> (estimates, stderr) over its pairs
    shots: int | None  # None: exact (infinite-shot) probabilities
    noise: bool
    target: str

    @property
    def error(self) -> np.ndarray:
        """output − exact, entry by entry."""
        return self.output - self.exact

    @property
    def max_error(self) -> float:
        return float(np.max(np.abs(self.error))) if self.error.size else 0.0

    @property
    def max_stderr(self) -> float:
        return float(np.max(self.stderr)) if self.stderr.size else 0.0

    def coverage(self, k: float = 2.0) -> float:
        """Share of output entries within k reported standard errors of the exact value."""
        return float(np.mean(np.abs(self.error) <= k * self.stderr + 1e-12))


def exact_distribution(circuit) -> np.ndarray:
    """Exact probabilities of a bound circuit's classical outcomes (clbit 0 least significant).

    Idle qubits (an ISA circuit spans the whole device) are dropped before simulating, and
    final measurements are read off the statevector instead of sampled.
    """
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    measured: dict[int, int] = {}
    ops = []
    for inst in circuit.data:
        name = inst.operation.name
        if name == "measure":
            measured[circuit.find_bit(inst.clbits[0]).index] = circuit.find_bit(inst.qubits[0]).index
        elif name != "barrier":
            if any(circuit.find_bit(q).index in measured.values() for q in inst.qubits):
                raise ExecutionError("internal: a gate acts after a measurement; exact distributions "
                                     "need measurements at the end")
            ops.append(inst)
    active = sorted({circuit.find_bit(q).index for inst in ops for q in inst.qubits} | set(measured.values()))
    position = {q: i for i, q in enumerate(active)}
    compact = QuantumCircuit(len(active))
    for inst in ops:
        compact.append(inst.operation, [position[circuit.find_bit(q).index] for q in inst.qubits])
    qargs = [position[measured[c]] for c in range(circuit.num_clbits)]
    return Statevector(compact).probabilities(qargs=qargs)


def sampler(shots: int, seed: int, noise_model=None):
    """Aer's own SamplerV2 (not qiskit_ibm_runtime.SamplerV2, deprecated since 0.50)."""
    from qiskit_aer.primitives import SamplerV2

    options = {"backend_options": {"noise_model": noise_model}} if noise_model is not None else None
    return SamplerV2(default_shots=shots, seed=seed, options=options)


def sample_estimates(pubs, estimators, *, shots: int, seed: int, noise_model=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Run PUBs [(isa_circuit, values)] and decode each into (estimates, stderr) per row."""
    live = [k for k, (_, values) in enumerate(pubs) if len(values)]
    results: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(0))] * len(pubs)
    if not live:
        return results
    try:
        job = sampler(shots, seed, noise_model).run([pubs[k] for k in live])
        pub_results = job.result()
    except Exception as exc:  # Aer reports simulation failures as generic errors
        raise ExecutionError(f"the simulator failed: {exc}; run with --debug for details") from exc
    for k, pub_result in zip(live, pub_results):
        bits = pub_result.data["meas"]
        counts = outcome_counts(bits.array.reshape(len(pubs[k][1]), bits.num_shots, -1), bits.num_bits)
        results[k] = finish(estimators[k], *estimate_from_counts(counts, estimators[k].outcome_values(bits.num_bits)))
    return results


def finish(estimator, mean: np.ndarray, sem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map the mean of f to the inner product (identity unless the estimator says otherwise,
    e.g. an unsigned estimator's square root and offset)."""
    hook = getattr(estimator, "finish", None)
    return (mean, sem) if hook is None else hook(mean, sem)


def exact_estimates(pubs, estimators) -> list[tuple[np.ndarray, np.ndarray]]:
    """Bind every row, take its exact outcome distribution, decode like sampled counts."""
    results = []
    for (circuit, values), estimator in zip(pubs, estimators):
        if not len(values):
            results.append((np.zeros(0), np.zeros(0)))
            continue
        distributions = np.array([exact_distribution(circuit.assign_parameters(row)) for row in values])
        num_bits = circuit.num_clbits
        results.append(finish(estimator, *estimate_from_probabilities(distributions, estimator.outcome_values(num_bits))))
    return results


def reconstruct(spec, plan, estimates: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-kernel inner-product estimates → output, stderr, scores, scores_stderr (all heads)."""
    outputs, errors, scores, score_errors = [], [], [], []
    for kernel in plan.kernels:
        inner = np.zeros(kernel.shape)
        inner_stderr = np.zeros(kernel.shape)
        mean, sem = estimates[kernel.name]
        if len(kernel.pairs):
            inner[kernel.pairs[:, 0], kernel.pairs[:, 1]] = mean
            inner_stderr[kernel.pairs[:, 0], kernel.pairs[:, 1]] = sem
        h = kernel.head
        values = spec.V[:, h * spec.dv_head:(h + 1) * spec.dv_head]
        head = reconstruct_head(inner, inner_stderr, kernel.lhs_norms, kernel.rhs_norms, kernel.visible,
                                spec.scale_value, values)
        outputs.append(head.output)
        errors.append(head.output_stderr)
        scores.append(head.scores)
        score_errors.append(head.scores_stderr)
    return (np.concatenate(outputs, axis=1), np.concatenate(errors, axis=1),
            np.stack(scores), np.stack(score_errors))


def exact_output(spec) -> np.ndarray:
    return reference_attention(spec.Q, spec.K, spec.V, heads=spec.heads, scale=spec.scale_value, mask=spec.mask)
