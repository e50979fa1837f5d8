"""10. Memory (issue 12): a whole compile + ideal batched run, its peak resident memory against the
documented bound (``qac.execution.memory``, docs/engine.md "Memory bound").

Each size runs in a fresh subprocess (``python -m bench.memory --child N HEADS SHOTS``): it
imports qac, Qiskit and Aer and warms them on a 4-token spec, records its resident memory then
(the baseline: interpreter and libraries), compiles and runs ``engine="batched"`` on the aer
target (ideal, d = 32 a head, binary interference), and reports its peak resident memory
(``VmHWM``) and the compile and run wall times. The goal is peak ≤ baseline + bound; the
table also gives how much of the bound the run used. The full suite runs issue 12's size,
N = M = 256, 12 heads, 1024 shots (786,432 pairs: a few minutes); ``--quick`` runs 64 tokens.

    python -m bench.memory [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def resident(field: str = "VmRSS") -> int:
    """This process's resident memory in bytes (Linux /proc/self/status): ``VmRSS`` now, or
    ``VmHWM``, its peak. Not ``getrusage().ru_maxrss``: Linux folds the parent's resident size at
    the fork into the child's ru_maxrss, so a child of the 5 GB ``python -m bench`` process
    reported 4.9 GB for a run whose own peak was 1.05 GB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def child(n: int, heads: int, shots: int) -> dict:
    import qac
    from bench.engine import PASSES, spec
    from qac.execution.memory import RunShape, bound

    qac.compile(spec(4, 32, 1), target="aer", passes=PASSES).run(64, engine="batched")  # imports, caches
    baseline = resident()
    start = time.perf_counter()
    compiled = qac.compile(spec(n, 32, heads), target="aer", passes=PASSES)
    compile_s = time.perf_counter() - start
    compile_peak = resident("VmHWM")
    start = time.perf_counter()
    compiled.run(shots, engine="batched")
    run_s = time.perf_counter() - start
    peak = resident("VmHWM")
    parts = bound(RunShape.of(compiled))
    return {"pairs": sum(len(k.pairs) for k in compiled.kernels), "baseline": baseline, "compile_peak": compile_peak,
            "peak": peak, "compile_s": compile_s, "run_s": run_s, "bound": parts}


def measure(n: int, heads: int, shots: int) -> dict:
    """``child`` in a fresh interpreter (its peak is its own, not this process's)."""
    out = subprocess.run([sys.executable, "-m", "bench.memory", "--child", str(n), str(heads), str(shots)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(mode: str = "full"):
    from bench.common import Section, pick

    section = Section("memory", "10. Memory: a whole run's peak against the documented bound")
    n, heads, shots = pick(mode, full=(256, 12, 1024), quick=(64, 12, 1024), tiny=(16, 2, 256))
    m = measure(n, heads, shots)
    mb = 1e6
    total, allowed = m["bound"]["total"], m["baseline"] + m["bound"]["total"]
    grown = m["peak"] - m["baseline"]
    row = {"workload": f"ideal aer, N = M = {n}, {heads} heads, d = 32, {shots} shots, batched", "pairs": m["pairs"],
           "baseline MB": m["baseline"] / mb, "peak after compile MB": m["compile_peak"] / mb,
           "peak MB": m["peak"] / mb, "bound MB": total / mb, "peak − baseline / bound": grown / total,
           "compile s": m["compile_s"], "run s": m["run_s"]}
    section.table("Peak resident memory of one compile + run in a fresh process (baseline: after imports and a "
                  "4-token warm-up)", list(row), [row])
    section.table("The bound's parts (docs/engine.md \"Memory bound\")", ["part", "MB"],
                  [{"part": k, "MB": v / mb} for k, v in m["bound"].items()])
    met = m["peak"] <= allowed
    section.targets.append((f"memory stays under the documented bound at N = M = {n}, heads = {heads}, d = 32",
                            met, f"peak {m['peak'] / mb:.0f} MB ≤ baseline {m['baseline'] / mb:.0f} MB + bound "
                                 f"{total / mb:.0f} MB" if met else
                            f"peak {m['peak'] / mb:.0f} MB > baseline {m['baseline'] / mb:.0f} MB + bound "
                            f"{total / mb:.0f} MB"))
    if not met:
        section.losses.append(f"Memory at N = M = {n}, {heads} heads: peak {m['peak'] / mb:.0f} MB above the "
                              f"documented bound ({allowed / mb:.0f} MB with the baseline).")
    section.data["memory"] = m
    return section


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(*(int(a) for a in sys.argv[2:5]))))
    else:
        run("quick" if "--quick" in sys.argv else "full")
