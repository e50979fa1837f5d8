"""The lowering and optimisation passes, one module each; ``PASSES`` is their registry."""

from qac.passes.encode import Encode
from qac.passes.estimate import Estimate
from qac.passes.layout import Layout
from qac.passes.normalize import Normalize

PASSES = {p.name: p for p in (Normalize, Encode, Estimate, Layout)}


def default_pipeline(spec, target) -> str:
    """The pipeline text for a spec's compile options on a target."""
    options = spec.compile
    encoding = "binary" if options.encoding == "auto" else options.encoding
    estimator = "interference" if options.estimator == "auto" else options.estimator
    return (f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},"
            f"layout{{optimization_level={options.optimization_level}}}")

__all__ = ["PASSES", "default_pipeline", "Encode", "Estimate", "Layout", "Normalize"]
