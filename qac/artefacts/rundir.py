"""The run directory ``qac run SPEC -o DIR`` writes: the build, the result and the run manifest.

A run directory is a build directory (``qac compile -o``: QASM, QPY, bindings, manifest.json)
plus what the run produced, so ``qac report DIR`` can draw everything from files alone:

- ``result.npz``: output, stderr, exact, scores, scores_stderr, exact_scores, the attention
  weights (estimated and exact, ``weights`` / ``exact_weights``, shape (heads, N, M)), the
  ``visible`` mask and, for a mitigated run, the same job decoded without mitigation (``raw_*``);
- ``run.json``: the run manifest (target, shots, seed, noise, mitigation, engine, versions,
  pipeline, spec digest, per-kernel resources, the mitigation fits, summary errors);
- ``timings.json``: the compile passes' and the run's wall-clock seconds (the only file that
  differs between two runs with the same seed).

``-o DIR`` naming a directory that already holds the same build (``qac compile -o DIR``, then
``qac run DIR -o DIR`` or ``qac run SPEC -o DIR``) adds the three run files beside it.

Every file but timings.json is byte-identical for the same spec, target, options and seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RUN_FORMAT = 1
def engine_label(result) -> str:
    """Which engine ran: its name, and for ``auto`` the engines it picked (``auto (batched)``)."""
    used = result.engine_metadata.get("engines") if result.engine == "auto" else None
    return f"auto ({', '.join(used)})" if used else result.engine


def exact_scores(spec) -> np.ndarray:
    """Scaled scores Q·Kᵀ·scale per head from the spec, −inf where masked: (heads, N, M)."""
    from qac.kernels.attention import causal_visible

    d = spec.Q.shape[1] // spec.heads
    out = []
    for h in range(spec.heads):
        scores = spec.Q[:, h * d:(h + 1) * d] @ spec.K[:, h * d:(h + 1) * d].T * spec.scale_value
        if spec.mask == "causal":
            scores = np.where(causal_visible(*scores.shape), scores, -np.inf)
        out.append(scores)
    return np.stack(out)


def attention_weights(scores: np.ndarray) -> np.ndarray:
    """softmax over keys of (heads, N, M) scores (−inf entries get weight 0)."""
    from qac.kernels.attention import softmax_rows

    return np.stack([softmax_rows(s) for s in scores]) if len(scores) else scores


def run_arrays(compiled, result) -> dict[str, np.ndarray]:
    """Every array result.npz holds (see the module docstring)."""
    exact = exact_scores(compiled.spec)
    arrays = {"output": result.output, "stderr": result.stderr, "exact": result.exact,
              "scores": result.scores, "scores_stderr": result.scores_stderr,
              "weights": attention_weights(result.scores), "exact_scores": exact,
              "exact_weights": attention_weights(exact), "visible": np.isfinite(exact)}
    if result.mitigated:
        arrays.update(raw_output=result.raw_output, raw_stderr=result.raw_stderr, raw_scores=result.raw_scores,
                      raw_scores_stderr=result.raw_scores_stderr, raw_weights=attention_weights(result.raw_scores))
    return arrays


def error_summary(error: np.ndarray, stderr: np.ndarray) -> dict:
    """Max |error|, max σ, RMS error and the share of entries within 1, 2, 3 σ."""
    if not error.size:
        return {"max_error": 0.0, "max_stderr": 0.0, "rms_error": 0.0, "within_1_sigma": 1.0,
                "within_2_sigma": 1.0, "within_3_sigma": 1.0}
    out = {"max_error": float(np.max(np.abs(error))), "max_stderr": float(np.max(stderr)),
           "rms_error": float(np.sqrt(np.mean(error**2)))}
    for k in (1, 2, 3):
        out[f"within_{k}_sigma"] = float(np.mean(np.abs(error) <= k * stderr + 1e-12))
    return out


def device_edges(description) -> list[list[int]] | None:
    """Every coupler of the device, working or not (None: all-to-all), to lay its picture out:
    an IBM snapshot's fake backend has them all; the description keeps only the working ones."""
    if description.coupling_edges is None:
        return None
    if description.kind == "ibm_snapshot":  # cached: compiling loaded the same backend
        edges = description.backend().coupling_map.get_edges()
    else:
        edges = [*description.coupling_edges, *description.dead_couplers]
    return sorted({(min(a, b), max(a, b)) for a, b in edges if a != b})


def run_manifest(compiled, result, *, seed: int, mitigation: bool) -> dict:
    """The run manifest: what ran, how, and how well (JSON-able, no wall-clock times)."""
    from qac import __version__
    from qac.artefacts.emit import package_versions

    build = compiled.manifest()
    templates = {t["name"]: t for t in build["templates"]}
    kernels = []
    for row in compiled.resources():
        template = templates[row["template"]]
        # a precision run spreads shots unevenly over pairs; Result keeps only the total (precision.pair_shots)
        per_pair = None if result.precision or result.shots is None else int(result.shots)
        kernels.append({**row, "encoding": template["encoding"], "estimator": template["estimator"],
                        "shots_per_pair": per_pair, "shots": None if per_pair is None else per_pair * row["pairs"]})
    target = compiled.target
    manifest = {
        "format": RUN_FORMAT,
        "kind": "run",
        "qac_version": __version__,
        "versions": package_versions(),
        "engine": engine_label(result),
        "engine_path": getattr(result, "engine_path", ""),
        "spec": build["spec"],
        "target": {**build["target"], "two_qubit_gate": target.two_qubit_gate,
                   "coupling_edges": None if target.coupling_edges is None else sorted(map(list, target.coupling_edges)),
                   "device_edges": device_edges(target),
                   "provenance": target.provenance},
        "pipeline": compiled.pipeline,
        "seed": int(seed),
        "shots": result.shots,
        "noise": bool(result.noise),
        "mitigation": bool(mitigation),
        "mitigation_fits": result.mitigation,
        "precision": result.precision or None,
        "shots_used": int(result.shots_used),
        "circuits_run": int(result.circuits_run),
        "pairs_per_circuit": float(result.pairs_per_circuit),
        "kernels": kernels,
        "errors": {"output": error_summary(result.error, result.stderr)},
        "files": {"result": "result.npz", "build_manifest": "manifest.json", "timings": "timings.json"},
    }
    if result.mitigated:
        manifest["errors"]["raw_output"] = error_summary(result.raw_error, result.raw_stderr)
    if getattr(result, "error_method", None):  # which method made the error bars
        manifest["error_method"] = result.error_method
    if (device := runtime_record(result)) is not None:  # a device run: its noise, backend and jobs
        manifest.update(noise=True, runtime=device)
    return manifest


