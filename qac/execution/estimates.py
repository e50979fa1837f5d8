"""A plan's counts → per-kernel inner-product estimates, raw and mitigated.

Each block is decoded with its copy's outcome values f (readout-corrected, g = A⁻ᵀf, when
mitigating); sign partners combine as (m₊ − m₋)/2; each template and copy's calibration rows
fit the signal rescale, which every data row of that copy then goes through; the estimator's
``finish`` (``qac.kernels.decode.finish``) maps the mean of f to the inner product.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qac.execution.mitigation import corrected_values, fit_rescale, flip_rates
from qac.kernels.decode import estimate_from_counts, finish, finish_slope


@dataclass(frozen=True)
class KernelEstimate:
    """Inner products over a kernel's pairs, their independent standard errors, and the errors
    shared by many pairs: ∂estimate/∂θ (T, P) for parameters θ of covariance (T, T)."""

    mean: np.ndarray  # (P,)
    sem: np.ndarray  # (P,)
    gradient: np.ndarray | None = None
    covariance: np.ndarray | None = None


@dataclass(frozen=True)
class SampledEstimate:
    raw: KernelEstimate  # decoded with f, no readout correction, no rescale
    mitigated: KernelEstimate | None
    shots: np.ndarray  # (P,) data shots of each pair, partners included


def block_means(blocks, values_by_copy) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Mean of f and its standard error per row of each block, decoded with its copy's f."""
    means, sems = [], []
    for block in blocks:
        mean, sem = np.zeros(len(block.copy)), np.zeros(len(block.copy))
        for copy, values in values_by_copy.items():
            rows = block.copy == copy
            if rows.any():
                mean[rows], sem[rows] = estimate_from_counts(block.counts[rows], values)
        means.append(mean)
        sems.append(sem)
    return means, sems


def odd_part(blocks, values_by_copy) -> tuple[np.ndarray, np.ndarray]:
    """Mean of f per row (sign partners combined as (m₊ − m₋)/2) and its standard error."""
    means, sems = block_means(blocks, values_by_copy)
    if len(blocks) == 2:
        return (means[0] - means[1]) / 2, np.sqrt(sems[0] ** 2 + sems[1] ** 2) / 2
    return means[0], sems[0]


def even_part(blocks, values_by_copy) -> tuple[np.ndarray, np.ndarray]:
    """(m₊ + m₋)/2 per pair and its σ: the part of the noise that the sign flip cancels."""
    means, sems = block_means(blocks, values_by_copy)
    return (means[0] + means[1]) / 2, np.sqrt(sems[0] ** 2 + sems[1] ** 2) / 2


def readout_values(info, copy: int) -> tuple[np.ndarray, np.ndarray]:
    """The copy's readout-corrected outcome values g = A⁻ᵀf and its flip rates."""
    prep0, prep1 = info.readout[copy]
    rates = flip_rates(prep0.counts[0], prep1.counts[0], int(np.log2(len(info.values))))
    return corrected_values(info.values, rates), rates


def widen_to_data_spread(plan, rescales: dict, corrected: dict) -> None:
    """Raise each rescale's pair-to-pair model error to what the data pairs show.

    With sign symmetrisation every pair also yields its even part (m₊ + m₋)/2, a direct
    measurement of the state-dependent noise the flip cancels; its scatter beyond shot noise
    is the size of the pair-specific noise effects, and the odd part the rescale leaves
    behind is of the same origin. The larger of this and the calibration residual is used.
    """
    for name, info in plan.templates.items():
        if not info.symmetrise:
            continue
        for c in range(info.copies):
            evens, sems = [], []
            for kernel in plan.kernels.values():
                if kernel["template"] != name:
                    continue
                rows = kernel["blocks"][0].copy == c
                even, sem = even_part(kernel["blocks"], {c: corrected[name, c]})
                evens.append(even[rows])
                sems.append(sem[rows])
            even, sem = np.concatenate(evens), np.concatenate(sems)
            if len(even) < 3:
                continue
            excess = float(np.var(even, ddof=1) - np.mean(sem**2))
            rescale = rescales[name, c]
            if excess > rescale.spread[1, 1]:
                spread = rescale.spread.copy()
                spread[1, 1] = excess
                rescales[name, c] = replace(rescale, spread=spread)


