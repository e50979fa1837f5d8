"""`qac inspect SPEC|DIR`: the table, --json, --print-after-all, --qasm, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from qac.cli.inspect_view import classical_flops
from qac.cli.main import main


def run(*args):
    return CliRunner().invoke(main, ["inspect", *map(str, args)])


def test_json_report_of_a_spec(example_spec):
    result = run(example_spec, "--target", "ibm_fez", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (kernel,) = report["kernels"]
    for key in ("qubits", "two_qubit_gates", "depth", "duration_ns", "esp", "shots_for_precision", "physical_qubits"):
        assert key in kernel
    assert 0 < kernel["esp"] < 1 and kernel["duration_ns"] > 0
    assert len(kernel["physical_qubits"]) == kernel["qubits"]
    assert report["ir"] == ["input", "normalize", "encode{method=binary}", "estimate{method=interference}",
                            "layout{optimization_level=1}", "resources"]
    account = report["account"]
    assert account["classical_flops"] == classical_flops(N=4, M=4, d=8, dv=8, heads=1)
    assert account["shots_total"] == account["circuits"] * report["shots"]


def test_table_ir_and_qasm(example_spec):
    result = run(example_spec, "--print-after-all", "--qasm")
    assert result.exit_code == 0, result.output
    assert "// IR after layout{optimization_level=1}" in result.output
    assert "shots for ε=0.01" in result.output
    assert "honest account: classical attention costs" in result.output
    assert "OPENQASM 3.0;" in result.output


def test_a_compiled_directory(example_spec, tmp_path):
    out = tmp_path / "build"
    assert CliRunner().invoke(main, ["compile", str(example_spec), "-t", "ibm_brisbane", "-o", str(out)]).exit_code == 0
    result = run(out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["target"] == "ibm_brisbane" and report["kernels"][0]["esp"] < 1
    assert report["qasm"]["text"].startswith("OPENQASM 3.0;")


def test_bad_input_is_one_line_exit_2(example_spec, tmp_path):
    result = run(example_spec, "--passes", "normalize,encode{method=unary},estimate,layout")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "unknown encoding 'unary'" in result.output
    result = run(tmp_path)
    assert result.exit_code == 2 and "manifest.json is missing" in result.output


@pytest.mark.parametrize("text, fragment, verify_says_so", [
    ("{not json", "JSONDecodeError", True), ("[1]", "TypeError", True),
    ('{"templates": [], "kernels": []}', "KeyError: 'spec'", False),  # verify needs no spec: it stops at program.qpy
    ('{"templates": [{"name": "t"}], "kernels": [{"kernel": "k", "template": "t", "d": 2}], "spec": {}}', "KeyError",
     False)])
def test_a_damaged_manifest_is_one_line_exit_2_as_in_verify(tmp_path, text, fragment, verify_says_so):
    """`qac inspect DIR` reads the manifest with the reader `qac verify DIR` uses (qac.artefacts.bundle.read_manifest)."""
    from qac.cli.verify import verify_command

    (tmp_path / "manifest.json").write_text(text)
    for command in (None, verify_command):
        result = run(tmp_path) if command is None else CliRunner().invoke(command, [str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output, result.output
        if command is None or verify_says_so:
            assert "manifest.json: not a qac manifest" in result.output and fragment in result.output, result.output


def test_command_module_imports_only_click():
    code = ("import sys, qac.cli.inspect; "
            "assert not any(m.startswith(('qiskit', 'numpy', 'rich')) for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_directory_reports_the_same_figures_as_the_compile(tmp_path):
    """Packed compute_uncompute measures 3 bits per copy: the directory report reads them from
    the manifest and must give the cost model's figures exactly as the in-process report."""
    import numpy as np

    import qac
    from qac.cli.inspect_view import report_from_compiled, report_from_directory
    from tests.conftest import spec_mapping

    rng = np.random.default_rng(0)
    mapping = spec_mapping(rng.standard_normal((4, 4)), rng.standard_normal((4, 4)), rng.standard_normal((4, 2)))
    compiled = qac.compile(mapping, "ibm_brisbane",
                           passes="normalize,encode,estimate{method=compute_uncompute},layout,pack{copies=auto}")
    compiled.save(tmp_path / "build")
    keys = ("two_qubit_gates", "esp", "variance_per_shot", "residual_bias", "expected_error", "shots_for_precision")
    (saved,), (live,) = report_from_directory(tmp_path / "build")["kernels"], report_from_compiled(compiled)["kernels"]
    assert live["estimator"] == "compute_uncompute" and compiled.copies(live["template"]) > 1
    assert {k: saved[k] for k in keys} == {k: live[k] for k in keys}
