"""Vendor devices as YAML files (kind ``device_file``): loading, the Qiskit Target, the noise
model, end-to-end runs on every shipped device, user files, and one-line errors."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import qac.targets as targets
import yaml
from click.testing import CliRunner
from qac.targets import device_loader, device_noise

import qac
from qac.cli.main import main
from qac.errors import TargetError
from tests.conftest import EXAMPLES, ROOT

SHIPPED = {  # name: (qubits, 2q gate, 1q gates)
    "ionq_aria": (25, "rxx", {"r", "rz"}),
    "quantinuum_h2": (56, "rzz", {"r", "rz"}),
    "iqm_garnet": (20, "cz", {"r"}),
    "rigetti_ankaa3": (84, "cz", {"rx", "rz"}),
}
TARGET_DIR = ROOT / "targets"


def _raw(name: str) -> dict:
    return yaml.safe_load((TARGET_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def _independent_edges(raw: dict) -> set[tuple[int, int]]:
    """Directed edges read straight from the YAML (no qac code)."""
    n, coupling = raw["qubits"], raw["coupling"]
    if coupling == "all-to-all":
        return {(a, b) for a in range(n) for b in range(n) if a != b}
    if "grid" in coupling:
        rows, cols = coupling["grid"]
        pairs = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
        pairs += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    else:
        pairs = [tuple(e) for e in coupling["edges"]]
    return {e for a, b in pairs for e in ((a, b), (b, a))}


def _two_qubit_qargs(target) -> set[tuple[int, int]]:
    return {tuple(q) for name in target.operation_names for q in (target[name] or {})
            if q is not None and len(q) == 2}


def _run_kwargs() -> dict:
    """``mitigation=False`` if run() accepts it (another engineer may add a default), else nothing."""
    from qac.compiler import CompiledAttention

    params = inspect.signature(CompiledAttention.run).parameters
    return {"mitigation": False} if "mitigation" in params else {}


USER_DEVICE = """\
format: qac-device/1
name: toy5
vendor: Acme
qubits: 5
coupling: {edges: [[0, 1], [1, 2], [2, 3], [3, 4]]}
gates:
  rz: {error: 0.0, duration_ns: 0}
  sx: {error: 0.001, duration_ns: 30}
  cz: {error: 0.01, duration_ns: 60}
