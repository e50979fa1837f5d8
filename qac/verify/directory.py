"""Verifying a program directory written by ``qac compile -o DIR``: program.qpy against
logical.qpy on rows of bindings.npz, and every kernels/*.qasm file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qac.artefacts.bundle import read_manifest
from qac.verify.checkers import DEFAULT_ROWS, DEFAULT_TIMEOUT, verify_program
from qac.verify.qasm import verify_qasm_files
from qac.verify.report import Report, VerifyInputError


def _need(directory: Path, relative: str) -> Path:
    path = directory / relative
    if not path.is_file():
        raise VerifyInputError(f"{directory}: {relative} is missing; give a directory written by "
                               f"`qac compile -o DIR`, or a spec file")
    return path


def _load_qpy(path: Path, label: str) -> list:
    from qiskit import qpy

    try:
        with open(path, "rb") as handle:
            return list(qpy.load(handle))
    except Exception as exc:
        raise VerifyInputError(f"{path}: cannot read {label} ({type(exc).__name__}); "
                               f"re-create the directory with `qac compile -o DIR --force`") from None


def load_directory(directory: str | Path) -> tuple[dict, dict, list, dict]:
    """(logical, isa, kernels, manifest) from a ``qac compile -o DIR`` directory."""
    directory = Path(directory)
    fix = "re-create the directory with `qac compile -o DIR --force`"
    manifest = read_manifest(directory, VerifyInputError)  # the reader qac inspect and qac.load share
    templates = [t["name"] for t in manifest["templates"]]
    kernel_rows = [(k["kernel"], k["template"]) for k in manifest["kernels"]]
    isa_list = _load_qpy(_need(directory, "program.qpy"), "the ISA templates")
    logical_list = _load_qpy(_need(directory, "logical.qpy"), "the logical templates")
    if not len(isa_list) == len(logical_list) == len(templates):
        raise VerifyInputError(f"{directory}: the manifest lists {len(templates)} templates but program.qpy holds "
                               f"{len(isa_list)} and logical.qpy {len(logical_list)}; {fix}")
    try:
        with np.load(_need(directory, "bindings.npz"), allow_pickle=False) as archive:
            tables = {key: np.array(archive[key]) for key in archive.files}
    except VerifyInputError:
        raise
    except Exception as exc:
        raise VerifyInputError(f"{directory / 'bindings.npz'}: cannot read the bindings "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:80]}); {fix}") from None
    kernels = []
    for kernel, template in kernel_rows:
        key = f"{kernel}.values"
        if key not in tables:
            raise VerifyInputError(f"{directory / 'bindings.npz'}: no table '{key}' for kernel {kernel}; {fix}")
        if template not in templates:
            raise VerifyInputError(f"{directory / 'manifest.json'}: kernel {kernel} uses template {template!r}, "
                                   f"which is not listed; {fix}")
        values = tables[key]
        if values.ndim != 2 or values.dtype.kind != "f":
            raise VerifyInputError(f"{directory / 'bindings.npz'}: '{key}' is not a 2-D float table; {fix}")
        kernels.append((kernel, template, values))
    return (dict(zip(templates, logical_list)), dict(zip(templates, isa_list)), kernels, manifest)


def verify_directory(directory: str | Path, **options) -> Report:
    """Verify a program directory: program.qpy against logical.qpy, rows from bindings.npz."""
    logical, isa, kernels, manifest = load_directory(directory)
    target = str(manifest.get("target", {}).get("name", "?"))
    options.setdefault("seed", int(manifest.get("seed", 0) or 0))
    report = verify_program(logical, isa, kernels, source=str(directory), target=target, **options)
    report.checks += verify_qasm_files(Path(directory), isa, kernels, manifest, rows=options.get("rows", DEFAULT_ROWS),
                                       seed=options["seed"], timeout=options.get("timeout", DEFAULT_TIMEOUT))
    return report
