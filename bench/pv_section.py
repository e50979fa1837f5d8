"""8. P·V on circuits (issue 14): ``pv: quantum`` (both MatMuls on circuits, two-stage run) against
``pv: classical`` (P·V in numpy) at equal output precision: both runs ask ``run(precision=ε)``
for the same ε and plan their own shots until their reported bars reach it. Circuits, total
shots and routed two-qubit gates of each, for N = M = 16 and 64, d = dv = 16, ibm_fez, ideal.
The standalone script is ``python -m bench.pv`` (it skips here when ``bench/pv.py`` is absent).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench.common import Section, pick

SCRIPT = Path(__file__).resolve().parent / "pv.py"


def run(mode: str = "full") -> Section:
    section = Section("pv", "8. P·V on circuits against P·V in numpy")
    if not SCRIPT.exists() or importlib.util.find_spec("bench.pv") is None:
        section.note("bench/pv.py is not in this build (issue 14 not merged): section skipped.")
        section.targets.append(("pv: quantum vs classical cost at equal output precision", None,
                                "not measured: bench/pv.py absent"))
        return section
    from bench.pv import measure

    sizes, precision = pick(mode, full=(16, 64), quick=(8,)), pick(mode, full=0.05, quick=0.1)
    rows = []
    for n in sizes:
        pair = [measure(n, pv, precision=precision, target="ibm_fez") for pv in ("classical", "quantum")]
        rows += pair
        classical, quantum = pair
        ratio = {k: quantum[k] / classical[k] for k in ("circuits", "shots", "2q gate applications")}
        reached = all(r["achieved σ"] <= precision for r in pair)
        section.targets.append((f"pv: quantum vs classical at equal precision ε = {precision}, N=M={n}, d=16 "
                                "(reported; both must reach ε)", reached,
                                f"quantum/classical: circuits {ratio['circuits']:.2f}×, shots {ratio['shots']:.2f}×, "
                                f"2q gate applications {ratio['2q gate applications']:.2f}×; achieved σ "
                                f"{classical['achieved σ']} / {quantum['achieved σ']}"))
        if not reached:
            section.losses.append(f"pv at N=M={n}: a run did not reach the asked σ = {precision} "
                                  f"(classical {classical['achieved σ']}, quantum {quantum['achieved σ']}).")
        section.note(f"N=M={n}: putting P·V on circuits costs {ratio['circuits']:.2f}× the circuits, "
                     f"{ratio['shots']:.2f}× the shots and {ratio['2q gate applications']:.2f}× the two-qubit gate "
                     "applications of classical P·V at the same requested precision.")
    columns = list(rows[0]) if rows else []
    section.table(f"pv: quantum vs classical, ibm_fez, ideal, run(precision={precision}) (counts; 'run s' is this "
                  "machine's wall time)", columns, rows)
    section.data["rows"] = rows
    return section