readout: {p1_given_0: 0.01, p0_given_1: 0.03}
coherence: {t1_us: 100, t2_us: 80}
source: made up for a test
"""


# ----------------------------------------------------------------------------- shipped files
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_file_loads(name):
    qubits, two, one = SHIPPED[name]
    desc = targets.get(name)
    assert desc is targets.get(name.upper())
    assert desc.kind == "device_file" and desc.status == "published-specs"
    assert desc.num_qubits == qubits and desc.two_qubit_gate == two
    assert set(desc.basis_gates) == one | {two}
    assert "not a calibration snapshot" in desc.provenance and "\n" not in desc.provenance
    raw = _raw(name)
    assert raw["name"] == name and raw["source"] and raw["status"] == "published-specs"
    assert all("source" in g for g in raw["gates"].values())  # every figure says where it is from
    assert desc.median_two_qubit_error == raw["gates"][two]["error"]
    assert 0 < desc.median_two_qubit_error < 0.02 and 0 < desc.median_readout_error < 0.05
    assert set(desc.coupling_edges) == _independent_edges(raw)
    desc.require(5)


def test_names_and_catalogue_list_device_files():
    names = targets.names()
    assert set(SHIPPED) <= set(names) and names[1:] == sorted(names[1:])
    rows = {r["name"]: r for r in targets.catalogue()}
    for name, (qubits, two, _) in SHIPPED.items():
        assert rows[name]["kind"] == "device_file" and rows[name]["status"] == "published-specs"
        assert rows[name]["qubits"] == qubits and rows[name]["two_qubit_gate"] == two
    assert set(targets.STATUSES) >= {r["status"] for r in rows.values()}
    with pytest.raises(TargetError, match="did you mean 'ionq_aria'"):
        targets.get("ionq_arai")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_qiskit_target_edges_and_properties(name):
    desc = targets.get(name)
    target = desc.qiskit_target()
    assert target is desc.qiskit_target() and desc.transpile_kwargs() == {"target": target}
    raw = _raw(name)
    assert target.num_qubits == raw["qubits"]
    assert _two_qubit_qargs(target) == _independent_edges(raw)
    two = desc.two_qubit_gate
    for qargs, props in target[two].items():
        assert props.error == raw["gates"][two]["error"]
        assert props.duration == pytest.approx(raw["gates"][two]["duration_ns"] * 1e-9)
    for gate in set(desc.basis_gates) - {two}:
        assert set(target[gate]) == {(q,) for q in range(target.num_qubits)}
    assert target["measure"][(0,)].error == pytest.approx(desc.median_readout_error)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_noise_model_covers_native_gates(name):
    desc = targets.get(name)
    model = desc.noise_model()
    assert model is desc.noise_model() and not model.is_ideal()
    raw = _raw(name)
    lossy = {g for g, entry in raw["gates"].items() if entry["error"] > 0}
    assert lossy <= set(model.noise_instructions)
    assert desc.two_qubit_gate in model.noise_instructions and "measure" in model.noise_instructions
    assert set(desc.basis_gates) <= set(model.basis_gates)


def test_depolarizing_parameter_matches_average_gate_fidelity():
    from qiskit.quantum_info import average_gate_fidelity
    from qiskit_aer.noise import depolarizing_error

    assert device_noise.depolarizing_parameter(0.01, 1) == pytest.approx(0.02)
    assert device_noise.depolarizing_parameter(0.006, 2) == pytest.approx(0.008)
    for n, r in ((1, 0.001), (2, 0.006)):
        channel = depolarizing_error(device_noise.depolarizing_parameter(r, n), n)
        assert 1 - average_gate_fidelity(channel) == pytest.approx(r, rel=1e-9)
    # with T1/T2: relaxation ∘ depolarizing still has the published average infidelity
    dev = device_loader.device(targets.get("iqm_garnet").key)
    for gate in dev.gates:
        channel = device_noise.gate_error_channel(dev, gate)
        assert 1 - average_gate_fidelity(channel) == pytest.approx(gate.error, rel=1e-6)


# ----------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_example_compiles_and_runs_with_noise(name, example_spec):
    program = qac.compile(example_spec, target=name)
    desc = targets.get(name)
    for isa in program.program.isa.values():  # translated to the native gates only
        assert set(isa.count_ops()) <= set(desc.basis_gates) | {"measure", "barrier"}
    exact = program.run(exact=True)
    np.testing.assert_allclose(exact.output, exact.exact, atol=1e-9)  # the translation is exact
    ideal = program.run(shots=2000, **_run_kwargs())
    noisy = program.run(shots=2000, noise=True, **_run_kwargs())
    assert noisy.noise and np.all(np.isfinite(noisy.output))
    assert noisy.max_error < 0.4  # loose: the noise is small
    assert not np.allclose(noisy.output, ideal.output)  # the noise model did act


def test_noise_acts_on_native_two_qubit_gate():
    """Ten entangler pairs on |00⟩ on IonQ's rxx: the noisy P(00) drops by about the model's error."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    desc = targets.get("ionq_aria")
    circuit = QuantumCircuit(2, 2)
    for _ in range(10):
        circuit.rxx(np.pi / 2, 0, 1)
        circuit.rxx(-np.pi / 2, 0, 1)
    circuit.measure([0, 1], [0, 1])
    counts = AerSimulator(noise_model=desc.noise_model(), seed_simulator=5).run(circuit, shots=20000).result().get_counts()
    p00 = counts.get("00", 0) / 20000
    assert 0.85 < p00 < 0.95  # 20 × 0.6% gate error + 2 × 0.4% readout ≈ 0.87–0.9


