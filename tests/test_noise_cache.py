"""Issue 22 item 2: noise models for the qubits a program uses, cached on disk."""

from __future__ import annotations

import numpy as np
import pytest
from qac.targets import ibm, noise_cache

import qac
from qac.execution.aer_engine import active_qubits, restricted_noise_model


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QAC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(noise_cache, "_MEMO", {})
    return tmp_path / "noise"


def same_errors(a, b) -> None:
    """The same quantum errors on the same (instruction, qubits), the same readout errors."""
    assert set(a._local_quantum_errors) == set(b._local_quantum_errors)
    for name, by_qubits in a._local_quantum_errors.items():
        assert set(by_qubits) == set(b._local_quantum_errors[name]), name
        for where, error in by_qubits.items():
            assert error == b._local_quantum_errors[name][where], (name, where)
    assert set(a._local_readout_errors) == set(b._local_readout_errors)
    for where, error in a._local_readout_errors.items():
        assert error == b._local_readout_errors[where]
    assert not a._default_quantum_errors and not b._default_quantum_errors
    assert sorted(a.basis_gates) == sorted(b.basis_gates)


@pytest.mark.parametrize("name,qubits", [("ibmq_lima", {0, 1, 3}), ("ibmq_quito", {1, 2, 3, 4})])
def test_subset_model_equals_the_full_model_restricted(name, qubits):
    from qiskit_aer.noise import NoiseModel

    full = NoiseModel.from_backend(ibm.backend(name))
    same_errors(noise_cache.subset_model(ibm.backend(name), qubits), restricted_noise_model(full, qubits))


def test_disk_cache_round_trip_and_rebuild(cache):
    built = []

    def build(qubits):
        built.append(qubits)
        return noise_cache.subset_model(ibm.backend("ibmq_lima"), qubits)

    digest = ibm.calibration_digest("ibmq_lima")
    first = noise_cache.cached_model("ibmq_lima", digest, {3, 1, 0}, build)
    assert built == [(0, 1, 3)] and len(list(cache.glob("*.pkl"))) == 1
    assert noise_cache.cached_model("ibmq_lima", digest, [0, 1, 3], build) is first  # this process: same object
    noise_cache._MEMO.clear()  # a fresh process: read from disk, not built
    loaded = noise_cache.cached_model("ibmq_lima", digest, [0, 1, 3], build)
    assert built == [(0, 1, 3)] and loaded is not first
    same_errors(loaded, first)
    (path,) = cache.glob("*.pkl")
    path.write_bytes(b"not a pickle")  # unreadable: ignored and rebuilt
    noise_cache._MEMO.clear()
    same_errors(noise_cache.cached_model("ibmq_lima", digest, [0, 1, 3], build), first)
    assert len(built) == 2 and path.read_bytes()[:1] == b"\x80"
    noise_cache._MEMO.clear()  # another calibration digest: another file
    noise_cache.cached_model("ibmq_lima", "0" * 64, [0, 1, 3], build)
    assert len(built) == 3 and len(list(cache.glob("*.pkl"))) == 2
    assert not list(cache.glob(".tmp-*"))


@pytest.mark.parametrize("engine", ["batched", "aer"])
def test_noisy_counts_identical_with_and_without_the_cache(cache, monkeypatch, engine):
    rng = np.random.default_rng(2)
    spec = {"Q": rng.standard_normal((2, 4)).tolist(), "K": rng.standard_normal((3, 4)).tolist(),
            "V": rng.standard_normal((3, 2)).tolist(), "seed": 3}
    compiled = qac.compile(spec, "ibmq_lima")
    qubits = set().union(*(active_qubits(c) for c in compiled.program.isa.values()))
    monkeypatch.setenv("QAC_NOISE_CACHE", "0")
    fresh = compiled.target.noise_model_for(qubits)
    assert not cache.exists()
    monkeypatch.setenv("QAC_NOISE_CACHE", "1")
    noise_cache._MEMO.clear()
    compiled.target.noise_model_for(qubits)  # written
    noise_cache._MEMO.clear()
    loaded = compiled.target.noise_model_for(qubits)  # read back
    assert loaded is not fresh and len(list(cache.glob("*.pkl"))) == 1
    same_errors(loaded, fresh)
    pubs = [(c, v, 512) for c, v in compiled.pubs()]
    from qac.execution.engines import ENGINES

    a = ENGINES[engine].counts(pubs, seed=5, noise_model=fresh)
    b = ENGINES[engine].counts(pubs, seed=5, noise_model=loaded)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # and a whole noisy run uses the restricted model: the same output as the full model gives
    full = compiled.target.noise_model()
    run = compiled.run(shots=512, noise=True, seed=4, engine=engine)
    monkeypatch.setattr(type(compiled.target), "noise_model_for", lambda self, q: full)
    assert np.array_equal(run.output, compiled.run(shots=512, noise=True, seed=4, engine=engine).output)


def test_calibration_means_are_cached_bit_for_bit(cache, monkeypatch):
    import qac.kernels.exact as exact

    compiled = qac.compile({"Q": [[1.0, 2.0], [0.5, -1.0]], "K": [[1.0, 0.0], [0.3, 0.2]], "V": [[1.0], [2.0]]},
                           "aer")
    cal = next(iter(compiled.program.module.templates.values())).calibration
    direct = exact.exact_means(cal.circuit, cal.values, cal.outcome_values)
    first = exact.cached_exact_means(cal.circuit, cal.values, cal.outcome_values)
    assert np.array_equal(first, direct) and len(list((cache.parent / "exact").glob("*.npy"))) == 1

    def forbidden(*args):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(exact, "exact_means", forbidden)
    assert np.array_equal(exact.cached_exact_means(cal.circuit, cal.values, cal.outcome_values), direct)
    with pytest.raises(AssertionError):  # other rows: another entry
        exact.cached_exact_means(cal.circuit, cal.values[:1] + 0.1, cal.outcome_values)
