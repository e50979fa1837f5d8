"""OpenQASM 3 round trip (and `qac verify`) for every encoding × estimator the project has (read
from qac.kernels.choices and the pass registries at test time, so new ones are picked up): every
routed template verifies against its logical one, every emitted file parses with the
reference parser, loads with qiskit.qasm3.loads, and — with the manifest's layout — is
equivalent to the QPY template. Pairs that do not work together must say so (CompileError)."""

from __future__ import annotations

import functools
import itertools
import json

import numpy as np
import openqasm3
import pytest
from qiskit import qasm3, qpy

import qac
from qac import verify
from qac.errors import CompileError
from qac.kernels import choices


def registered(kind: str) -> list[str]:
    """The names users may write (qac.kernels.choices) and every pass registered under them."""
    from qac.kernels.encodings import ENCODINGS
    from qac.kernels.estimators import ESTIMATORS

    table = ENCODINGS if kind == "encoding" else ESTIMATORS
    names = choices.ENCODINGS if kind == "encoding" else choices.ESTIMATORS
    return sorted(set(names) | set(table))


PAIRS = list(itertools.product(registered("encoding"), registered("estimator")))
SPEC = {"Q": np.random.default_rng(1).standard_normal((3, 3)).tolist(),  # d = 3: padded to 4
        "K": np.random.default_rng(2).standard_normal((2, 3)).tolist(),
        "V": [[1.0, 0.0], [0.0, 1.0]], "mask": "causal", "seed": 3}


def compile_pair(encoding, estimator, target):
    pipeline = (f"normalize,encode{{method={encoding}}},estimate{{method={estimator}}},"
                f"layout{{optimization_level=1}}")
    return qac.compile(SPEC, target, passes=pipeline)


@functools.lru_cache(maxsize=None)
def compatible(encoding, estimator) -> bool:
    try:
        compile_pair(encoding, estimator, "aer")
    except CompileError as error:
        message = str(error)
        assert "\n" not in message and encoding in message and estimator in message, message
        return False
    return True


@pytest.mark.parametrize("encoding, estimator", PAIRS, ids=[f"{e}-{s}" for e, s in PAIRS])
@pytest.mark.parametrize("target", ["aer", "ibm_brisbane"])
def test_emitted_qasm_parses_loads_and_matches_the_qpy_template(tmp_path, encoding, estimator, target):
    if not compatible(encoding, estimator):
        with pytest.raises(CompileError):  # an incompatible pair is refused, clearly, on every target
            compile_pair(encoding, estimator, target)
        return
    compiled = compile_pair(encoding, estimator, target)
    report = verify.verify_compiled(compiled, rows=1, generic=1)  # the equivalence promise, for every pair
    assert report.ok, "\n".join(c.line() for c in report.checks)
    out = compiled.save(tmp_path / "build")
    manifest = json.loads((out / "manifest.json").read_text())
    with open(out / "program.qpy", "rb") as handle:
        isa = dict(zip([t["name"] for t in manifest["templates"]], qpy.load(handle)))
    assert manifest["templates"]
    for entry in manifest["templates"]:
        text = (out / entry["file"]).read_text()
        program = openqasm3.parse(text)
        inputs = [s for s in program.statements if type(s).__name__ == "IODeclaration"]
        assert len(inputs) == entry["parameters"] == isa[entry["name"]].num_parameters
        loaded = qasm3.loads(text)
        assert sorted(p.name for p in loaded.parameters) == sorted(p.name for p in isa[entry["name"]].parameters)
        if target != "aer":  # the manifest's layout names the physical qubits the QASM starts on
            touched = {loaded.find_bit(q).index for inst in loaded.data for q in inst.qubits}
            assert set(entry["physical_qubits"]) <= touched
    logical, isa, kernels, manifest = verify.load_directory(out)
    checks = verify.verify_qasm_files(out, isa, kernels, manifest, rows=2, seed=0, timeout=60)
    assert len(checks) == len(manifest["templates"])
    assert all(c.ok for c in checks), "\n".join(c.line() for c in checks)


def test_every_user_choice_is_covered_and_some_pair_works():
    assert set(choices.ENCODINGS) <= set(registered("encoding"))
    assert set(choices.ESTIMATORS) <= set(registered("estimator"))
    assert any(compatible(e, s) for e, s in PAIRS)
