"""Shared machinery: environment, timers, deterministic inputs, tables, machine facts."""

from __future__ import annotations

import os

# Aer's OpenMP threads spin while they wait by default; on a shared, loaded 2-core machine
# that made identical Aer runs vary 10x from one call to the next. Both qac and its peers
# sample on Aer, so the suite sets a passive wait policy for the whole run (before any
# import of Aer) unless the caller chose one. The report states it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

PACKAGES = ("qac", "qiskit", "qiskit-aer", "qiskit-ibm-runtime", "qiskit-machine-learning", "numpy", "scipy",
            "matplotlib", "scikit-learn", "pennylane", "dask", "distributed", "torch", "transformers")


@dataclass
class Section:
    """What one benchmark section hands to the report."""

    key: str
    title: str
    tables: list[tuple[str, list[str], list[dict]]] = field(default_factory=list)  # (caption, columns, rows)
    notes: list[str] = field(default_factory=list)  # plain statements for the report
    losses: list[str] = field(default_factory=list)  # "where qac loses", computed from the data
    targets: list[tuple[str, bool | None, str]] = field(default_factory=list)  # (goal, met?, measured)
    figures: list[str] = field(default_factory=list)  # file names under docs/img
    data: dict[str, Any] = field(default_factory=dict)  # raw figures, for plots and tests
    seconds: float = 0.0

    def table(self, caption: str, columns: list[str], rows: list[dict]) -> None:
        self.tables.append((caption, columns, rows))
        print(f"\n{caption}\n{markdown_table(columns, rows)}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v != v:
            return "—"
        if v == 0:
            return "0"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        if abs(v) >= 0.01:
            return f"{v:.3f}"
        return f"{v:.2e}"
    return str(value)


def markdown_table(columns: list[str], rows: list[dict]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(fmt(row.get(c))) for c in columns) + " |")
    return "\n".join(lines)


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """(min seconds, median seconds, last result) over ``repeats`` calls."""
    times, result = [], None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def attention_inputs(n: int, m: int, d: int, dv: int = 4, seed: int = 0) -> dict:
    """A deterministic attention spec mapping (Q, K, V from a fixed seed)."""
    rng = np.random.default_rng(seed)
    return {"name": f"bench_n{n}_m{m}_d{d}", "seed": 7,
            "Q": rng.standard_normal((n, d)).tolist(), "K": rng.standard_normal((m, d)).tolist(),
            "V": rng.standard_normal((m, dv)).tolist()}


def units(rows) -> np.ndarray:
    a = np.asarray(rows, dtype=float)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            memory = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": model or "unknown", "cpus": os.cpu_count(), "memory": memory,
            "python": platform.python_version(), "platform": platform.platform(), "load": load,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}


def python_subprocess(code: str, timeout: float = 600) -> subprocess.CompletedProcess:
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)  # so `import bench` works from any directory
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": path})


def loglog_slope(x, y) -> float:
    """Exponent b of y ≈ a·x^b (least squares on logs)."""
    return linear_slope(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)))


def linear_slope(x, y) -> float:
    """Least-squares slope of y against x."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    dx = x - x.mean()
    return float(np.dot(dx, y - y.mean()) / np.dot(dx, dx))


def save_figure(fig, img_dir, name: str) -> list[str]:
    """Write ``img_dir/name`` (the report's plot list entry) and free the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(img_dir / name, dpi=110)
    plt.close(fig)
    return [name]


def pick(mode: str, *, full, quick, tiny=None):
    """The setting for a profile: ``full`` (python -m bench), ``quick`` (--quick) or ``tiny`` (tests)."""
    return {"full": full, "quick": quick, "tiny": quick if tiny is None else tiny}[mode]
