"""A build directory as a complete artefact: write what a run needs, and load it back.

``qac compile -o DIR`` has always written QASM, ``program.qpy`` (ISA templates),
``logical.qpy``, ``bindings.npz`` (data rows) and ``manifest.json``; those files are unchanged.
Two more hold the rest of the compiled program, so ``qac.load(DIR)`` rebuilds a
``CompiledAttention`` that runs exactly as the one compiled (byte-identical result arrays):

- ``program.json``: the run defaults (name, seed, shots, precision), the spec's summary, the
  target (name, kind, device file), the L1 graph's ops, each L2 kernel's scalar fields, each
  template's decoding and calibration layout, and the L4 typed records (layout options,
  resources, packing, cost) at full precision;
- ``program.npz``: the arrays — Q, K, V of the graph; per kernel its unit vectors, norms,
  pairs, ``visible`` mask (and any other array field, e.g. a float ``bias``); per template the
  outcome values f and the calibration rows; per kernel the sign-partner rows.

Circuits come from the QPY files; nothing is recompiled or re-transpiled on load.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from qac.errors import OutputError

BUNDLE_FORMAT = 1
RECOMPILE = "compile it again with `qac compile SPEC -o DIR --force`"


# ----------------------------------------------------------------------------- reading a manifest
def read_manifest(directory: str | Path, error: type[Exception] = OutputError) -> dict:
    """DIR/manifest.json as a dict with its templates and kernels, or ``error`` (one line).

    The reader ``qac verify DIR``, ``qac inspect DIR`` and ``qac.load`` share."""
    directory = Path(directory)
    fix = "re-create the directory with `qac compile -o DIR --force`"
    path = directory / "manifest.json"
    if not path.is_file():
        raise error(f"{directory}: manifest.json is missing; give a directory written by `qac compile -o DIR`, "
                    f"or a spec file")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        [t["name"] for t in manifest["templates"]]
        [(k["kernel"], k["template"]) for k in manifest["kernels"]]
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise error(f"{path}: not a qac manifest ({type(exc).__name__}: {' '.join(str(exc).split())[:80]}); "
                    f"{fix}") from None
    check_file_names(manifest, directory, error)
    return manifest


def check_file_names(manifest: dict, directory: Path, error: type[Exception]) -> None:
    """Every file name manifest.json gives (``files.qasm``, each template's ``file``) is a plain
    relative name inside DIR; anything else (``../x``, ``/etc/x``) is refused before it is read
    or written anywhere."""
    from qac.artefacts.guards import check_name

    files = manifest.get("files", {})
    qasm = files.get("qasm", []) if isinstance(files, dict) else files
    names = [*(qasm if isinstance(qasm, list) else [qasm]),
             *(t.get("file", "kernels/x.qasm") if isinstance(t, dict) else t for t in manifest["templates"])]
    for name in names:
        check_name(name, directory, error=error, where=f"{directory / 'manifest.json'}",
                   fix="re-create the directory with `qac compile -o DIR --force`")


# ----------------------------------------------------------------------------- the spec a loaded program has
@dataclass(frozen=True, eq=False)
class LoadedSpec:
    """What a loaded program keeps of its spec: the run defaults and what the manifest and the
    run directory record (the spec file itself is not needed to run a build)."""

    name: str
    seed: int
    shots: int
    precision: float | None
    N: int
    M: int
    d: int
    dv: int
    heads: int
    mask: str
    scale_value: float
    spec_digest: str
    Q: np.ndarray
    K: np.ndarray
    V: np.ndarray

    def digest(self) -> str:
        return self.spec_digest

    @property
    def d_head(self) -> int:
        return self.d // self.heads

    @property
    def dv_head(self) -> int:
        return self.dv // self.heads


# ----------------------------------------------------------------------------- plain JSON and back
def _plain(value):
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _record(cls, data: dict):
    return cls(**{k: _tuples(v) for k, v in data.items()})


def _fields(obj, arrays: dict, prefix: str) -> dict:
    """A dataclass's fields as JSON; ndarray fields go to ``arrays`` under ``prefix.field``."""
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}.{f.name}"] = value
            out[f.name] = {"array": f"{prefix}.{f.name}"}
        else:
            out[f.name] = _plain(value)
    return out


def _unfields(data: dict, arrays: dict) -> dict:
    return {k: (np.array(arrays[v["array"]]) if isinstance(v, dict) and set(v) == {"array"} else _tuples(v))
            for k, v in data.items()}


