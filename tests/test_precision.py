"""Precision-driven shots: the requested output error for fewer shots than a uniform split."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import qac
from qac.cli.main import main
from qac.errors import ExecutionError
from qac.execution.precision import grid_shots
from qac.kernels.attention import output_jacobian, shot_allocation, softmax_rows
from tests.conftest import spec_mapping


def _compiled(shots=2048):
    rng = np.random.default_rng(5)
    Q, K, V = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    return qac.compile(spec_mapping(Q, K, V, shots=shots), "aer")


def test_precision_split_reaches_the_error_with_fewer_shots_than_uniform():
    compiled = _compiled()
    precision = 0.02
    errors = []
    for seed in range(20):
        result = compiled.run(precision=precision, seed=seed)
        info = result.precision
        assert info["requested"] == precision
        assert info["pair_shots"] < info["uniform_pair_shots_model"], info
        assert info["reached"] and info["achieved"] == result.max_stderr <= precision
        errors.append(result.error)
    # the achieved error is the requested one: pooled over entries and seeds, and per entry
    # (20 seeds estimate a per-entry RMS to ±16%, hence the looser per-entry bound; 5 seeds, ±30%,
    # let one of 18 entries pass 1.3× by chance once the ideal draws changed: issue 22's closed form)
    assert np.sqrt(np.mean(np.square(errors))) <= precision
    assert np.sqrt(np.mean(np.square(errors), axis=0)).max() <= 1.3 * precision


def test_allocation_bounds_every_entry():
    rng = np.random.default_rng(3)
    n, m, dv = 4, 5, 3
    inner = rng.uniform(-1, 1, (n, m))
    sigma = np.sqrt(1 - inner**2)
    lhs, rhs, values = rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, m), rng.standard_normal((m, dv))
    visible = np.ones((n, m), dtype=bool)
    shots, uniform = shot_allocation(inner, sigma, lhs, rhs, visible, 0.5, values, 0.01)
    gain = 0.5 * np.outer(lhs, rhs)
    probs = softmax_rows(gain * inner)
    jac = output_jacobian(probs, values, probs @ values)
    variance = np.sum((jac * (gain * sigma)[:, :, None]) ** 2 / shots[:, :, None], axis=1)
    assert variance.max() <= 0.01**2 * (1 + 1e-9)
    uniform_variance = np.sum((jac * (gain * sigma)[:, :, None]) ** 2 / uniform, axis=1)
    assert abs(uniform_variance.max() - 0.01**2) < 1e-12
    assert shots.sum() <= uniform * n * m


def test_shot_grid_rounds_up_to_few_values():
    shots = np.array([0, 1, 100, 101, 1000, 5000])
    grid = grid_shots(shots)
    assert grid[0] == 0 and np.all(grid[1:] >= shots[1:]) and np.all(grid[1:] <= 1.2 * shots[1:] + 1)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_bad_precision_is_refused(bad):
    with pytest.raises(ExecutionError, match="precision must be in"):
        _compiled().run(precision=bad)


def test_a_peaked_softmax_reaches_its_precision():
    """Norms of 40: the point Jacobian at the estimate nearly vanishes, so the delta-method plan
    spent millions of shots and missed ε by 5-12x; the bootstrap plan reaches it."""
    rng = np.random.default_rng(0)
    Q = np.array([[30.0, 30.0, 0.0, 1.0], [1.0, 2.0, 0.0, 0.0]])
    K, V = 3 * rng.standard_normal((4, 4)), 2 * rng.standard_normal((4, 2))
    compiled = qac.compile(spec_mapping(Q, K, V, shots=256, scale=0.5), "aer")
    for seed in range(2):
        result = compiled.run(precision=0.02, seed=seed)
        assert result.precision["reached"] and result.max_stderr <= 0.02
        assert result.max_error <= 2 * 0.02


def test_a_plan_above_the_shot_cap_is_refused_with_its_figure(monkeypatch):
    import qac.execution.precision as precision

    monkeypatch.setattr(precision, "MAX_SHOTS", 10_000)
    with pytest.raises(ExecutionError, match=r"needs .* shots for one pair .* cap"):
        _compiled().run(precision=0.005)


def test_cli_precision_says_whether_it_was_reached_and_refuses_nonpositive(example_spec):
    runner = CliRunner()
    bad = runner.invoke(main, ["run", str(example_spec), "--precision", "0"])
    assert bad.exit_code == 2
    lines = bad.output.strip().splitlines()
    assert len(lines) == 1 and "precision" in lines[0]
    good = runner.invoke(main, ["run", str(example_spec), "--precision", "0.05"])
    assert good.exit_code == 0, good.output
    assert "precision 0.05 reached" in good.output and "not measured" in good.output
    assert "saving" not in good.output
