"""Shots for stage 2 of a two-stage precision run (``pv: quantum``).

Stage 2's output is linear in what it measures: O_ik = |p_i|·|v_k|·c_ik, so the sensitivity of
an output entry to its pair's inner product is |p_i|·|v_k| and to nothing else. With the pilot's
per-shot noise s_ik = sem_ik·√shots_ik, the shots that bring the entry's stage-2 σ to ε are
n_ik = (|p_i|·|v_k|·s_ik/ε)², ε = the stage's share of the precision (precision/√2, over the
planning margin), rounded up to the shot grid of ``qac/execution/precision.py``. One stage of
extra shots, then the final bootstrap bars report what was reached.
"""

from __future__ import annotations

import numpy as np

from qac import seeds
from qac.execution.estimates import estimates
from qac.execution.precision import MARGIN, grid_shots, raise_cap
from qac.limits import MAX_SHOTS, check_run_shots


def stage2_shots(program, estimated: dict, precision: float) -> dict:
    """Extra shots per pair of each P·V kernel (kernel name → (P,) int64)."""
    extra, total = {}, 0
    for kernel in program.module.plan.kernels:
        e = estimated.get(kernel.name)
        if e is None:
            continue
        chosen = e.mitigated if e.mitigated is not None else e.raw
        i, k = kernel.pairs[:, 0], kernel.pairs[:, 1]
        sensitivity = kernel.lhs_norms[i] * kernel.rhs_norms[k]
        per_shot = chosen.sem * np.sqrt(e.shots)
        need = np.maximum(np.ceil((sensitivity * per_shot * MARGIN / precision) ** 2), e.shots)
        if need.size and need.max() > MAX_SHOTS:
            raise_cap(f"precision {precision:g} needs {need.max():.3g} shots for one pair of {kernel.name}")
        extra[kernel.name] = grid_shots(need - e.shots)
        total += int(np.sum(need))
    check_run_shots(total, f"precision {precision:g} (stage 2)")
    return extra


def refine_stage2(plan, estimated, report, *, shots: int, seed: int, mitigation: bool, precision: float, engine,
                  noise_model):
    """(plan, estimates, mitigation report, record) after one planned stage of extra shots."""
    extra = stage2_shots(plan.program, estimated, precision)
    requests = []
    for kernel, more in extra.items():
        blocks = plan.data_blocks(kernel)
        requests += [(b, -(-more // len(blocks))) for b in blocks]
    if mitigation and requests:
        calibration = int(max(np.max(estimated[k].shots + more) for k, more in extra.items()))
        for b in plan.calibration_blocks():
            paired = plan.templates[b.template].symmetrise and b.circuit is None
            per_row = -(-calibration // 2) if paired else calibration
            requests.append((b, np.full(len(b.copy), per_row, dtype=np.int64)))
    if any(np.any(more > 0) for more in extra.values()):
        plan.run(requests, engine=engine, seed=seeds.stage_seed(seed, "stage2", 1), noise_model=noise_model)
        estimated, report = estimates(plan)
    used = sum(int(np.sum(e.shots)) for e in estimated.values() if e is not None)
    return plan, estimated, report, {"target": precision, "pilot_shots": shots, "pair_shots": used}