# ----------------------------------------------------------------------------- writing
def program_files(compiled) -> dict[str, bytes]:
    """``program.json`` and ``program.npz`` of a compiled program (deterministic bytes)."""
    from qac.artefacts.files import json_text, npz_bytes
    from qac.errors import InternalError

    spec, program = compiled.spec, compiled.program
    module, plan = program.module, program.module.plan
    graph = plan.graph
    arrays: dict[str, np.ndarray] = {f"graph.{k}": v for k, v in graph.arrays.items()}
    nodes = [{"node": n, "class": type(d["op"]).__name__, "fields": _fields(d["op"], arrays, f"op.{n}")}
             for n, d in graph.graph.nodes(data=True)]  # array fields (e.g. an explicit mask's) go to the npz
    kernels = [{"class": type(k).__name__, "fields": _fields(k, arrays, f"kernel.{k.name}")} for k in plan.kernels]
    circuits = {id(t.circuit): name for name, t in module.templates.items()}
    calibrations: dict[int, str] = {}
    templates = []
    for name, t in module.templates.items():
        entry = {"name": name, "encoding": t.encoding, "estimator": t.estimator, "d_pad": t.lanes, "tree": t.tree,
                 "decoding": None, "calibration": None}
        if t.decoding is not None:
            arrays[f"template.{name}.outcome_values"] = t.decoding.outcome_values
            entry["decoding"] = {"signed": bool(t.decoding.signed), "odd": bool(t.decoding.odd)}
        cal = t.calibration
        if cal is not None:
            if id(cal.circuit) not in circuits:
                raise InternalError(f"the calibration rows of template {name} bind a circuit no template holds")
            if id(cal) in calibrations:  # a packed template shares its unpacked template's rows
                entry["calibration"] = {"same_as": calibrations[id(cal)]}
            else:
                calibrations[id(cal)] = name
                prefix = f"template.{name}.calibration"
                arrays[f"{prefix}.values"], arrays[f"{prefix}.pattern"] = cal.values, cal.pattern
                arrays[f"{prefix}.outcome_values"] = cal.outcome_values
                if cal.negated is not None:
                    arrays[f"{prefix}.negated"] = cal.negated
                entry["calibration"] = {"circuit_of": circuits[id(cal.circuit)], "negated": cal.negated is not None}
        templates.append(entry)
    if set(module.templates) != set(program.isa):
        raise InternalError("the ISA program and the circuit module hold different templates")
    bindings = []
    for name, b in module.bindings.items():
        if b.has_partners:
            arrays[f"binding.{name}.partner_values"] = b.partner_values
        bindings.append({"kernel": name, "template": b.template, "partners": b.has_partners})
    target = compiled.target
    document = {
        "format": BUNDLE_FORMAT,
        "kind": "program",
        "run_defaults": {"name": spec.name, "seed": int(spec.seed), "shots": int(spec.shots),
                         "precision": None if spec.precision is None else float(spec.precision)},
        "spec": {"name": spec.name, "digest": spec.digest(), "N": spec.N, "M": spec.M, "d": spec.d, "dv": spec.dv,
                 "heads": spec.heads, "mask": spec.mask, "scale": float(spec.scale_value)},
        "target": {"name": target.name, "kind": target.kind, "num_qubits": target.num_qubits,
                   "device_file": target.source if target.kind == "device_file" else None},
        "pipeline": compiled.pipeline,
        "graph": {"name": graph.name, "nodes": nodes, "edges": [list(e) for e in graph.graph.edges]},
        "plan": {"encoding": plan.encoding, "estimator": plan.estimator, "kernels": kernels},
        "templates": templates,
        "isa_order": sorted(program.isa),
        "bindings": bindings,
        "isa": {"target": program.target, "order": list(program.isa),
                "layout": None if program.layout is None else asdict(program.layout),
                "resources": {n: _plain(asdict(r)) for n, r in program.resources.items()},
                "packing": None if program.packing is None else
                {n: _plain(asdict(p)) for n, p in program.packing.items()},
                "cost": None if program.cost is None else _plain(asdict(program.cost))},
        "files": {"arrays": "program.npz", "isa_qpy": "program.qpy", "logical_qpy": "logical.qpy",
                  "bindings": "bindings.npz"},
    }
    return {"program.json": json_text(document).encode(), "program.npz": npz_bytes(arrays)}


# ----------------------------------------------------------------------------- reading
def _read_npz(path: Path, manifest: dict) -> dict[str, np.ndarray]:
    """The arrays of ``path``; its headers are checked first against what ``manifest`` describes
    and the memory available (an archive declaring a huge array is never loaded)."""
    from qac.artefacts.npz_guard import build_limit, load_npz

    try:
        return load_npz(path, limit=build_limit(manifest), error=OutputError, fix=RECOMPILE)
    except FileNotFoundError:
        raise OutputError(f"{path} is missing; {RECOMPILE}") from None


