"""Scale-out (issue 12): the batched engine's chunks on 1, 2 and 3 Dask workers give byte-identical
results to a run in this process: each chunk is seeded from (run seed, PUB, chunk index)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import qac
import qac.execution.batched as batched
from tests.conftest import spec_mapping

ARRAYS = ("output", "stderr", "scores", "scores_stderr", "raw_output", "raw_stderr")


def test_workers_do_not_change_a_single_bit(monkeypatch):
    monkeypatch.setattr(batched, "CHUNK_ROWS", 7)  # many chunks from a small kernel
    rng = np.random.default_rng(4)
    Q, K, V = rng.standard_normal((5, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    compiled = qac.compile(spec_mapping(Q, K, V, shots=512, seed=3), "ibm_fez")
    local = compiled.run(noise=True, engine="batched")
    assert local.engine == "batched" and local.engine_metadata["rows"] > 4 * 7
    environment = dict(os.environ)
    for workers in (1, 2, 3):
        spread = compiled.run(noise=True, engine="batched", workers=workers)
        # Dask's nanny writes OMP_NUM_THREADS, MALLOC_TRIM_THRESHOLD_ … into os.environ: not ours to keep
        assert dict(os.environ) == environment
        assert spread.engine_metadata["workers"] == workers
        for name in ARRAYS:
            assert np.array_equal(getattr(spread, name), getattr(local, name)), (workers, name)


@pytest.mark.parametrize("target, noise", [("aer", False), ("ibm_fez", True)])
def test_threads_in_this_process_do_not_change_a_single_bit(monkeypatch, target, noise):
    """In process, chunks run on ``THREADS`` threads; one thread gives the same bits."""
    monkeypatch.setattr(batched, "CHUNK_ROWS", 5)
    rng = np.random.default_rng(8)
    Q, K, V = rng.standard_normal((6, 8)), rng.standard_normal((7, 8)), rng.standard_normal((7, 2))
    compiled = qac.compile(spec_mapping(Q, K, V, shots=512, seed=3), target)
    monkeypatch.setattr(batched, "THREADS", 3)
    threaded = compiled.run(noise=noise, engine="batched")
    monkeypatch.setattr(batched, "THREADS", 1)
    alone = compiled.run(noise=noise, engine="batched")
    assert alone.engine_metadata["rows"] > 6 * 5
    for name in ARRAYS:
        assert np.array_equal(getattr(threaded, name), getattr(alone, name)), name


def test_workers_with_the_aer_engine_are_refused_with_a_hint(example_spec):
    from qac.errors import ExecutionError

    with pytest.raises(ExecutionError, match="batched"):
        qac.compile(example_spec).run(engine="aer", workers=2)


@pytest.mark.parametrize("target, noise", [("aer", False), ("ibm_fez", True)])
def test_small_pubs_of_one_circuit_share_a_simulator_call_with_the_same_counts(target, noise):
    """Many small PUBs on one circuit (a forward's (batch, head) blocks) are simulated a few at a
    time, yet each chunk's counts are those of one simulator call and one seed (seed, pub, chunk)."""
    from qac import seeds
    from qac.simulator import probabilities, sample_counts

    rng = np.random.default_rng(11)
    Q, K, V = rng.standard_normal((3, 8 * 6)), rng.standard_normal((3, 8 * 6)), rng.standard_normal((3, 2 * 6))
    spec = spec_mapping(Q, K, V, shots=256, seed=2)
    spec["heads"] = 6
    compiled = qac.compile(spec, target)
    pubs = [(c, v, 256 + 64 * (k % 2)) for k, (c, v) in enumerate(compiled.pubs())]
    assert len(pubs) == 6 and len({id(c) for c, _, _ in pubs}) == 1
    model = compiled.target.noise_model() if noise else None
    engine = batched.BatchedEngine()
    counts = engine.counts(pubs, seed=9, noise_model=model)
    assert engine.metadata["simulator_calls"] == 1
    from qac.execution.aer_engine import active_qubits, restricted_noise_model

    small = None if model is None else restricted_noise_model(model, active_qubits(pubs[0][0]))
    for k, (circuit, values, shots) in enumerate(pubs):
        alone = sample_counts(probabilities(circuit, values, small), shots, seeds.sequence(9, "chunk", k, 0))
        assert np.array_equal(counts[k], alone), k
