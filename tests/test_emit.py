"""Emission: ISA-only circuits on the coupling map, byte-identical outputs, QASM that an
independent parser accepts and Qiskit loads back, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import openqasm3
import pytest
from qiskit import qasm3, qpy
from qiskit.quantum_info import Operator

import qac
from qac import targets
from qac.errors import OutputError


@pytest.fixture(scope="module")
def brisbane(example_spec):
    return qac.compile(example_spec, "ibm_brisbane")


@pytest.mark.parametrize("target", ["aer", "ibm_brisbane", "ibm_fez"])
def test_transpiled_circuits_use_only_the_target_isa_and_coupling_map(example_spec, target):
    compiled = qac.compile(example_spec, target)
    description = targets.get(target)
    allowed = set(description.basis_gates) | {"measure", "barrier", "delay", "reset"}
    edges = None if description.coupling_edges is None else set(description.coupling_edges)
    circuits = compiled.circuits()
    assert len(circuits) == sum(len(k.pairs) for k in compiled.kernels)
    for circuit in circuits[:3] + list(compiled.program.isa.values()):
        assert not circuit.parameters or circuit in compiled.program.isa.values()
        for inst in circuit.data:
            assert inst.operation.name in allowed, inst.operation.name
            if inst.operation.num_qubits == 2:
                pair = tuple(circuit.find_bit(q).index for q in inst.qubits)
                assert edges is None or pair in edges, pair
                assert pair not in set(description.dead_couplers)
    if target.startswith("ibm"):
        assert compiled.circuits()[0].num_qubits == description.num_qubits


def test_same_spec_and_seed_give_byte_identical_outputs(example_spec, tmp_path):
    a = qac.compile(example_spec, "ibm_brisbane").save(tmp_path / "a")
    b = qac.compile(example_spec, "ibm_brisbane").save(tmp_path / "b")
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert "manifest.json" in files and "bindings.npz" in files and "program.qpy" in files
    for name in files:
        if name != "timings.json":  # wall-clock timings are kept out of the manifest on purpose
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    other = qac.compile(example_spec, "ibm_brisbane", seed=99).save(tmp_path / "c")
    assert json.loads((other / "manifest.json").read_text())["seed"] == 99


def test_manifest_describes_every_kernel(brisbane, tmp_path):
    manifest = json.loads((brisbane.save(tmp_path / "out") / "manifest.json").read_text())
    assert manifest["target"]["name"] == "ibm_brisbane" and manifest["target"]["status"] == "retired"
    assert manifest["spec"]["digest"] == brisbane.spec.digest()
    assert manifest["pipeline"] == brisbane.pipeline
    assert set(manifest["versions"]) >= {"qac", "qiskit", "qiskit-aer"}
    (kernel,) = manifest["kernels"]
    isa = brisbane.program.isa[kernel["template"]]
    assert kernel["two_qubit_gates"] == sum(1 for i in isa.data if i.operation.num_qubits == 2)
    assert kernel["depth"] == isa.depth()
    assert kernel["circuits"] == len(brisbane.kernels[0].pairs)


def test_emitted_qasm_parses_and_loads_back_equivalent(brisbane, tmp_path):
    out = brisbane.save(tmp_path / "out")
    bindings = np.load(out / "bindings.npz", allow_pickle=False)
    with open(out / "program.qpy", "rb") as handle:
        (from_qpy,) = qpy.load(handle)
    for path in (out / "kernels").glob("*.qasm"):
        text = path.read_text()
        program = openqasm3.parse(text)  # the reference parser
        inputs = [s for s in program.statements if type(s).__name__ == "IODeclaration"]
        assert len(inputs) == from_qpy.num_parameters
        loaded = qasm3.loads(text)
        assert loaded.num_parameters == from_qpy.num_parameters
        row = bindings["h0_scores.values"][0]
        # compare on the active qubits only (127-qubit unitaries are out of reach)
        a = loaded.assign_parameters(dict(zip(sorted(loaded.parameters, key=lambda p: p.name), row)))
        b = from_qpy.assign_parameters(row)
        for circuit in (a, b):
            circuit.remove_final_measurements()
        active = sorted({b.find_bit(q).index for inst in b.data for q in inst.qubits})
        ua = Operator(_restrict(a, active))
        ub = Operator(_restrict(b, active))
        assert ua.equiv(ub)


def _restrict(circuit, active):
    from qiskit import QuantumCircuit

    position = {q: i for i, q in enumerate(active)}
    out = QuantumCircuit(len(active))
    for inst in circuit.data:
        out.append(inst.operation, [position[circuit.find_bit(q).index] for q in inst.qubits])
    return out


def test_existing_output_directory_is_refused_and_force_replaces_only_qac_folders(brisbane, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("user data")
    for force in (False, True):  # a folder qac did not write is never replaced
        with pytest.raises(OutputError, match="was not written by qac"):
            brisbane.save(target, force=force)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    (target / "keep.txt").unlink()
    brisbane.save(target, force=True)  # an empty folder may be replaced
    with pytest.raises(OutputError, match="already exists; pass --force"):
        brisbane.save(target)
    brisbane.save(target, force=True)  # and a qac build
    assert (target / "manifest.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging directories left behind


def test_failed_write_leaves_nothing(brisbane, tmp_path, monkeypatch):
    from qac.artefacts import emit

    def broken(_compiled):
        files = emit.artefacts(brisbane)
        files["kernels"] = b"a file where a directory must go"  # makes the write fail midway
        return files

    monkeypatch.setattr(emit, "artefacts", broken)
    with pytest.raises(Exception):
        brisbane.save(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
