"""4. Accuracy: the attention output's error against shots (ideal Aer) next to each
estimator's shot-noise bound, and under device noise (ibm_brisbane, ibm_fez snapshots)
with and without mitigation when this build's ``run`` offers it.

The bound for the interference estimator is analytic: one ±1 outcome per shot with mean c
and variance 1 − c², so σ = sqrt((1 − c²)/S) per inner product. For other estimators the
bound is the estimator's own reported standard error (the decoder's shot-noise estimate).
The output's predicted error is the delta-method error bar qac reports.
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from bench.common import Section, attention_inputs, pick, save_figure


def combos(mode: str) -> list[tuple[str, str]]:
    """The default kernel first, then every other estimator on the default encoding and every
    other encoding with the default estimator (full profile only; the choices are read now,
    so estimators added later are measured without changing this file)."""
    from qac.kernels import choices

    default = ("binary", "interference")
    if mode != "full":
        return [default]
    others = [(default[0], est) for est in choices.ESTIMATORS] + [(enc, default[1]) for enc in choices.ENCODINGS]
    return [default] + [c for c in dict.fromkeys(others) if c != default]


def exact_inner(compiled) -> dict:
    out = {}
    for k in compiled.kernels:
        c = np.sum(k.lhs_units[k.pairs[:, 0]] * k.rhs_units[k.pairs[:, 1]], axis=1)
        out[k.name] = c
    return out


def inner_errors(compiled, result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    exact = exact_inner(compiled)
    est, sem, ref = [], [], []
    for name, c in exact.items():
        mean, err = result.inner_products[name]
        est.append(mean)
        sem.append(err)
        ref.append(c)
    return np.concatenate(est), np.concatenate(sem), np.concatenate(ref)


def rms(x) -> float:
    x = np.asarray(x, float)
    return float(np.sqrt(np.mean(x**2))) if x.size else float("nan")


def ideal(section: Section, mode: str) -> None:
    import qac
    from qac.errors import QacError

    n, d = pick(mode, full=(16, 8), quick=(8, 8), tiny=(2, 4))
    shots_list = pick(mode, full=[256, 1024, 4096, 16384], quick=[256, 4096], tiny=[64, 256])
    seeds = pick(mode, full=[1, 2, 3], quick=[1, 2], tiny=[1])
    # the non-default kernels get a lighter profile and a time budget, so new estimators cannot
    # push the suite past its 15 minutes
    other_n, other_shots, other_seeds = 8, [1024, 4096], [1]
    budget, start = pick(mode, full=240.0, quick=60.0, tiny=30.0), time.perf_counter()
    rows, skipped = [], []
    for index, (encoding, estimator) in enumerate(combos(mode)):
        if index and time.perf_counter() - start > budget:
            skipped.append(f"{encoding} × {estimator}")
            continue
        size = n if index == 0 else min(n, other_n)
        spec = {**attention_inputs(size, size, d, seed=3), "compile": {"encoding": encoding, "estimator": estimator}}
        try:
            compiled = qac.compile(spec, "aer", seed=7)
        except QacError as exc:
            section.note(f"accuracy: {encoding} × {estimator} does not compile here: {exc}")
            continue
        try:
            rows += ideal_rows(compiled, encoding, estimator, size, d, *((shots_list, seeds) if index == 0
                                                                          else (other_shots, other_seeds)))
        except Exception as exc:  # a new estimator's failure must not hide the others' rows
            section.note(f"accuracy: {encoding} × {estimator} failed to run: {type(exc).__name__}: {exc}")
            section.losses.append(f"{encoding} × {estimator} compiles but failed to run in this build.")
    if skipped:
        section.note(f"accuracy: time budget of {budget:.0f} s spent; not measured this run: {', '.join(skipped)}")
    section.data["ideal"] = rows
    section.table("Ideal Aer: inner-product and output error against shots (RMS over all pairs/entries and runs)",
                  ["encoding", "estimator", "N=M", "d", "shots", "runs", "inner RMS err", "shot-noise bound",
                   "bound kind", "err / bound", "output RMS err", "output predicted (RMS stderr)", "2σ coverage"],
                  rows)
    section.note("'2σ coverage' of a row with one run is that run's share of entries: they share its Q and K, so "
                 "it is too few to judge the error bars by (no loss is claimed from it); section 9 pools 30 seeds.")
    for r in rows:
        if r["err / bound"] > 1.25:
            section.losses.append(f"ideal {r['encoding']}×{r['estimator']} at {r['shots']} shots: inner-product "
                                  f"error is {r['err / bound']:.2f}× the shot-noise bound.")
        if r["2σ coverage"] < 0.9 and r["runs"] >= 3:  # one run's entries share its Q, K: too few to judge
            section.losses.append(f"ideal {r['encoding']}×{r['estimator']} at {r['shots']} shots: the reported 2σ "
                                  f"error bars cover only {r['2σ coverage']:.0%} of output entries.")


def ideal_rows(compiled, encoding, estimator, n, d, shots_list, seeds) -> list[dict]:
    rows = []
    for shots in shots_list:
        errs, sems, refs, out_err, out_sem, cover = [], [], [], [], [], []
        for seed in seeds:
            result = compiled.run(shots=shots, seed=seed)
            est, sem, ref = inner_errors(compiled, result)
            errs.append(est - ref)
            sems.append(sem)
            refs.append(ref)
            out_err.append(result.error.ravel())
            out_sem.append(result.stderr.ravel())
            cover.append(result.coverage(2.0))
        refs = np.concatenate(refs)
        analytic = estimator == "interference"
        bound = rms(np.sqrt((1 - refs**2) / shots)) if analytic else rms(np.concatenate(sems))
        measured = rms(np.concatenate(errs))
        rows.append({"encoding": encoding, "estimator": estimator, "N=M": n, "d": d, "shots": shots,
                     "runs": len(seeds), "inner RMS err": measured, "shot-noise bound": bound,
                     "bound kind": "sqrt((1−c²)/S)" if analytic else "reported stderr",
                     "err / bound": measured / bound, "output RMS err": rms(np.concatenate(out_err)),
                     "output predicted (RMS stderr)": rms(np.concatenate(out_sem)),
                     "2σ coverage": float(np.mean(cover))})
    return rows


def mitigation_mode(compiled) -> bool:
    return "mitigation" in inspect.signature(compiled.run).parameters


def noisy(section: Section, mode: str) -> None:
    import qac
    from qac.errors import QacError

    devices = pick(mode, full=["ibm_brisbane", "ibm_fez"], quick=["ibm_brisbane"])
    n, d, shots = pick(mode, full=(8, 8, 4096), quick=(4, 8, 2048))
    rows, unavailable = [], None
    for target in devices:
        compiled = qac.compile(attention_inputs(n, n, d, seed=3), target, seed=7)
        (res,) = compiled.resources()[:1]
        for mitigation in (False, True):
            kwargs = {"shots": shots, "noise": True, "seed": 1}
            if mitigation_mode(compiled):
                kwargs["mitigation"] = mitigation
            elif mitigation:
                unavailable = "run() has no `mitigation` argument in this build"
                continue
            try:
                result = compiled.run(**kwargs)
            except (QacError, TypeError) as exc:
                if mitigation:
                    unavailable = str(exc).splitlines()[0]
                    continue
                raise
            est, sem, ref = inner_errors(compiled, result)
            bound = rms(np.sqrt((1 - ref**2) / shots))
            shrink = float(np.dot(est, ref) / np.dot(ref, ref))
            rows.append({"target": target, "mitigation": mitigation, "N=M": n, "d": d, "shots": shots,
                         "routed 2q": res["two_qubit_gates"], "depth": res["depth"],
                         "inner RMS err": rms(est - ref), "shot-noise bound": bound,
                         "err / bound": rms(est - ref) / bound, "signal kept (fit est ≈ λ·c)": shrink,
                         "output RMS err": rms(result.error), "output predicted (RMS stderr)": rms(result.stderr),
                         "2σ coverage": result.coverage(2.0)})
    section.data["noisy"] = rows
    section.data["mitigation"] = "available" if unavailable is None else f"not available in this build ({unavailable})"
    section.table(f"Device noise (the snapshots' Aer noise models, {shots} shots, one run each)",
                  ["target", "mitigation", "N=M", "d", "shots", "routed 2q", "depth", "inner RMS err",
                   "shot-noise bound", "err / bound", "signal kept (fit est ≈ λ·c)", "output RMS err",
                   "output predicted (RMS stderr)", "2σ coverage"], rows)
    if any(r["mitigation"] for r in rows):
        section.note("Mitigated rows use this build's `run(noise=True, mitigation=True)`; any calibration shots it "
                     "spends are on top of the shots per circuit shown.")
    if unavailable is not None:
        section.note(f"Mitigation: not available in this build — `{unavailable}`. Only unmitigated noisy runs "
                     "are reported; rerun `python -m bench` once it lands.")
    for r in rows:
        if r["err / bound"] > 1.5:
            section.losses.append(
                f"{r['target']} noise, mitigation {'on' if r['mitigation'] else 'off'}: inner-product error is "
                f"{r['err / bound']:.1f}× the shot-noise bound (signal kept λ = {r['signal kept (fit est ≈ λ·c)']:.2f}); "
                + (f"qac's reported error bars count shot noise only (2σ coverage of output entries "
                 f"{r['2σ coverage']:.0%})." if not r["mitigation"] else
                 f"2σ coverage of output entries {r['2σ coverage']:.0%}."))


def run(mode: str = "full") -> Section:
    section = Section("accuracy", "4. Accuracy against shots and device noise")
    ideal(section, mode)
    if mode == "tiny":
        section.data["noisy"] = []
        section.note("noisy runs skipped in the tiny smoke profile")
    else:
        noisy(section, mode)
    return section


def plot(section: Section, img_dir) -> list[str]:
    rows = section.data.get("ideal") or []
    if not rows:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for idx, key in enumerate(dict.fromkeys((r["encoding"], r["estimator"]) for r in rows)):
        sub = [r for r in rows if (r["encoding"], r["estimator"]) == key]
        s = [r["shots"] for r in sub]
        c = f"C{idx}"
        label = f"{key[0]}×{key[1]}"
        if idx == 0:
            ax.loglog(s, [r["inner RMS err"] for r in sub], "o-", color=c, label=f"{label}: inner-product RMS error")
            ax.loglog(s, [r["shot-noise bound"] for r in sub], ":", color=c, label=f"{label}: shot-noise bound")
            ax.loglog(s, [r["output RMS err"] for r in sub], "s-", color=c, alpha=0.6,
                      label=f"{label}: output RMS error")
            ax.loglog(s, [r["output predicted (RMS stderr)"] for r in sub], "--", color=c, alpha=0.6,
                      label=f"{label}: output predicted (delta method)")
        else:
            ax.loglog(s, [r["inner RMS err"] for r in sub], ".-", color=c, alpha=0.7, lw=0.8,
                      label=f"{label} (N=M={sub[0]['N=M']}): inner-product RMS error")
    markers = iter("xD^v<>P*")
    for r in section.data.get("noisy") or []:
        ax.loglog([r["shots"]], [r["inner RMS err"]], next(markers, "x"), color="grey" if not r["mitigation"] else "k",
                  ls="none", label=f"{r['target']} noise, mitigation {'on' if r['mitigation'] else 'off'}: "
                                   "inner-product RMS error")
    ax.set_xlabel("shots per circuit")
    ax.set_ylabel("RMS error")
    ax.set_title("Accuracy vs shots (Aer ideal) and under device noise")
    ax.legend(fontsize=6.5)
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, img_dir, "accuracy.png")
