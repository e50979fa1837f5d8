"""Hostile files at the edges of qac (issue 21, items 1–5): devices and FIFOs named as specs or
device files, traversal names in a build's manifest, links planted at staging names, npz bombs,
and --workers beyond the machine. Every case is one line on stderr (or one ``QacError``), exit 2,
and the user's files byte-identical to before.

Commands run as real subprocesses with a timeout (a FIFO must never block); a case that could
allocate gigabytes if the guard failed runs under ``prlimit --as`` so a failure cannot take the
machine down.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import qac
from qac.artefacts import guards
from qac.artefacts.npz_guard import build_limit, declared_bytes, npz_shapes
from qac.errors import ExecutionError, OutputError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "attention.yaml"
AS_LIMIT = str(4 << 30)  # 4 GiB of address space (the bombs declare 8 GiB): a failed guard dies here, not swaps


def cli(argv, cwd, *, stdin=None, timeout=60, limit_memory=False):
    command = [sys.executable, "-m", "qac.cli", *map(str, argv)]
    env = None
    if limit_memory:  # one BLAS/OpenMP thread: per-thread buffers on a many-core machine stay out of the budget
        command = ["prlimit", f"--as={AS_LIMIT}", *command]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=cwd, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, env=env)


def one_line(proc, *needles: str) -> str:
    """The command exited 2 with exactly one line on stderr holding every needle, no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(top: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(top.rglob("*")):
        key = p.relative_to(top).as_posix()
        out[key] = (b"<link>" + os.readlink(p).encode()) if p.is_symlink() else (
            p.read_bytes() if p.is_file() else b"<dir>")
    return out


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    """A build directory of the example spec (compiled once for the module)."""
    directory = tmp_path_factory.mktemp("build") / "build"
    qac.compile(EXAMPLE).save(directory)
    return directory


def copy_build(build: Path, where: Path) -> Path:
    target = where / "build"
    shutil.copytree(build, target)
    return target


def edit_manifest(directory: Path, change) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


# ----------------------------------------------------------------------------- 1. unbounded reads
@pytest.mark.parametrize("where", ["spec", "target"])
@pytest.mark.parametrize("kind", ["dev-zero", "link-to-dev-zero", "fifo"])
def test_device_or_fifo_is_refused_without_reading_it(tmp_path, where, kind):
    path = tmp_path / "hostile.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it for reading would block forever
    else:
        path.symlink_to("/dev/zero")
    name = "/dev/zero" if kind == "dev-zero" and where == "spec" else path.name
    if kind == "dev-zero" and where == "target":
        name = path.name  # a device file is named by a .yaml path; this one links to /dev/zero
    argv = ["compile", name, "-o", "out"] if where == "spec" else ["compile", EXAMPLE, "--target", name, "-o", "out"]
    proc = cli(argv, tmp_path, timeout=60, limit_memory=True)  # today's code read /dev/zero whole
    one_line(proc, "not a regular file", "FIFO" if kind == "fifo" else "character device")
    assert not (tmp_path / "out").exists()


def test_endless_stdin_stops_at_the_limit(tmp_path):
    from qac.spec.sizes import MAX_FILE_BYTES

    endless = subprocess.Popen(["yes", "Q: [[1]]"], stdout=subprocess.PIPE)
    try:
        proc = cli(["compile", "/dev/stdin", "-o", "out"], tmp_path, stdin=endless.stdout, timeout=90,
                   limit_memory=True)
    finally:
        endless.kill()
        endless.wait()
    one_line(proc, f"more than {MAX_FILE_BYTES} bytes")


def test_stdin_from_a_file_still_reads(tmp_path):
    with open(EXAMPLE, "rb") as spec:
        proc = cli(["compile", "/dev/stdin", "-o", "out"], tmp_path, stdin=spec)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_read_bounded_reads_at_most_limit_plus_one(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"x" * 5000)
    assert guards.read_bounded(path, 100) == b"x" * 101
    assert guards.read_bounded(path, 10_000) == b"x" * 5000
    with pytest.raises(guards.NotRegular, match="character device"):
        guards.read_bounded("/dev/zero", 10)


def test_load_spec_on_a_fifo_returns_at_once(tmp_path):
    os.mkfifo(tmp_path / "spec.yaml")  # in a subprocess with a timeout: a FIFO read blocks forever
    code = ("from qac.errors import SpecError\nfrom qac.spec.load import load_spec\n"
            "try:\n    load_spec('spec.yaml')\nexcept SpecError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == ("spec.yaml: is a FIFO (named pipe), not a regular file; give the path of the "
                                   "spec's .yaml file"), proc.stderr


# ----------------------------------------------------------------------------- 2. traversal names
TRAVERSAL = {
    "dotdot": "../x/payload.txt",
    "absolute": "/tmp/qac-h21-absolute.qasm",
    "nul": "kernels/a\x00.qasm",
    "backslash": "..\\x\\payload.txt",
    "dot-part": "kernels/./../../x.qasm",
}


@pytest.mark.parametrize("case", sorted(TRAVERSAL))
def test_run_refuses_a_manifest_name_outside_the_build(tmp_path, build, case):
    directory = copy_build(build, tmp_path)
    name = TRAVERSAL[case]
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "payload.txt").write_text("the user's file\n")
    edit_manifest(directory, lambda m: m["files"].__setitem__("qasm", [name]))
    before = snapshot(tmp_path)
    proc = cli(["run", "build", "-o", "out/run"], tmp_path)
    one_line(proc, "manifest.json", "plain names inside the directory")
    assert snapshot(tmp_path) == before  # nothing written, inside or outside
    assert not Path(TRAVERSAL["absolute"]).exists()