def raw_estimates(plan) -> dict[str, KernelEstimate]:
    """Per kernel with pairs: the raw estimate (f as measured, partners combined, no rescale).
    Every copy decodes raw with the same f, so the blocks of all kernels of one template are
    decoded in one pass (row by row: each row's bits are those of a block of its own)."""
    groups: dict[str, list[str]] = {}
    for name, kernel in plan.kernels.items():
        groups.setdefault(kernel["template"], []).append(name)
    out = {}
    for template, names in groups.items():
        info = plan.templates[template]
        sides = len(plan.kernels[names[0]]["blocks"])
        decoded = []
        for side in range(sides):
            counts = np.concatenate([plan.kernels[n]["blocks"][side].counts for n in names])
            decoded.append(estimate_from_counts(counts, info.values))
        if sides == 2:
            (m0, s0), (m1, s1) = decoded
            mean, sem = (m0 - m1) / 2, np.sqrt(s0 ** 2 + s1 ** 2) / 2
        else:
            mean, sem = decoded[0]
        mean, sem = finish(mean, sem, signed=info.signed)
        edges = np.cumsum([0] + [len(plan.kernels[n]["blocks"][0].copy) for n in names])
        for n, a, b in zip(names, edges, edges[1:]):
            out[n] = KernelEstimate(mean[a:b], sem[a:b])
    return out


def estimates(plan) -> tuple[dict[str, SampledEstimate | None], dict]:
    """Per kernel (None: no pairs): raw and mitigated estimates; and the mitigation report."""
    corrected, rescales, report = {}, {}, {}
    if plan.mitigation:
        for name, info in plan.templates.items():
            for c in range(info.copies):
                corrected[name, c], rates = readout_values(info, c)
                cal = info.calibration
                mean, sem = odd_part(info.cal_blocks[c], {c: corrected[name, c]})
                rescales[name, c] = fit_rescale(mean, sem, cal.ideal, cal.pattern)
                report[f"{name}[{c}]"] = {**rescales[name, c].as_dict(), "readout_flip_rates": rates.round(5).tolist(),
                                           "sign_symmetrised": info.symmetrise}
        widen_to_data_spread(plan, rescales, corrected)
    out = {}
    raws = raw_estimates(plan)
    for kernel in plan.program.module.plan.kernels:
        if kernel.name not in plan.kernels:
            out[kernel.name] = None
            continue
        name = plan.kernels[kernel.name]["template"]
        info, blocks = plan.templates[name], plan.kernels[kernel.name]["blocks"]
        raw = raws[kernel.name]
        shots = sum(b.shots for b in blocks)
        if not plan.mitigation:
            out[kernel.name] = SampledEstimate(raw, None, shots)
            continue
        copies = info.copies
        mean, sem = odd_part(blocks, {c: corrected[name, c] for c in range(copies)})
        mitigated, independent = np.zeros_like(mean), np.zeros_like(mean)
        gradient = np.zeros((2 * copies, len(mean)))
        covariance = np.zeros((2 * copies, 2 * copies))
        for c in range(copies):
            rows = blocks[0].copy == c
            if not rows.any():
                continue
            m, s, g = rescales[name, c].apply(mean[rows], sem[rows])
            mitigated[rows], independent[rows] = m, s
            gradient[2 * c:2 * c + 2, rows] = g
            covariance[2 * c:2 * c + 2, 2 * c:2 * c + 2] = rescales[name, c].covariance
        finished, finished_sem = finish(mitigated, independent, signed=info.signed)
        slope = finish_slope(mitigated, signed=info.signed)
        out[kernel.name] = SampledEstimate(raw, KernelEstimate(finished, finished_sem, gradient * slope[None, :],
                                                               covariance), shots)
    return out, report
