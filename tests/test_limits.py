"""qac/limits.py: the shot cap, the seed rule and the range of numbers, everywhere they apply,
and the Aer engine's shot chunks (bounded memory; a one-chunk request draws what it drew before)."""

from __future__ import annotations

import numpy as np
import pytest

import qac
from qac import limits
from qac.execution.aer_engine import AerEngine, chunk_seed, shot_chunks
from qac.kernels.exact import exact_distributions
from tests.conftest import spec_mapping

TOY = {"Q": [[1.0, 0.5]], "K": [[0.3, 1.0], [1.0, 1.0], [0.2, -1.0]], "V": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]}


@pytest.fixture(scope="module")
def toy():
    return qac.compile(TOY)


# ------------------------------------------------------------------ shots
def test_the_spec_uses_the_one_shot_cap():
    from qac.spec import sizes as spec_limits

    assert spec_limits.MAX_SHOTS is limits.MAX_SHOTS and spec_limits.MAX_SEED is limits.MAX_SEED
    assert qac.load_spec({**TOY, "shots": limits.MAX_SHOTS}).shots == limits.MAX_SHOTS
    with pytest.raises(qac.SpecError, match="shots: is 100000001, outside 1..100000000"):
        qac.load_spec({**TOY, "shots": limits.MAX_SHOTS + 1})


@pytest.mark.parametrize("options, message", [
    ({"shots": 10**12}, "shots = 1e+12 is above qac's cap of 100000000 shots per circuit"),
    ({"shots": 10**400}, "shots = about 1e400 is above qac's cap"),
    ({"shots": limits.MAX_SHOTS + 1}, "shots = 100000001 is above qac's cap of 100000000"),
    ({"shots": 0}, "shots must be a positive whole number, not 0"),
    ({"shots": 2.0}, "shots must be a positive whole number, not 2.0"),
    ({"shots": True}, "shots must be a positive whole number, not True"),
    ({"shots": 16, "precision": 0.1, "pilot_shots": 10**9}, "pilot_shots = 1000000000 is above qac's cap"),
    ({"seed": -1}, "seed must be from 0 to 4294967295, not -1; pass e.g. seed=7"),
    ({"seed": 2**32}, "seed must be from 0 to 4294967295, not 4294967296"),
    ({"seed": 1.5}, "seed must be a whole number from 0 to 4294967295, not 1.5"),
    ({"exact": True, "seed": -1}, "seed must be from 0 to 4294967295, not -1"),
])
def test_run_refuses_shots_and_seeds_outside_the_rules(toy, options, message):
    """Before: run(shots=10**12) returned every inner product 1.0 with σ ≈ 6e-13, and seed=-1 ran."""
    with pytest.raises(qac.ExecutionError) as caught:
        toy.run(**options)
    assert str(caught.value).startswith(message)


def test_run_accepts_the_edges_of_the_rules(toy):
    assert toy.run(shots=np.int64(8), seed=limits.MAX_SEED).shots == 8
    assert toy.run(shots=8, seed=0).shots == 8


def test_a_run_whose_shots_add_up_beyond_the_run_cap_is_refused(monkeypatch, toy):
    monkeypatch.setattr(limits, "MAX_RUN_SHOTS", 1000)
    with pytest.raises(qac.ExecutionError, match=r"^3 pairs × 400 shots needs 1200 shots in all, above qac's cap of 1000 per run"):
        toy.run(shots=400)
    assert toy.run(shots=300).shots == 300


# ------------------------------------------------------------------ Aer shot chunks
def test_shot_chunks_and_their_seeds(monkeypatch):
    monkeypatch.setattr(limits, "AER_SHOT_CHUNK", 100)
    assert shot_chunks(250) == [100, 100, 50] and shot_chunks(100) == [100] and shot_chunks(7) == [7]
    seeds = [chunk_seed(42, i) for i in range(2000)]
    assert seeds[0] == 42 and len(set(seeds)) == len(seeds)  # no two chunks share their draws
    assert seeds == [chunk_seed(42, i) for i in range(2000)] and all(0 <= s < 2**32 for s in seeds)
    assert chunk_seed(43, 1) != chunk_seed(42, 1)


