"""The first hour, smoothed (issue 21, item 13): a short ``print(result)``, ``wrote build/`` (one
slash), ratios that read as what they are, target suggestions that put current devices first and
say when one is retired, ``qac inspect --qasm | head`` exiting 0, and every command in
docs/cli.md's synopsis. (``coverage``: tests/test_execution.py; torch's NaN index:
tests/test_torch_edges.py.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import qac
from qac.errors import TargetError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "attention.yaml"


def cli(argv, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "qac.cli", *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_print_result_is_a_short_summary():
    result = qac.compile(EXAMPLE).run(shots=256, seed=1)
    text = str(result)
    assert text == repr(result) and len(text.splitlines()) <= 5 and "[[" not in text
    assert "attention output 4x8 (256 shots/pair, ideal aer" in text
    assert f"max |output - exact| = {result.max_error:.4g}" in text and "within 2 sigma" in text


@pytest.mark.parametrize("given", ["build", "build/", "build//"])
def test_wrote_line_has_one_slash(tmp_path, given):
    proc = cli(["compile", EXAMPLE, "-o", given], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote build/ (" in proc.stdout and "//" not in proc.stdout


def test_ratios_read_as_what_they_are(tmp_path):
    from qac.cli.inspect_view import ratio_text

    assert ratio_text(11815.385) == "11,815x" and ratio_text(3.25) == "3.2x" and ratio_text(0.04512) == "0.045x"
    proc = cli(["inspect", EXAMPLE], tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = " ".join(proc.stdout.split())
    assert re.search(r" (\d{1,3}(,\d{3})*|\d+\.\d|0\.\d+)x the FLOPs", line), line


def test_unknown_ibm_name_suggests_current_devices_not_a_retired_one():
    with pytest.raises(TargetError) as caught:
        qac.targets.get("ibm_nowhere")
    message = str(caught.value)
    assert "current IBM devices include" in message and "singapore" not in message
    for name in re.findall(r"'(ibm_\w+)'", message.split("include")[1]):
        assert qac.targets.get(name).status == "live"


def test_a_typo_of_a_retired_device_says_it_is_retired():
    with pytest.raises(TargetError, match=r"did you mean 'ibm_brisbane' \(a snapshot: the real device is retired\)"):
        qac.targets.get("ibm_brisbaen")
    with pytest.raises(TargetError, match=r"did you mean 'ibm_torino'\?"):
        qac.targets.get("ibm_torin")


def test_compiling_for_a_retired_device_prints_a_note(tmp_path):
    retired = cli(["compile", EXAMPLE, "--target", "ibm_brisbane"], tmp_path)
    live = cli(["compile", EXAMPLE, "--target", "ibm_fez"], tmp_path)
    assert retired.returncode == live.returncode == 0
    assert "note: the real ibm_brisbane is retired" in retired.stderr and "note:" not in live.stderr


def test_inspect_into_a_closed_pipe_exits_quietly(tmp_path):
    build = qac.compile(EXAMPLE).save(tmp_path / "build")
    inspect = subprocess.Popen([sys.executable, "-m", "qac.cli", "inspect", str(build), "--qasm"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    inspect.stdout.readline()
    inspect.stdout.close()  # what `| head -1` does once it has its line
    stderr = inspect.stderr.read().decode()
    assert inspect.wait(timeout=60) == 0 and stderr == "", stderr


def test_every_command_is_in_the_cli_synopsis():
    from qac.cli import main

    synopsis = (ROOT / "docs" / "cli.md").read_text().split("```")[1]
    listed = set(re.findall(r"^qac (\w+)", synopsis, flags=re.M))
    assert set(main.list_commands(None)) <= listed, set(main.list_commands(None)) - listed
