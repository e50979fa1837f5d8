"""Emission: OpenQASM 3, QPY, bindings and the manifest — deterministic and atomic.

Everything written depends only on the spec, the seed, the target and the package versions,
so the same inputs give byte-identical files (zip entries carry a fixed date; JSON keys are
sorted). Wall-clock pass timings vary run to run, so they live in ``timings.json``, not in
the manifest. A compile writes into a temporary sibling directory and renames it into place
(``qac/artefacts/outputs.py``: what an existing directory ``force`` may replace). Beside the files a
compile always wrote, ``program.json`` and ``program.npz`` (``qac/artefacts/bundle.py``) hold what
``qac.load`` needs to rebuild the program without the spec.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from qac.artefacts.files import json_text, npz_bytes, qpy_bytes  # noqa: F401 - emit's public names
from qac.artefacts.outputs import check_replaceable, write_atomic  # noqa: F401 - write_atomic is emit's public name
from qac.errors import OutputError

FORMAT_VERSION = 1
PACKAGES = ("qac", "qiskit", "qiskit-aer", "qiskit-ibm-runtime", "numpy")


def qasm_text(circuit) -> str:
    """OpenQASM 3 via ``qasm3.dumps`` (``dumps_experimental`` panics on parameters)."""
    from qiskit import qasm3

    return qasm3.dumps(circuit)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def template_entry(program, name: str) -> dict:
    """A template's manifest entry: its structure and its resources (packed templates: counts only,
    the ESP of a packed circuit being the product of its copies', given per unpacked template)."""
    t, res = program.module.templates[name], program.resources[name]
    calibrated = {} if name in program.packed_templates else res.calibrated()
    return {"name": name, "file": f"kernels/{name}.qasm", "encoding": t.encoding, "estimator": t.estimator,
            "d_pad": t.lanes, "parameters": t.num_parameters, "logical_qubits": t.circuit.num_qubits,
            "tree": t.tree, **res.counts(), **calibrated, "physical_qubits": list(res.physical_qubits)}


def build_manifest(compiled) -> dict:
    """The manifest: spec digest, seed, target, resolved pipeline, versions, and the typed
    analysis records of the program (resources, packing placement, cost) as JSON."""
    spec, program = compiled.spec, compiled.program
    if not hasattr(spec, "digest"):  # RunDefaults: compiled from a graph (qac.compiler.compile_graph)
        raise OutputError(f"program {spec.name!r} was compiled from a graph, not a spec, so there is no spec to "
                          f"record in a manifest; compile an attention spec to save a build directory")
    templates = [template_entry(program, name) for name in sorted(program.isa)]
    manifest = {
        "format": FORMAT_VERSION,
        "spec": {"name": spec.name, "digest": spec.digest(), "N": spec.N, "M": spec.M, "d": spec.d,
                 "dv": spec.dv, "heads": spec.heads, "mask": spec.mask, "scale": spec.scale_value,
                 "shots": spec.shots},
        "seed": spec.seed,
        "target": {"name": compiled.target.name, "kind": compiled.target.kind, "status": compiled.target.status,
                   "num_qubits": compiled.target.num_qubits, "snapshot_date": compiled.target.snapshot_date},
        "pipeline": compiled.pipeline,
        "versions": package_versions(),
        "templates": templates,
        "kernels": program.kernel_table(),
        "files": {"qasm": [t["file"] for t in templates], "isa_qpy": "program.qpy",
                  "logical_qpy": "logical.qpy", "bindings": "bindings.npz", "timings": "timings.json"},
    }
    from qac.ir.stages import stage_table

    stages = stage_table(manifest["kernels"], manifest["spec"], spec.shots)
    if stages is not None:  # pv: quantum (a classical P·V leaves the manifest as it was)
        manifest["stages"] = stages
    if program.cost is not None:
        manifest["cost"] = program.cost.as_dict()
    if program.packing is not None:
        manifest["placement"] = {name: info.placement() for name, info in sorted(program.packing.items())}
    return manifest








def artefacts(compiled, *, stored: bool = True) -> dict[str, bytes]:
    """Every file of the output directory, by relative path. A loaded program (``qac.load``)
    gives the bytes it was loaded from unless ``stored=False``."""
    if stored and getattr(compiled, "build_files", None):
        return dict(compiled.build_files)
    from qac.artefacts.bundle import program_files

    program = compiled.program
    names = sorted(program.isa)
    files = {f"kernels/{n}.qasm": qasm_text(program.isa[n]).encode() for n in names}
    files["program.qpy"] = qpy_bytes([program.isa[n] for n in names])
    files["logical.qpy"] = qpy_bytes([program.module.templates[n].circuit for n in names])
    arrays = {}
    for kernel in compiled.kernels:
        arrays[f"{kernel.name}.values"] = program.module.bindings[kernel.name].values
        arrays[f"{kernel.name}.pairs"] = kernel.pairs
    files["bindings.npz"] = npz_bytes(arrays)
    files["manifest.json"] = json_text(build_manifest(compiled)).encode()
    files.update(program_files(compiled))  # new files: every file above keeps its bytes
    files["timings.json"] = json_text({k: round(v, 6) for k, v in compiled.timings.items()}).encode()
    return files


def save(compiled, directory: Path, *, force: bool = False) -> Path:
    check_replaceable(directory, force=force)  # refuse before doing any work
    return write_atomic(directory, artefacts(compiled), force=force)
