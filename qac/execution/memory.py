"""The memory one compile + run holds: a bound from the run's shape (docs/engine.md "Memory bound").

A run's peak is a fixed part — the chunks every stage works in, whatever the size — plus what
grows with the kernels: per pair the bindings tables (``parameters`` float64, twice for odd
estimators, whose sign partners are bound at compile time), the plan's shots and counts
(``2^bits`` int64 per block), the estimates; per score entry (N·M per head) the masks and the
result's score tables; per head, while it is reconstructed, the delta method's (N, M, dv)
Jacobian and the error bars' working arrays; a noisy run's device noise model.
``RunShape.of`` reads these figures from a compiled program; ``bound`` is arithmetic on them,
so a test and a bench compare a measured peak with the same number the docs state.

The coefficients count the arrays the code allocates (named beside each); the bound holds
under ``tracemalloc`` (numpy's buffers) and, for a process's resident memory, on top of what
the process held before it compiled (Python, numpy, Qiskit, Aer: ≈ 200 MB after a warm-up).
"""

from __future__ import annotations

from dataclasses import dataclass

from qac.limits import available

F8 = 8  # bytes of a float64 / int64

#: binder: a BIND_ROWS chunk's gathered vectors, joint rows, tree levels and angles, ≈ 8 tables
#: of (BIND_ROWS, max(parameters, 2·lanes)) float64, beside the output table it fills
BINDER_TABLES = 8
#: bootstrap (qac/execution/errorbars.py): a chunk of draws × rows × M replicas lives as ≈ 6 arrays at
#: once (noise z, replica, clipped, scores, softmax's exponentials and probabilities)
BOOTSTRAP_TABLES = 6
#: per (N, M) entry of the head being reconstructed: dense mean/sem, gain, noise, scores,
#: variances, softmax and its intermediates, bootstrap's stderr and plug-in (float64 each)
HEAD_TABLES = 16
#: per (N, M, dv) entry of that head: the delta method's Jacobian and its scaled square
HEAD_JACOBIAN_TABLES = 3
#: a precision run's planning adds the bootstrap's slopes and shot_allocation's products with them
PLANNING_JACOBIAN_TABLES = 6
#: per (N, M) entry of every head, kept to the end: visible (1 byte), the result's scores and
#: their errors, raw and mitigated (4 float64), and np.stack's copy of them (4 more)
ENTRY_BYTES = 1 + 8 * F8
#: per pair of every kernel: its (i, j) (2 int64), the plan's copy index, the estimates
#: (raw mean/sem, mitigated mean/sem, shots, and decode's per-block mean/sem while they form)
PAIR_BYTES = F8 * (2 + 1 + 2 + 2 + 1 + 4)
#: a noisy run's Aer NoiseModel of the whole device, built once and cached (measured under
#: tracemalloc: ibm_fez, 156 qubits, 106 MB; ibm_brisbane, 127 qubits, 33 MB)
NOISE_MODEL_BYTES_PER_QUBIT = 2**20
#: one local Dask worker (``--workers N``): a process holding Python, numpy, Qiskit and the simulator
#: (measured peak resident memory 116–121 MB a worker after a run, 2 workers, load 12; its scheduler
#: ≈ 220 MB is counted once with the first worker)
WORKER_BYTES = 120 * 10**6
SCHEDULER_BYTES = 220 * 10**6


@dataclass(frozen=True)
class KernelShape:
    """What one kernel contributes: its pairs and their rows, its head's score matrix."""

    pairs: int
    parameters: int  # template parameters per row
    bits: int  # measured bits of one copy per row: the counts are (rows, 2^bits)
    partners: bool  # sign partners bound at compile time (odd estimator)
    entries: int  # N·M of its head
    keys: int  # M
    values: int  # dv: V's columns of its head
    qubits: int  # the template's qubits (one copy): the batched engine's state width
    lanes: int  # d padded: one vector's components (the joint vector has 2·lanes)
    shared: int  # mitigation's shared parameters (2 per copy) when mitigated, else 0


@dataclass(frozen=True)
class RunShape:
    kernels: tuple[KernelShape, ...]
    mitigation: bool
    noisy: bool
    draws: int  # bootstrap replicas
    device_qubits: int = 0  # the target's qubits when noisy (its noise model), else 0
    precision: bool = False  # a pilot, planning and refinement stages (``run(precision=…)``)
    workers: int = 0  # local Dask workers this run starts (``--workers N``)

    @classmethod
    def of(cls, compiled, *, mitigation: bool | None = None, noise: bool = False, precision=None) -> RunShape:
        """The shape of ``compiled.run(noise=noise, mitigation=mitigation, precision=precision)``
        (mitigation defaults to ``noise``, as ``run`` does)."""
        from qac.execution.errorbars import DRAWS
        from qac.execution.reconstruct import head_inputs
        from qac.ir.packing import copies, template_of

        program = compiled.program
        mitigation = bool(noise) if mitigation is None else bool(mitigation)
        kernels = []
        for kernel in program.module.plan.kernels:
            n, m = kernel.shape
            dv = head_inputs(program.module.plan.graph, kernel.head)[1].shape[1]
            if not len(kernel.pairs):
                kernels.append(KernelShape(0, 0, 0, False, n * m, m, dv, 0, 0, 0))
                continue
            name = template_of(program, kernel)
            template = program.module.templates[name]
            binding = program.module.bindings[kernel.name]
            kernels.append(KernelShape(len(kernel.pairs), template.num_parameters, template.circuit.num_clbits,
                                       binding.has_partners, n * m, m, dv, template.circuit.num_qubits,
                                       kernel.d_pad, 2 * copies(program, name) if mitigation else 0))
        return cls(tuple(kernels), mitigation, bool(noise), DRAWS, compiled.target.num_qubits if noise else 0,
                   precision is not None)


