"""Engines: how bound rows become counts. One interface, a registry table.

An engine has ``counts(pubs, *, seed, noise_model) -> [(rows, 2^bits) int64 per PUB]`` for PUBs
``(circuit, values (rows, params), shots)``; plans, mitigation and decoding do not know which
engine ran. ``aer`` is Aer's SamplerV2 without the per-shot bit strings (see ``AerEngine``);
exact (infinite-shot) runs take ``qac.kernels.exact`` distributions instead of counts. The registry of
every engine by name is ``qac.execution.engines.ENGINES``.
"""

from __future__ import annotations

import numpy as np

from qac import limits, seeds
from qac.errors import ExecutionError, InternalError

#: AerSimulator options qac runs with. qac's circuits are tiny (a handful of qubits) and
#: many (one row per pair). Aer's default turns every row of a PUB into its own experiment;
#: ``runtime_parameter_bind_enable`` binds the rows inside one experiment instead (−20% at
#: 32×32 pairs, 1024 shots). It does not change a sample: for the same ``seed_simulator``
#: Aer draws the same shots for each row either way (``tests/test_execution.py`` checks the
#: counts against Aer's SamplerV2 with Aer's defaults, ideal and noisy). Thread options stay at
#: Aer's defaults: a statevector this small is updated on one thread anyway, and running
#: experiments side by side (``max_parallel_experiments``) gained nothing measurable on the
#: shared 2-core machine.
AER_OPTIONS: dict = {"runtime_parameter_bind_enable": True}

_RESTRICTED: dict = {}
_SIMULATORS: dict = {}


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
    or the benchmark's peers). ``AerEngine`` asks Aer for counts directly instead (see there)."""
    from qiskit_aer.primitives import SamplerV2

    options = {**AER_OPTIONS, **({"noise_model": noise_model} if noise_model is not None else {})}
    return SamplerV2(default_shots=shots, seed=seed, options={"backend_options": options})


def simulator(noise_model=None):
    """The AerSimulator for a noise model (None: ideal), built once per process and model."""
    key = id(noise_model)
    if key not in _SIMULATORS:
        from qiskit_aer import AerSimulator

        options = {**AER_OPTIONS, **({"noise_model": noise_model} if noise_model is not None else {})}
        _SIMULATORS[key] = (noise_model, AerSimulator(**options))  # keep the model alive: ids stay unique
    return _SIMULATORS[key][1]


def register_slice(circuit, name: str = "meas") -> tuple[int, int]:
    """(first clbit, bits) of the classical register ``name`` (what SamplerV2 calls ``data[name]``)."""
    for creg in circuit.cregs:
        if creg.name == name:
            return (circuit.find_bit(creg[0]).index if creg.size else 0), creg.size
    raise InternalError(f"circuit {circuit.name!r} has no {name!r} register")


def shot_chunks(shots: int) -> list[int]:
    """``shots`` cut into runs of at most ``qac.limits.AER_SHOT_CHUNK`` (read at call time)."""
    chunk = limits.AER_SHOT_CHUNK
    return [chunk] * (shots // chunk) + ([shots % chunk] if shots % chunk else [])


def chunk_seed(seed: int, index: int) -> int:
    """Aer's seed for chunk ``index`` of a run seeded ``seed``: the seed itself for the first
    chunk (so a request of one chunk draws exactly what it drew before chunking), and a
    32-bit hash of (seed, index) for the others, so no two chunks share their draws."""
    if index == 0:
        return int(seed)
    return seeds.child_seed(seed, "aer_chunk", index)


class AerEngine:
    """Aer's ``SamplerV2`` without its per-shot bit strings, in bounded memory.

    The same grouping of PUBs by shots, the same circuits, parameter binds and
    ``seed_simulator`` handed to the same ``AerSimulator.run`` — so the same samples — but Aer
    returns counts per row (``memory`` off) instead of every shot's bits, which SamplerV2 then
    packs into a ``BitArray`` in Python (half of a run's time at 1024 shots per row). Aer holds
    about 100 bytes per shot while it samples a row (``qac/limits.py``), so more than
    ``AER_SHOT_CHUNK`` shots are drawn in chunks (``chunk_seed``) whose counts are summed.
    """

    name = "aer"

    def counts(self, pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
        """Run PUBs ``(circuit, values, shots)`` in one job; counts (rows, 2^bits) per PUB."""
        live = [k for k, pub in enumerate(pubs) if len(pub[1])]
        results = [np.zeros((len(pub[1]), 1 << register_slice(pub[0])[1]), dtype=np.int64) for pub in pubs]
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
                    raise InternalError("a circuit without parameters runs one row per PUB")
                circuits.append(circuit)
                binds.append({p: values[:, i] for i, p in enumerate(circuit.parameters)})
            for index, chunk in enumerate(shot_chunks(shots)):
                self._add_counts(backend, circuits, binds, pubs, members, results, chunk, chunk_seed(seed, index))
        return results

    @staticmethod
    def _add_counts(backend, circuits, binds, pubs, members, results, shots: int, seed: int) -> None:
        """One ``AerSimulator.run`` of every member PUB at ``shots``; its counts added to ``results``."""
        try:
            result = backend.run(circuits, shots=shots, seed_simulator=seed, parameter_binds=binds).result()
        except Exception as exc:  # Aer reports simulation failures as generic errors
            raise ExecutionError(f"the simulator failed: {exc}; run with --debug for details") from exc
        experiments = iter(result.results)
        for k in members:
            start, bits = register_slice(pubs[k][0])
            mask = (1 << bits) - 1
            counts = results[k]
            for row in range(len(counts)):
                experiment = next(experiments)
                status = experiment.status
                if not experiment.success or (isinstance(status, str) and status.upper().startswith("ERROR")):
                    raise ExecutionError(f"the simulator failed: {status}; run with --debug for details")
                for key, n in getattr(experiment.data, "counts", {"0x0": shots}).items():
                    counts[row, (int(key, 16) >> start) & mask] += n


AER = AerEngine()


def run_pubs(pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
    """Counts (rows, 2^bits) per PUB ``(circuit, values, shots)`` from the Aer engine."""
    return AER.counts(pubs, seed=seed, noise_model=noise_model)
