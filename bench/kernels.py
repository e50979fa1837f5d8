"""Kernel cost: every encoding × estimator pair vs. the textbook swap test and per-pair synthesis.

For d = 4 … 64 on each target, in the same run: the routed two-qubit gates and depth of
every qac candidate (its parametrised template, transpiled once the way ``encoding: auto``
does — optimisation level 3, best of 4 seeds), qac's ``auto`` choice (lowest expected error
at 4096 shots), and two peers transpiled per pair at optimisation level 3 on a sample of
random (q, k) pairs:

* textbook swap test: ``StatePreparation(q̂) ⊗ StatePreparation(k̂)``, H, a controlled-SWAP per
  qubit pair, H (Buhrman et al. 2001) — unsigned, no offset;
* per-pair interference: ``StatePreparation`` of the joint vector (q̂, k̂)/√2, H on the top
  qubit — what a Qiskit user writes, synthesised for the numbers of that one pair; also
  reported after Qiskit's ``LightCone`` pass, the cut qac's template makes (a Qiskit user
  who knows to add it gets that column).

    python bench/kernels.py [--quick] [--targets ibm_brisbane,ibm_fez] [--d 4,8,16,32,64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DIMENSIONS = (4, 8, 16, 32, 64)
TARGETS = ("ibm_brisbane", "ibm_fez")


def two_qubit(circuit) -> int:
    return sum(1 for inst in circuit.data if inst.operation.num_qubits == 2 and inst.operation.name != "barrier")


def textbook_swap_circuit(q, k):
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation

    n = int(np.log2(len(q)))
    circuit = QuantumCircuit(2 * n + 1, 1)
    circuit.append(StatePreparation(q / np.linalg.norm(q)), range(n))
    circuit.append(StatePreparation(k / np.linalg.norm(k)), range(n, 2 * n))
    circuit.h(2 * n)
    for i in range(n):
        circuit.cswap(2 * n, i, n + i)
    circuit.h(2 * n)
    circuit.measure(2 * n, 0)
    return circuit


def per_pair_interference_circuit(q, k):
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation

    joint = np.concatenate([q / np.linalg.norm(q), k / np.linalg.norm(k)]) / np.sqrt(2)
    n = int(np.log2(len(joint)))
    circuit = QuantumCircuit(n, 1)
    circuit.append(StatePreparation(joint), range(n))
    circuit.h(n - 1)
    circuit.measure(n - 1, 0)
    return circuit


def peer(build, target, pairs, level: int) -> dict:
    """Mean routed 2q and depth over ``pairs``; also the 2q left after Qiskit's ``LightCone`` pass
    (gates outside the measured qubit's light cone removed), the step qac's template takes."""
    from qiskit.transpiler import PassManager, generate_preset_pass_manager
    from qiskit.transpiler.passes import LightCone

    manager = generate_preset_pass_manager(optimization_level=level, seed_transpiler=0, **target.transpile_kwargs())
    cone = PassManager([LightCone()])
    counts, depths, coned = [], [], []
    for q, k in pairs:
        isa = manager.run(build(q, k))
        counts.append(two_qubit(isa))
        depths.append(isa.depth())
        coned.append(two_qubit(cone.run(isa)))
    return {"two_qubit_gates": float(np.mean(counts)), "depth": float(np.mean(depths)),
            "light_cone_two_qubit_gates": float(np.mean(coned)), "sampled_pairs": len(pairs)}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 4, 8, 16; one seed; one sampled pair")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--d", default=None, help="comma-separated widths (default 4,8,16,32,64)")
    parser.add_argument("--sample", type=int, default=None, help="pairs the per-pair peers transpile")
    args = parser.parse_args(argv)

    from qac.passes.cost_model import AUTO_OPTIMIZATION_LEVEL, AUTO_TRIALS, evaluate

    from qac import targets
    from qac.ir.pipeline import CompileContext
    from qac.ir.records import LayoutOptions

    dims = tuple(int(x) for x in args.d.split(",")) if args.d else ((4, 8, 16) if args.quick else DIMENSIONS)
    trials = 1 if args.quick else AUTO_TRIALS
    rng = np.random.default_rng(0)
    rows: list[dict] = []
    started = time.perf_counter()
    for name in args.targets.split(","):
        target = targets.get(name)
        target.qiskit_target()
        for d in dims:
            sample = args.sample or (1 if args.quick else (2 if d >= 64 else 4))
            pairs = [(rng.standard_normal(d), rng.standard_normal(d)) for _ in range(sample)]
            report = evaluate(d, CompileContext(target), layout=LayoutOptions(AUTO_OPTIMIZATION_LEVEL, trials),
                              ranking=LayoutOptions(AUTO_OPTIMIZATION_LEVEL, trials))  # every row at the compile's level
            swap = peer(textbook_swap_circuit, target, pairs, 3)
            per_pair = peer(per_pair_interference_circuit, target, pairs, 3)
            base = {"target": name, "d": d}
            for c in report.candidates:
                rows.append({**base, "kind": "qac", "encoding": c.encoding, "estimator": c.estimator,
                             "qubits": c.qubits, "two_qubit_gates": c.two_qubit_gates, "depth": c.depth,
                             "esp": c.esp, "expected_error": c.expected_error, "auto": c is report.choice})
            for s in report.skipped:
                rows.append({**base, "kind": "qac", "encoding": s.encoding, "estimator": s.estimator,
                             "skipped": s.reason, "auto": False})
            rows.append({**base, "kind": "textbook_swap", **swap})
            rows.append({**base, "kind": "per_pair_interference", **per_pair})
            print_block(name, d, rows)
    print(f"(measured in {time.perf_counter() - started:.0f} s; optimisation level {AUTO_OPTIMIZATION_LEVEL}, "
          f"qac templates best of {trials} seed(s))")
    print_summary(rows)
    return rows


def print_block(target: str, d: int, rows: list[dict]) -> None:
    block = [r for r in rows if r["target"] == target and r["d"] == d]
    swap = next(r for r in block if r["kind"] == "textbook_swap")
    per_pair = next(r for r in block if r["kind"] == "per_pair_interference")
    print(f"\n{target}, d = {d}: textbook swap {swap['two_qubit_gates']:.0f} 2q / depth {swap['depth']:.0f}, "
          f"per-pair interference {per_pair['two_qubit_gates']:.0f} 2q / depth {per_pair['depth']:.0f} "
          f"({per_pair['light_cone_two_qubit_gates']:.0f} 2q after LightCone; mean of {per_pair['sampled_pairs']} pairs)")
    for r in block:
        if r["kind"] != "qac":
            continue
        if "skipped" in r:
            print(f"    {r['encoding'] + '/' + r['estimator']:38s} skipped: {r['skipped']}")
            continue
        mark = "  <- auto" if r["auto"] else ""
        print(f"    {r['encoding'] + '/' + r['estimator']:38s} {r['qubits']:4d} q {r['two_qubit_gates']:6d} 2q "
              f"depth {r['depth']:6d}  ESP {r['esp']:.3f}  e(4096) {r['expected_error']:.4f}{mark}")


def print_summary(rows: list[dict]) -> None:
    print("\n| target | d | qac auto (encoding/estimator) | auto 2q | fewest-2q qac pair | its 2q | textbook swap 2q "
          "| per-pair 2q | per-pair + LightCone 2q | auto/swap | auto/per-pair | auto/(per-pair + LightCone) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["target"], r["d"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for target, d in keys:
        block = [r for r in rows if r["target"] == target and r["d"] == d]
        auto = next(r for r in block if r.get("auto"))
        fewest = min((r for r in block if r["kind"] == "qac" and "skipped" not in r),
                     key=lambda r: (r["two_qubit_gates"], r["depth"]))
        swap = next(r for r in block if r["kind"] == "textbook_swap")["two_qubit_gates"]
        peer_row = next(r for r in block if r["kind"] == "per_pair_interference")
        per_pair, coned = peer_row["two_qubit_gates"], peer_row["light_cone_two_qubit_gates"]
        print(f"| {target} | {d} | {auto['encoding']}/{auto['estimator']} | {auto['two_qubit_gates']} | "
              f"{fewest['encoding']}/{fewest['estimator']} | {fewest['two_qubit_gates']} | {swap:.0f} | {per_pair:.0f} | "
              f"{coned:.0f} | {auto['two_qubit_gates'] / swap:.2f} | {auto['two_qubit_gates'] / per_pair:.2f} | "
              f"{auto['two_qubit_gates'] / coned:.2f} |")


if __name__ == "__main__":
    main()
