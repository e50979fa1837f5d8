"""Tests for the target registry (qac.targets)."""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import qac.targets as targets

from qac.errors import TargetError

# ----------------------------------------------------------------------------- helpers
# Independent reading of the shipped snapshots: straight from the JSON, no qac code.


def _backends_dir() -> Path:
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    return Path(list(spec.submodule_search_locations)[0]) / "fake_provider" / "backends"


def _raw_snapshot(device_name: str) -> tuple[dict, dict]:
    """(conf, props) JSON of the snapshot whose conf backend_name is ``device_name``."""
    for conf_path in sorted(_backends_dir().glob("*/conf_*.json")):
        dirname = conf_path.parent.name
        if conf_path.name != f"conf_{dirname}.json":
            continue
        conf = json.loads(conf_path.read_text())
        if conf["backend_name"] == device_name:
            props = json.loads((conf_path.parent / f"props_{dirname}.json").read_text())
            return conf, props
    raise AssertionError(f"no snapshot for {device_name}")


def _gate_errors(props: dict, gate: str) -> dict[tuple[int, int], float | None]:
    out = {}
    for entry in props["gates"]:
        if entry["gate"] == gate and len(entry["qubits"]) == 2:
            params = {p["name"]: p["value"] for p in entry["parameters"]}
            out[tuple(entry["qubits"])] = params.get("gate_error")
    return out


def _readout(props: dict) -> dict[int, float]:
    out = {}
    for i, qubit in enumerate(props["qubits"]):
        params = {p["name"]: p["value"] for p in qubit}
        if "readout_error" in params:
            out[i] = params["readout_error"]
    return out


def _independent_medians(device_name: str, gate: str) -> tuple[float, float, set]:
    conf, props = _raw_snapshot(device_name)
    errors = _gate_errors(props, gate)
    readout = _readout(props)
    bad = {q for q, r in readout.items() if r >= 0.5}
    dead = {e for e, err in errors.items() if err is None or err >= 1.0}
    dead |= {tuple(e) for e in conf["coupling_map"] if tuple(e) not in errors}
    good = [err for e, err in errors.items() if e not in dead and not (set(e) & bad)]
    return (
        statistics.median(good),
        statistics.median([r for q, r in readout.items() if q not in bad]),
        dead,
    )


def _two_qubit_qargs(target, gate: str | None = None) -> set[tuple[int, int]]:
    out = set()
    for name in target.operation_names:
        if gate is not None and name != gate:
            continue
        props = target[name]
        for qargs in props or {}:
            if qargs is not None and len(qargs) == 2:
                out.add(tuple(qargs))
    return out


# ----------------------------------------------------------------------------- aer
def test_aer_properties():
    aer = targets.get("aer")
    assert aer.name == "aer" and aer.kind == "simulator"
    assert aer.num_qubits == 30
    assert aer.basis_gates == ("cx", "ry", "rz", "sx", "x", "h")
    assert aer.two_qubit_gate == "cx"
    assert aer.coupling_edges is None
    assert aer.status == "simulator"
    assert aer.dead_couplers == ()
    assert aer.snapshot_date is None and aer.median_two_qubit_error is None
    assert "qiskit-aer" in aer.provenance
    assert aer.qiskit_target() is None
    assert aer.noise_model() is None
    assert aer.transpile_kwargs() == {"basis_gates": ["cx", "ry", "rz", "sx", "x", "h"]}
    from qiskit_aer import AerSimulator

    assert isinstance(aer.backend(), AerSimulator)
    assert aer.backend() is aer.backend()
    assert targets.get("aer") is aer
    assert targets.DEFAULT == "aer"


# ----------------------------------------------------------------------------- registry
def test_names_sorted_aer_first():
    names = targets.names()
    assert names[0] == "aer"
    assert names[1:] == sorted(names[1:])
    assert {"ibm_brisbane", "ibm_fez", "ibm_torino", "ibmq_athens"} <= set(names)
    assert len(names) == len(set(names))


