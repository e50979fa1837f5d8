"""Read a build or run directory from disk for the report, checking it is whole.

A build directory (``qac compile -o``) holds manifest.json, bindings.npz, program.qpy; a run
directory (``qac run -o``) adds result.npz and run.json (``qac/artefacts/rundir.py``); either may hold a
model run (model_run.json, written by ``qac model``; schema in docs/report.md). Anything else —
no such files, damaged JSON, missing keys or arrays, a format this qac does not know — is a
``ReportError``: one line naming the file and what to do, and nothing is written.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qac.errors import QacError

BUILD_FORMATS = (1,)
RUN_FORMATS = (1,)
MODEL_FORMATS = (1,)
MANIFEST_KEYS = ("spec", "target", "pipeline", "templates", "kernels", "versions", "seed")
RUN_KEYS = ("target", "shots", "seed", "noise", "mitigation", "engine", "qac_version", "kernels", "errors")
RUN_ARRAYS = ("output", "stderr", "exact", "weights", "exact_weights", "visible")
RAW_ARRAYS = ("raw_output", "raw_stderr", "raw_weights")
MODEL_KEYS = ("model", "layers")
LAYER_KEYS = ("layer", "max_error", "rms_error", "within_2_sigma")
SPEC_KEYS = ("name", "digest", "N", "M", "d", "dv", "heads", "mask", "scale")
TARGET_KEYS = ("name", "kind", "num_qubits")
TEMPLATE_KEYS = ("name", "encoding", "estimator", "physical_qubits")
KERNEL_KEYS = ("kernel", "head", "template", "pairs", "circuits", "qubits", "two_qubit_gates", "depth")
ERROR_KEYS = ("max_error", "max_stderr", "rms_error", "within_1_sigma", "within_2_sigma", "within_3_sigma")
RERUN = "write it again with `qac compile -o DIR` or `qac run SPEC -o DIR`"


class ReportError(QacError):
    """The directory is not a whole build or run directory that this qac can report on."""


@dataclass
class Bundle:
    """What ``qac report`` reads from one directory."""

    directory: Path
    manifest: dict | None = None  # manifest.json (the build)
    run: dict | None = None  # run.json
    arrays: dict = field(default_factory=dict)  # result.npz
    bindings: dict = field(default_factory=dict)  # bindings.npz
    timings: dict = field(default_factory=dict)
    model: dict | None = None  # model_run.json
    eval: dict | None = None  # eval.json (qac eval -o)

    @property
    def kind(self) -> str:
        if self.run is not None or self.manifest is not None:
            return "run" if self.run is not None else "build"
        return "model run" if self.model is not None else "eval"

    @property
    def mitigated(self) -> bool:
        return "raw_output" in self.arrays


MAX_JSON_BYTES = 1 << 30  # a manifest of the largest build qac compiles is far smaller


def read_json(path: Path) -> dict:
    from qac.artefacts.guards import NotRegular, read_bounded

    try:
        raw = read_bounded(path, MAX_JSON_BYTES, allow_stdin=False)
        if len(raw) > MAX_JSON_BYTES:
            raise ReportError(f"{path} is more than {MAX_JSON_BYTES} bytes, not a file qac wrote; {RERUN}")
        data = json.loads(raw.decode("utf-8"))
    except NotRegular as exc:
        raise ReportError(f"{path} is a {exc.kind}, not a file qac wrote; {RERUN}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is damaged (not JSON: {exc.msg} at line {exc.lineno}); {RERUN}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is damaged (not UTF-8 text); {RERUN}") from None
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path} is damaged (a JSON {type(data).__name__}, not an object); {RERUN}")
    return data


def read_npz(path: Path, manifest: dict | None = None) -> dict[str, np.ndarray]:
    """The arrays of ``path``, its headers checked first (``qac.artefacts.npz_guard``): against
    what ``manifest`` describes when given, and the memory available."""
    from qac.artefacts.npz_guard import build_limit, check_npz

    try:
        check_npz(path, limit=None if manifest is None else build_limit(manifest), error=ReportError, fix=RERUN)
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ReportError(f"{path} is missing; {RERUN}") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ReportError(f"{path} is damaged ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                          f"{RERUN}") from None


def require(data: dict, keys, path: Path, formats) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise ReportError(f"{path} lacks {', '.join(missing)} (written by an older qac, or damaged); {RERUN}")
    if data.get("format") not in formats:
        raise ReportError(f"{path} has format {data.get('format')!r}, which this qac does not read "
                          f"(it reads {', '.join(map(str, formats))}); update qac or {RERUN}")


def check_structure(path: Path, what: str, value, keys, *, many: bool = False) -> None:
    """``value`` is an object (or, ``many``, a list of objects) holding ``keys``, else ReportError."""
    items = value if many and isinstance(value, list) else [value]
    if many and not isinstance(value, list):
        items = [None]
    for item in items:
        if not isinstance(item, dict) or any(k not in item for k in keys):
            shape = "a list of objects" if many else "an object"
            raise ReportError(f"{path}: '{what}' is not {shape} with {', '.join(keys)} (written by an older qac, "
                              f"or damaged); {RERUN}")


def load(directory: str | Path) -> Bundle:
    """Read and check DIR; raise ``ReportError`` (one line) if it cannot be reported on."""
    directory = Path(directory)
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is a file, not a directory"
        raise ReportError(f"{directory} {what}; pass a directory written by `qac compile -o` or `qac run -o`")
    names = {p.name for p in directory.iterdir()}
    if not names & {"manifest.json", "run.json", "model_run.json", "eval.json"}:
        if "result.npz" in names:
            raise ReportError(f"{directory} holds only a result.npz from an older qac (no run.json or manifest.json); "
                              f"run `qac run SPEC -o DIR` again to write a run directory")
        raise ReportError(f"{directory} is not a qac build or run directory (no manifest.json, run.json, "
                          f"model_run.json or eval.json); pass a directory written by `qac compile -o` or `qac run -o`")
    bundle = Bundle(directory)
    if "run.json" in names and "manifest.json" not in names:
        raise ReportError(f"{directory} has run.json but no manifest.json (incomplete or damaged); {RERUN}")
    if "manifest.json" in names:
        bundle.manifest = read_json(directory / "manifest.json")
        path = directory / "manifest.json"
        require(bundle.manifest, MANIFEST_KEYS, path, BUILD_FORMATS)
        check_structure(path, "spec", bundle.manifest["spec"], SPEC_KEYS)
        check_structure(path, "target", bundle.manifest["target"], TARGET_KEYS)
        check_structure(path, "templates", bundle.manifest["templates"], TEMPLATE_KEYS, many=True)
        check_structure(path, "kernels", bundle.manifest["kernels"], KERNEL_KEYS, many=True)
        bundle.bindings = read_npz(directory / "bindings.npz", bundle.manifest)
        if not (directory / "program.qpy").is_file():
            raise ReportError(f"{directory / 'program.qpy'} is missing; {RERUN}")
    if "run.json" in names:
        bundle.run = read_json(directory / "run.json")
        path = directory / "run.json"
        require(bundle.run, RUN_KEYS, path, RUN_FORMATS)
        check_structure(path, "target", bundle.run["target"], TARGET_KEYS)
        check_structure(path, "kernels", bundle.run["kernels"], KERNEL_KEYS, many=True)
        check_structure(path, "errors", bundle.run["errors"], ("output",))
        for key, value in bundle.run["errors"].items():
            check_structure(path, f"errors.{key}", value, ERROR_KEYS)
        bundle.arrays = read_npz(directory / "result.npz", bundle.manifest)
        wanted = RUN_ARRAYS + (RAW_ARRAYS if bundle.run["mitigation"] else ())
        missing = [k for k in wanted if k not in bundle.arrays]
        if missing:
            raise ReportError(f"{directory / 'result.npz'} lacks the arrays {', '.join(missing)} "
                              f"(written by an older qac, or damaged); run `qac run SPEC -o DIR` again")
        check_shapes(bundle, directory / "result.npz")
    if "timings.json" in names:
        bundle.timings = read_json(directory / "timings.json")
    if "model_run.json" in names:
        bundle.model = read_json(directory / "model_run.json")
        require(bundle.model, MODEL_KEYS, directory / "model_run.json", MODEL_FORMATS)
        layers = bundle.model["layers"]
        if not isinstance(layers, list) or not all(isinstance(r, dict) and all(is_number(r.get(k)) for k in LAYER_KEYS)
                                                   for r in layers):
            raise ReportError(f"{directory / 'model_run.json'}: 'layers' must be a list of objects with "
                              f"{', '.join(LAYER_KEYS)} as numbers (docs/report.md); write it again with `qac model`")
    if "eval.json" in names:
        bundle.eval = read_json(directory / "eval.json")
        check_eval(bundle.eval, directory / "eval.json")
    return bundle


EVAL_FORMATS = (1,)
EVAL_KEYS = ("task", "metric", "classical", "settings", "model")
SETTING_KEYS = ("target", "noise", "shots", "exact", "layers", "heads", "metric", "delta", "ci_low", "ci_high",
                "cosine_mean", "cosine_worst", "coverage", "cost", "wall_seconds")
COST_KEYS = ("circuits", "shots", "two_qubit_gates", "device_seconds")


def check_eval(data: dict, path: Path) -> None:
    """eval.json holds what the section reads, else a one-line ``ReportError``."""
    again = "write it again with `qac eval ... -o DIR`"
    require(data, EVAL_KEYS, path, EVAL_FORMATS)
    settings = data["settings"]
    ok = isinstance(settings, list) and all(
        isinstance(s, dict) and all(k in s for k in SETTING_KEYS) and isinstance(s["cost"], dict)
        and all(k in s["cost"] for k in COST_KEYS) and all(is_number(s[k]) for k in ("metric", "delta", "ci_low",
                                                                                        "ci_high", "coverage"))
        for s in settings)
    if not ok:
        raise ReportError(f"{path}: 'settings' must be a list of objects with {', '.join(SETTING_KEYS)} (cost: "
                          f"{', '.join(COST_KEYS)}) (docs/report.md); {again}")
    if not isinstance(data["classical"], dict) or not is_number(data["classical"].get(data["metric"])):
        raise ReportError(f"{path}: 'classical' has no number for the metric {data['metric']!r}; {again}")


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def check_shapes(bundle: Bundle, path: Path) -> None:
    """The arrays agree with each other and with the spec's N, M, dv, heads."""
    spec, a = bundle.manifest["spec"], bundle.arrays
    expect = {"output": (spec["N"], spec["dv"]), "stderr": (spec["N"], spec["dv"]), "exact": (spec["N"], spec["dv"]),
              "weights": (spec["heads"], spec["N"], spec["M"]), "exact_weights": (spec["heads"], spec["N"], spec["M"]),
              "visible": (spec["heads"], spec["N"], spec["M"])}
    if bundle.mitigated:
        expect.update(raw_output=expect["output"], raw_stderr=expect["output"], raw_weights=expect["weights"])
    for key, shape in expect.items():
        if tuple(a[key].shape) != tuple(shape):
            raise ReportError(f"{path}: {key} has shape {tuple(a[key].shape)}, not {tuple(shape)} as manifest.json "
                              f"says (damaged, or from another run); run `qac run SPEC -o DIR` again")
