"""Typed analysis records of the L4 ``IsaProgram``: resources, packing, layout options, cost.

Analysis passes write these (``passes/resources.py``, ``passes/pack.py``, ``passes/cost.py``,
``passes/choose.py``); ``cost``, ``inspect``, the manifest (``qac/artefacts/emit.py``) and execution read
them. Each is a frozen dataclass; ``as_dict()`` gives the JSON form the manifest has always
written (same keys, same rounding), so build directories stay byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass


def _esp12(esp: float) -> float:
    """ESP at 12 significant digits: what the cost figures (and their statistics) always used."""
    return float(f"{esp:.12g}")


@dataclass(frozen=True)
class LayoutOptions:
    """How ``layout`` transpiled the templates (``auto`` re-evaluates candidates the same way)."""

    optimization_level: int
    trials: int


@dataclass(frozen=True)
class TemplateResources:
    """What one routed ISA template costs, computed once by the ``resources`` analysis.

    ``qubits`` counts the physical qubits an instruction touches; ``physical_qubits`` are where
    the logical qubits start (logical order); ``esp`` is Π(1 − error) over the instructions
    and ``duration_ns`` the critical path from the target's calibration (``None``: no
    calibration, e.g. ``aer``).
    """

    qubits: int
    two_qubit_gates: int
    depth: int
    two_qubit_depth: int
    operations: tuple[tuple[str, int], ...]  # sorted (name, count)
    measured_bits: int
    physical_qubits: tuple[int, ...]
    esp: float
    duration_ns: float | None

    @property
    def gates(self) -> int:
        """Gate applications of one shot (measurements and barriers left out)."""
        return sum(count for name, count in self.operations if name not in ("barrier", "measure"))

    def counts(self) -> dict:
        """The machine-independent counts (manifest ``templates``/``kernels`` entries)."""
        return {"qubits": self.qubits, "two_qubit_gates": self.two_qubit_gates, "depth": self.depth,
                "two_qubit_depth": self.two_qubit_depth, "operations": dict(self.operations)}

    def calibrated(self) -> dict:
        """ESP and duration as the manifest records them."""
        return {"esp": round(self.esp, 12), "duration_ns": self.duration_ns}

    def figures(self) -> dict:
        """The cost model's figures: qubits, two-qubit gates, depth, duration, ESP, placement."""
        return {"qubits": self.qubits, "two_qubit_gates": self.two_qubit_gates, "depth": self.depth,
                "duration_ns": self.duration_ns, "esp": _esp12(self.esp),
                "physical_qubits": list(self.physical_qubits)}


@dataclass(frozen=True)
class Packing:
    """k copies of one template on disjoint regions (``passes/pack.py``)."""

    template: str  # the packed template, ``<template>_x<k>``
    copies: int
    bits: int  # measured bits of one copy
    parameters: int  # parameters of one copy
    regions: tuple[tuple[int, ...], ...]  # physical qubits each copy uses after routing
    initial_layouts: tuple[tuple[int, ...], ...]  # where each copy's logical qubits start
    pairs: int  # pairs bound to the unpacked template
    circuits: int  # ⌈pairs / copies⌉

    def as_dict(self) -> dict:
        """The form ``CompiledAttention.packing`` has always returned."""
        return {"template": self.template, "copies": self.copies, "bits": self.bits,
                "parameters": self.parameters, "regions": [list(qs) for qs in self.regions]}

    def placement(self) -> dict:
        """The manifest's ``placement`` entry."""
        return {"packed_template": self.template, "copies": self.copies, "pairs": self.pairs,
                "circuits": self.circuits,
                "regions": [{"copy": c, "physical_qubits": list(qs), "initial_layout": list(start)}
                            for c, (qs, start) in enumerate(zip(self.regions, self.initial_layouts))]}


@dataclass(frozen=True)
class CandidateCost:
    """One (encoding, estimator) on the target: routed figures and the error model's statistics."""

    encoding: str
    estimator: str
    qubits: int
    two_qubit_gates: int
    depth: int
    duration_ns: float | None
    esp: float  # 12 significant digits (the statistics were computed from this value)
    physical_qubits: tuple[int, ...]
    variance_per_shot: float
    residual_bias: float
    expected_error: float
    shots_for_precision: int | None

    def rank_key(self) -> tuple:
        """Lowest expected error; ties: fewer routed two-qubit gates, fewer qubits, the name."""
        return (self.expected_error, self.two_qubit_gates, self.qubits, self.encoding, self.estimator)

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "estimator": self.estimator, "qubits": self.qubits,
                "two_qubit_gates": self.two_qubit_gates, "depth": self.depth, "duration_ns": self.duration_ns,
                "esp": self.esp, "physical_qubits": list(self.physical_qubits),
                "variance_per_shot": self.variance_per_shot, "residual_bias": self.residual_bias,
                "expected_error": self.expected_error, "shots_for_precision": self.shots_for_precision}


@dataclass(frozen=True)
class Skipped:
    encoding: str
    estimator: str
    reason: str

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "estimator": self.estimator, "reason": self.reason}


@dataclass(frozen=True)
class AutoChoice:
    """The ``auto`` choice: every candidate ranked, best first, and the ones left out."""

    open: str  # which choices were open: "encoding", "estimator" or "encoding+estimator"
    d: int
    target: str
    shots: int
    precision: float
    optimization_level: int
    trials: int
    candidates: tuple[CandidateCost, ...]  # ranked
    skipped: tuple[Skipped, ...]

    @property
    def choice(self) -> CandidateCost:
        return self.candidates[0]

    @property
    def runner_up(self) -> CandidateCost | None:
        return self.candidates[1] if len(self.candidates) > 1 else None

    def as_dict(self) -> dict:
        """The manifest's ``cost.auto`` entry."""
        return {"d": self.d, "choice": self.choice.as_dict(),
                "runner_up": None if self.runner_up is None else self.runner_up.as_dict(),
                "candidates": [c.as_dict() for c in self.candidates],
                "skipped": [s.as_dict() for s in self.skipped], "chose": self.open}

    def describe(self) -> str:
        lines = [f"  choose ({self.open}) for d={self.d} on {self.target} at {self.shots} shots, "
                 f"optimization_level={self.optimization_level}, trials={self.trials}:"]
        for rank, c in enumerate(self.candidates, 1):
            lines.append(f"    {rank}. {c.encoding}/{c.estimator}: expected error {c.expected_error:.4g}, "
                         f"{c.two_qubit_gates} two-qubit gates, ESP {c.esp:.4f}")
        lines += [f"    skipped {s.encoding}/{s.estimator}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


@dataclass(frozen=True)
class CostReport:
    """What the ``cost`` pass publishes: per template figures, and the ``auto`` ranking if any."""

    shots: int
    precision: float
    templates: tuple[tuple[str, CandidateCost], ...]  # sorted by template name
    auto: AutoChoice | None = None

    def as_dict(self) -> dict:
        """The manifest's ``cost`` entry."""
        out = {"shots": self.shots, "precision": self.precision,
               "templates": {name: cost.as_dict() for name, cost in self.templates}}
        if self.auto is not None:
            out["auto"] = self.auto.as_dict()
        return out
