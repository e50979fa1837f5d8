"""`qac verify`: every routed kernel is equivalent to its logical template (qcec with the ZX
checker off, and exact statevectors), and a corrupted gate is caught and named."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from qiskit import qpy

import qac
from qac import verify
from qac.cli.main import main
from qac.verify import checkers
from tests.conftest import EXAMPLES

EXAMPLE_SPECS = sorted(EXAMPLES.glob("*.yaml"))
TARGETS = ["aer", "ibm_brisbane", "ibm_fez"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_every_example_verifies_on_every_target(path, target):
    compiled = qac.compile(path, target)
    report = verify.verify_compiled(compiled)
    assert report.ok, "\n".join(c.line() for c in report.checks)
    methods = {c.method.split("×")[0] for c in report.checks}
    assert {"qcec-generic", "qcec-bound", "statevector"} <= methods
    assert {c.kernel for c in report.checks if c.method.startswith("qcec-bound")} == {k.name for k in compiled.kernels}
    assert all(c.verdict in verify.PASSING for c in report.checks)


def corrupt(circuit, how: str):
    """A copy (layout kept) with one gate changed: an rz angle shifted, or an entangler dropped."""
    bad = circuit.copy()
    for index, inst in enumerate(bad.data):
        operation = inst.operation
        if how == "rz" and operation.name == "rz" and not getattr(operation.params[0], "parameters", None):
            operation = operation.to_mutable()
            operation.params = [float(operation.params[0]) + 0.25]
            bad.data[index] = inst.replace(operation=operation)
            return bad
        if how == "2q" and operation.num_qubits == 2:
            del bad.data[index]
            return bad
    raise AssertionError(f"no gate to corrupt for {how}")


@pytest.mark.parametrize("how", ["rz", "2q"])
@pytest.mark.parametrize("target", ["ibm_brisbane", "ibm_fez"])
def test_one_corrupted_gate_fails_and_names_the_kernel(how, target):
    compiled = qac.compile(EXAMPLES / "attention.yaml", target)
    (name,) = compiled.program.isa
    compiled.program.isa[name] = corrupt(compiled.program.isa[name], how)
    report = verify.verify_compiled(compiled)
    assert not report.ok
    assert {c.template for c in report.failures} == {name}
    assert all(c.verdict == "not_equivalent" for c in report.failures)
    assert "h0_scores" in report.summary() and name in report.summary()


def test_a_corrupted_directory_fails_through_the_cli(tmp_path):
    compiled = qac.compile(EXAMPLES / "attention.yaml", "ibm_brisbane")
    out = compiled.save(tmp_path / "build")
    proc = subprocess.run([sys.executable, "-m", "qac.cli", "verify", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "qasm-gates" in proc.stdout  # the QASM file is checked against the QPY template too
    (name,) = compiled.program.isa
    with open(out / "program.qpy", "wb") as handle:
        qpy.dump([corrupt(compiled.program.isa[name], "rz")], handle)
    proc = subprocess.run([sys.executable, "-m", "qac.cli", "verify", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert failed and all(name in line for line in failed)
    assert "verify: FAILED" in proc.stdout and "h0_scores (binary_interference_d8)" in proc.stdout


def test_a_corrupted_qasm_file_is_caught(tmp_path):
    out = qac.compile(EXAMPLES / "attention.yaml", "ibm_fez").save(tmp_path / "build")
    (path,) = (out / "kernels").glob("*.qasm")
    lines = path.read_text().splitlines(keepends=True)
    # Drop the middle two-qubit gate: unlike a single-qubit phase on a qubit still in |0>
    # (a global phase, rightly undetectable), this changes the prepared state.
    two_qubit = [i for i, line in enumerate(lines) if line.startswith("cz ")]
    del lines[two_qubit[len(two_qubit) // 2]]
    path.write_text("".join(lines))
    report = verify.verify_directory(out)
    assert [c.method for c in report.failures] == ["qasm-statevector×3"]


def test_no_information_is_a_failure_never_a_pass(monkeypatch):
    compiled = qac.compile(EXAMPLES / "attention.yaml", "aer")
    monkeypatch.setattr(checkers, "_qcec", lambda *a, **k: "no_information")
    report = verify.verify_compiled(compiled)
    qcec_checks = [c for c in report.checks if c.method.startswith("qcec")]
    assert qcec_checks and all(not c.ok and c.verdict == "no_information" for c in qcec_checks)
    assert not report.ok
    monkeypatch.setattr(checkers, "_qcec", lambda *a, **k: "probably_equivalent")
    assert not verify.verify_compiled(compiled).ok


def test_qcec_runs_with_the_zx_checker_off(monkeypatch):
    from mqt import qcec

    seen = []
    real = qcec.verify

    def spy(a, b, configuration=None, **kwargs):
        seen.append((configuration.execution.run_zx_checker, a.num_parameters, b.num_parameters))
        return real(a, b, configuration=configuration, **kwargs)

    monkeypatch.setattr(qcec, "verify", spy)
    assert verify.verify_compiled(qac.compile(EXAMPLES / "attention.yaml", "ibm_fez")).ok
    assert seen and all(zx is False and na == nb == 0 for zx, na, nb in seen)  # bound circuits, DD checkers only


def test_compact_pair_accounts_for_the_routing_permutation():
    """A template whose routing permutes qubits: the lined-up logical side ends in SWAPs."""
    spec = {"Q": np.random.default_rng(1).standard_normal((2, 16)).tolist(),
            "K": np.random.default_rng(2).standard_normal((2, 16)).tolist(), "V": [[1.0], [2.0]]}
    compiled = qac.compile(spec, "ibm_brisbane", passes="normalize,encode{method=binary},"
                           "estimate{method=interference},layout{optimization_level=1}")
    (name,) = compiled.program.isa
    isa = compiled.program.isa[name]
    pair = verify.compact_pair(compiled.program.module.templates[name].circuit, isa)
    assert not pair.problems and set(isa.layout.initial_index_layout()[:5]) <= set(pair.active)
    assert verify.verify_compiled(compiled).ok


def test_compile_verify_runs_last_and_writes_nothing_on_failure(tmp_path, monkeypatch):
    result = CliRunner().invoke(main, ["compile", str(EXAMPLES / "attention.yaml"), "-t", "ibm_fez", "--verify",
                                       "-o", str(tmp_path / "ok")])
    assert result.exit_code == 0, result.output
    assert "verify: 3 checks passed" in result.output and (tmp_path / "ok" / "manifest.json").exists()
    monkeypatch.setattr(checkers, "_qcec", lambda *a, **k: "not_equivalent")
    result = CliRunner().invoke(main, ["compile", str(EXAMPLES / "attention.yaml"), "--verify",
                                       "-o", str(tmp_path / "bad")])
    assert result.exit_code == 1 and "verify: FAILED" in result.output
    assert not (tmp_path / "bad").exists()


def test_verify_command_prints_a_line_per_check(tmp_path):
    result = CliRunner().invoke(main, ["verify", str(EXAMPLES / "npy_attention.yaml"), "-t", "ibm_brisbane"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["PASS"] * (len(lines) - 1)
    assert any("h1_scores" in line and "qcec-bound×3" in line for line in lines)
    assert lines[-1].startswith("verify: 5 checks passed for ") and lines[-1].endswith("s)")


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_wide_kernels_verify_at_every_optimization_level(target, level):
    rng = np.random.default_rng(level)
    spec = {"Q": rng.standard_normal((3, 32)).tolist(), "K": rng.standard_normal((3, 32)).tolist(),
            "V": [[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]], "heads": 2, "compile": {"optimization_level": level}}
    report = verify.verify_compiled(qac.compile(spec, target), rows=5, generic=3)
    assert report.ok, "\n".join(c.line() for c in report.checks)


def test_the_install_hint_works_for_a_source_checkout_too(monkeypatch):
    """``pip install 'qac[verify]'`` fails in a source checkout (qac is not on the index there)."""
    import sys

    from qac.verify import checkers

    monkeypatch.setitem(sys.modules, "mqt.qcec", None)  # import mqt.qcec raises ImportError
    with pytest.raises(qac.QacError) as caught:
        checkers._require_checkers()
    assert str(caught.value) == ("qac verify needs mqt.qcec, which is not installed; "
                                 "pip install -e '.[verify]' (source checkout) or pip install 'qac[verify]'")