def _read_qpy(path: Path) -> list:
    from qiskit import qpy

    if not path.is_file():
        raise OutputError(f"{path} is missing; {RECOMPILE}")
    try:
        with open(path, "rb") as handle:
            return list(qpy.load(handle))
    except Exception as exc:  # QPY raises many kinds on damaged input
        raise OutputError(f"{path} is damaged ({type(exc).__name__}); {RECOMPILE}") from None


def _cost(data):
    from qac.ir.records import AutoChoice, CandidateCost, CostReport, Skipped

    if data is None:
        return None
    auto = data["auto"]
    if auto is not None:
        auto = AutoChoice(**{**{k: v for k, v in auto.items() if k not in ("candidates", "skipped")},
                             "candidates": tuple(_record(CandidateCost, c) for c in auto["candidates"]),
                             "skipped": tuple(_record(Skipped, s) for s in auto["skipped"])})
    return CostReport(data["shots"], data["precision"],
                      tuple((name, _record(CandidateCost, c)) for name, c in data["templates"]), auto)


def _target(document: dict, override):
    from qac import targets

    recorded = document["target"]
    if override is not None:
        description = override if isinstance(override, targets.TargetDescription) else targets.get(override)
    else:
        try:
            description = targets.get(recorded["name"])
        except Exception:
            path = recorded.get("device_file")
            if not path or not Path(path).is_file():
                raise OutputError(f"the build was compiled for target {recorded['name']!r}, which this machine does "
                                  f"not know; pass its device file with --target FILE") from None
            description = targets.get(Path(path))
    if (description.name, description.kind, description.num_qubits) != (recorded["name"], recorded["kind"],
                                                                         recorded["num_qubits"]):
        raise OutputError(f"the build was compiled for target {recorded['name']!r} ({recorded['kind']}, "
                          f"{recorded['num_qubits']} qubits), not {description.name!r}; drop --target or pass "
                          f"that target's device file")
    return description


def _rebuild(document: dict, arrays: dict, tables: dict, isa: list, logical: list):
    """The L1–L4 objects of program.json/program.npz, circuits from the QPY files."""
    import networkx as nx

    from qac import ir
    from qac.ir.records import LayoutOptions, Packing, TemplateResources

    ops = {cls.__name__: cls for cls in ir.OPS}
    g = nx.DiGraph()
    for node in document["graph"]["nodes"]:
        g.add_node(node["node"], op=ops[node["class"]](**_unfields(node["fields"], arrays)))
    g.add_edges_from(tuple(e) for e in document["graph"]["edges"])
    graph_arrays = {k[len("graph."):]: v for k, v in arrays.items() if k.startswith("graph.")}
    graph = ir.AttentionGraph(g, graph_arrays, document["graph"]["name"])
    kernels = tuple(getattr(ir, k["class"])(**_unfields(k["fields"], arrays)) for k in document["plan"]["kernels"])
    plan = ir.KernelPlan(graph, kernels, document["plan"]["encoding"], document["plan"]["estimator"])
    order = document["isa_order"]
    if not len(isa) == len(logical) == len(order):
        raise ValueError(f"program.json lists {len(order)} templates but program.qpy holds {len(isa)} and "
                         f"logical.qpy {len(logical)}")
    isa_by_name, logical_by_name = dict(zip(order, isa)), dict(zip(order, logical))
    templates, calibrations = {}, {}
    for t in document["templates"]:
        name = t["name"]
        decoding = None if t["decoding"] is None else ir.Decoding(arrays[f"template.{name}.outcome_values"],
                                                                  **t["decoding"])
        cal = t["calibration"]
        if cal is not None and "same_as" in cal:
            cal = calibrations[cal["same_as"]]
        elif cal is not None:
            prefix = f"template.{name}.calibration"
            cal = ir.Calibration(arrays[f"{prefix}.values"], arrays[f"{prefix}.negated"] if cal["negated"] else None,
                                 arrays[f"{prefix}.pattern"], logical_by_name[cal["circuit_of"]],
                                 arrays[f"{prefix}.outcome_values"])
            calibrations[name] = cal
        templates[name] = ir.Template(name, logical_by_name[name], t["encoding"], t["estimator"], t["d_pad"],
                                      t["tree"], decoding, cal)
    bindings = {b["kernel"]: ir.Binding(b["kernel"], b["template"], tables[f"{b['kernel']}.values"],
                                        arrays[f"binding.{b['kernel']}.partner_values"] if b["partners"] else None)
                for b in document["bindings"]}
    module = ir.CircuitModule(plan, templates, bindings)
    records = document["isa"]
    packing = records["packing"]
    program = ir.IsaProgram(
        module, {name: isa_by_name[name] for name in records["order"]}, records["target"],
        layout=None if records["layout"] is None else LayoutOptions(**records["layout"]),
        resources={n: _record(TemplateResources, r) for n, r in records["resources"].items()},
        packing=None if packing is None else {n: _record(Packing, p) for n, p in packing.items()},
        cost=_cost(records["cost"]))
    plan.verify()
    program.verify()
    for kernel in kernels:  # CircuitModule.verify's binding checks (its calibration check is L3's: a
        b = bindings[kernel.name]  # packed template keeps its unpacked template's calibration rows)
        shape = (len(kernel.pairs), templates[b.template].num_parameters)
        if b.values.shape != shape or (b.partner_values is not None and b.partner_values.shape != shape):
            raise ValueError(f"the bindings of kernel {kernel.name} have shape {b.values.shape}, not {shape}")
    return program