def test_chunked_counts_are_the_sum_of_seeded_chunks(monkeypatch, toy):
    """Above one chunk, the counts are exactly the chunks' counts summed (chunk seeds from the
    run seed and the index); a request of one chunk draws exactly what an unchunked run draws."""
    (circuit, values), = toy.pubs()
    engine = AerEngine()
    whole = engine.counts([(circuit, values, 250), (circuit, values[:1], 60)], seed=9)  # chunk 1e6: one run each
    monkeypatch.setattr(limits, "AER_SHOT_CHUNK", 100)
    chunked = engine.counts([(circuit, values, 250), (circuit, values[:1], 60)], seed=9)
    np.testing.assert_array_equal(chunked[1], whole[1])  # 60 ≤ one chunk: today's samples
    assert not np.array_equal(chunked[0], whole[0])
    monkeypatch.setattr(limits, "AER_SHOT_CHUNK", 10**6)
    parts = [engine.counts([(circuit, values, n)], seed=chunk_seed(9, i))[0] for i, n in enumerate((100, 100, 50))]
    np.testing.assert_array_equal(chunked[0], sum(parts))
    np.testing.assert_array_equal(chunked[0].sum(axis=1), 250)


def test_chunked_counts_follow_the_exact_distribution(monkeypatch, toy):
    """Many small chunks: every row's frequencies agree with its exact outcome probabilities."""
    (circuit, values), = toy.pubs()
    monkeypatch.setattr(limits, "AER_SHOT_CHUNK", 997)
    shots = 40_000
    counts = AerEngine().counts([(circuit, values, shots)], seed=5)[0]
    probabilities = exact_distributions(circuit, values)
    np.testing.assert_array_equal(counts.sum(axis=1), shots)
    z = (counts / shots - probabilities) / np.sqrt(np.maximum(probabilities * (1 - probabilities), 1e-12) / shots)
    assert np.max(np.abs(z)) < 4.5, z


def test_a_chunked_run_reconstructs_the_output(monkeypatch, toy):
    monkeypatch.setattr(limits, "AER_SHOT_CHUNK", 1000)
    result = toy.run(shots=20_000, seed=3)
    assert result.shots == 20_000 and result.shots_used == 60_000
    assert np.all(np.abs(result.error) <= 5 * result.stderr + 1e-12)


# ------------------------------------------------------------------ the numbers' range
def _mapping(Q, K, V, **options):
    return spec_mapping(np.asarray(Q, dtype=float), np.asarray(K, dtype=float), np.asarray(V, dtype=float), **options)


