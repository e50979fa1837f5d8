"""Assemble the report's sections from a ``Bundle`` and render them with the jinja2 template
beside this module (``templates/report.html.j2``, its stylesheet inlined)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qac.report import figures
from qac.report.load import Bundle

TEMPLATES = Path(__file__).parent / "templates"
K_ROWS = (1.0, 2.0, 3.0)


def fmt(value, spec: str = ".4g") -> str:
    """Numbers as the tables show them (tests parse these back); None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return format(float(value), spec)


def physical_qubits(bundle: Bundle, row: dict) -> str:
    """A kernel's physical qubits; for a packed template every copy's, copies split by " | "."""
    info = bundle.manifest.get("placement", {}).get(row["template"])
    if info is None:
        return ", ".join(map(str, row.get("physical_qubits", [])))
    return " | ".join(", ".join(map(str, region["physical_qubits"])) for region in info["regions"])


def kernel_rows(bundle: Bundle) -> list[dict]:
    templates = {t["name"]: t for t in bundle.manifest["templates"]}
    rows = bundle.run["kernels"] if bundle.run else bundle.manifest["kernels"]
    planned = bundle.manifest["spec"].get("shots")
    out = []
    for row in rows:
        template = templates.get(row["template"], {})
        per_pair = row.get("shots_per_pair", planned) if bundle.run else planned
        shots = row.get("shots") if bundle.run else (None if planned is None else planned * row["pairs"])
        out.append({"kernel": row["kernel"], "head": fmt(row["head"]), "template": row["template"],
                    "encoding": row.get("encoding", template.get("encoding")),
                    "estimator": row.get("estimator", template.get("estimator")),
                    "qubits": fmt(row["qubits"]), "two_qubit_gates": fmt(row["two_qubit_gates"]),
                    "depth": fmt(row["depth"]), "esp": fmt(row.get("esp")), "pairs": fmt(row["pairs"]),
                    "circuits": fmt(row["circuits"]), "shots_per_pair": fmt(per_pair), "shots": fmt(shots),
                    "physical_qubits": physical_qubits(bundle, row)})
    return out


def head_sections(bundle: Bundle) -> list[dict]:
    a = bundle.arrays
    exact, estimated, visible = a["exact_weights"], a["weights"], a["visible"].astype(bool)
    vmax = float(max(np.max(exact, initial=0.0), np.max(estimated, initial=0.0))) or 1.0
    diff = np.where(visible, estimated - exact, 0.0)
    dmax = float(np.max(np.abs(diff), initial=0.0)) or 1e-12
    out = []
    for h in range(exact.shape[0]):
        d = diff[h][visible[h]]
        out.append({"head": h, "image": figures.attention_heatmaps(exact[h], estimated[h], visible[h], vmax=vmax,
                                                                    dmax=dmax, head=h),
                    "max_diff": fmt(float(np.max(np.abs(d), initial=0.0))),
                    "rms_diff": fmt(float(np.sqrt(np.mean(d**2))) if d.size else 0.0)})
    return out, fmt(vmax), fmt(dmax)


def error_series(bundle: Bundle) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    a = bundle.arrays
    if bundle.mitigated:
        return [("mitigated", a["output"] - a["exact"], a["stderr"], figures.MITIGATED),
                ("raw (same job, unmitigated)", a["raw_output"] - a["exact"], a["raw_stderr"], figures.RAW)]
    return [("estimate", a["output"] - a["exact"], a["stderr"], figures.IDEAL)]


def calibration_section(bundle: Bundle) -> dict:
    series = error_series(bundle)
    k = np.array(K_ROWS)
    nominal = figures.normal_coverage(k)
    rows = []
    for i, x in enumerate(K_ROWS):
        rows.append({"k": fmt(x, "g"), "normal": fmt(nominal[i]),
                     "shares": [fmt(figures.coverage_curve(err, sd, np.array([x]))[0]) for _, err, sd, _ in series]})
    return {"image": figures.calibration_plot(series), "labels": [s[0].split(" (")[0] for s in series], "rows": rows}


