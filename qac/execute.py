"""Execution: sampler PUBs on Aer (ideal or with the target's noise model), or exact
outcome probabilities (statevector), then decode → reconstruct → ``Result``.

Both paths feed the same decoder (``qac.decode``) and the same reconstruction
(``qac.attention``), so the infinite-shot semantics test checks the code ``run`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qac.attention import reconstruct_head, reference_attention
from qac.decode import estimate_from_counts, estimate_from_probabilities
from qac.errors import ExecutionError


@dataclass(frozen=True)
class Result:
    """The attention output with its error bars, next to numpy's exact output.

    With mitigation, ``output``/``scores``/``inner_products`` are mitigated and the ``raw_*``
    fields hold the same job decoded without readout correction or signal rescale.
    """

    output: np.ndarray  # (N, dv)
    stderr: np.ndarray  # (N, dv) one standard error per entry (delta method)
    exact: np.ndarray  # (N, dv) numpy attention
    scores: np.ndarray  # (heads, N, M) scaled scores, −inf where masked
    scores_stderr: np.ndarray
    inner_products: dict  # kernel name -> (estimates, stderr) over its pairs
    shots: int | None  # shots per pair (the largest, for a precision run); None: exact
    noise: bool
    target: str
    mitigated: bool = False
    raw_output: np.ndarray | None = None
    raw_stderr: np.ndarray | None = None
    raw_scores: np.ndarray | None = None
    raw_scores_stderr: np.ndarray | None = None
    raw_inner_products: dict | None = None
    shots_used: int = 0  # every shot the job ran: data, sign partners, calibration, readout
    circuits_run: int = 0  # bound circuits executed (a packed circuit counts once)
    pairs_per_circuit: float = 1.0
    mitigation: dict = field(default_factory=dict)  # per template/copy: attenuation, offset, readout
    precision: dict = field(default_factory=dict)  # requested, shots, uniform_shots, saving

    @property
    def error(self) -> np.ndarray:
        """output − exact, entry by entry."""
        return self.output - self.exact

    @property
    def raw_error(self) -> np.ndarray | None:
        return None if self.raw_output is None else self.raw_output - self.exact

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


_RESTRICTED: dict = {}


def restricted_noise_model(noise_model, qubits):
    """The noise model's errors on ``qubits`` only (cached).

    Aer converts the whole model for every run (≈2 s for a 127-qubit device) even though it
    simulates only the active qubits; a model holding just their local errors gives
    bit-identical samples (no model from a device snapshot has cross-talk terms). Falls back to
    the full model if it holds errors this cannot restrict.
    """
    key = (id(noise_model), frozenset(qubits))
    if key in _RESTRICTED:
        return _RESTRICTED[key][1]
    try:
        from qiskit_aer.noise import NoiseModel

        if (noise_model._default_quantum_errors or getattr(noise_model, "_nonlocal_quantum_errors", None)
                or noise_model._default_readout_error is not None):
            raise AttributeError
        small = NoiseModel(basis_gates=noise_model.basis_gates)
        for name, by_qubits in noise_model._local_quantum_errors.items():
            for where, error in by_qubits.items():
                if set(where) <= key[1]:
                    small.add_quantum_error(error, name, where)
        for where, error in noise_model._local_readout_errors.items():
            if set(where) <= key[1]:
                small.add_readout_error(error, where)
    except AttributeError:
        small = noise_model
    _RESTRICTED[key] = (noise_model, small)  # keep the model alive so its id stays unique
    return small


def active_qubits(circuit) -> set[int]:
    return {circuit.find_bit(q).index for inst in circuit.data for q in inst.qubits}


def sampler(shots: int, seed: int, noise_model=None):
    """Aer's own SamplerV2 (not qiskit_ibm_runtime.SamplerV2, deprecated since 0.50) with qac's
    backend options, for callers that want the primitive (e.g. to run ``prog.pubs()`` themselves,
    or the benchmark's peers). ``run_pubs`` asks Aer for counts directly instead (see there)."""
    from qiskit_aer.primitives import SamplerV2

    options = {**AER_OPTIONS, **({"noise_model": noise_model} if noise_model is not None else {})}
    return SamplerV2(default_shots=shots, seed=seed, options={"backend_options": options})


#: AerSimulator options qac runs with. qac's circuits are tiny (a handful of qubits) and
#: many (one row per pair). Aer's default turns every row of a PUB into its own experiment;
#: ``runtime_parameter_bind_enable`` binds the rows inside one experiment instead (−20% at
#: 32×32 pairs, 1024 shots). It does not change a sample: for the same ``seed_simulator``
#: Aer draws the same shots for each row either way (``tests/test_execution.py`` checks the
#: counts against Aer's SamplerV2 with Aer's defaults, ideal and noisy). Thread options stay at Aer's defaults: a statevector this
#: small is updated on one thread anyway, and running experiments side by side
#: (``max_parallel_experiments``) gained nothing measurable on the shared 2-core machine.
AER_OPTIONS: dict = {"runtime_parameter_bind_enable": True}

_SIMULATORS: dict = {}


def simulator(noise_model=None):
    """The AerSimulator for a noise model (None: ideal), built once per process and model."""
    key = id(noise_model)
    if key not in _SIMULATORS:
        from qiskit_aer import AerSimulator

        options = {**AER_OPTIONS, **({"noise_model": noise_model} if noise_model is not None else {})}
        _SIMULATORS[key] = (noise_model, AerSimulator(**options))  # keep the model alive: ids stay unique
    return _SIMULATORS[key][1]


def _register_slice(circuit, name: str = "meas") -> tuple[int, int]:
    """(first clbit, bits) of the classical register ``name`` (what SamplerV2 calls ``data[name]``)."""
    for creg in circuit.cregs:
        if creg.name == name:
            return (circuit.find_bit(creg[0]).index if creg.size else 0), creg.size
    raise ExecutionError(f"internal: circuit {circuit.name!r} has no {name!r} register")


def run_pubs(pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
    """Run PUBs ``(circuit, values, shots)`` in one job; counts (rows, 2^bits) per PUB.

    This is Aer's ``SamplerV2`` without its per-shot bit strings: the same grouping of PUBs
    by shots, the same circuits, parameter binds and ``seed_simulator`` handed to the same
    ``AerSimulator.run`` — so the same samples — but Aer returns counts per row (``memory``
    off) instead of every shot's bits, which SamplerV2 then packs into a ``BitArray`` in
    Python (half of a run's time at 1024 shots per row). qac only ever needs counts.
    """
    live = [k for k, pub in enumerate(pubs) if len(pub[1])]
    results = [np.zeros((0, 1 << _register_slice(pub[0])[1]), dtype=np.int64) for pub in pubs]
    if not live:
        return results
    if noise_model is not None:
        qubits = set().union(*(active_qubits(pubs[k][0]) for k in live))
        noise_model = restricted_noise_model(noise_model, qubits)
    groups: dict[int, list[int]] = {}
    for k in live:  # SamplerV2 runs PUBs with equal shots together, in order of first appearance
        groups.setdefault(int(pubs[k][2]), []).append(k)
    backend = simulator(noise_model)
    for shots, members in groups.items():
        circuits, binds = [], []
        for k in members:
            circuit, values = pubs[k][0], np.asarray(pubs[k][1], dtype=float)
            if not circuit.parameters and len(values) != 1:
                raise ExecutionError("internal: a circuit without parameters runs one row per PUB")
            circuits.append(circuit)
            binds.append({p: values[:, i] for i, p in enumerate(circuit.parameters)})
        try:
            result = backend.run(circuits, shots=shots, seed_simulator=seed, parameter_binds=binds).result()
        except Exception as exc:  # Aer reports simulation failures as generic errors
            raise ExecutionError(f"the simulator failed: {exc}; run with --debug for details") from exc
        experiments = iter(result.results)
        for k in members:
            start, bits = _register_slice(pubs[k][0])
            mask = (1 << bits) - 1
            counts = np.zeros((len(pubs[k][1]), 1 << bits), dtype=np.int64)
            for row in range(len(counts)):
                experiment = next(experiments)
                status = experiment.status
                if not experiment.success or (isinstance(status, str) and status.upper().startswith("ERROR")):
                    raise ExecutionError(f"the simulator failed: {status}; run with --debug for details")
                for key, n in getattr(experiment.data, "counts", {"0x0": shots}).items():
                    counts[row, (int(key, 16) >> start) & mask] += n
            results[k] = counts
    return results


def sample_estimates(pubs, estimators, *, shots: int, seed: int, noise_model=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Run PUBs [(isa_circuit, values)] and decode each into (estimates, stderr) per row."""
    counts = run_pubs([(c, v, shots) for c, v in pubs], seed=seed, noise_model=noise_model)
    return [finish(e, *estimate_from_counts(n, e.outcome_values(c.num_clbits))) if len(n) else (np.zeros(0), np.zeros(0))
            for (c, _), e, n in zip(pubs, estimators, counts)]


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
                                spec.scale_value, values, bias=getattr(kernel, "bias", None))
        outputs.append(head.output)
        errors.append(head.output_stderr)
        scores.append(head.scores)
        score_errors.append(head.scores_stderr)
    return (np.concatenate(outputs, axis=1), np.concatenate(errors, axis=1),
            np.stack(scores), np.stack(score_errors))


def exact_output(spec) -> np.ndarray:
    return reference_attention(spec.Q, spec.K, spec.V, heads=spec.heads, scale=spec.scale_value, mask=spec.mask,
                               visible=getattr(spec, "visible", None), bias=getattr(spec, "bias", None))


# ----------------------------------------------------------------------------- noisy, mitigated, precision runs
PILOT_SHOTS = 512  # per pair, for a precision run without explicit shots
SHOT_GRID = 2 ** 0.25  # a precision run rounds shots up to this grid: few distinct PUB shot counts


@dataclass
class Block:
    """Rows of one template run on one copy, with the counts they collect over stages."""

    template: str
    copy: np.ndarray  # (n,) copy index of each row
    values: np.ndarray  # (n, num_parameters)
    shots: np.ndarray  # (n,) shots collected so far
    counts: np.ndarray | None = None  # (n, 2^bits)
    circuit: object = None  # a fixed circuit (readout calibration) instead of the template's rows


class Plan:
    """Everything one run executes: per kernel its data rows (and sign partners), per template
    and copy its calibration rows and readout circuits."""

    def __init__(self, compiled, *, mitigation: bool, seed: int):
        from qac import mitigate

        self.compiled, self.mitigation = compiled, mitigation
        self.stages, self.tally = 0, {}
        self.templates: dict[str, dict] = {}
        self.kernels: dict[str, dict] = {}
        for kernel in compiled.kernels:
            if not len(kernel.pairs):
                continue
            name = compiled.template_of(kernel)
            if name not in self.templates:
                copies = compiled.copies(name)
                odd = mitigation and mitigate.is_odd(compiled, name, kernel, seed)
                info = {"copies": copies, "symmetrise": odd, "next": 0, "calibration": None,
                        "values": compiled.outcome_values(name)}
                if mitigation:
                    cal = mitigate.calibration(compiled, name, kernel, symmetrise=odd, seed=seed)
                    rows = len(cal.values)
                    info["calibration"] = cal
                    info["cal_blocks"] = [[self._block(name, np.full(rows, c), v) for v in (cal.values, cal.negated)
                                           if v is not None] for c in range(copies)]
                    info["readout"] = [[self._block(name, np.array([c]), None, circuit=r)
                                        for r in compiled.readout_circuits(name, c)] for c in range(copies)]
                self.templates[name] = info
            info = self.templates[name]
            count = len(kernel.pairs)
            copy = (info["next"] + np.arange(count)) % info["copies"]
            info["next"] += count
            values = [compiled.program.module.bindings[kernel.name].values]
            if info["symmetrise"]:
                values.append(mitigate.bind_pairs(compiled, name, kernel, kernel.lhs_units[kernel.pairs[:, 0]],
                                                  -kernel.rhs_units[kernel.pairs[:, 1]]))
            self.kernels[kernel.name] = {"template": name, "blocks": [self._block(name, copy, v) for v in values]}

    @staticmethod
    def _block(template, copy, values, circuit=None):
        return Block(template, copy, values if values is not None else np.zeros((1, 0)),
                     np.zeros(len(copy), dtype=np.int64), circuit=circuit)

    def data_blocks(self, kernel: str) -> list[Block]:
        return self.kernels[kernel]["blocks"]

    def calibration_blocks(self) -> list[Block]:
        out = []
        for info in self.templates.values():
            for per_copy in info.get("cal_blocks", []):
                out += per_copy
            for per_copy in info.get("readout", []):
                out += per_copy
        return out

    def run(self, requests: list[tuple[Block, np.ndarray]], *, seed: int, noise_model) -> None:
        """Run the extra shots asked for each block row (0 = skip), in one job; add the counts."""
        pubs, where = [], []
        for block, extra in requests:
            for level in np.unique(extra[extra > 0]):
                rows = np.flatnonzero(extra == level)
                for copy in np.unique(block.copy[rows]):
                    sub = rows[block.copy[rows] == copy]
                    circuit = block.circuit if block.circuit is not None else self.compiled.execution_circuit(block.template, int(copy))
                    values = block.values[sub] if block.circuit is None else np.zeros((len(sub), 0))
                    pubs.append((circuit, values, int(level)))
                    where.append((block, sub))
        self.stages += 1
        for (block, sub), counts, (_, _, level) in zip(where, run_pubs(pubs, seed=seed, noise_model=noise_model), pubs):
            if block.counts is None:
                block.counts = np.zeros((len(block.copy), counts.shape[1]), dtype=np.int64)
            block.counts[sub] += counts
            block.shots[sub] += counts.sum(axis=1)
            # a packed device circuit carries one row of every copy: count rows per copy, take the max
            kind = "rows" if block.circuit is None else block.circuit.name.rsplit("_", 1)[-1]
            tally = self.tally.setdefault((self.stages, block.template, kind, level), {})
            copy = int(block.copy[sub[0]])
            tally[copy] = tally.get(copy, 0) + len(sub)

    def device_cost(self) -> tuple[int, int]:
        """(circuits, shots) a device would run: packed rows count once."""
        circuits = shots = 0
        for (_, _, _, level), per_copy in self.tally.items():
            rows = max(per_copy.values())
            circuits += rows
            shots += rows * level
        return circuits, shots

    # -- decoding
    def _readout_values(self, template: str, copy: int):
        info = self.templates[template]
        f = info["values"]
        if not self.mitigation:
            return f, None
        from qac import mitigate

        prep0, prep1 = info["readout"][copy]
        rates = mitigate.flip_rates(prep0.counts[0], prep1.counts[0], int(np.log2(len(f))))
        return mitigate.corrected_values(f, rates), rates

    def _decode(self, blocks: list[Block], values_by_copy: dict) -> tuple[np.ndarray, np.ndarray]:
        """Mean of f per row (sign partners combined as (m₊ − m₋)/2) and its standard error."""
        means, sems = _block_means(blocks, values_by_copy)
        if len(blocks) == 2:
            return (means[0] - means[1]) / 2, np.sqrt(sems[0] ** 2 + sems[1] ** 2) / 2
        return means[0], sems[0]

    def _data_spread(self, rescales: dict, corrected: dict) -> None:
        """Raise each rescale's pair-to-pair model error to what the data pairs show.

        With sign symmetrisation every pair also yields its even part (m₊ + m₋)/2, a direct
        measurement of the state-dependent noise the flip cancels; its scatter beyond shot noise
        is the size of the pair-specific noise effects, and the odd part the rescale leaves
        behind is of the same origin. The larger of this and the calibration residual is used.
        """
        from dataclasses import replace as _replace

        for name, info in self.templates.items():
            if not info["symmetrise"]:
                continue
            for c in range(info["copies"]):
                evens, sems = [], []
                for kernel in self.kernels.values():
                    if kernel["template"] != name:
                        continue
                    rows = kernel["blocks"][0].copy == c
                    even, sem = _even_parts(self, kernel["blocks"], {c: corrected[name, c]})
                    evens.append(even[rows])
                    sems.append(sem[rows])
                even, sem = np.concatenate(evens), np.concatenate(sems)
                if len(even) < 3:
                    continue
                excess = float(np.var(even, ddof=1) - np.mean(sem**2))
                rescale = rescales[name, c]
                if excess > rescale.spread[1, 1]:
                    spread = rescale.spread.copy()
                    spread[1, 1] = excess
                    rescales[name, c] = _replace(rescale, spread=spread)

    def estimates(self, compiled):
        """Per kernel: raw (f, no rescale) and mitigated estimates, plus shared-error terms."""
        from qac import mitigate

        corrected, rescales, report = {}, {}, {}
        for name, info in self.templates.items():
            raw_values = {c: info["values"] for c in range(info["copies"])}
            info["raw_values"] = raw_values
            if not self.mitigation:
                continue
            for c in range(info["copies"]):
                corrected[name, c], rates = self._readout_values(name, c)
                cal = info["calibration"]
                mean, sem = self._decode(info["cal_blocks"][c], {c: corrected[name, c]})
                rescales[name, c] = mitigate.fit_rescale(mean, sem, cal.ideal, cal.pattern)
                report[f"{name}[{c}]"] = {**rescales[name, c].as_dict(), "readout_flip_rates": rates.round(5).tolist(),
                                           "sign_symmetrised": info["symmetrise"]}
        if self.mitigation:
            self._data_spread(rescales, corrected)
        out = {}
        for kernel in compiled.kernels:
            if kernel.name not in self.kernels:
                out[kernel.name] = None
                continue
            name = self.kernels[kernel.name]["template"]
            info, blocks = self.templates[name], self.kernels[kernel.name]["blocks"]
            estimator = compiled.estimator_of(kernel)
            raw = finish(estimator, *self._decode(blocks, info["raw_values"]))
            shots = sum(b.shots for b in blocks)
            if not self.mitigation:
                out[kernel.name] = {"raw": raw, "mitigated": None, "shots": shots}
                continue
            copies = info["copies"]
            mean, sem = self._decode(blocks, {c: corrected[name, c] for c in range(copies)})
            mitigated, independent = np.zeros_like(mean), np.zeros_like(mean)
            gradient = np.zeros((2 * copies, len(mean)))
            covariance = np.zeros((2 * copies, 2 * copies))
            for c in range(copies):
                rows = blocks[0].copy == c
                if not rows.any():
                    continue
                m, s, g = rescales[name, c].apply(mean[rows], sem[rows])
                mitigated[rows], independent[rows] = m, s
                gradient[2 * c:2 * c + 2, rows] = g
                covariance[2 * c:2 * c + 2, 2 * c:2 * c + 2] = rescales[name, c].covariance
            finished, finished_sem = finish(estimator, mitigated, independent)
            slope = finish_slope(estimator, mitigated)
            out[kernel.name] = {"raw": raw, "mitigated": (finished, finished_sem), "shots": shots,
                                "gradient": gradient * slope[None, :], "covariance": covariance}
        return out, report


def _block_means(blocks, values_by_copy) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Mean of f and its standard error per row of each block, decoded with its copy's f."""
    means, sems = [], []
    for block in blocks:
        mean, sem = np.zeros(len(block.copy)), np.zeros(len(block.copy))
        for copy, values in values_by_copy.items():
            rows = block.copy == copy
            if rows.any():
                mean[rows], sem[rows] = estimate_from_counts(block.counts[rows], values)
        means.append(mean)
        sems.append(sem)
    return means, sems


def _even_parts(plan, blocks, values_by_copy):
    """(m₊ + m₋)/2 per pair and its σ: the part of the noise that the sign flip cancels."""
    means, sems = _block_means(blocks, values_by_copy)
    return (means[0] + means[1]) / 2, np.sqrt(sems[0] ** 2 + sems[1] ** 2) / 2


def finish_slope(estimator, mean: np.ndarray) -> np.ndarray:
    """d finish/d mean, numerically (1 for estimators without a finish hook)."""
    if getattr(estimator, "finish", None) is None:
        return np.ones_like(mean)
    h = 1e-6
    hi, _ = finish(estimator, mean + h, np.zeros_like(mean))
    lo, _ = finish(estimator, mean - h, np.zeros_like(mean))
    slope = (hi - lo) / (2 * h)
    return np.where(np.isfinite(slope), slope, 0.0)


def grid_shots(shots: np.ndarray) -> np.ndarray:
    """Round shots up to the grid ⌈g^k⌉ (g = 2^¼): at most ~19% more, few distinct values."""
    shots = np.asarray(shots, dtype=float)
    out = np.zeros(shots.shape, dtype=np.int64)
    positive = shots > 0
    k = np.ceil(np.log(np.maximum(shots[positive], 1.0)) / np.log(SHOT_GRID) - 1e-9)
    out[positive] = np.ceil(SHOT_GRID ** k).astype(np.int64)
    return out


def run_compiled(compiled, *, shots: int, noise: bool, seed: int, mitigation: bool,
                 precision: float | None, pilot_shots: int | None = None) -> Result:
    """Sample (and mitigate) every kernel of ``compiled``; with ``precision``, a pilot stage then
    shots per score from the delta-method Jacobian (``qac.attention.shot_allocation``)."""
    from qac.attention import shot_allocation

    noise_model = None
    if noise:
        noise_model = compiled.target.noise_model()
        if noise_model is None:
            raise ExecutionError(f"target '{compiled.target.name}' has no noise model; "
                                 f"use a device target such as ibm_brisbane for --noise")
    plan = Plan(compiled, mitigation=mitigation, seed=seed)
    first = shots if precision is None else (pilot_shots or PILOT_SHOTS)

    def stage(pair_shots: dict, calibration: int, stage_seed: int):
        requests = []
        for kernel, extra in pair_shots.items():
            blocks = plan.data_blocks(kernel)
            per_block = -(-np.asarray(extra, dtype=np.int64) // len(blocks))
            requests += [(b, per_block) for b in blocks]
        if calibration:
            for b in plan.calibration_blocks():
                count = len(b.copy)
                paired = plan.templates[b.template]["symmetrise"] and b.circuit is None
                per_row = -(-calibration // 2) if paired else calibration
                requests.append((b, np.full(count, per_row, dtype=np.int64)))
        plan.run(requests, seed=stage_seed, noise_model=noise_model)

    stage({k: np.full(len(plan.data_blocks(k)[0].copy), first) for k in plan.kernels}, first if mitigation else 0, seed)
    estimates, report = plan.estimates(compiled)
    allocation = {}
    if precision is not None:
        extra, uniform_total, adaptive_total = {}, 0, 0
        for kernel in compiled.kernels:
            e = estimates.get(kernel.name)
            if e is None:
                continue
            mean, sem = e["mitigated"] if e["mitigated"] is not None else e["raw"]
            sigma = np.zeros(kernel.shape)
            inner = np.zeros(kernel.shape)
            i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
            inner[i, j] = np.clip(mean, -1, 1)
            sigma[i, j] = sem * np.sqrt(e["shots"])
            h = kernel.head
            values = compiled.spec.V[:, h * compiled.spec.dv_head:(h + 1) * compiled.spec.dv_head]
            need, uniform = shot_allocation(inner, sigma, kernel.lhs_norms, kernel.rhs_norms, kernel.visible,
                                            compiled.spec.scale_value, values, precision / 1.1,
                                            bias=getattr(kernel, "bias", None))
            need = np.maximum(np.ceil(need[i, j]), first)
            extra[kernel.name] = grid_shots(need - e["shots"])
            adaptive_total += int(np.sum(np.maximum(need, e["shots"])))
            uniform_total += len(kernel.pairs) * max(int(np.ceil(uniform)), first)
        calibration = int(max((np.max(e["shots"] + extra[k]) for k, e in estimates.items() if e is not None), default=0))
        stage(extra, calibration if mitigation else 0, seed + 1)
        estimates, report = plan.estimates(compiled)
        used = sum(int(np.sum(e["shots"])) for e in estimates.values() if e is not None)
        allocation = {"requested": precision, "pair_shots": used, "uniform_pair_shots": uniform_total,
                      "planned_pair_shots": adaptive_total,
                      "saving": 1.0 - used / uniform_total if uniform_total else 0.0, "pilot_shots": first}
    return _result(compiled, plan, estimates, report, allocation, noise=noise, mitigation=mitigation,
                   shots=first if precision is None else None)


def _result(compiled, plan: Plan, estimates: dict, report: dict, allocation: dict, *, noise: bool,
            mitigation: bool, shots: int | None) -> Result:
    from qac.attention import reconstruct_head

    spec = compiled.spec

    def assemble(kind):
        outputs, errors, scores, score_errors, inner_products = [], [], [], [], {}
        for kernel in compiled.kernels:
            e = estimates.get(kernel.name)
            inner, inner_stderr = np.zeros(kernel.shape), np.zeros(kernel.shape)
            gradient = covariance = None
            if e is None:
                inner_products[kernel.name] = (np.zeros(0), np.zeros(0))
            else:
                mean, sem = e[kind]
                inner_products[kernel.name] = (mean, sem)
                i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
                inner[i, j], inner_stderr[i, j] = mean, sem
                if kind == "mitigated":
                    gradient = np.zeros((len(e["gradient"]), *kernel.shape))
                    gradient[:, i, j] = e["gradient"]
                    covariance = e["covariance"]
            h = kernel.head
            values = spec.V[:, h * spec.dv_head:(h + 1) * spec.dv_head]
            head = reconstruct_head(inner, inner_stderr, kernel.lhs_norms, kernel.rhs_norms, kernel.visible,
                                    spec.scale_value, values, shared_gradient=gradient, shared_covariance=covariance,
                                    bias=getattr(kernel, "bias", None))
            outputs.append(head.output)
            errors.append(head.output_stderr)
            scores.append(head.scores)
            score_errors.append(head.scores_stderr)
        return (np.concatenate(outputs, axis=1), np.concatenate(errors, axis=1), np.stack(scores),
                np.stack(score_errors), inner_products)

    raw = assemble("raw")
    main = assemble("mitigated") if mitigation else raw
    pair_shots = [e["shots"] for e in estimates.values() if e is not None]
    largest = int(max((np.max(s) for s in pair_shots), default=0))
    circuits, used = plan.device_cost()
    return Result(output=main[0], stderr=main[1], exact=compiled.exact, scores=main[2], scores_stderr=main[3],
                  inner_products=main[4], shots=shots if shots is not None else largest, noise=noise,
                  target=compiled.target.name, mitigated=mitigation,
                  raw_output=raw[0], raw_stderr=raw[1], raw_scores=raw[2], raw_scores_stderr=raw[3],
                  raw_inner_products=raw[4], shots_used=used, circuits_run=circuits,
                  pairs_per_circuit=compiled.pairs_per_circuit(), mitigation=report, precision=allocation)