def test_inspect_refuses_a_template_file_outside_the_build(tmp_path, build):
    directory = copy_build(build, tmp_path)
    edit_manifest(directory, lambda m: m["templates"][0].__setitem__("file", "../../../etc/passwd"))
    one_line(cli(["inspect", "build", "--qasm"], tmp_path), "'../../../etc/passwd'", "plain names")


def test_a_kernels_link_leading_outside_is_refused(tmp_path, build):
    directory = copy_build(build, tmp_path)
    outside = tmp_path / "elsewhere"
    shutil.move(directory / "kernels", outside)
    (directory / "kernels").symlink_to(outside)
    with pytest.raises(OutputError, match="leads outside"):
        qac.load(directory)


def test_write_atomic_refuses_names_outside_the_directory(tmp_path):
    from qac.artefacts.outputs import write_atomic

    with pytest.raises(OutputError, match="plain names"):
        write_atomic(tmp_path / "out", {"../escape.txt": b"x"})
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()


def test_runtime_manifest_job_index_is_checked(tmp_path):
    from qac.runtime.jobdir import FORMAT, RunDir

    stage = tmp_path / "stage-0"
    stage.mkdir()
    (stage / "manifest.json").write_text(json.dumps({
        "format": FORMAT, "qac_version": "x", "target": "t", "runtime": "local", "seed": 1, "digest": "d",
        "pubs": 1, "jobs": [{"index": "../../x", "slices": [], "shots": 1}]}))
    with pytest.raises(ExecutionError, match="job 0 does not have index 0"):
        RunDir.open(stage)


@pytest.mark.parametrize("name,ok", [("kernels/a.qasm", True), ("run.json", True), ("", False), ("..", False),
                                     ("a/../b", False), ("/etc/passwd", False), ("~/x", False), ("a\\b", False),
                                     ("a\x00b", False), ("a//b", False)])
def test_name_problem(name, ok):
    assert (guards.name_problem(name) is None) == ok


