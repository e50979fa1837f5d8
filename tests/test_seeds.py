"""qac.seeds: every random stream is (seed, named stream, index) over ``SeedSequence``; no two
of them share a stream, and no run's later stage draws another seed's first stage (the old
``seed + refinement`` made a precision run with seed s sample its first refinement with run
s + 1's stream)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import qac
from qac import seeds
from qac.execution.engines import ENGINES
from tests.conftest import spec_mapping


def test_no_two_seed_stream_index_share_a_stream():
    keys = list(itertools.product(range(40), seeds.STREAMS, range(4)))
    children = [seeds.child_seed(*key) for key in keys]
    assert len(set(children)) == len(keys)
    firsts = {tuple(seeds.generator(*key).integers(0, 2**63, size=2)) for key in keys}
    assert len(firsts) == len(keys)
    # nothing derived is a plain seed of the grid either (the additive rule made it one)
    assert not set(children) & set(range(10_000))


def test_the_first_stage_draws_with_the_run_seed_and_no_later_stage_does():
    """Stage 0 is the run seed (so run(seed=s) and SamplerV2(seed=s) agree); later stages and the
    P·V stream are derived, and none of them is a plain seed of a sweep."""
    assert seeds.stage_seed(5, "stage", 0) == 5
    later = {seeds.stage_seed(s, stream, k) for s in range(200) for stream in ("stage", "stage2") for k in range(4)
             if (stream, k) != ("stage", 0)}
    assert len(later) == 200 * 7 and not later & set(range(10_000))


def test_streams_are_reproducible_and_named():
    assert seeds.child_seed(7, "stage", 1) == seeds.child_seed(7, "stage", 1)
    assert np.array_equal(seeds.generator(7, "bootstrap", 0).random(4), seeds.generator(7, "bootstrap", 0).random(4))
    with pytest.raises(KeyError, match="unknown random stream"):
        seeds.sequence(7, "nonsense")
    assert len(set(seeds.STREAMS.values())) == len(seeds.STREAMS)  # numbers are never reused


class Recording:
    """The batched engine, recording the seed of every ``counts`` call."""

    name = "recording"

    def __init__(self):
        self.seeds: list[int] = []

    def counts(self, pubs, *, seed, noise_model=None):
        self.seeds.append(int(seed))
        return ENGINES["batched"].counts(pubs, seed=seed, noise_model=noise_model)


def _spec(**options):
    rng = np.random.default_rng(3)
    return spec_mapping(rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 2)), **options)


def test_a_precision_run_never_draws_the_next_seeds_streams():
    program = qac.compile(_spec(seed=11))
    refined, plain = Recording(), Recording()
    result = program.run(precision=0.002, pilot_shots=64, seed=11, engine=refined)
    assert result.precision["stages"] >= 2 and len(refined.seeds) >= 2  # a pilot and a refinement ran
    program.run(shots=64, seed=12, engine=plain)
    assert not set(refined.seeds) & set(plain.seeds)
    assert len(set(refined.seeds)) == len(refined.seeds)


def test_two_stage_runs_draw_distinct_streams_per_stage():
    program = qac.compile(_spec(seed=4, compile={"pv": "quantum"}))
    engine = Recording()
    program.run(shots=64, seed=4, engine=engine)
    assert len(engine.seeds) == 2 and len(set(engine.seeds)) == 2
    following = Recording()
    program.run(shots=64, seed=5, engine=following)
    assert not set(engine.seeds) & set(following.seeds)
