"""The lowering and optimisation passes, one module each; ``PASSES`` is their registry."""

from qac.passes.cost import Cost
from qac.passes.encode import Encode
from qac.passes.estimate import Estimate
from qac.passes.layout import Layout
from qac.passes.normalize import Normalize
from qac.passes.pack import Pack

PASSES = {p.name: p for p in (Normalize, Encode, Estimate, Layout, Pack, Cost)}


def default_pipeline(spec, target) -> str:
    """The pipeline text for a spec's compile options on a target."""
    options = spec.compile
    if "auto" in (options.encoding, options.estimator):  # the cost model picks; the text stays concrete
        from qac.passes.cost import auto_pipeline

        return auto_pipeline(spec, target)
    encoding, estimator = options.encoding, options.estimator
    return (f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},"
            f"layout{{optimization_level={options.optimization_level}}}")

__all__ = ["PASSES", "default_pipeline", "Encode", "Estimate", "Layout", "Normalize", "Pack", "Cost"]
