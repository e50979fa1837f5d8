"""Precision runs: a pilot stage, then shots per score from the delta-method Jacobian.

The pilot's estimates and per-shot noise go through ``qac.attention.shot_allocation`` (Neyman
allocation over each output row) for a target standard error; the extra shots are rounded up
to a geometric grid so a stage holds few distinct PUB shot counts.
"""

from __future__ import annotations

import numpy as np

from qac.attention import shot_allocation
from qac.execution.reconstruct import head_inputs

PILOT_SHOTS = 512  # per pair, for a precision run without explicit shots
SHOT_GRID = 2 ** 0.25  # a precision run rounds shots up to this grid: few distinct PUB shot counts
MARGIN = 1.1  # allocate for precision/1.1: the pilot's noise estimate is itself noisy


def grid_shots(shots: np.ndarray) -> np.ndarray:
    """Round shots up to the grid ⌈g^k⌉ (g = 2^¼): at most ~19% more, few distinct values."""
    shots = np.asarray(shots, dtype=float)
    out = np.zeros(shots.shape, dtype=np.int64)
    positive = shots > 0
    k = np.ceil(np.log(np.maximum(shots[positive], 1.0)) / np.log(SHOT_GRID) - 1e-9)
    out[positive] = np.ceil(SHOT_GRID ** k).astype(np.int64)
    return out


def allocate(program, estimates: dict, precision: float, first: int) -> tuple[dict, int, int]:
    """Extra shots per pair of each kernel after a pilot of ``first`` shots per pair.

    Returns (kernel name -> extra shots (P,), uniform total, planned total): the totals are the
    pair shots a uniform allocation reaching the same worst-case σ would use, and this one's.
    """
    graph = program.module.plan.graph
    extra, uniform_total, adaptive_total = {}, 0, 0
    for kernel in program.module.plan.kernels:
        e = estimates.get(kernel.name)
        if e is None:
            continue
        chosen = e.mitigated if e.mitigated is not None else e.raw
        sigma, inner = np.zeros(kernel.shape), np.zeros(kernel.shape)
        i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
        inner[i, j] = np.clip(chosen.mean, -1, 1)
        sigma[i, j] = chosen.sem * np.sqrt(e.shots)
        scale, values = head_inputs(graph, kernel.head)
        need, uniform = shot_allocation(inner, sigma, kernel.lhs_norms, kernel.rhs_norms, kernel.visible, scale,
                                        values, precision / MARGIN, bias=getattr(kernel, "bias", None))
        need = np.maximum(np.ceil(need[i, j]), first)
        extra[kernel.name] = grid_shots(need - e.shots)
        adaptive_total += int(np.sum(np.maximum(need, e.shots)))
        uniform_total += len(kernel.pairs) * max(int(np.ceil(uniform)), first)
    return extra, uniform_total, adaptive_total
