"""The L4 ``IsaProgram`` and its typed analysis records, checked against circuits built by hand."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from qac.passes.resources import calibration, template_resources
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter

import qac
from qac import targets
from qac.errors import InternalError
from qac.ir.records import (
    AutoChoice,
    CandidateCost,
    CostReport,
    Packing,
    Skipped,
    TemplateResources,
)
from tests.conftest import spec_mapping


@pytest.fixture(scope="module")
def program():
    rng = np.random.default_rng(11)
    mapping = spec_mapping(rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal((2, 2)),
                           mask="causal", seed=3)
    return qac.compile(mapping, "ibm_fez").program


def test_template_resources_count_what_the_circuit_holds():
    theta = Parameter("theta")
    circuit = QuantumCircuit(3, 2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.barrier()
    circuit.cx(1, 2)
    circuit.measure([0, 2], [0, 1])
    res = template_resources(circuit, targets.get("aer"))
    assert (res.qubits, res.two_qubit_gates, res.two_qubit_depth, res.measured_bits) == (3, 2, 2, 2)
    assert dict(res.operations) == {"barrier": 1, "cx": 2, "measure": 2, "ry": 1}
    assert res.gates == 3 and res.depth == circuit.depth()
    assert res.physical_qubits == (0, 1, 2)  # no layout: logical = physical
    assert (res.esp, res.duration_ns) == (1.0, None)  # aer has no calibration


def test_esp_is_the_product_of_the_calibrated_errors_on_the_physical_qubits():
    fez = targets.get("ibm_fez")
    circuit = QuantumCircuit(2, 1)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure(1, 0)
    isa = transpile(circuit, target=fez.qiskit_target(), initial_layout=[0, 1], seed_transpiler=1, optimization_level=0)
    qiskit_target, expected = fez.qiskit_target(), 1.0
    for inst in isa.data:
        qargs = tuple(isa.find_bit(q).index for q in inst.qubits)
        if inst.operation.name != "barrier":
            expected *= 1 - (qiskit_target[inst.operation.name][qargs].error or 0.0)
    res = template_resources(isa, fez)
    assert res.esp == pytest.approx(expected, rel=1e-12) and 0 < res.esp < 1
    assert res.duration_ns == calibration(isa, fez)["duration_ns"] > 0
    assert res.physical_qubits == (0, 1)
    assert res.figures()["esp"] == float(f"{res.esp:.12g}") and res.calibrated()["esp"] == round(res.esp, 12)


def test_every_template_has_one_record_and_the_kernel_table_reads_it(program):
    assert set(program.resources) == set(program.isa)
    (row,) = program.kernel_table()
    res = program.resources[row["template"]]
    assert (row["two_qubit_gates"], row["depth"], row["qubits"]) == (res.two_qubit_gates, res.depth, res.qubits)
    assert row["physical_qubits"] == list(res.physical_qubits) and row["copies"] == 1
    kernel = program.module.plan.kernels[0]
    assert row["pairs"] == len(kernel.pairs) == 5 and row["masked"] == 1  # 3x2 causal: (0, 1) hidden
    assert program.packing is None and program.cost is None and program.layout.optimization_level == 1
    assert "resources: " in program.describe()


def test_verify_raises_internal_errors_for_broken_invariants(program):
    program.verify()
    name = next(iter(program.isa))
    broken = program.isa[name].assign_parameters({p: 0.0 for p in program.isa[name].parameters})
    with pytest.raises(InternalError, match="changed its parameters"):
        replace(program, isa={name: broken}).verify()
    with pytest.raises(InternalError, match="resources recorded for ghost"):
        replace(program, resources={**program.resources, "ghost": program.resources[name]}).verify()
    packing = Packing("ghost_x2", 2, 1, 5, ((0, 1, 2), (4, 5, 6)), ((0, 1, 2), (4, 5, 6)), 5, 3)
    with pytest.raises(InternalError, match="packing of .* names a template"):
        replace(program, packing={name: packing}).verify()


def test_packing_and_cost_records_give_the_manifest_json():
    packing = Packing("t_x2", 2, 1, 5, ((3, 4, 5), (9, 10, 11)), ((4, 3, 5), (10, 9, 11)), pairs=5, circuits=3)
    assert packing.placement() == {"packed_template": "t_x2", "copies": 2, "pairs": 5, "circuits": 3, "regions": [
        {"copy": 0, "physical_qubits": [3, 4, 5], "initial_layout": [4, 3, 5]},
        {"copy": 1, "physical_qubits": [9, 10, 11], "initial_layout": [10, 9, 11]}]}
    a = CandidateCost("binary", "interference", 3, 4, 20, 500.0, 0.95, (1, 2, 3), 1.0, 0.005, 0.02, 9000)
    b = replace(a, estimator="compute_uncompute", expected_error=0.03)
    choice = AutoChoice("estimator", 4, "ibm_fez", 1024, 0.01, 3, 4, (a, b),
                        (Skipped("binary", "hadamard", "dominated by binary/interference"),))
    assert choice.choice is a and choice.runner_up is b
    report = CostReport(1024, 0.01, (("t", a),), choice).as_dict()
    assert report["templates"]["t"]["physical_qubits"] == [1, 2, 3]
    assert report["auto"]["chose"] == "estimator" and report["auto"]["runner_up"]["expected_error"] == 0.03
    assert set(report["auto"]) == {"d", "choice", "runner_up", "candidates", "skipped", "chose"}
    json.dumps(report)  # JSON-able as it stands
    assert sorted([b, a], key=CandidateCost.rank_key) == [a, b]


def test_records_are_frozen():
    res = TemplateResources(1, 0, 1, 0, (("ry", 1),), 1, (0,), 1.0, None)
    with pytest.raises(AttributeError):
        res.esp = 0.5