def estimate_section(bundle: Bundle) -> dict:
    a = bundle.arrays
    plotted = [(label.split(" (")[0], err + a["exact"], sd, colour) for label, err, sd, colour in error_series(bundle)]
    errors = bundle.run["errors"]
    keys = ["output"] + (["raw_output"] if "raw_output" in errors else [])
    labels = {"max_error": "max |estimate − exact|", "rms_error": "RMS error", "max_stderr": "max reported σ",
              "within_1_sigma": "share within 1σ", "within_2_sigma": "share within 2σ",
              "within_3_sigma": "share within 3σ"}
    rows = [{"quantity": text, "key": key, "values": [fmt(errors[k].get(key)) for k in keys]}
            for key, text in labels.items()]
    return {"image": figures.estimate_plot(a["exact"], plotted), "rows": rows,
            "labels": ["mitigated" if bundle.mitigated else "estimate"] + (["raw"] if len(keys) == 2 else [])}


def device_section(bundle: Bundle, target_override: str | None) -> dict:
    """The coupling map: from run.json, else the target registry (a user file: ``--target``)."""
    from qac.report import device

    target = (bundle.run or {}).get("target") or bundle.manifest["target"]
    name = target_override or target["name"]
    note = None
    if bundle.run and not target_override:
        edges, layout_edges = target.get("coupling_edges"), target.get("device_edges")
        num_qubits = target.get("num_qubits")
    else:
        from qac import targets
        from qac.artefacts.rundir import device_edges
        from qac.errors import QacError

        try:
            description = targets.get(name)
        except QacError:
            return {"image": None, "note": f"The coupling map of target '{name}' is not available here (not a known "
                                           f"target name); pass the device file with `qac report DIR --target FILE`."}
        edges = None if description.coupling_edges is None else [list(e) for e in description.coupling_edges]
        layout_edges, num_qubits = device_edges(description), description.num_qubits
    if edges is None:
        return {"image": None, "note": f"Target '{name}' is all-to-all (no coupling map): every pair of qubits "
                                       f"couples, so layout only numbers the qubits."}
    placement = bundle.manifest.get("placement", {})
    regions = []
    for t in bundle.manifest["templates"]:
        if any(p.get("packed_template") == t["name"] for p in placement.values()):
            continue  # drawn copy by copy under its unpacked template
        if t["name"] in placement:
            for region in placement[t["name"]]["regions"]:
                regions.append((f"{t['name']} copy {region['copy']}", region["physical_qubits"]))
        else:
            regions.append((t["name"], t["physical_qubits"]))
    if len(regions) > len(figures.KERNEL_COLOURS):
        note = f"{len(regions)} regions: colours repeat after {len(figures.KERNEL_COLOURS)}."
    return {"image": device.coupling_map(num_qubits, edges, regions, layout_edges=layout_edges), "note": note,
            "edges": len(device.undirected(edges)), "num_qubits": num_qubits}


def summary_rows(bundle: Bundle) -> list[tuple[str, str]]:
    m, r = bundle.manifest, bundle.run
    spec = m["spec"]
    rows = [("directory kind", bundle.kind), ("spec", f"{spec['name']} (digest {spec['digest'][:16]}…)"),
            ("shape", f"N = {spec['N']} queries, M = {spec['M']} keys, d = {spec['d']}, dv = {spec['dv']}, "
                      f"{spec['heads']} head{'s' if spec['heads'] != 1 else ''}, mask {spec['mask']}, "
                      f"scale {fmt(spec['scale'])}"),
            ("target", f"{m['target']['name']} ({m['target']['kind']}, {m['target']['num_qubits']} qubits"
                       + (f", snapshot {m['target']['snapshot_date']}" if m['target'].get('snapshot_date') else "")
                       + ")"),
            ("seed", fmt(r["seed"] if r else m["seed"]))]
    if r:
        rows += [("engine", r["engine"]), ("noise", fmt(r["noise"])), ("mitigation", fmt(r["mitigation"])),
                 ("shots per pair", fmt(r["shots"]) + (" (largest; from --precision)" if r.get("precision") else "")),
                 ("shots used", f"{fmt(r.get('shots_used'))} in {fmt(r.get('circuits_run'))} circuits "
                                f"(calibration and readout included)"),
                 ("max |output − exact|", fmt(r["errors"]["output"]["max_error"])),
                 ("output entries within 2σ", fmt(r["errors"]["output"]["within_2_sigma"]))]
    rows.append(("qac version", (r or {}).get("qac_version") or m["versions"].get("qac", "—")))
    return rows


