"""Shared fixtures and the Hypothesis profiles.

``ci`` (the default) is derandomised with bounded examples so CI is reproducible;
``slow`` runs many more (``HYPOTHESIS_PROFILE=slow pytest -m slow``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("slow", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def spec_mapping(Q, K, V, **options) -> dict:
    """An attention spec as a mapping with inline arrays (what a Python user would pass)."""
    return {"Q": np.asarray(Q).tolist(), "K": np.asarray(K).tolist(), "V": np.asarray(V).tolist(), **options}


def forbid_compilation(monkeypatch) -> None:
    """Make every pass's ``run``, the estimators' binder and the pipeline parser/runner raise:
    what a run may not call once a program is compiled."""
    from qac.passes import PASSES

    import qac.ir.pipeline
    from qac.kernels.estimators import ESTIMATORS

    def forbidden(*args, **kwargs):
        raise AssertionError("a run re-entered compilation")

    for cls in PASSES.values():
        monkeypatch.setattr(cls, "run", forbidden)
    for estimator in ESTIMATORS.values():
        monkeypatch.setattr(type(estimator), "bind", forbidden)
    for name in ("parse_pipeline", "run_pipeline", "format_pipeline"):
        monkeypatch.setattr(qac.ir.pipeline, name, forbidden)


@pytest.fixture(scope="session")
def example_spec() -> Path:
    return EXAMPLES / "attention.yaml"
