"""2. Circuit cost: routed two-qubit gates and depth per inner product.

The full table comes from ``bench/kernels.py`` (encodings × estimators vs. the textbook
swap test vs. per-pair StatePreparation, d = 4..64, ibm_brisbane and ibm_fez) when it is
present. Without it this section falls back to qac's default kernel against per-pair
StatePreparation, and the report says so. Counts do not depend on the machine.
"""

from __future__ import annotations

import numpy as np

from bench.common import Section, attention_inputs, pick


def from_kernels(section: Section, mode: str) -> bool:
    try:
        from bench import kernels
    except ImportError as exc:
        section.note(f"bench/kernels.py is missing in this build ({exc}); showing qac's default kernel against "
                     "per-pair StatePreparation only.")
        return False
    argv = ["--quick"] if mode != "full" else []
    try:
        rows = kernels.main(argv)
    except SystemExit as exc:
        if argv and exc.code not in (0, None):
            section.note("bench/kernels.py has no --quick option; ran its default sizes.")
            rows = kernels.main([])
        else:
            raise
    rows = [dict(r) for r in rows or []]
    if not rows:
        section.note("bench/kernels.py returned no rows.")
        return False
    columns = list(dict.fromkeys(k for r in rows for k in r))
    section.data["rows"] = rows
    section.data["source"] = "bench/kernels.py"
    section.table("Routed cost per inner product (from bench/kernels.py)", columns, rows)
    two_q = next((c for c in columns if "2q" in c.lower() or "two_qubit" in c.lower()), None)
    method = next((c for c in columns if c.lower() in ("method", "kernel", "circuit", "name")), None)
    if two_q and method and "d" in columns and "target" in columns:
        for (target, d) in dict.fromkeys((r.get("target"), r.get("d")) for r in rows):
            group = [r for r in rows if r.get("target") == target and r.get("d") == d
                     and isinstance(r.get(two_q), (int, float, np.integer, np.floating))]
            mine = [r for r in group if "qac" in str(r.get(method)).lower() or "interference" in str(r.get(method))]
            peers = [r for r in group if r not in mine]
            if mine and peers:
                best_mine = min(mine, key=lambda r: r[two_q])
                best_peer = min(peers, key=lambda r: r[two_q])
                if best_peer[two_q] < best_mine[two_q]:
                    section.losses.append(f"circuit cost {target} d={d}: {best_peer[method]} needs {best_peer[two_q]} "
                                          f"routed two-qubit gates, fewer than qac's best {best_mine[method]} "
                                          f"({best_mine[two_q]}).")
    return True


def fallback(section: Section, mode: str) -> None:
    import qac
    from bench.compile_time import per_pair_peer

    dims = pick(mode, full=[4, 8, 16, 32, 64], quick=[8, 16], tiny=[4])
    devices = pick(mode, full=["ibm_brisbane", "ibm_fez"], quick=["ibm_brisbane"], tiny=["ibm_brisbane"])
    sample = pick(mode, full=6, quick=3, tiny=1)
    rows = []
    for target in devices:
        for d in dims:
            spec = attention_inputs(4, 4, d, seed=5)
            (res,) = qac.compile(spec, target, seed=7).resources()
            peer = per_pair_peer(spec, target, sample)
            rows.append({"target": target, "d": d, "qac 2q (template)": res["two_qubit_gates"],
                         "qac depth": res["depth"], "per-pair StatePreparation 2q (mean)": peer["two_qubit_mean"],
                         "per-pair depth (mean)": peer["depth_mean"], "pairs sampled": peer["sampled"]})
            if res["two_qubit_gates"] > peer["two_qubit_mean"]:
                section.losses.append(f"circuit cost {target} d={d}: qac's template has {res['two_qubit_gates']} "
                                      f"routed two-qubit gates vs per-pair StatePreparation's mean "
                                      f"{peer['two_qubit_mean']:.1f}.")
    section.data["rows"] = rows
    section.data["source"] = "fallback"
    section.table("Routed cost per inner product: qac's default template vs per-pair StatePreparation "
                  "(the interference circuit of the joint vector, transpiled per pair)",
                  list(rows[0]), rows)


def run(mode: str = "full") -> Section:
    section = Section("cost", "2. Circuit cost per inner product")
    if mode == "tiny" or not from_kernels(section, mode):
        fallback(section, mode)
    return section
