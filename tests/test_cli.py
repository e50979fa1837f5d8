"""The command line as a user meets it: results, one-line errors, exit 2, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from qac.cli.main import main
from tests.conftest import EXAMPLES


def run_cli(*args, cwd=None):
    """Run `qac` in a real subprocess (what a user gets, including the exit code and stderr)."""
    return subprocess.run([sys.executable, "-m", "qac.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_help_does_not_import_qiskit():
    code = "import sys; from qac.cli.main import main; sys.argv=['qac','--help']\ntry: main()\nexcept SystemExit: pass\nassert 'qiskit' not in sys.modules, 'qiskit imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "compile" in proc.stdout and "run" in proc.stdout and "targets" in proc.stdout


def test_run_prints_output_and_error_and_writes_result(tmp_path):
    out = tmp_path / "res"
    result = CliRunner().invoke(main, ["run", str(EXAMPLES / "attention.yaml"), "--shots", "2000", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "max |output - exact|" in result.output and "max reported sigma" in result.output
    saved = np.load(out / "result.npz", allow_pickle=False)
    assert saved["output"].shape == saved["exact"].shape == saved["stderr"].shape == (4, 8)
    assert np.max(np.abs(saved["output"] - saved["exact"])) < 0.3


def test_compile_writes_the_program_and_a_summary(tmp_path):
    out = tmp_path / "build"
    result = CliRunner().invoke(main, ["compile", str(EXAMPLES / "attention.yaml"), "--target", "ibm_brisbane",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "h0_scores" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["name"] == "ibm_brisbane"
    assert sorted(p.name for p in (out / "kernels").iterdir()) == ["binary_interference_d8.qasm"]


def test_print_after_all_shows_every_level():
    result = CliRunner().invoke(main, ["compile", str(EXAMPLES / "attention.yaml"), "--print-after-all"])
    assert result.exit_code == 0, result.output
    for marker in ("AttentionGraph", "KernelPlan", "CircuitModule", "IsaProgram", "IR after layout"):
        assert marker in result.output


def test_targets_lists_snapshots_and_says_brisbane_is_retired():
    result = CliRunner().invoke(main, ["targets", "--json"])
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["aer"]["status"] == "simulator"
    assert rows["ibm_brisbane"]["status"] == "retired" and rows["ibm_brisbane"]["qubits"] == 127
    assert rows["ibm_fez"]["two_qubit_gate"] == "cz"
    table = CliRunner().invoke(main, ["targets"], terminal_width=200).output
    assert "ibm_brisbane" in table and "retired" in table


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


GOOD = "Q: [[1.0, 0.5], [0.2, -1.0]]\nK: [[0.3, 0.4], [1.0, 1.0]]\nV: [[1.0], [2.0]]\n"


@pytest.mark.parametrize("text,args,fragments", [
    ("Q: [[1, 2]\nK: [[1, 2]]\nV: [[1]]\n", [], ["spec.yaml:", "YAML"]),
    ("Q: [[1, 2, 3]]\nK: [[1, 2]]\nV: [[1]]\n", [], ["spec.yaml:2", "K", "width"]),
    ("Q: [[1, 2]]\nK: [[1, 2]]\nV: [[1], [2]]\n", [], ["spec.yaml:3", "V"]),
    ("Q: [[1, .nan]]\nK: [[1, 2]]\nV: [[1]]\n", [], ["spec.yaml:1", "Q", "nan", "finite"]),
    ("Q: [[1, .inf]]\nK: [[1, 2]]\nV: [[1]]\n", [], ["spec.yaml:1", "Q"]),
    (GOOD + "hedas: 2\n", [], ["spec.yaml:4", "hedas", "did you mean 'heads'"]),
    (GOOD, ["--target", "ibm_brisbaen"], ["unknown target 'ibm_brisbaen'", "did you mean 'ibm_brisbane'"]),
    ("Q: {random: {shape: [2, 64]}}\nK: {random: {shape: [2, 64]}}\nV: [[1], [2]]\n", ["--target", "ibmq_athens"],
     ["needs 7 qubits", "has 5"]),
    (GOOD, ["--shots", "0"], ["shots"]),
])
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, text, args, fragments):
    spec = write(tmp_path, text)
    out = tmp_path / "build"
    proc = run_cli("compile", spec, *args, "-o", out) if "--shots" not in args else run_cli("run", spec, *args)
    assert_one_line_error(proc, *fragments)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]  # nothing half-written


def test_missing_spec_file(tmp_path):
    assert_one_line_error(run_cli("compile", tmp_path / "nope.yaml"), "nope.yaml", "not")


def test_existing_output_directory_is_refused_without_force(tmp_path):
    spec = write(tmp_path, GOOD)
    (tmp_path / "build").mkdir()
    assert_one_line_error(run_cli("compile", spec, "-o", tmp_path / "build"), "already exists", "--force")
    proc = run_cli("compile", spec, "-o", tmp_path / "build", "--force")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build" / "manifest.json").exists()


def test_debug_shows_the_traceback(tmp_path):
    spec = write(tmp_path, GOOD + "hedas: 2\n")
    proc = run_cli("compile", spec, "--debug")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_noise_on_the_ideal_simulator_is_a_clear_error(tmp_path):
    assert_one_line_error(run_cli("run", write(tmp_path, GOOD), "--noise"), "no noise model", "ibm_brisbane")
