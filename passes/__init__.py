"""The lowering and optimisation passes, one module each; ``PASSES`` is their registry."""

from qac.passes.encode import Encode
from qac.passes.estimate import Estimate
from qac.passes.layout import Layout
from qac.passes.normalize import Normalize

PASSES = {p.name: p for p in (Normalize, Encode, Estimate, Layout)}

__all__ = ["PASSES", "Encode", "Estimate", "Layout", "Normalize"]
