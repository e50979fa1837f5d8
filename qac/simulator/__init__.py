"""A batched simulator of compiled ISA circuits: every row of a bindings table at once.

``probabilities(circuit, values, noise_model)`` simulates the circuit gate by gate on its
active qubits only — a statevector batch when ideal, a density matrix with the noise model's
own errors (``QuantumError`` → superoperator after each gate, ``ReadoutError`` → confusion
matrix on each measured bit) when noisy, in the Pauli-transfer basis on the measurement's light
cone (``pauli``) — and returns the outcome probabilities of
the ``meas`` register (clbit 0 least significant), as Aer would. Independent groups of qubits
(copies of a packed circuit) are simulated apart and their distributions multiplied.
``sample_counts`` draws multinomial counts from them. Depends on numpy, scipy and Qiskit only
(``docs/engine.md``: design, measurements, memory bound).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

#: Bytes one chunk's state may take, working copies included (the state, its transposed copy
#: and the matmul's output: 3 × rows × D^n × 16 bytes, D = 2 ideal, 4 noisy).
CHUNK_BYTES = 256 * 2**20
#: A noisy chunk's working set in the Pauli basis (3 × rows × kept coefficients × 8 bytes,
#: ``pauli``) is kept this small instead, so that it stays in a core's cache across the ~80
#: steps of a run (measured on an ibm_fez d = 32 template, ≤ 1430 kept coefficients: 128–256-row
#: chunks ≈ 1.7× faster than 1024 or 64); ideal runs are a few dense gemms a layer and prefer
#: large chunks.
NOISY_CHUNK_BYTES = 8 * 2**20
#: Noisy components up to this many qubits run in the Pauli basis (``pauli``); wider ones run the
#: plain density-matrix batch (``evolve``), in chunks of ``DENSITY_CHUNK_BYTES``. The Pauli plan
#: walks index sets of all 4^n coefficients once a step: measured on ibm_fez binary templates,
#: 0.6 s at 7 qubits (d = 64) for rows 34× faster, but 12 s at 8 (d = 128, whose light cone
#: covers all 4^8 coefficients) for rows only 1.2× faster.
PAULI_QUBITS = 7
#: Noisy components of more qubits, up to this many, run in the Pauli basis with a light cone a
#: qubit at a time (``pauli_wide``: qubits in a product state apart until their first two-qubit
#: step, traced out after their last one in the measurement's cone; nothing to walk to plan), in
#: chunks of ``WIDE_CHUNK_BYTES``; wider ones run the density-matrix batch. Measured at 8 qubits
#: (ibm_fez binary d = 128): see docs/engine.md.
WIDE_PAULI_QUBITS = 10
#: A wide chunk's working set (3 × rows × 4^n × 8 bytes at most): 12 rows at 8 qubits (measured on
#: the d = 128 template: 8–16-row chunks 8.4–9.3 ms a row, 24 rows 10–11.5, 2 rows 13–15).
WIDE_CHUNK_BYTES = 18 * 2**20
#: A density-matrix chunk (3 × rows × 4^n × 16 bytes) this small stays in cache across its ~100
#: passes (measured: 4 rows of a 4^6 state ran 5× faster than 256 rows).
DENSITY_CHUNK_BYTES = 768 * 2**10
#: Largest 'meas' register whose full distribution is returned (2^bits floats a row).
MAX_BITS = 20

#: Lowered programs (and their plans) of the circuits simulated most recently, least recent
#: first. Bounded: every compile makes new circuit objects, so a model that calls qac on every
#: forward pass grew this by one program a call (30 calls, 30 programs) and never let one go.
PROGRAM_CACHE = 64
_PROGRAMS: OrderedDict = OrderedDict()
_SUPPORTED: OrderedDict = OrderedDict()
_CONTROLLER: list = []  # threadpoolctl's controller, built once (scanning the libraries costs ms)
_LOWERING = threading.RLock()  # re-entered: the lowering asks circuit_key under it


def circuit_key(circuit) -> str:
    """The circuit's structure digest (``qac.kernels.digest.structure_key``, memoised per object
    there): the lowering, support and proof caches are keyed by it, so the copies of one routed
    template that every compile hands out (a model forward compiles once a layer) share one
    lowered program. Taken under the lowering lock: chunks may ask from several threads."""
    from qac.kernels.digest import structure_key

    with _LOWERING:
        return structure_key(circuit)


def supports(circuit, noise_model=None) -> tuple[bool, str]:
    """(True, "") if the batched engine simulates ``circuit`` under ``noise_model`` exactly as
    Aer would, else (False, why) — for ``engine="auto"`` to fall back to Aer and say why.
    Cached per (circuit structure, noise model) like the lowering (walking a circuit costs ms)."""
    key = (circuit_key(circuit), id(noise_model))
    with _LOWERING:
        if key in _SUPPORTED:
            _SUPPORTED.move_to_end(key)
            return _SUPPORTED[key][2]
    answer = _supports(circuit, noise_model)
    with _LOWERING:
        _SUPPORTED[key] = (circuit, noise_model, answer)  # keep both alive: ids stay unique
        while len(_SUPPORTED) > PROGRAM_CACHE:
            _SUPPORTED.popitem(last=False)
    return answer


def _supports(circuit, noise_model) -> tuple[bool, str]:
    from qac.simulator.lowering import _meas_register, unsupported

    reason = unsupported(circuit, noise_model)
    if reason is None and _meas_register(circuit)[1] > MAX_BITS:
        reason = f"the 'meas' register has more than {MAX_BITS} bits (split a packed circuit into its copies)"
    if reason is None:
        program = _program(circuit, noise_model)
        digit = 4 if program.noisy else 2
        widest = max((len(c.qubits) for c in program.components), default=0)
        if 3 * 16 * digit ** widest > CHUNK_BYTES:
            reason = f"a group of {widest} entangled qubits does not fit one row in {CHUNK_BYTES >> 20} MiB"
    return (reason is None, reason or "")


def _program(circuit, noise_model):
    with _LOWERING:  # chunks of one run may ask from several threads (qac.execution.batched)
        return _lowered(circuit, noise_model)


def _lowered(circuit, noise_model):
    from qac.simulator.lowering import lower

    key = (circuit_key(circuit), id(noise_model))
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
    else:
        _PROGRAMS[key] = (circuit, noise_model, lower(circuit, noise_model))  # keep both alive: ids stay unique
        while len(_PROGRAMS) > PROGRAM_CACHE:
            _PROGRAMS.popitem(last=False)
    return _PROGRAMS[key][2]


def rows_per_chunk(circuit, noise_model=None) -> int:
    """The rows one chunk holds: under ``CHUNK_BYTES`` ideal, ``NOISY_CHUNK_BYTES`` (Pauli basis) or
    ``DENSITY_CHUNK_BYTES`` (density matrix) noisy; the widest component decides."""
    program = _program(circuit, noise_model)
    if not program.noisy:
        widest = max((len(c.qubits) for c in program.components), default=0)
        return max(1, CHUNK_BYTES // (3 * 16 * 2 ** widest))
    from qac.simulator.pauli import pauli_plan

    rows = [NOISY_CHUNK_BYTES // (3 * 8 * pauli_plan(c, program.num_parameters).widest) if len(c.qubits) <= PAULI_QUBITS
            else WIDE_CHUNK_BYTES // (3 * 8 * 4 ** len(c.qubits)) if len(c.qubits) <= WIDE_PAULI_QUBITS
            else DENSITY_CHUNK_BYTES // (3 * 16 * 4 ** len(c.qubits)) for c in program.components if c.clbits]
    return max(1, min(rows, default=1))


def probabilities(circuit, values, noise_model=None, *, max_rows_per_chunk: int | None = None) -> np.ndarray:
    """Outcome probabilities (rows, 2^bits) of the 'meas' register for every row of ``values``
    ((rows, circuit.num_parameters), parameters in ``circuit.parameters`` order)."""
    ok, reason = supports(circuit, noise_model)
    if not ok:
        raise ValueError(f"the batched engine cannot simulate {circuit.name!r}: {reason}")
    values = np.asarray(values, dtype=float)
    if values.ndim == 1 and circuit.num_parameters == 0:
        values = values.reshape(len(values), 0)
    if values.ndim != 2 or values.shape[1] != circuit.num_parameters:
        raise ValueError(f"values must be (rows, {circuit.num_parameters}), got {values.shape}")
    program = _program(circuit, noise_model)
    with single_blas_thread():
        return _probabilities(program, values, min(rows_per_chunk(circuit, noise_model), max_rows_per_chunk or len(values)) or 1)


def single_blas_thread():
    """BLAS on one thread while the engine runs: its products are tiny (K = 4…64), and
    OpenBLAS's spinning threads made a loaded 2-core machine 4–15× slower (measured)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's usual stack
        import contextlib

        return contextlib.nullcontext()
    with _LOWERING:
        if not _CONTROLLER:  # one scan of the loaded libraries a process (≈ 6 ms each time otherwise)
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _probabilities(program, values, chunk) -> np.ndarray:
    from qac.simulator import pauli, pauli_wide
    from qac.simulator.evolve import evolve, outcome_probabilities

    bits = program.bits
    rows = len(values)
    out = np.zeros((rows, 1 << bits))
    for first in range(0, rows, chunk):
        part = values[first:first + chunk]
        # the register as a (rows, 2, …, 2) tensor, axis 1 + (bits − 1 − c) ↔ clbit c
        joint = np.ones((len(part),) + (1,) * bits)
        covered = set()
        for component in program.components:
            if not component.clbits:
                continue  # unmeasured qubits: traced out
            if program.noisy and len(component.qubits) <= PAULI_QUBITS:
                probs = pauli.probabilities(component, part, program.num_parameters)
            elif program.noisy and len(component.qubits) <= WIDE_PAULI_QUBITS:
                probs = pauli_wide.probabilities(component, part, program.num_parameters)
            else:
                probs = outcome_probabilities(component, *evolve(component, part, program.noisy), program.noisy)
            # place the component's bits (most significant first) at their register axes
            axes = [1 + bits - 1 - c for c in reversed(component.clbits)]
            shape = [len(part)] + [1] * bits
            for a in axes:
                shape[a] = 2
            target = sorted(axes)
            probs = np.moveaxis(probs, list(range(1, len(axes) + 1)), [1 + target.index(a) for a in axes])
            joint = joint * probs.reshape(shape)
            covered |= set(component.clbits)
        for c in set(range(bits)) - covered:  # never measured: reads 0
            shape = [1] * (bits + 1)
            shape[1 + bits - 1 - c] = 2
            joint = joint * np.array([1.0, 0.0]).reshape(shape)
        out[first:first + len(part)] = np.broadcast_to(joint, (len(part),) + (2,) * bits).reshape(len(part), -1)
    return out


def sample_counts(probabilities, shots, seed) -> np.ndarray:
    """Multinomial counts (rows, outcomes) int64: ``shots`` (an int or one per row) draws per row
    from ``probabilities``, deterministic in (probabilities, shots, seed); ``seed`` is an int, a
    ``numpy.random.SeedSequence`` or an entropy tuple."""
    probabilities = np.asarray(probabilities, dtype=float)
    rows = len(probabilities)
    shots = np.broadcast_to(np.asarray(shots, dtype=np.int64), (rows,))
    if isinstance(seed, tuple):
        seed = np.random.SeedSequence(list(seed))
    generator = np.random.Generator(np.random.PCG64(seed))
    if rows == 0:
        return np.zeros(probabilities.shape, dtype=np.int64)
    p = np.clip(probabilities, 0.0, None)
    p = p / p.sum(axis=1, keepdims=True)
    return generator.multinomial(shots, p).astype(np.int64)