@pytest.mark.parametrize("arrays, options, message", [
    (([[1e154, 2e154], [1, 0]], [[3, 1], [1, 1]], [[1, 0], [0, 1]]), {},
     "Q: row 1, column 1 is 1e+154, beyond the ±1e+150 qac can carry"),
    (([[1, 2]], [[3, 1], [1, -2e151]], [[1], [0]]), {}, "K: row 2, column 2 is -2e+151"),
    (([[1, 2]], [[3, 1]], [[1e60]]), {}, "V: row 1, column 1 is 1e+60, beyond the ±1e+50"),
    (([[1e100, 2e100], [1, 0]], [[3e100, 1], [1, 1]], [[1, 0], [0, 1]]), {},
     "K: scale·|q|·|k| reaches 4.74e+200 (query row 1, key row 1), beyond the 1e+100 qac can carry"),
    (([[1, 2], [1, 0]], [[3, 1], [1, 1]], [[1, 0], [0, 1]]), {"scale": 1e300},
     "scale: scale·|q|·|k| reaches 7.07e+300"),
    (([[1, 2, 1e60, 0]], [[3, 1, 1e50, 0]], [[1, 2]]), {"heads": 2}, "Q: scale·|q|·|k| reaches 7.07e+109 in head 1"),
])
def test_numbers_beyond_the_range_are_refused_with_what_to_rescale(arrays, options, message):
    """Before: ``max reported sigma = nan`` with exit 0, or numpy warnings and an internal error."""
    with pytest.raises(qac.SpecError) as caught:
        qac.load_spec(_mapping(*arrays, **options))
    assert str(caught.value).startswith("<spec>: " + message), caught.value
    with pytest.raises(qac.SpecError, match="^" + message.split(":")[0] + ": "):
        spec = _mapping(*arrays, **options)
        limits.check_range(np.array(spec["Q"]), np.array(spec["K"]), np.array(spec["V"]),
                           options.get("scale", 1 / np.sqrt(np.shape(spec["Q"])[1] // options.get("heads", 1))),
                           options.get("heads", 1))


def test_a_random_source_beyond_the_range_is_refused():
    with pytest.raises(qac.SpecError, match=r"^<spec>: Q: row 1, column 1 is .*e\+299, beyond"):
        qac.load_spec({"Q": {"random": {"shape": [2, 4], "scale": 1e300}}, "K": {"random": {"shape": [2, 4]}},
                       "V": [[1], [2]]})


@pytest.mark.parametrize("target", ["aer", "ibm_brisbane"])
def test_the_largest_numbers_accepted_give_finite_figures(target):
    """At the edges of the range every figure of a run is finite: Q entries near 1e150 against
    tiny keys, logits near 1e100, values near 1e50, on an ideal and a noisy mitigated run."""
    Q = np.array([[0.9e150, -0.4e150], [1.0, 2.0], [3.0, -1.0]])
    K = np.array([[1e-51, 2e-51], [3e-51, -1e-51], [-2e-51, 2e-51]])  # logits ~ 1e99
    V = np.array([[0.9e50, 1.0], [-0.5e50, 2.0], [1.0, -0.9e50]])
    compiled = qac.compile(_mapping(Q, K, V, shots=256), target)
    runs = [compiled.run(), compiled.run(exact=True)] + ([compiled.run(noise=True)] if target != "aer" else [])
    for result in runs:
        for name in ("output", "stderr", "exact", "scores_stderr"):
            assert np.all(np.isfinite(getattr(result, name))), name
        assert np.isfinite(result.max_error) and np.isfinite(result.max_stderr) and 0 <= result.coverage <= 1
    moderate = qac.compile(_mapping(Q / np.abs(Q).max(axis=1, keepdims=True), K * 1e51, V, shots=256), target)
    result = moderate.run()  # logits of order 1: the softmax is spread, values near 1e50
    assert np.all(np.isfinite(result.output)) and np.all(np.isfinite(result.stderr)) and result.max_stderr > 1e45


EDGE = ("Q: [[9e149, -4e149], [1.0, 2.0], [3.0, -1.0]]\nK: [[1e-51, 2e-51], [3e-51, -1e-51], [-2e-51, 2e-51]]\n"
        "V: [[9e49, 1.0], [-5e49, 2.0], [1.0, -9e49]]\nshots: 256\n")


# values of order 1 with the largest logits: a precision of 0.2 can be reached (with V near 1e50 it
# cannot, and the planner refuses it above the shot cap)
EDGE_LOGITS = EDGE.replace("9e49", "0.9").replace("-5e49", "-0.5").replace("-9e49", "-0.9")


@pytest.mark.parametrize("text, argv", [(EDGE, []), (EDGE, ["-t", "ibm_brisbane", "--noise"]),
                                        (EDGE_LOGITS, ["--precision", "0.2"])])
def test_no_printed_figure_is_nan_at_the_edges_of_the_range(tmp_path, text, argv):
    import subprocess
    import sys

    (tmp_path / "edge.yaml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "qac.cli", "run", "edge.yaml", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.lower().replace("-", " ").replace("(", " ").split()
    assert "nan" not in words and "inf" not in words and "max reported sigma" in proc.stdout.lower(), proc.stdout


def test_a_nan_figure_is_a_bug_not_a_printed_figure(tmp_path, monkeypatch):
    """Should a NaN ever reach the run's figures, ``qac run`` stops as for any bug (exit 1,
    traceback, a line asking for a report) instead of printing it with exit 0."""
    from dataclasses import replace

    from click.testing import CliRunner

    from qac.cli.main import main
    from qac.program import CompiledAttention

    honest = CompiledAttention.run

    def poisoned(self, *args, **kwargs):
        result = honest(self, *args, **kwargs)
        return replace(result, stderr=np.full_like(result.stderr, np.nan))

    monkeypatch.setattr(CompiledAttention, "run", poisoned)
    (tmp_path / "spec.yaml").write_text("Q: [[1.0, 0.5]]\nK: [[0.3, 0.4]]\nV: [[1.0]]\nshots: 64\n")
    proc = CliRunner().invoke(main, ["run", str(tmp_path / "spec.yaml")])
    assert proc.exit_code == 1 and "nan" not in proc.stdout.lower()
    assert "NaN or inf in stderr" in proc.output and "qac hit an internal error (a bug)" in proc.output


def test_check_range_refuses_non_finite_arrays_given_directly():
    """A spec refuses NaN when it reads a matrix; arrays handed to ``check_range`` (e.g. from
    tensors) get the same one-line refusal instead of passing every comparison."""
    Q = np.array([[1.0, np.nan]])
    with pytest.raises(qac.SpecError, match=r"^Q: row 1, column 2 is nan; use finite numbers \(no nan or inf\)$"):
        limits.check_range(Q, np.ones((2, 2)), np.ones((2, 1)), 0.5)
    limits.check_range(np.ones((1, 2)), np.ones((2, 2)), np.ones((2, 1)), 0.5)  # in range: no error