def mitigation_rows(bundle: Bundle) -> list[dict]:
    fits = (bundle.run or {}).get("mitigation_fits") or {}
    return [{"where": where, "attenuation": fmt(f.get("attenuation")), "attenuation_stderr": fmt(f.get("attenuation_stderr")),
             "offset": fmt(f.get("offset")), "offset_stderr": fmt(f.get("offset_stderr")),
             "readout": ", ".join(f"({fmt(a, '.3g')}, {fmt(b, '.3g')})" for a, b in f.get("readout_flip_rates", [])),
             "symmetrised": fmt(bool(f.get("sign_symmetrised")))} for where, f in sorted(fits.items())]


def timing_rows(timings: dict, pipeline: str) -> list[tuple[str, str]]:
    """Seconds in the order things ran (frontend, ``choose`` when ``auto`` ran, the passes as in
    the recorded pipeline with the ``resources`` analysis after the first pass that writes L4,
    the run), then a total."""
    import re

    passes = re.findall(r"(?:^|,)\s*([a-z_]+)", re.sub(r"\{[^}]*\}", "", pipeline))
    ran = ["frontend", "choose"]
    for name in passes:
        ran += [name, "resources"] if name in ("layout", "pack") and "resources" not in ran else [name]
    order = {name: i for i, name in enumerate([*ran, "run"])}
    names = sorted(timings, key=lambda name: (order.get(name, len(order)), name))
    rows = [(name, fmt(timings[name], ".3f")) for name in names if isinstance(timings[name], (int, float))]
    total = sum(v for v in timings.values() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return rows + [("total", fmt(total, ".3f"))] if rows else rows


def context(bundle: Bundle, *, target: str | None = None) -> dict:
    """Everything the template shows, as strings and data URIs."""
    from qac.report.drawings import drawings

    m = bundle.manifest
    title = m["spec"]["name"] if m else (bundle.model or {}).get("model") or (bundle.eval or {}).get("task", "model run")
    ctx = {"title": title, "kind": bundle.kind, "model": None, "heads": None, "evaluation": None}
    if bundle.eval is not None:
        from qac.report.evaluation import context as eval_context

        ctx["evaluation"] = eval_context(bundle.eval, fmt)
    if m is not None:
        ctx.update(summary=summary_rows(bundle), kernels=kernel_rows(bundle), device=device_section(bundle, target),
                   circuits=drawings(bundle), pipeline=m["pipeline"], versions=sorted(m["versions"].items()),
                   timings=timing_rows(bundle.timings, m["pipeline"]),
                   target_name=m["target"]["name"])
    if bundle.run is not None:
        heads, vmax, dmax = head_sections(bundle)
        ctx.update(heads=heads, vmax=vmax, dmax=dmax, calibration=calibration_section(bundle),
                   estimate=estimate_section(bundle), mitigation=mitigation_rows(bundle), run=bundle.run,
                   precision=bundle.run.get("precision"))
    if bundle.model is not None:
        layers = sorted(bundle.model["layers"], key=lambda row: row["layer"])
        ctx["model"] = {"name": bundle.model["model"], "image": figures.layer_plot(layers),
                        "rows": [{"layer": fmt(r["layer"]), "name": r.get("name", ""),
                                  "max_error": fmt(r["max_error"]), "rms_error": fmt(r["rms_error"]),
                                  "within_2_sigma": fmt(r["within_2_sigma"]), "shots": fmt(r.get("shots")),
                                  "circuits": fmt(r.get("circuits"))} for r in layers]}
    return ctx


def render(bundle: Bundle, *, target: str | None = None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return env.get_template("report.html.j2").render(css=css, **context(bundle, target=target))