def test_unknown_name_did_you_mean():
    with pytest.raises(TargetError) as info:
        targets.get("ibm_brisbaen")
    message = str(info.value)
    assert "unknown target 'ibm_brisbaen'" in message
    assert "did you mean 'ibm_brisbane'?" in message
    assert "qac targets" in message and "\n" not in message
    with pytest.raises(TargetError, match="qac targets"):
        targets.get("no-such-machine-xyz")
    with pytest.raises(TargetError):
        targets.get("")
    with pytest.raises(TargetError):
        targets.get(42)  # type: ignore[arg-type]
    with pytest.raises(TargetError, match="device file not found") as info:
        targets.get(Path("my_device.yaml"))  # paths load device files (tests/test_devices.py)
    assert "\n" not in str(info.value)


def test_aliases_and_cache():
    brisbane = targets.get("ibm_brisbane")
    assert targets.get("ibm_brisbane") is brisbane
    assert targets.get("fake_brisbane") is brisbane
    assert targets.get("  IBM_Brisbane ") is brisbane
    assert "fake_brisbane" in brisbane.aliases
    assert targets.get("fake_athens").name == "ibmq_athens"


def test_brisbane_description():
    brisbane = targets.get("ibm_brisbane")
    assert brisbane.kind == "ibm_snapshot"
    assert brisbane.num_qubits == 127
    assert brisbane.two_qubit_gate == "ecr"
    assert brisbane.basis_gates == ("ecr", "id", "rz", "sx", "x")
    assert brisbane.status == "retired"
    assert brisbane.snapshot_date == "2025-02-26"
    assert "qiskit-ibm-runtime" in brisbane.provenance and "props_brisbane" in brisbane.provenance
    assert "\n" not in brisbane.provenance
    assert brisbane.median_two_qubit_duration_ns == pytest.approx(660.0)
    _, props = _raw_snapshot("ibm_brisbane")
    dead = {e for e, err in _gate_errors(props, "ecr").items() if err is None or err >= 1.0}
    assert dead and set(brisbane.dead_couplers) == dead
    assert not set(brisbane.coupling_edges) & dead


def test_status_table():
    assert targets.get("ibm_torino").status == "live"
    assert targets.get("ibm_fez").status == "live"
    assert targets.get("ibm_kyiv").status == "retired"
    assert targets.get("ibmq_athens").status == "retired"
    assert targets.get("ibm_brussels").status == "unknown"
    assert {row["status"] for row in targets.catalogue()} <= set(targets.STATUSES)


# ----------------------------------------------------------------------------- catalogue
def test_catalogue_rows_match_independent_medians():
    rows = {row["name"]: row for row in targets.catalogue()}
    assert list(rows)[0] == "aer"
    assert sum(1 for r in rows.values() if r["kind"] == "ibm_snapshot") >= 30
    keys = {"name", "kind", "qubits", "two_qubit_gate", "median_two_qubit_error",
            "median_readout_error", "snapshot_date", "status"}
    assert all(keys <= set(row) for row in rows.values())
    for name, gate, qubits in (("ibm_brisbane", "ecr", 127), ("ibm_fez", "cz", 156),
                               ("ibm_torino", "cz", 133)):
        row = rows[name]
        assert row["qubits"] == qubits and row["two_qubit_gate"] == gate
        median_2q, median_ro, dead = _independent_medians(name, gate)
        assert row["median_two_qubit_error"] == pytest.approx(median_2q, rel=1e-12)
        assert row["median_readout_error"] == pytest.approx(median_ro, rel=1e-12)
        assert set(targets.get(name).dead_couplers) == dead
        assert 1e-4 < row["median_two_qubit_error"] < 0.05
    # rows are copies: mutating one does not corrupt the cache
    targets.catalogue()[0]["name"] = "mutated"
    assert targets.catalogue()[0]["name"] == "aer"


