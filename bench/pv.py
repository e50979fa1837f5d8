"""``python -m bench.pv [--sizes 16,64] [--precision 0.05] [--target ibm_fez]``: pv quantum vs classical.

For N = M (16 and 64), d = dv = 16, one seeded random attention (Q, K, V ~ N(0, 1)) is compiled
twice for the target — ``pv: classical`` (Q·Kᵀ on circuits, P·V in numpy) and ``pv: quantum``
(both MatMuls on circuits) — and each is run ideally with ``run(precision=ε)``.

"Equal output precision" means both runs were asked for the same ε, the wanted standard error
of every output entry, and each planned its own shots until its reported (bootstrap) error
bars reached it: the classical run plans Q·Kᵀ's shots for ε; the quantum run splits ε² evenly
over its stages (docs/noise.md). The table prints the achieved worst σ of each, so the
comparison is at measured, not assumed, precision. Per configuration: device circuits (every
pilot and refinement submission counts), total shots, routed two-qubit gates per circuit of
each stage's template, and routed two-qubit gate applications (Σ circuits × shots × gates).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import bench.common  # noqa: F401  (sets the environment before anything imports Aer)


def spec(n: int, d: int, dv: int, seed: int = 0) -> dict:
    rng = np.random.default_rng([seed, n, d])
    return {"name": f"pv_bench_{n}", "Q": rng.standard_normal((n, d)).tolist(),
            "K": rng.standard_normal((n, d)).tolist(), "V": rng.standard_normal((n, dv)).tolist(), "seed": seed}


def two_qubit_per_stage(compiled) -> dict[int, int]:
    """Routed two-qubit gates of one circuit of each stage's template (the largest if several)."""
    out = {}
    for row in compiled.resources():
        stage = 2 if row["kernel"].endswith("_out") else 1
        out[stage] = max(out.get(stage, 0), row["two_qubit_gates"])
    return out


def measure(n: int, pv: str, *, precision: float, target: str, d: int = 16, dv: int = 16) -> dict:
    import qac

    compiled = qac.compile(spec(n, d, dv), target, pv=pv)
    start = time.perf_counter()
    result = compiled.run(precision=precision, seed=1)
    seconds = time.perf_counter() - start
    gates = two_qubit_per_stage(compiled)
    if result.stages:
        per_stage = {int(k[-1]): v for k, v in result.stages.items()}
    else:
        per_stage = {1: {"circuits": result.circuits_run, "shots": result.shots_used}}
    applications = sum(s["shots"] * gates[stage] for stage, s in per_stage.items())
    return {"N=M": n, "pv": pv, "circuits": result.circuits_run, "shots": result.shots_used,
            "2q/circuit (stage 1)": gates[1], "2q/circuit (stage 2)": gates.get(2, "-"),
            "2q gates routed (Σ circuits×gates)": sum(s["circuits"] * gates[st] for st, s in per_stage.items()),
            "2q gate applications": applications, "asked σ": precision,
            "achieved σ": round(result.max_stderr, 4), "max |error|": round(result.max_error, 4),
            "run s": round(seconds, 1)}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,64")
    parser.add_argument("--precision", type=float, default=0.05)
    parser.add_argument("--target", default="ibm_fez")
    args = parser.parse_args(argv)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        for pv in ("classical", "quantum"):
            rows.append(measure(n, pv, precision=args.precision, target=args.target))
            print(" | ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
        classical, quantum = rows[-2], rows[-1]
        print(f"N=M={n}: quantum/classical circuits {quantum['circuits'] / classical['circuits']:.2f}x, "
              f"shots {quantum['shots'] / classical['shots']:.2f}x, two-qubit gate applications "
              f"{quantum['2q gate applications'] / classical['2q gate applications']:.2f}x", flush=True)
    return rows


if __name__ == "__main__":
    main()
