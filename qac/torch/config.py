"""``QuantumAttentionConfig``: which attention runs on circuits, where, and with how many shots.

Torch-free on purpose: the CLI validates a config before it imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from qac import seeds
from qac.errors import SpecError
from qac.limits import DEFAULT_SHOTS


def _indices(value, what: str) -> tuple[int, ...] | str:
    """'all', an int, or a sequence of ints → 'all' or a sorted tuple of distinct ints ≥ 0."""
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        try:
            value = [int(v) for v in value.replace(",", " ").split()]
        except ValueError:
            raise SpecError(f"{what} must be 'all' or whole numbers such as '0,1', not {value!r}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    try:
        items = tuple(sorted({int(v) for v in value}))
    except (TypeError, ValueError):
        raise SpecError(f"{what} must be 'all' or whole numbers such as (0, 1), not {value!r}") from None
    if any(v < 0 for v in items):
        raise SpecError(f"{what} must be 'all' or indices >= 0, not {value!r}")
    return items


@dataclass(frozen=True)
class QuantumAttentionConfig:
    """How ``qac.torch.attention`` and the Hugging Face backend run attention.

    The defaults are a first try: layer 0 on circuits (every head), the ideal ``aer`` simulator,
    ``qac.limits.DEFAULT_SHOTS`` shots per (query, key) pair, the run's default engine. ``exact=True`` uses each circuit's
    infinite-shot outcome probabilities instead of samples (a check that the circuits compute
    attention, not an estimate). Layers and heads not selected run exact (torch) attention.
    """

    target: str = "aer"
    shots: int = DEFAULT_SHOTS
    precision: float | None = None  # wanted σ of every output entry: sets the shots (pilot run first)
    noise: bool = False
    mitigation: bool | None = None  # default: on with noise
    engine: str = "auto"  # run()'s engine: auto (batched where it can), batched or aer
    seed: int = 0
    exact: bool = False
    layers: tuple[int, ...] | str = (0,)
    heads: tuple[int, ...] | str = "all"
    encoding: str = "binary"
    estimator: str = "interference"
    optimization_level: int = 1
    pv: str = "classical"  # "quantum": O = P·V on circuits too (two-stage runs, docs/kernels.md)
    backward: str = "exact"  # straight-through Jacobian at the exact scores, or "estimated" (qac.torch.training)
    #: output error bars: "bootstrap", "delta" (free; under-covers peaked rows), or "auto": the
    #: bootstrap, except in a training forward (train mode, or attention dropout), which reads no
    #: bar and whose dropout bars are the delta method's anyway (``qac.torch.training``)
    errorbars: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "layers", _indices(self.layers, "layers"))
        object.__setattr__(self, "heads", _indices(self.heads, "heads"))
        if isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots <= 0:
            raise SpecError(f"shots must be a positive whole number, not {self.shots!r}; e.g. shots=8192")
        if self.precision is not None and not 0 < self.precision <= 1:
            raise SpecError(f"precision must be in (0, 1], not {self.precision!r}; e.g. precision=0.01")
        if not 0 <= self.seed <= 2**32 - 1:
            raise SpecError(f"seed must be from 0 to 4294967295, not {self.seed}")
        if self.pv not in ("classical", "quantum"):
            raise SpecError(f"pv must be 'classical' or 'quantum', not {self.pv!r}")
        if self.errorbars not in ("auto", "bootstrap", "delta"):
            raise SpecError(f"errorbars must be 'auto', 'bootstrap' or 'delta', not {self.errorbars!r}")
        if self.errorbars == "delta" and (self.pv == "quantum" or self.precision is not None):
            raise SpecError("errorbars='delta' is for one-stage runs without a precision; use 'auto' or 'bootstrap'")
        if self.backward not in ("exact", "estimated"):
            raise SpecError(f"backward must be 'exact' or 'estimated', not {self.backward!r}")
        if self.exact and (self.noise or self.precision is not None):
            raise SpecError("exact=True uses noiseless infinite-shot probabilities; drop noise/precision or exact")

    def runs_layer(self, layer: int | None) -> bool:
        return self.layers == "all" or (layer is not None and layer in self.layers)

    def quantum_heads(self, heads: int) -> list[int]:
        """The head indices of ``heads`` that run on circuits (a missing index is an error)."""
        if self.heads == "all":
            return list(range(heads))
        missing = [h for h in self.heads if h >= heads]
        if missing:
            raise SpecError(f"head {missing[0]} does not exist: the attention has {heads} heads (0..{heads - 1})")
        return list(self.heads)

    def for_layer(self, layer: int) -> QuantumAttentionConfig:
        """The same config with a seed of its own for ``layer`` (independent shot noise per layer)."""
        return replace(self, seed=seeds.child_seed(self.seed, "layer", layer))

    def training(self) -> QuantumAttentionConfig:
        """The config of a training forward: ``errorbars="auto"`` becomes the delta method where it
        can (one-stage, no precision): a training step reads no error bar."""
        if self.errorbars == "auto" and self.pv == "classical" and self.precision is None:
            return replace(self, errorbars="delta")
        return self

    def for_call(self, layer: int, call: int) -> QuantumAttentionConfig:
        """The seed of ``layer``'s ``call``-th forward (0 the first): no two forwards share a stream,
        and the n-th forward after ``register`` draws the same numbers for the same seed."""
        return replace(self, seed=seeds.child_seed(self.seed, "forward", layer, call))