def test_import_and_catalogue_are_light():
    code = (
        "import time, sys; t = time.perf_counter(); import qac.targets; "
        "rows = qac.targets.catalogue(); qac.targets.get('ibm_brisbane'); "
        "dt = time.perf_counter() - t; "
        "assert 'qiskit' not in sys.modules, 'qiskit imported'; "
        "assert 'qiskit_ibm_runtime' not in sys.modules; "
        "assert len(rows) > 30; print(dt)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ})
    assert done.returncode == 0, done.stderr
    # no wall-clock bound here (these machines are shared): light means Qiskit stays unloaded


# ----------------------------------------------------------------------------- qiskit Target
def test_brisbane_filtered_target():
    brisbane = targets.get("ibm_brisbane")
    target = brisbane.qiskit_target()
    assert target is brisbane.qiskit_target()  # cached
    assert target.num_qubits == 127
    qargs = _two_qubit_qargs(target)
    assert qargs, "no 2q instructions left"
    assert not qargs & set(brisbane.dead_couplers)
    assert set(brisbane.coupling_edges) <= _two_qubit_qargs(target, "ecr")
    assert qargs == set(brisbane.coupling_edges)
    # everything else is kept: the raw backend target has exactly the dead couplers more
    raw = brisbane.backend().target
    assert _two_qubit_qargs(raw) - qargs == set(brisbane.dead_couplers)
    assert set(raw.operation_names) == set(target.operation_names)
    assert target.dt == raw.dt
    assert [q.t1 for q in target.qubit_properties] == [q.t1 for q in raw.qubit_properties]
    assert brisbane.transpile_kwargs() == {"target": target}


def test_snapshot_with_dead_couplers_is_filtered():
    rows = [r for r in targets.catalogue()
            if r["kind"] == "ibm_snapshot" and r["dead_couplers"] and r["median_two_qubit_error"]]
    assert rows, "expected at least one shipped snapshot with dead couplers"
    row = next(r for r in rows if r["name"] != "ibm_brisbane")
    desc = targets.get(row["name"])
    _, _, dead = _independent_medians(desc.name, desc.two_qubit_gate)
    assert dead and set(desc.dead_couplers) == dead
    qargs = _two_qubit_qargs(desc.qiskit_target())
    assert not qargs & dead
    assert set(desc.coupling_edges) == _two_qubit_qargs(desc.qiskit_target(), desc.two_qubit_gate)


def test_bad_readout_qubits_lose_connectivity():
    cusco = targets.get("ibm_cusco")
    _, props = _raw_snapshot("ibm_cusco")
    bad = {q for q, r in _readout(props).items() if r >= 0.5}
    assert bad and set(cusco.bad_readout_qubits) == bad
    assert not any(set(e) & bad for e in cusco.coupling_edges)
    assert not any(set(e) & bad for e in _two_qubit_qargs(cusco.qiskit_target()))


def test_snapshot_without_working_couplers_raises():
    kyoto = targets.get("ibm_kyoto")  # every ECR in this snapshot reports error 1.0
    assert kyoto.coupling_edges == () and kyoto.median_two_qubit_error is None
    with pytest.raises(TargetError, match="pick another target"):
        kyoto.qiskit_target()
    with pytest.raises(TargetError):
        kyoto.require(2)


def test_require():
    brisbane = targets.get("ibm_brisbane")
    brisbane.require(20)
    assert brisbane.largest_connected_qubits() >= 120
    with pytest.raises(TargetError, match="qubits"):
        brisbane.require(128)
    targets.get("aer").require(30)
    with pytest.raises(TargetError):
        targets.get("aer").require(31)


def test_transpile_respects_coupling_edges():
    from qiskit import QuantumCircuit
    from qiskit.transpiler import generate_preset_pass_manager

    circuit = QuantumCircuit(5)
    circuit.h(0)
    for i in range(4):
        circuit.cx(i, i + 1)
    circuit.measure_all()
    for name in ("aer", "ibm_brisbane", "ibm_torino"):
        desc = targets.get(name)
        pm = generate_preset_pass_manager(optimization_level=1, seed_transpiler=7,
                                          **desc.transpile_kwargs())
        out = pm.run(circuit)
        ops = set(out.count_ops())
        assert ops <= set(desc.basis_gates) | {"measure", "barrier"}
        if desc.coupling_edges is not None:
            edges = set(desc.coupling_edges)
            for inst in out.data:
                if len(inst.qubits) == 2:
                    pair = tuple(out.find_bit(q).index for q in inst.qubits)
                    assert pair in edges


# ----------------------------------------------------------------------------- noise model
def test_noise_model_cached_and_nontrivial():
    brisbane = targets.get("ibm_brisbane")
    model = brisbane.noise_model()
    assert model is brisbane.noise_model()
    assert model is targets.get("fake_brisbane").noise_model()
    assert not model.is_ideal()
    assert "ecr" in model.noise_instructions and "measure" in model.noise_instructions
    assert len(model.noise_qubits) == 127