@dataclass(frozen=True, eq=False)
class Build:
    """What a build directory holds, ready for ``CompiledAttention.load`` to wrap."""

    spec: LoadedSpec
    target: object  # a TargetDescription
    program: object  # the IsaProgram
    pipeline: str
    timings: dict
    files: dict[str, bytes]  # the build's files as they are on disk
    directory: Path


def read(directory: str | Path, *, target=None) -> Build:
    """Read and check a ``qac compile -o DIR`` (or ``qac run -o DIR``) directory; every problem
    is one ``OutputError`` line. ``target`` (a name or device file) is needed only when the
    build's device file has moved. ``qac.load`` / ``CompiledAttention.load`` wrap the result.
    """
    from qac.errors import CompileError, InternalError

    directory = Path(directory)
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is a file, not a directory"
        raise OutputError(f"{directory} {what}; give a directory written by `qac compile -o DIR`")
    manifest = read_manifest(directory)
    path = directory / "program.json"
    if not path.is_file():
        raise OutputError(f"{directory} has no program.json (written by an older qac, which did not store what a "
                          f"run needs); {RECOMPILE}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path} is damaged ({type(exc).__name__}); {RECOMPILE}") from None
    if not isinstance(document, dict) or document.get("kind") != "program":
        raise OutputError(f"{path} is not a qac program record; {RECOMPILE}")
    if document.get("format") != BUNDLE_FORMAT:
        raise OutputError(f"{path} has format {document.get('format')!r}, which this qac does not read (it reads "
                          f"{BUNDLE_FORMAT}); update qac or {RECOMPILE}")
    arrays = _read_npz(directory / "program.npz", manifest)
    tables = _read_npz(directory / "bindings.npz", manifest)
    isa, logical = _read_qpy(directory / "program.qpy"), _read_qpy(directory / "logical.qpy")
    try:
        program = _rebuild(document, arrays, tables, isa, logical)
        defaults, summary = document["run_defaults"], document["spec"]
        graph = program.module.plan.graph
        spec = LoadedSpec(defaults["name"], defaults["seed"], defaults["shots"], defaults["precision"],
                          summary["N"], summary["M"], summary["d"], summary["dv"], summary["heads"], summary["mask"],
                          summary["scale"], summary["digest"], graph.arrays["Q"], graph.arrays["K"],
                          graph.arrays["V"])
        pipeline = document["pipeline"]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, CompileError, InternalError) as exc:
        raise OutputError(f"{directory}: program.json and program.npz do not describe a whole program "
                          f"({type(exc).__name__}: {' '.join(str(exc).split())[:80]}); {RECOMPILE}") from None
    return Build(spec, _target(document, target), program, pipeline, _timings(directory),
                 _build_files(directory, manifest), directory)


def _timings(directory: Path) -> dict:
    try:
        data = json.loads((directory / "timings.json").read_text(encoding="utf-8"))
        return {k: float(v) for k, v in data.items() if k != "run"} if isinstance(data, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def _build_files(directory: Path, manifest: dict) -> dict[str, bytes]:
    """The build's files as they are on disk (saving a loaded program writes these bytes)."""
    names = [*manifest.get("files", {}).get("qasm", []), "program.qpy", "logical.qpy", "bindings.npz",
             "manifest.json", "program.json", "program.npz"]
    try:
        files = {name: (directory / name).read_bytes() for name in names}
    except OSError as exc:
        raise OutputError(f"cannot read {exc.filename}: {exc.strerror}; {RECOMPILE}") from None
    from qac.artefacts.files import json_text

    files["timings.json"] = json_text({k: round(v, 6) for k, v in _timings(directory).items()}).encode()
    return files