def runtime_record(result) -> dict | None:
    """What run.json records of a ``--runtime`` run (docs/hardware.md): the runtime, the backend,
    its calibration time and every job id, from the engine's metadata; None for a simulation."""
    meta = getattr(result, "engine_metadata", None) or {}
    if not str(meta.get("engine", "")).startswith("runtime"):
        return None
    return {"engine": meta["engine"], "backend": meta.get("backend"), "calibration": meta.get("calibration"),
            "instance": meta.get("instance"), "jobs": int(meta.get("jobs") or 0),
            "job_ids": [str(i) for i in meta.get("job_ids", [])]}


def run_files(compiled, result, *, seed: int, mitigation: bool, run_seconds: float) -> dict[str, bytes]:
    """The run directory's files by relative path: the build's artefacts plus the run's."""
    from qac.artefacts.emit import artefacts, json_text, npz_bytes

    files = artefacts(compiled)
    files["result.npz"] = npz_bytes(run_arrays(compiled, result))
    files["run.json"] = json_text(run_manifest(compiled, result, seed=seed, mitigation=mitigation)).encode()
    timings = {k: round(v, 6) for k, v in compiled.timings.items()}
    timings["run"] = round(run_seconds, 6)
    files["timings.json"] = json_text(timings).encode()
    return files


RUN_FILES = ("result.npz", "run.json", "timings.json")  # what a run adds to its build


def holds_build(directory: Path, files: dict[str, bytes]) -> bool:
    """DIR is a qac build (or run) directory whose build files are exactly ``files``' build files."""
    from qac.artefacts.outputs import is_qac_directory

    if directory.is_symlink() or not directory.is_dir() or not is_qac_directory(directory):
        return False
    build = {name: data for name, data in files.items() if name not in RUN_FILES}
    try:
        kernels = directory / "kernels"
        present = {f"kernels/{p.name}" for p in kernels.iterdir()} if kernels.is_dir() else set()
        if present != {name for name in build if name.startswith("kernels/")}:
            return False
        return all((directory / name).is_file() and (directory / name).read_bytes() == data
                   for name, data in build.items())
    except OSError:
        return False


def check_run_output(directory: str | Path, *, force: bool) -> None:
    """Refuse an output directory before any work, except a qac build directory (the run may go
    beside its build: ``write_run`` decides once it knows the build's files)."""
    from qac.artefacts.outputs import (
        check_replaceable,
        is_qac_directory,
        refuse_foreign,
    )
    from qac.errors import OutputError

    directory = Path(directory)
    if directory.is_dir() and not directory.is_symlink() and is_qac_directory(directory):
        refuse_foreign(directory)
        if (directory / "run.json").exists() and not force:
            raise OutputError(f"output directory {directory} already holds a run (run.json); pass --force to replace "
                              f"it or choose another -o")
        return
    check_replaceable(directory, force=force)


def check_same_build(directory: str | Path, compiled, *, force: bool) -> None:
    """Before running: a qac directory holding another build (its manifest.json differs) is
    replaced only with ``force``, so refuse now rather than after the run."""
    from qac.artefacts.emit import json_text
    from qac.artefacts.outputs import check_replaceable

    directory = Path(directory)
    stored = getattr(compiled, "build_files", None)  # a loaded build writes the bytes it came from
    manifest = stored["manifest.json"] if stored else json_text(compiled.manifest()).encode()
    try:
        same = (directory / "manifest.json").read_bytes() == manifest
    except OSError:
        same = False
    if directory.exists() and not same:
        check_replaceable(directory, force=force)


def write_run(directory: str | Path, compiled, result, *, seed: int, mitigation: bool, run_seconds: float,
              force: bool = False) -> Path:
    """Write the run directory: new (or replaced, with ``force``) atomically as a temporary sibling
    renamed into place; or, when DIR already holds this very build, the run files added beside
    it (an earlier run there is replaced only with ``force``; the build's files are not touched)."""
    from qac.artefacts.outputs import add_files, is_qac_report, write_atomic
    from qac.errors import OutputError

    files = run_files(compiled, result, seed=seed, mitigation=mitigation, run_seconds=run_seconds)
    directory = Path(directory)
    if holds_build(directory, files):
        if (directory / "run.json").exists() and not force:
            raise OutputError(f"output directory {directory} already holds a run of this build (run.json); pass "
                              f"--force to replace the run (the build stays) or choose another -o")
        stale = ("report.html",) if is_qac_report(directory / "report.html") else ()  # it shows the old state
        return add_files(directory, {name: files[name] for name in RUN_FILES}, remove=stale, last="run.json")
    return write_atomic(directory, files, force=force)