# ----------------------------------------------------------------------------- user files
def test_user_file_by_path_cached_by_resolved_path(tmp_path, monkeypatch):
    path = tmp_path / "dev.yaml"
    path.write_text(USER_DEVICE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    desc = targets.get("dev.yaml")
    assert desc is targets.get(str(path)) and desc is targets.get(path)
    assert desc.name == "toy5" and desc.kind == "device_file" and desc.num_qubits == 5
    assert set(desc.coupling_edges) == {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3)}
    other = tmp_path / "sub" / "dev.yml"
    other.parent.mkdir()
    other.write_text(USER_DEVICE.replace("0.01, duration_ns: 60", "0.02, duration_ns: 60"), encoding="utf-8")
    second = targets.get(other)
    assert second.name == "toy5" and second is not desc  # same name, different file: not shared
    assert second.qiskit_target()["cz"][(0, 1)].error == 0.02 and desc.qiskit_target()["cz"][(0, 1)].error == 0.01
    model = desc.noise_model()
    assert "measure" in model.noise_instructions
    readout = model._default_readout_error.probabilities
    np.testing.assert_allclose(readout, [[0.99, 0.01], [0.03, 0.97]])


def test_user_file_through_cli(tmp_path):
    (tmp_path / "dev.yaml").write_text(USER_DEVICE, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "qac.cli", "run", str(EXAMPLES / "attention.yaml"),
                           "--target", "dev.yaml", "--noise", "--shots", "1000"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "noisy toy5" in proc.stdout and "max |output - exact|" in proc.stdout


def test_target_too_small_for_kernel(tmp_path):
    (tmp_path / "tiny.yaml").write_text(USER_DEVICE.replace("qubits: 5", "qubits: 3")
                                        .replace(", [2, 3], [3, 4]", ""), encoding="utf-8")
    spec = tmp_path / "big.yaml"
    spec.write_text(textwrap.dedent("""\
        name: big
        Q: {random: {shape: [2, 16], seed: 1}}
        K: {random: {shape: [2, 16], seed: 2}}
        V: {random: {shape: [2, 4], seed: 3}}
    """), encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(spec), "--target", str(tmp_path / "tiny.yaml")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()  # wording is layout's (passes/layout.py)
    assert len(lines) == 1 and lines[0].startswith("error: the kernel needs 5 qubits")
    assert "but target 'toy5' has 3;" in lines[0]


# ----------------------------------------------------------------------------- malformed files
def _edit(old: str, new: str) -> str:
    assert old in USER_DEVICE, old
    return USER_DEVICE.replace(old, new, 1)


MALFORMED = {
    "unknown_key": (_edit("vendor: Acme", "vendor: Acme\nqbits: 5"),
                    "4: qbits: unknown key 'qbits'; did you mean 'qubits'?"),
    "edge_out_of_range": (_edit("[3, 4]]", "[3, 5]]"),
                          "5: coupling.edges[3]: edge 4 [3, 5] uses qubit 5, but qubits are 0..4; "
                          "use qubit indices below qubits: 5 (qubits are numbered from 0)"),
    "negative_error": (_edit("error: 0.001", "error: -0.001"),
                       "8: gates.sx.error: is -0.001, outside [0, 1); write an error probability "
                       "(1 - average gate fidelity) in [0, 1), e.g. error: 0.001"),
    "error_over_one": (_edit("error: 0.01,", "error: 1.5,"),
                       "9: gates.cz.error: is 1.5, outside [0, 1); write an error probability "
                       "(1 - average gate fidelity) in [0, 1), e.g. error: 0.001"),
    "duplicate_edge": (_edit("[3, 4]]", "[3, 4], [2, 1]]"),
                       "5: coupling.edges[4]: edge 5 [2, 1] repeats edge 2; list each coupler once "
                       "(edges are undirected; both directions are used)"),
    "missing_field": (_edit("source: made up for a test\n", ""),
                      "1: source: missing; add source: (see docs/devices.md for a full example)"),
    "bad_yaml": (_edit("qubits: 5", "qubits: [5"),
                 "5: invalid YAML: while parsing a flow sequence, did not find expected ',' or ']'; "
                 "fix the YAML syntax on line 5"),
    "alias": (_edit("rz: {error: 0.0, duration_ns: 0}", "rz: &z {error: 0.0, duration_ns: 0}\n  x: *z"),
              "8: YAML aliases (*name) are not supported; write the value out in full"),
    "iswap": (_edit("cz:", "iswap:"),
              "9: gates.iswap: gate 'iswap' is not supported; qiskit-aer has no 'iswap' instruction "
              "(AerError: unknown instruction: iswap); model the entangler as cz and say so in notes"),
    "missing_duration": (_edit("sx: {error: 0.001, duration_ns: 30}", "sx: {error: 0.001}"),
                         "8: gates.sx: missing duration_ns; add duration_ns: (e.g. sx: {error: 0.001, duration_ns: 40})"),
    "grid_size": (_edit("{edges: [[0, 1], [1, 2], [2, 3], [3, 4]]}", "{grid: [2, 2]}"),
                  "5: coupling.grid: [2, 2] has 4 qubits but qubits is 5; make rows × cols equal qubits, "
                  "or list the edges"),
    "t2_over_2t1": (_edit("t2_us: 80", "t2_us: 300"),
                    "11: coherence.t2_us: t2_us 300 is more than 2 × t1_us 100, which is unphysical; "
                    "check the values (T2 <= 2·T1)"),
    "not_universal": (_edit("sx:", "x:").replace("rz:", "p:"),
                      "6: gates: single-qubit gates ['p', 'x'] cannot make every rotation; "
                      "add r or u, or rz with rx/ry/sx"),
    "two_entanglers": (_edit("cz:", "cx: {error: 0.01, duration_ns: 60}\n  cz:"),
                       "6: gates: has 2 two-qubit gates (cx, cz); give exactly one of cz, cx, ecr, rxx, ryy, rzz, rzx"),
    "readout_both": (_edit("{p1_given_0: 0.01, p0_given_1: 0.03}", "{error: 0.01, p0_given_1: 0.03}"),
                     "10: readout: has both error and p1_given_0/p0_given_1; give error (symmetric) "
                     "or both p1_given_0 and p0_given_1"),
    "coupling_typo": (_edit("coupling: {edges: [[0, 1], [1, 2], [2, 3], [3, 4]]}", "coupling: all_to_all"),
                      "5: coupling: unknown coupling 'all_to_all'; did you mean 'all-to-all'?"),
    "wrong_format": (_edit("qac-device/1", "qac-device/2"),
                     "1: format: unknown format the text 'qac-device/2'; write format: qac-device/1"),
    "empty": ("", "1: the file is empty; write a device mapping (see docs/devices.md)"),
    "tabs": (_edit("  sx:", "\tsx:"),
             "8: invalid YAML: while scanning for the next token, found character that cannot start any "
             "token; indent with spaces; YAML does not allow tabs"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_device_file_one_line(case, tmp_path):
    text, expected = MALFORMED[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TargetError) as info:
        targets.get(str(path))
    assert str(info.value) == f"{path}:{expected}"


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(USER_DEVICE.replace("Acme", "Acmé").encode("latin-1"))
    with pytest.raises(TargetError) as info:
        targets.get(str(path))
    assert str(info.value) == f"{path}:3: the file is not UTF-8 text; save it as UTF-8"


def test_missing_file_and_cli_exit_2(tmp_path):
    with pytest.raises(TargetError, match="device file not found"):
        targets.get(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(MALFORMED["edge_out_of_range"][0], encoding="utf-8")
    runner = CliRunner()
    for target, expected in ((str(bad), f"error: {bad}:{MALFORMED['edge_out_of_range'][1]}"),
                             (str(tmp_path / "nope.yaml"), "device file not found")):
        result = runner.invoke(main, ["run", str(EXAMPLES / "attention.yaml"), "--target", target])
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0]