def bound(shape: RunShape) -> dict[str, int]:
    """Bytes a compile + run of this shape holds at most, by part; ``"total"`` is their sum.

    grows with pairs: Σ pairs·(8·parameters·(1 + partners) + 8·blocks·stages·(1 + 2^bits) +
    PAIR_BYTES + 8·shared); with entries: Σ N·M·ENTRY_BYTES; one head at a time: 8·N·M·(HEAD_TABLES
    + 2·shared + HEAD_JACOBIAN_TABLES·dv) + the bootstrap's chunk of R replicas, 8·R·(BOOTSTRAP_TABLES
    + 2·dv/M) (a precision run's planning bootstrap: PLANNING_JACOBIAN_TABLES·dv); fixed: the binder's
    and the engine's chunks, and a noisy run's device noise model (blocks = 2 when sign partners
    run, i.e. mitigated odd estimators; stages = 2 when a precision run adds refinements).
    """
    from qac.execution.batched import CHUNK_ROWS
    from qac.execution.errorbars import CHUNK_ENTRIES
    from qac.execution.precision import PLANNING_DRAWS
    from qac.kernels.binding import BIND_ROWS
    from qac.simulator import (
        CHUNK_BYTES,
        NOISY_CHUNK_BYTES,
        PAULI_QUBITS,
        WIDE_CHUNK_BYTES,
        WIDE_PAULI_QUBITS,
    )

    def bootstrap(k: KernelShape, draws: int, jacobians: int) -> int:
        replicas = min(k.entries * draws, max(CHUNK_ENTRIES, draws * k.keys))
        per_entry = HEAD_TABLES + 2 * k.shared + jacobians * k.values
        return F8 * k.entries * per_entry + F8 * replicas * (BOOTSTRAP_TABLES + 2 * k.values / max(1, k.keys))

    stages = 2 if shape.precision else 1
    tables = pairs = entries = head = chunks = 0
    for k in shape.kernels:
        blocks = 2 if (k.partners and shape.mitigation) else 1
        tables += k.pairs * F8 * k.parameters * (2 if k.partners else 1)
        pairs += k.pairs * (F8 * blocks * stages * (1 + (1 << k.bits)) + PAIR_BYTES + F8 * k.shared)
        entries += k.entries * ENTRY_BYTES
        head = max(head, bootstrap(k, shape.draws, HEAD_JACOBIAN_TABLES),
                   bootstrap(k, PLANNING_DRAWS, PLANNING_JACOBIAN_TABLES) if shape.precision else 0)
        if k.pairs:
            digit = 4 if shape.noisy else 2
            state = 3 * 16 * digit ** k.qubits
            budget = min(CHUNK_BYTES, NOISY_CHUNK_BYTES) if shape.noisy else CHUNK_BYTES
            if shape.noisy and PAULI_QUBITS < k.qubits <= WIDE_PAULI_QUBITS:  # the full Pauli basis
                budget = WIDE_CHUNK_BYTES
            rows = min(CHUNK_ROWS, k.pairs, max(1, budget // state))
            engine = rows * state + 2 * min(CHUNK_ROWS, k.pairs) * F8 * (1 << k.bits)
            binder = BINDER_TABLES * F8 * min(BIND_ROWS, k.pairs) * max(k.parameters, 2 * k.lanes)
            chunks = max(chunks, engine, binder)
    parts = {"bindings": tables, "pairs": pairs, "entries": entries, "head": int(head), "chunks": chunks,
             "noise model": NOISE_MODEL_BYTES_PER_QUBIT * shape.device_qubits,
             "workers": (SCHEDULER_BYTES + WORKER_BYTES * shape.workers) if shape.workers else 0}
    parts["total"] = sum(parts.values())
    return parts


def check(compiled, *, noise: bool = False, mitigation: bool | None = None, precision=None, workers: int = 0) -> int:
    """What the run still needs beyond the compiled program (its bound less the bindings tables,
    which are already held), or an ExecutionError (one line) when that exceeds what the machine
    has available — refused up front, as ``qac.limits`` refuses shots, instead of swapping.
    ``workers``: the local Dask workers the run starts, ``WORKER_BYTES`` each."""
    from dataclasses import replace

    from qac.errors import ExecutionError

    shape = RunShape.of(compiled, noise=noise, mitigation=mitigation, precision=precision)
    parts = bound(replace(shape, workers=int(workers or 0)))
    need = parts["total"] - parts["bindings"]
    free = available()
    if free is not None and need > free:
        fits = (free - (need - parts["workers"]) - SCHEDULER_BYTES) // WORKER_BYTES
        fix = (f"pass --workers {max(1, fits)} or fewer (each worker holds ≈ {WORKER_BYTES / 1e6:.0f} MB)"
               if workers and fits >= 1 else "run fewer heads or tokens at once")
        with_workers = f" with {workers} Dask workers" if workers else ""
        raise ExecutionError(f"this run needs up to {need / 1e9:.1f} GB{with_workers} (docs/engine.md \"Memory "
                             f"bound\") but the machine has {free / 1e9:.1f} GB available; {fix}")
    return need
