"""The lowering and optimisation passes, one module each; ``PASSES`` is their registry.

``ANALYSES`` run after every pass that transforms L4 without being written in the pipeline
text (``qac.ir.pipeline.run_pipeline``); ``parse`` reads pipeline text against ``PASSES``.
"""

from qac.passes.choose import Choose
from qac.passes.cost import Cost
from qac.passes.cost_model import DEFAULT_PRECISION, auto_layout
from qac.passes.encode import Encode
from qac.passes.estimate import Estimate
from qac.passes.layout import Layout
from qac.passes.normalize import Normalize
from qac.passes.pack import Pack
from qac.passes.resources import Resources

from qac.ir.pipeline import Pass, parse_pipeline

PASSES = {p.name: p for p in (Choose, Normalize, Encode, Estimate, Layout, Pack, Cost)}
ANALYSES = (Resources(),)


def parse(text: str) -> list[Pass]:
    """Pipeline text → pass instances (``qac.ir.pipeline.parse_pipeline`` with this registry)."""
    return parse_pipeline(text, PASSES)


def default_pipeline(target, *, encoding: str = "binary", estimator: str = "interference",
                     optimization_level: int = 1, shots: int = 4096, precision: float | None = None) -> str:
    """The pipeline text for compile options on a target.

    With ``auto``, ``choose`` (which stands for normalize,encode,estimate) and ``layout`` at the
    level and trials the candidates are compared at, whatever ``optimization_level`` says.
    """
    if "auto" in (encoding, estimator):
        layout = auto_layout(target)
        precision = DEFAULT_PRECISION if precision is None else precision
        trials = f",trials={layout.trials}" if layout.trials != 1 else ""
        return (f"choose{{encoding={encoding},estimator={estimator},shots={shots},precision={precision}}},"
                f"layout{{optimization_level={layout.optimization_level}{trials}}}")
    return (f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},"
            f"layout{{optimization_level={optimization_level}}}")


__all__ = ["ANALYSES", "PASSES", "default_pipeline", "parse", "Choose", "Cost", "Encode", "Estimate", "Layout",
           "Normalize", "Pack", "Resources"]
