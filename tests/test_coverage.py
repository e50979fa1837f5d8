"""Error bars that hold in every regime (issue 11): 2σ coverage of the output through the whole
pipeline — circuits, sampling, decoding, mitigation, the bootstrap — for Q, K ~ s·N(0, 1).

The delta method covered 0.96, 0.89, 0.76 at s = 1, 2, 3 (d = 32, N = M = 12, 1024 shots);
a peaked softmax is the ordinary case in trained transformers. ``bench/coverage.py`` runs the
full grid (s = 1…4, d = 8 and 32, ideal and noisy ibm_fez); this is its small, seeded version.
"""

from __future__ import annotations

import numpy as np
import pytest

import qac
from tests.conftest import spec_mapping


def coverage(s: float, d: int, *, target: str, noise: bool, seeds: range, n: int = 8, shots: int = 1024) -> float:
    hits = []
    for seed in seeds:
        rng = np.random.default_rng([seed, d, int(10 * s)])
        Q, K, V = s * rng.standard_normal((n, d)), s * rng.standard_normal((n, d)), rng.standard_normal((n, 4))
        compiled = qac.compile(spec_mapping(Q, K, V, shots=shots, seed=seed), target)
        result = compiled.run(noise=noise, seed=seed)
        assert result.error_method.startswith("parametric bootstrap")
        hits.append(np.abs(result.error) <= 2 * result.stderr)
    return float(np.mean(hits))


@pytest.mark.parametrize("s, d", [(1, 8), (2, 8), (3, 8), (4, 8), (3, 32), (4, 32)])
def test_ideal_two_sigma_coverage_in_band(s, d):
    value = coverage(s, d, target="aer", noise=False, seeds=range(12))
    assert 0.90 <= value <= 0.99, value


@pytest.mark.parametrize("s, d, seeds", [(2, 8, 6), (4, 8, 6), (3, 32, 8)])
def test_noisy_mitigated_two_sigma_coverage_in_band(s, d, seeds):
    """ibm_fez's noise model, mitigated, on the batched engine (the default ``auto`` picks it);
    d = 32, s = 3 over-covered (1.000) on the 3 seeds of an earlier grid: 0.95 on 30 seeds."""
    value = coverage(s, d, target="ibm_fez", noise=True, seeds=range(seeds))
    assert 0.90 <= value <= 0.99, value
