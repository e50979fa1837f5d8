"""5. End to end: wall time of ``qac run examples/attention.yaml`` and of a cold
``qac compile -o``, and CLI start-up (``qac --help`` must not import Qiskit).

These are plain measurements of this machine (labelled so); start-up is also given as a
ratio to a bare ``python -c pass`` measured in the same run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Section, pick, python_subprocess

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "attention.yaml"

IMPORT_CHECK = """
import sys
from qac.cli.main import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("qiskit", "qiskit_aer", "qiskit_ibm_runtime", "numpy", "scipy"))
print("HEAVY:" + ",".join(heavy))
"""


def qac_command() -> list[str]:
    """The installed console script (not a pyenv shim), else ``python -m qac.cli``."""
    script = Path(sys.executable).parent / "qac"
    if script.exists():
        return [str(script)]
    found = shutil.which("qac")
    return [found] if found else [sys.executable, "-m", "qac.cli"]


def wall(argv: list[str], repeats: int, cwd: Path | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    times, done = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=600)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[0], times[len(times) // 2], done


def run(mode: str = "full") -> Section:
    section = Section("endtoend", "5. End to end and CLI start-up")
    repeats = pick(mode, full=5, quick=3, tiny=1)
    heavy_repeats = pick(mode, full=3, quick=1, tiny=0)
    qac = qac_command()
    rows = []
    base, base_med, _ = wall([sys.executable, "-c", "pass"], repeats)
    rows.append({"command": "python -c pass (baseline)", "s (best)": base, "s (median)": base_med, "× baseline": 1.0,
                 "exit": 0})
    helped, helped_med, done = wall(qac + ["--help"], repeats)
    rows.append({"command": "qac --help", "s (best)": helped, "s (median)": helped_med, "× baseline": helped / base,
                 "exit": done.returncode})
    check = python_subprocess(IMPORT_CHECK)
    line = next((ln for ln in check.stdout.splitlines() if ln.startswith("HEAVY:")), None)
    heavy = [m for m in (line[6:].split(",") if line else []) if m]
    qiskit_loaded = sorted({m.split(".")[0] for m in heavy if m.startswith("qiskit")})
    section.data["help_imports"] = heavy
    section.data["help_qiskit_free"] = line is not None and not qiskit_loaded
    section.targets.append(("`qac --help` does not import Qiskit", section.data["help_qiskit_free"],
                            "imports none of qiskit, qiskit_aer, qiskit_ibm_runtime" if section.data["help_qiskit_free"]
                            else f"imports {', '.join(qiskit_loaded) or 'unknown (check failed)'}"))
    if heavy and not qiskit_loaded:
        section.note(f"`qac --help` imports no Qiskit; it does import {', '.join(sorted({m.split('.')[0] for m in heavy}))}.")
    if heavy_repeats:
        ran, ran_med, done = wall(qac + ["run", str(EXAMPLE)], heavy_repeats, cwd=ROOT)
        rows.append({"command": "qac run examples/attention.yaml", "s (best)": ran, "s (median)": ran_med,
                     "× baseline": ran / base, "exit": done.returncode})
        if done.returncode != 0:
            section.note(f"`qac run` exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
        with tempfile.TemporaryDirectory() as tmp:
            times = []
            for k in range(heavy_repeats):
                start = time.perf_counter()
                done = subprocess.run(qac + ["compile", str(EXAMPLE), "--target", "ibm_brisbane", "-o",
                                             str(Path(tmp) / f"out{k}")], capture_output=True, text=True, timeout=600)
                times.append(time.perf_counter() - start)
            times.sort()
            rows.append({"command": "qac compile examples/attention.yaml --target ibm_brisbane -o DIR",
                         "s (best)": times[0], "s (median)": times[len(times) // 2], "× baseline": times[0] / base,
                         "exit": done.returncode})
    section.data["rows"] = rows
    section.table("Wall time of fresh processes (this machine's seconds; × baseline = / `python -c pass` in this run)",
                  ["command", "s (best)", "s (median)", "× baseline", "exit"], rows)
    return section