# ----------------------------------------------------------------------------- 3. links at staging names
def test_report_never_follows_a_link_at_its_staging_name(tmp_path, build):
    pytest.importorskip("matplotlib")
    from qac.report import write_report

    directory = copy_build(build, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's file\n")
    (directory / ".report.html.tmp").symlink_to(victim)
    written = write_report(directory)
    assert victim.read_text() == "the user's file\n"
    assert written.read_text().startswith("<!DOCTYPE html>") or "<html" in written.read_text()[:500]
    assert (directory / ".report.html.tmp").is_symlink()  # left alone, not written through
    assert not [p for p in directory.iterdir() if p.name.startswith(".report.html.") and p.name != ".report.html.tmp"]


def test_write_staged_replaces_a_link_rather_than_writing_through_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    page = tmp_path / "page.html"
    page.symlink_to(victim)
    guards.write_staged(page, b"new")
    assert victim.read_text() == "keep\n" and not page.is_symlink() and page.read_bytes() == b"new"


def test_compile_ignores_links_at_staging_like_names(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    for name in (".out.tmp", ".out", ".manifest.json.tmp"):
        (tmp_path / name).symlink_to(victim)
    proc = cli(["compile", EXAMPLE, "-o", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "keep\n" and (tmp_path / "out" / "manifest.json").is_file()


def test_add_files_stages_exclusively(tmp_path):
    from qac.artefacts.outputs import add_files

    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / ".run.json.tmp").symlink_to(victim)
    add_files(tmp_path / "dir", {"run.json": b"{}"})
    assert victim.read_text() == "keep\n" and (tmp_path / "dir" / "run.json").read_bytes() == b"{}"


# ----------------------------------------------------------------------------- 4. npz bombs
def bomb_npz(path: Path, members: dict[str, tuple[tuple[int, ...], str]]) -> None:
    """An npz whose members declare ``shape``/``dtype`` in their headers but hold a few bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, (shape, dtype) in members.items():
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                          "shape": shape})
            archive.writestr(f"{key}.npy", header.getvalue() + b"\0" * 1024)


GIB8 = ((1 << 30,), "<f8")  # 8 GiB of float64 declared


def test_npz_shapes_reads_headers_only(tmp_path):
    bomb_npz(tmp_path / "b.npz", {"a": GIB8})
    shapes = npz_shapes(tmp_path / "b.npz")
    assert shapes["a"][0] == (1 << 30,) and declared_bytes(shapes) == 8 << 30
    assert (tmp_path / "b.npz").stat().st_size < 1 << 20


@pytest.mark.parametrize("member", ["bindings.npz", "program.npz"])
def test_run_refuses_a_build_npz_bomb(tmp_path, build, member):
    directory = copy_build(build, tmp_path)
    bomb_npz(directory / member, {"h0_scores.values": GIB8})
    proc = cli(["run", "build"], tmp_path, limit_memory=True, timeout=120)
    one_line(proc, member, "declares arrays of 8.59 GB", "not loaded")


def test_verify_refuses_a_bindings_bomb(tmp_path, build):
    directory = copy_build(build, tmp_path)
    bomb_npz(directory / "bindings.npz", {"h0_scores.values": GIB8})
    one_line(cli(["verify", "build"], tmp_path, limit_memory=True, timeout=120), "declares arrays of 8.59 GB")


def test_report_refuses_a_result_bomb(tmp_path):
    pytest.importorskip("matplotlib")
    proc = cli(["run", EXAMPLE, "-o", "run", "--shots", "256"], tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    bomb_npz(tmp_path / "run" / "result.npz", {"output": GIB8})
    one_line(cli(["report", "run"], tmp_path, limit_memory=True, timeout=120), "result.npz", "8.59 GB")


def test_npz_with_objects_is_refused(tmp_path, build):
    directory = copy_build(build, tmp_path)
    bomb_npz(directory / "bindings.npz", {"h0_scores.values": ((2,), "|O")})
    with pytest.raises(OutputError, match="Python objects"):
        qac.load(directory)


def test_runtime_counts_bomb_is_refused(tmp_path):
    from qac.runtime.jobdir import FORMAT, RunDir

    stage = tmp_path / "stage-0"
    (stage / "jobs").mkdir(parents=True)
    manifest = {"format": FORMAT, "qac_version": "x", "target": "t", "runtime": "local", "seed": 1, "digest": "d",
                "pubs": 1, "jobs": [{"index": 0, "slices": [[0, 0, 4]], "shots": 1}]}
    (stage / "manifest.json").write_text(json.dumps(manifest))
    bomb_npz(stage / "jobs" / "job-0000.npz", {"slice_0": ((1 << 40, 4), "<i8")})
    with pytest.raises(ExecutionError, match="declares arrays"):
        RunDir.open(stage).read_counts(0)
    bomb_npz(stage / "jobs" / "job-0000.npz", {"slice_0": ((7, 4), "<i8")})
    with pytest.raises(ExecutionError, match=r"not a \(4, outcomes\) table"):
        RunDir.open(stage).read_counts(0)


def test_build_limit_holds_honest_builds(build):
    manifest = json.loads((build / "manifest.json").read_text())
    for name in ("program.npz", "bindings.npz"):
        assert declared_bytes(npz_shapes(build / name)) < build_limit(manifest)
    assert build_limit(manifest) < 1 << 30  # and a bomb of 8 GiB is well beyond it


# ----------------------------------------------------------------------------- 5. workers
def test_workers_with_scheduler_is_refused_before_compiling(tmp_path):
    proc = cli(["run", EXAMPLE, "--workers", "1", "--scheduler", "tcp://127.0.0.1:1"], tmp_path)
    one_line(proc, "--workers", "--scheduler", "not both")


def test_workers_beyond_the_cores_are_refused(tmp_path):
    cores = os.cpu_count() or 1
    proc = cli(["run", EXAMPLE, "--workers", str(cores + 30)], tmp_path)
    one_line(proc, f"--workers {cores + 30} is more than the {cores} cores", f"--workers {cores} or fewer")


def test_workers_count_in_the_memory_check(monkeypatch):
    from qac.execution import memory

    compiled = qac.compile(EXAMPLE)
    alone = memory.check(compiled)
    assert memory.check(compiled, workers=2) == alone + memory.SCHEDULER_BYTES + 2 * memory.WORKER_BYTES
    monkeypatch.setattr(memory, "available", lambda: alone + memory.SCHEDULER_BYTES + memory.WORKER_BYTES + 1)
    with pytest.raises(ExecutionError, match="with 2 Dask workers.*pass --workers 1 or fewer"):
        compiled.run(engine="batched", workers=2)


@pytest.mark.slow
def test_dask_run_is_recorded_and_quiet_on_a_taken_port(tmp_path):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            taken.bind(("127.0.0.1", 8787))
        except OSError:
            pass  # something else holds it already: the warning would show all the same
        taken.listen()
        proc = cli(["run", EXAMPLE, "--workers", "1", "--engine", "batched", "-o", "run"], tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "8787" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    assert "engine: batched on Dask (1 local worker)" in proc.stdout
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["dask"] == {"workers": 1, "scheduler": None} and run["engine"] == "batched on Dask (1 local worker)"


def test_model_sentence_file_on_a_device_is_refused(tmp_path):
    one_line(cli(["model", "--file", "/dev/zero"], tmp_path, limit_memory=True), "--file /dev/zero",
             "character device")
