"""Output directories (qac/artefacts/outputs.py): --force replaces only what qac wrote, the umask holds, a run
goes beside its build, and every I/O failure is one line with nothing lost or half-written."""

from __future__ import annotations

import errno
import os
import stat

import pytest
from click.testing import CliRunner

from qac.artefacts import outputs
from qac.cli.main import main

GOOD = "Q: [[1.0, 0.5], [0.2, -1.0]]\nK: [[0.3, 0.4], [1.0, 1.0]]\nV: [[1.0], [2.0]]\nshots: 200\n"


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(GOOD)
    return path


def qac_cli(*args, cwd=None):
    if cwd is not None:
        old = os.getcwd()
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        if cwd is not None:
            os.chdir(old)


def one_line(result, fragment):
    """Exit 2 and exactly one line on stderr (stdout may hold the resources table printed before)."""
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output, result.output
    assert result.stderr.startswith("error: ") and fragment in result.stderr, result.stderr


def tree(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_force_on_a_build_holding_a_user_file_refuses_and_keeps_it(tmp_path, spec):
    build = tmp_path / "build"
    assert qac_cli("compile", spec, "-o", build).exit_code == 0
    (build / "thesis.tex").write_text("\\section{mine}")
    (build / "kernels" / "notes.txt").write_text("mine too")
    before = tree(build)
    for command in ("compile", "run"):
        one_line(qac_cli(command, spec, "-o", build, "--force"),
                 "holds files qac did not write (kernels/notes.txt, thesis.tex)")
    assert tree(build) == before


def test_a_folder_qac_did_not_write_is_never_replaced(tmp_path, spec):
    mydata = tmp_path / "mydata"
    mydata.mkdir()
    (mydata / "thesis.tex").write_text("mine")
    (mydata / "manifest.json").write_text('{"not": "qac"}')  # a file of the same name is not qac's
    one_line(qac_cli("compile", spec, "-o", mydata, "--force"), "was not written by qac")
    assert sorted(p.name for p in mydata.iterdir()) == ["manifest.json", "thesis.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mydata", "spec.yaml"]  # no staging folders


def test_new_folders_get_the_umask_and_force_keeps_a_folders_mode(tmp_path, spec):
    old = os.umask(0o027)
    try:
        assert qac_cli("compile", spec, "-o", tmp_path / "new").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "new" / "manifest.json").stat().st_mode) == 0o640
    os.chmod(tmp_path / "new", 0o705)
    assert qac_cli("compile", spec, "-o", tmp_path / "new", "--force").exit_code == 0
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o705


def test_a_run_goes_beside_its_build(tmp_path, spec):
    build = tmp_path / "build"
    assert qac_cli("compile", spec, "-o", build).exit_code == 0
    built = {n: d for n, d in tree(build).items() if n != "timings.json"}
    inodes = {n: (build / n).stat().st_ino for n in built}
    result = qac_cli("run", spec, "-o", build)  # a fresh compile of the same spec: the same build
    assert result.exit_code == 0, result.output
    assert {n: d for n, d in tree(build).items() if n in built} == built
    assert {n: (build / n).stat().st_ino for n in built} == inodes  # the build's files were not rewritten
    assert {"result.npz", "run.json"} <= set(tree(build))
    one_line(qac_cli("run", build, "-o", build), "already holds a run (run.json); pass --force")
    (build / "report.html").write_text('<meta name="generator" content="qac report"> old run')
    result = qac_cli("run", build, "-o", build, "--force", "--seed", "4")
    assert result.exit_code == 0, result.output
    assert not (build / "report.html").exists()  # it showed the run that was replaced
    assert {n: d for n, d in tree(build).items() if n in built} == built
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_run_of_another_build_needs_force(tmp_path, spec):
    build = tmp_path / "build"
    assert qac_cli("compile", spec, "-o", build, "--seed", "5").exit_code == 0
    before = tree(build)
    one_line(qac_cli("run", spec, "-o", build), "already exists; pass --force")
    assert tree(build) == before
    assert qac_cli("run", spec, "-o", build, "--force").exit_code == 0
    assert tree(build)["manifest.json"] != before["manifest.json"]


def test_the_current_directory_is_not_replaced_but_a_run_may_go_beside_it(tmp_path, spec):
    build = tmp_path / "build"
    assert qac_cli("compile", spec, "-o", build).exit_code == 0
    before = tree(build)
    for target in (".", "../build"):
        one_line(qac_cli("compile", spec, "-o", target, "--force", cwd=build), "is the current directory or holds it")
    one_line(qac_cli("compile", spec, "-o", "..", "--force", cwd=build), "was not written by qac")
    assert tree(build) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no '..XXXX.old' folders
    result = qac_cli("run", ".", "-o", ".", cwd=build)
    assert result.exit_code == 0, result.output
    assert (build / "run.json").exists()


@pytest.mark.parametrize("where", ["write", "open", "replace"])
@pytest.mark.parametrize("existing", [False, True])
def test_a_full_disk_is_one_line_and_loses_nothing(tmp_path, spec, monkeypatch, where, existing):
    out = tmp_path / "out"
    if existing:
        assert qac_cli("compile", spec, "-o", out, "--seed", "3").exit_code == 0
    before = tree(tmp_path)
    real = {"write": os.write, "open": os.open, "replace": os.replace}[where]
    calls = []

    def full(*args, **kwargs):
        if where == "open" and not args[1] & os.O_CREAT:  # reading (and removing) still works on a full disk
            return real(*args, **kwargs)
        if where == "replace":  # the rename of the finished folder into place fails
            if str(args[0]).endswith(".tmp"):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(*args, **kwargs)
        calls.append(args)
        if len(calls) > 2:  # a few writes get through first: the failure comes half-way
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, where, full)
    result = qac_cli("compile", spec, "-o", out, "--force")
    monkeypatch.undo()
    one_line(result, "No space left on device")
    assert ("the existing directory is unchanged" if existing else "nothing was written") in result.stderr
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out", "spec.yaml"] if existing else ["spec.yaml"])


@pytest.mark.parametrize("error", [errno.EACCES, errno.EROFS])
def test_permission_and_read_only_failures_are_one_line(tmp_path, spec, monkeypatch, error):
    def refuse(*args, **kwargs):
        raise OSError(error, os.strerror(error), str(tmp_path))

    monkeypatch.setattr(outputs.tempfile, "mkdtemp", refuse)
    one_line(qac_cli("compile", spec, "-o", tmp_path / "out"), os.strerror(error))
    monkeypatch.undo()
    monkeypatch.setattr(outputs, "write_file", refuse)
    one_line(qac_cli("run", spec, "-o", tmp_path / "out"), os.strerror(error))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_a_full_disk_while_adding_a_run_keeps_the_build(tmp_path, spec, monkeypatch):
    build = tmp_path / "build"
    assert qac_cli("compile", spec, "-o", build).exit_code == 0
    before = tree(build)
    real, calls = os.write, []

    def full(fd, data):
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", full)
    result = qac_cli("run", spec, "-o", build)
    monkeypatch.undo()
    one_line(result, "No space left on device")
    assert tree(build) == before and not [p for p in build.iterdir() if p.name.startswith(".")]
