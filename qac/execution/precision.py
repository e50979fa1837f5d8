"""Precision runs: a pilot stage, then shots per score from the same error model as the bars.

The pilot's estimates and per-shot noise go through the bootstrap of ``qac.execution.errorbars``: its
regression slopes of every output entry on every score's noise replace the point Jacobian
(which vanishes where the softmax is peaked, so it planned too few shots exactly where they
were needed), and ``qac.kernels.attention.shot_allocation`` turns them into shots per score (Neyman
allocation over each output row) for the target standard error. The extra shots are rounded
up to a geometric grid so a stage holds few distinct PUB shot counts. Plans above qac's shot
cap (``qac.limits``) are refused with the figure before anything runs; whether the target
was reached is read off the final bootstrap bars, never assumed.
"""

from __future__ import annotations

import numpy as np

from qac.execution.errorbars import bootstrap_head
from qac.execution.reconstruct import head_inputs
from qac.kernels.attention import shot_allocation
from qac.limits import MAX_SHOTS, check_run_shots

SHOT_GRID = 2 ** 0.25  # a precision run rounds shots up to this grid: few distinct PUB shot counts
MARGIN = 1.1  # allocate for precision/1.1: the pilot's noise estimate is itself noisy
PLANNING_DRAWS = 1024  # bootstrap replicas for the slopes (their noise averages over each row)
REFINEMENTS = 2  # stages after the pilot at most: a second one only when the first fell short


def grid_shots(shots: np.ndarray) -> np.ndarray:
    """Round shots up to the grid ⌈g^k⌉ (g = 2^¼): at most ~19% more, few distinct values."""
    shots = np.asarray(shots, dtype=float)
    out = np.zeros(shots.shape, dtype=np.int64)
    positive = shots > 0
    k = np.ceil(np.log(np.maximum(shots[positive], 1.0)) / np.log(SHOT_GRID) - 1e-9)
    out[positive] = np.ceil(SHOT_GRID ** k).astype(np.int64)
    return out


def allocate(program, estimates: dict, precision: float, first: int, *, rng: np.random.Generator
             ) -> tuple[dict, int, int]:
    """Extra shots per pair of each kernel, given the estimates so far (``e.shots`` per pair).

    Returns (kernel name -> extra shots (P,), uniform total, planned total): the pair shots a
    uniform split reaching the same worst-case σ would use by the same model, and this plan's.
    Refuses (ExecutionError) a plan above qac's shot cap, per pair or for the whole run.
    """
    graph = program.module.plan.graph
    extra, uniform_total, adaptive_total = {}, 0, 0
    for kernel in program.module.plan.kernels:
        e = estimates.get(kernel.name)
        if e is None:
            continue
        chosen = e.mitigated if e.mitigated is not None else e.raw
        sigma, inner, sem = np.zeros(kernel.shape), np.zeros(kernel.shape), np.zeros(kernel.shape)
        i, j = kernel.pairs[:, 0], kernel.pairs[:, 1]
        inner[i, j] = np.clip(chosen.mean, -1, 1)
        sem[i, j] = chosen.sem
        sigma[i, j] = chosen.sem * np.sqrt(e.shots)
        scale, values = head_inputs(graph, kernel.head)
        bias = getattr(kernel, "bias", None)
        slopes = bootstrap_head(inner, sem, kernel.lhs_norms, kernel.rhs_norms, kernel.visible, scale, values,
                                rng=rng, bias=bias, draws=PLANNING_DRAWS, with_sensitivity=True).sensitivity
        need, uniform = shot_allocation(inner, sigma, kernel.lhs_norms, kernel.rhs_norms, kernel.visible, scale,
                                        values, precision / MARGIN, bias=bias, jacobian=slopes)
        need = np.maximum(np.ceil(need[i, j]), e.shots)
        if need.size and need.max() > MAX_SHOTS:
            raise_cap(f"precision {precision:g} needs {need.max():.3g} shots for one pair of {kernel.name}")
        extra[kernel.name] = grid_shots(need - e.shots)
        adaptive_total += int(np.sum(need))
        uniform_total += len(kernel.pairs) * max(int(np.ceil(uniform)), first)
    check_run_shots(adaptive_total, f"precision {precision:g}")
    return extra, uniform_total, adaptive_total


def raise_cap(what: str):
    from qac.errors import ExecutionError

    raise ExecutionError(f"{what}, above qac's cap of {MAX_SHOTS:.0e} shots per circuit; "
                         f"ask for a looser --precision")
