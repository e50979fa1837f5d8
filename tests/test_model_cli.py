"""`qac model`: runs MiniLM on aer and prints the figures; bad input is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from qac.cli.main import main

pytest.importorskip("transformers")  # the torch extra installs it with torch


def qac_model(*args):
    return CliRunner().invoke(main, ["model", *map(str, args)])


def test_model_on_aer_prints_the_figures():
    result = qac_model("Hi", "A cat", "--heads", "0,1", "--shots", "1024")
    assert result.exit_code == 0, result.output
    for text in ("quantum layers", "within 2 sigma", "hidden max |err|", "cosine to exact", "pairwise similarities",
                 "hardware cost: 56 circuits (56 pairs), 57344 shots", "estimated device time"):
        assert text in result.output, text


def test_model_json_on_a_device_with_noise_estimates_device_time(tmp_path):
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("Hi\n\nA cat\n")
    result = qac_model("--file", sentences, "--layers", "5", "--heads", "3", "--shots", "256", "--target", "iqm_garnet",
                       "--noise", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sentences"] == ["Hi", "A cat"] and report["noise"] and report["target"] == "iqm_garnet"
    (layer,) = report["per_layer"]
    assert layer["layer"] == 5 and layer["heads"] == [3] and layer["circuits"] == report["cost"]["circuits"]
    assert report["cost"]["shots"] > 256 * report["cost"]["circuits"]  # mitigation's calibration shots count too
    assert report["cost"]["device_time"]["seconds"] > 0 and "assumed" in report["cost"]["device_time"]
    assert all(0.9 < c <= 1.0 + 1e-12 for c in report["embedding_cosine"])


@pytest.mark.parametrize("args, message", [
    (["--layers", "6"], "layer 6 does not exist: the model has 6 layers (0..5)"),
    (["--heads", "0,12"], "head 12 does not exist: the model has 12 heads (0..11)"),
    (["--layers", "first"], "layers must be 'all' or whole numbers"),
    (["--model", "."], "is not a model directory (no config.json)"),
    (["--noise"], "target 'aer' has no noise model"),
    (["--shots", "0"], "shots must be a positive whole number"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = qac_model("Hello", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1, result.output


def test_torch_missing_says_how_to_install_it():
    code = "import sys; sys.modules['torch'] = None; from qac.cli.main import main; main(['model', 'Hello'])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "pip install -e '.[torch]'" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.parametrize("pv", ["classical", "quantum"])
def test_a_local_model_directory_runs_and_exact_mode_reproduces_it(tmp_path, pv):
    import torch
    import transformers

    from qac.torch.model import load

    tokenizer, _ = load(None)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32)
    transformers.BertModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    result = qac_model("Hi", "A cat", "--model", tmp_path, "--layers", "all", "--exact", "--pv", pv, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [row["layer"] for row in report["per_layer"]] == [0, 1] and report["heads"] == 2 and report["pv"] == pv
    assert all(abs(c - 1) < 1e-12 for c in report["embedding_cosine"])
    assert all(row["hidden_max_error"] < 1e-12 for row in report["per_layer"])


def test_model_output_directory_is_what_the_report_reads(tmp_path):
    result = qac_model("Hi", "A cat", "--heads", "0", "--shots", "256", "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "run" / "model_run.json").read_text())
    (layer,) = data["layers"]
    assert data["format"] == 1 and data["kind"] == "model_run" and layer["layer"] == 0
    assert layer["within_2_sigma"] == data["figures"]["per_layer"][0]["within_2_sigma"]
    report = CliRunner().invoke(main, ["report", str(tmp_path / "run")])
    assert report.exit_code == 0, report.output
    page = (tmp_path / "run" / "report.html").read_text()
    assert 'id="model-table"' in page and f">{layer['max_error']:.4g}<" in page
