"""Scale-out (issue 12): the batched engine's chunks on 1, 2 and 3 Dask workers give byte-identical
results to a run in this process: each chunk is seeded from (run seed, PUB, chunk index)."""

from __future__ import annotations

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
    for workers in (1, 2, 3):
        spread = compiled.run(noise=True, engine="batched", workers=workers)
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
