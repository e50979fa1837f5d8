"""The report's ``qac eval`` section (eval.json is checked in ``load.py``): the metric against shots per target with
its 95% CIs, and the per-setting table with the hardware cost (schema: docs/report.md)."""

from __future__ import annotations


def label(s: dict) -> str:
    return s["target"] + (" noisy" if s["noise"] else "") + (" mitigated" if s.get("mitigation") else "") + (
        "" if s["layers"] == "all" and s["heads"] == "all" else f" L{s['layers']} H{s['heads']}")


def metric_plot(data: dict) -> str:
    """The metric against shots per (target, noise, layers, heads) with 95% CI bars; classical dashed."""
    from qac.report.figures import figure, png_uri

    fig = figure(6.4, 3.2)
    ax = fig.subplots()
    series: dict[str, list] = {}
    for s in data["settings"]:
        if not s["exact"]:
            series.setdefault(label(s), []).append(s)
    classical = data["classical"][data["metric"]]
    for name, rows in sorted(series.items()):
        rows = sorted(rows, key=lambda s: s["shots"])
        x = [s["shots"] for s in rows]
        y = [s["metric"] for s in rows]
        low = [s["metric"] - (classical + s["ci_low"]) for s in rows]
        high = [(classical + s["ci_high"]) - s["metric"] for s in rows]
        ax.errorbar(x, y, yerr=[[max(v, 0.0) for v in low], [max(v, 0.0) for v in high]], marker="o", capsize=4,
                    label=name)
    ax.axhline(classical, color="black", ls="--", lw=1, label=f"classical: {classical:.4f}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("shots per (query, key) pair")
    ax.set_ylabel(data["metric"])
    ax.legend(frameon=False, fontsize=8)
    return png_uri(fig)


def context(data: dict, fmt) -> dict:
    """The section's strings; ``fmt``: the page's number format (qac.report.page.fmt)."""
    rows = []
    for s in data["settings"]:
        c = s["cost"]
        rows.append({"setting": label(s), "shots": "exact" if s["exact"] else fmt(s["shots"]),
                     "metric": fmt(s["metric"]), "delta": fmt(s["delta"], "+.4g"),
                     "ci": f"[{fmt(s['ci_low'], '+.4g')}, {fmt(s['ci_high'], '+.4g')}]",
                     "cosine_mean": fmt(s["cosine_mean"], ".6f"), "cosine_worst": fmt(s["cosine_worst"], ".6f"),
                     "coverage": fmt(s["coverage"]), "circuits": fmt(c["circuits"]), "shots_used": fmt(c["shots"]),
                     "two_qubit_gates": fmt(c["two_qubit_gates"]), "device_seconds": fmt(c["device_seconds"]),
                     "wall_seconds": fmt(s["wall_seconds"], ".1f")})
    has_curve = any(not s["exact"] for s in data["settings"])
    return {"task": data["task"], "metric": data["metric"], "model": data["model"],
            "classical": fmt(data["classical"][data["metric"]]), "data": data.get("data", ""),
            "examples": data.get("examples", {}), "image": metric_plot(data) if has_curve else None, "rows": rows,
            "assumed": data.get("device_time_assumptions", "")}
