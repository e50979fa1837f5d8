"""Errors as the CLI shows them: bad input is one line and exit 2; a bug (an ``InternalError``
or any unforeseen exception) shows its traceback and asks for a report, exit 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from qac.passes.normalize import Normalize

import qac
from qac.cli.main import REPORT_LINE, main
from qac.errors import CompileError, InternalError, QacError, SpecError
from tests.conftest import EXAMPLES


def compile_cli(*args):
    return CliRunner().invoke(main, ["compile", str(EXAMPLES / "attention.yaml"), *args])


def test_internal_error_is_a_bug_not_bad_input():
    assert qac.InternalError is InternalError
    assert not issubclass(InternalError, QacError)
    assert issubclass(CompileError, QacError) and issubclass(SpecError, QacError)


@pytest.mark.parametrize("bug", [InternalError("kernel k0 lost its bindings"), RuntimeError("kernel k0 lost its bindings")],
                         ids=["InternalError", "RuntimeError"])
def test_a_bug_on_the_compile_path_shows_its_traceback_and_asks_for_a_report(monkeypatch, bug):
    def broken(self, module, context):
        raise bug

    monkeypatch.setattr(Normalize, "run", broken)
    result = compile_cli()
    assert result.exit_code == 1, result.output
    assert "Traceback (most recent call last)" in result.stderr
    assert f"{type(bug).__name__}: kernel k0 lost its bindings" in result.stderr
    assert "in broken" in result.stderr  # the frame that raised, so the report can be acted on
    assert result.stderr.strip().splitlines()[-1] == f"error: {REPORT_LINE}"


def test_bad_input_is_still_one_line_and_exit_2(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("Q: [[1, 0]]\nK: [[1, 0]]\nV: [[1]]\nshots: -3\n")
    result = CliRunner().invoke(main, ["compile", str(spec)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: {spec}:4: shots:"), lines[0]
    assert REPORT_LINE not in result.stderr


def test_debug_shows_the_traceback_of_bad_input(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("Q: [[1, 0]]\nK: [[1, 0]]\nV: [[1]]\nshots: -3\n")
    result = CliRunner().invoke(main, ["compile", str(spec), "--debug"])
    assert isinstance(result.exception, SpecError)
    assert result.exit_code != 0 and REPORT_LINE not in result.stderr



def test_a_signal_a_library_wrapped_is_an_interrupt_not_a_bug(capsys):
    """Ctrl-C during Qiskit's Rust start-up surfaces as a RuntimeError raised from KeyboardInterrupt:
    qac reports the interrupt (one line, exit 130), not a bug with a traceback."""
    import click
    import pytest

    from qac.cli.main import handle_errors

    @click.command()
    @handle_errors
    def wrapped():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("An error occurred while initializing `QubitSparsePauli.Pauli`") from exc

    with pytest.raises(SystemExit) as stop:
        wrapped.main([], standalone_mode=False)
    assert stop.value.code == 130
    err = capsys.readouterr().err
    assert err == "error: interrupted; nothing was written\n", err
