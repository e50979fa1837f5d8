"""Child random streams: the one place a seed is split into independent streams.

Every random stream qac draws from is ``numpy.random.SeedSequence([seed, STREAMS[name], *index])``:
a user's seed, a named stream, and the indices that tell its draws apart (a stage, a PUB, a
chunk, a layer, a forward call). Distinct ``(seed, name, index)`` give distinct entropy, so no
two of them share a stream, and a seed never meets another seed's stream the way ``seed + k``
did (run s's refinement k and run s + k's first stage used to draw the same numbers).
``tests/test_seeds.py`` checks both.

Engines and samplers that take a 32-bit seed (Aer's ``seed_simulator``, the transpiler) get
``child_seed``: the first 32-bit word of the same sequence.
"""

from __future__ import annotations

import numpy as np

#: Named streams. A number, not the name's hash, so the streams never change with Python's
#: hash seed; new streams take new numbers (never reuse one).
STREAMS: dict[str, int] = {
    "stage": 1,          # a sampled run's stages after the first (``stage_seed``): 1, 2, … its refinements
    "stage2": 2,         # the P·V stage of a two-stage run, by the same stage index
    "chunk": 3,          # an engine's draws for (PUB, chunk) from its own int seed
    "aer_chunk": 4,      # Aer's shot chunks past the first
    "bootstrap": 5,      # error-bar replicas, by kind (raw, mitigated, pilot) and stage
    "calibration": 6,    # the calibration rows' random patterns (compile seed)
    "runtime_job": 7,    # a Qiskit Runtime job, by job index
    "layer": 8,          # a model layer's own seed (qac.torch)
    "forward": 9,        # one forward call of a model layer, by call index
    "transpile": 10,     # layout trials, by trial index
    "verify": 11,        # verification's random parameter points, by template
    "dropout": 12,       # reserved: attention dropout is drawn from torch's RNG
    "eval": 13,          # qac eval: data splits and the paired bootstrap
    "qcec": 14,          # verification's mqt.qcec runs, by point
    "closed_form": 15,   # ideal runs' closed-form binomial draws, by stage seed and PUB
    "closed_form_check": 16,  # which rows of an ideal run the simulator checks
    "closed_form_proof": 17,  # the random pairs that prove a template's closed form, by d
    "replica": 18,       # a model layer's bootstrap replicas (qac.torch.uncertainty), by layer and call
}


def sequence(seed: int, stream: str, *index: int) -> np.random.SeedSequence:
    """The stream ``stream`` of ``seed`` at ``index``."""
    if stream not in STREAMS:
        raise KeyError(f"unknown random stream {stream!r}: one of {', '.join(STREAMS)}")
    return np.random.SeedSequence([int(seed), STREAMS[stream], *(int(i) for i in index)])


def generator(seed: int, stream: str, *index: int) -> np.random.Generator:
    """A numpy generator on that stream (``default_rng``'s PCG64, built directly: a model forward
    asks for hundreds, one a PUB)."""
    return np.random.Generator(np.random.PCG64(sequence(seed, stream, *index)))


def child_seed(seed: int, stream: str, *index: int) -> int:
    """A 32-bit seed for that stream, for APIs that take an int (Aer, the transpiler, torch)."""
    return int(sequence(seed, stream, *index).generate_state(1, dtype=np.uint32)[0])


def stage_seed(seed: int, stream: str, index: int) -> int:
    """The engine seed of stage ``index`` of a sampled run (``stream``: "stage", or "stage2" for a
    two-stage run's P·V stage). The first stage draws with the run seed itself, so ``run(seed=s)``
    samples exactly what Aer's ``SamplerV2(seed=s)`` samples for the same PUBs (``decode_counts``
    and its test rely on it); every later stage, and the other stream, draws from ``child_seed``."""
    if stream == "stage" and index == 0:
        return int(seed)
    return child_seed(seed, stream, index)
