"""Faults and concurrency (issue 21, items 6–10 and 12): Dask clusters that fail on 127.0.0.1, one
writer per run directory, SIGTERM and SIGKILL mid-run, a full disk, racing --force, wrong messages,
output folders checked before the work, and the README's test command on a fresh machine.

Each case asserts what the user sees (one line, exit code) and what is left on disk."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import qac
from qac.cli import main
from tests.conftest import forbid_compilation, spec_mapping

REPO = Path(__file__).resolve().parents[1]


def error_lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


def last_line(result, code: int = 2) -> str:
    """The command failed with ``code``, no traceback; its last line (runtime runs log their jobs first)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return error_lines(result.output)[-1]


def one_line(result, code: int = 2) -> str:
    """The command failed with ``code`` and exactly one line, no traceback; that line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    lines = error_lines(result.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


# ---------------------------------------------------------------------------------------------- Dask (item 6)
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


@pytest.fixture
def dask_scheduler():
    """A Dask scheduler on 127.0.0.1 (no workers yet): its address and process."""
    port = free_port()
    process = start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
    address = f"tcp://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        stop(process)
        pytest.fail("the Dask scheduler did not start")
    yield address, process
    stop(process)


def dask_worker(address: str) -> subprocess.Popen:
    """One single-threaded worker without a nanny (killing it leaves the cluster with none),
    joined to the scheduler before this returns (a loaded machine starts it slowly)."""
    from distributed import Client

    process = start("distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard")
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(1, timeout=180)
    return process


@pytest.fixture
def no_compiling(monkeypatch):
    """Compiling raises: a check that must come before it shows it did."""
    forbid_compilation(monkeypatch)


@pytest.fixture
def small_build():
    rng = np.random.default_rng(5)
    Q, K, V = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    return qac.compile(spec_mapping(Q, K, V, shots=256, seed=3), "aer")


def test_a_malformed_scheduler_address_is_one_line_before_compiling(example_spec, no_compiling):
    out = one_line(CliRunner().invoke(main, ["run", str(example_spec), "--scheduler", "foo"]))
    assert "--scheduler 'foo'" in out and "tcp://HOST:PORT" in out


def test_a_scheduler_nobody_listens_on_is_one_line_before_compiling(example_spec, no_compiling):
    address = f"tcp://127.0.0.1:{free_port()}"
    out = one_line(CliRunner().invoke(main, ["run", str(example_spec), "--scheduler", address]))
    assert f"cannot reach the Dask scheduler at {address}" in out


def test_a_scheduler_with_no_workers_is_one_line(example_spec, dask_scheduler, monkeypatch):
    import qac.execution.batched as batched

    monkeypatch.setattr(batched, "DASK_TIMEOUT", 2.0)
    address, _ = dask_scheduler
    out = one_line(CliRunner().invoke(main, ["run", str(example_spec), "--scheduler", address, "--shots", "64"]))
    assert f"the Dask scheduler at {address} has no worker" in out and "dask worker" in out


def _kill_after_first_chunk(engine, process):
    def progress(done, total):
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    engine.progress = progress


def test_the_scheduler_killed_mid_run_is_one_line(small_build, dask_scheduler, monkeypatch):
    import qac.execution.batched as batched
    from qac.errors import ExecutionError

    monkeypatch.setattr(batched, "CHUNK_ROWS", 1)
    monkeypatch.setattr(batched, "DASK_TIMEOUT", 3.0)
    address, scheduler = dask_scheduler
    worker = dask_worker(address)
    try:
        engine = batched.BatchedEngine(scheduler=address)
        _kill_after_first_chunk(engine, scheduler)
        started = time.monotonic()
        with pytest.raises(ExecutionError, match=f"lost the Dask scheduler at {address}"):
            small_build.run(engine=engine, shots=64)
        engine.close()
        assert time.monotonic() - started < 60
    finally:
        stop(worker)


def test_the_only_worker_killed_mid_run_is_one_line(small_build, dask_scheduler, monkeypatch):
    import qac.execution.batched as batched
    from qac.errors import ExecutionError

    monkeypatch.setattr(batched, "CHUNK_ROWS", 1)
    monkeypatch.setattr(batched, "DASK_TIMEOUT", 2.0)
    monkeypatch.setattr(batched, "DASK_POLL", 0.2)
    address, _ = dask_scheduler
    worker = dask_worker(address)
    try:
        engine = batched.BatchedEngine(scheduler=address)
        _kill_after_first_chunk(engine, worker)
        with pytest.raises(ExecutionError, match=f"the Dask scheduler at {address} (lost a worker|has had no worker)"):
            small_build.run(engine=engine, shots=64)
        engine.close()
    finally:
        stop(worker)


# ---------------------------------------------------------------------------------------------- output folders (item 10)
@pytest.mark.parametrize("command", ["run", "compile"])
def test_an_output_folder_on_a_read_only_file_system_is_refused_before_the_work(example_spec, no_compiling, command):
    out = one_line(CliRunner().invoke(main, [command, str(example_spec), "-o", "/sys/qac-out"]))
    assert out.startswith("error: cannot create output directory /sys/qac-out") and "choose another -o" in out
    assert not os.path.lexists("/sys/qac-out")


@pytest.mark.parametrize("command", ["run", "compile"])
def test_an_output_folder_below_a_file_is_refused_before_the_work(example_spec, no_compiling, tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_bytes(b"mine\n")
    out = one_line(CliRunner().invoke(main, [command, str(example_spec), "-o", str(afile / "sub")]))
    assert f"{afile} is a file, not a directory" in out
    assert afile.read_bytes() == b"mine\n" and sorted(os.listdir(tmp_path)) == ["afile"]


def test_a_runtime_run_dir_that_cannot_be_created_is_refused_before_compiling(example_spec, no_compiling):
    out = one_line(CliRunner().invoke(main, ["run", str(example_spec), "-t", "ibm_fez", "--runtime", "local",
                                             "-o", "/sys/qac-run"]))
    assert "cannot create output directory /sys/qac-run" in out


# ---------------------------------------------------------------------------------------------- runtime runs (items 7–9)
RUNTIME_OPTIONS = ["-t", "ibm_fez", "--runtime", "local", "--max-circuits-per-job", "8", "--shots", "64"]


def runtime_run(spec, run_dir, *extra):
    return CliRunner().invoke(main, ["run", str(spec), *RUNTIME_OPTIONS, "-o", str(run_dir), *extra])


@pytest.fixture(scope="module")
def finished_run(example_spec, tmp_path_factory):
    """A local runtime run that finished: its RUN_DIR (copy it before changing it)."""
    run_dir = tmp_path_factory.mktemp("runtime") / "fez"
    result = runtime_run(example_spec, run_dir)
    assert result.exit_code == 0, result.output
    return run_dir


def copy_run(finished_run, tmp_path) -> Path:
    import shutil

    copy = tmp_path / "fez"
    shutil.copytree(finished_run, copy)
    return copy


def records(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "runtime").glob("stage-*/jobs/job-*.json"))]


def test_a_runtime_run_json_records_the_backend_calibration_and_job_ids(finished_run):
    run = json.loads((finished_run / "result" / "run.json").read_text())
    manifest = json.loads((finished_run / "runtime" / "stage-0" / "manifest.json").read_text())
    assert run["noise"] is True  # the device (here its fake backend) is noisy
    assert run["runtime"]["backend"] == manifest["backend"] == "fake_fez"
    assert run["runtime"]["calibration"] == manifest["calibration"] and manifest["calibration"]
    assert run["runtime"]["job_ids"] == [r["job_id"] for r in records(finished_run)]
    assert run["runtime"]["jobs"] == len(records(finished_run)) > 1


def test_status_works_on_the_run_dir_the_docs_show_and_its_resume_hint_works(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    before = (run_dir / "result" / "result.npz").read_bytes()
    for name in ("job-0003.json", "job-0003.npz"):  # as if the run had stopped before job 3 finished
        (run_dir / "runtime" / "stage-0" / "jobs" / name).unlink()
    (run_dir / "runtime" / "stage-0" / "jobs" / ".job-0001.npz.k2j4x9.tmp").write_bytes(b"half")  # a SIGKILL mid-write
    for where in (run_dir, run_dir / "runtime"):
        shown = CliRunner().invoke(main, ["status", str(where)])
        assert shown.exit_code == 0, shown.output
        total = len(records(finished_run))
        assert f"{total - 1} of {total} jobs done; finish with `qac run --resume {run_dir}`" in shown.output
    resumed = CliRunner().invoke(main, ["run", "--resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    first = resumed.output.splitlines()[0]
    assert first.startswith(f"resuming {run_dir} on fake_fez (local): {total - 1} of {total} recorded job(s) done")
    assert "at most 8 circuits per job" in first  # the recorded size, not the device's 300
    assert "noisy ibm_fez" in resumed.output and "ideal" not in resumed.output
    assert (run_dir / "result" / "result.npz").read_bytes() == before
    assert not list((run_dir / "runtime").rglob("*.tmp"))


def test_ctrl_c_in_a_runtime_run_keeps_the_finished_jobs_and_says_resume(example_spec, finished_run, tmp_path,
                                                                         monkeypatch):
    from qac.runtime.engine import RuntimeEngine

    real, finished = RuntimeEngine._wait, []

    def wait(self, *args):
        if len(finished) == 2:
            raise KeyboardInterrupt
        finished.append(real(self, *args))

    monkeypatch.setattr(RuntimeEngine, "_wait", wait)
    run_dir = tmp_path / "fez"
    out = last_line(runtime_run(example_spec, run_dir), 130)
    assert out == f"error: interrupted; the finished jobs are kept in {run_dir}: continue with qac run --resume {run_dir}"
    assert sum(r["status"] == "done" for r in records(run_dir)) == 2
    monkeypatch.setattr(RuntimeEngine, "_wait", real)
    resumed = CliRunner().invoke(main, ["run", "--resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    assert (run_dir / "result" / "result.npz").read_bytes() == (finished_run / "result" / "result.npz").read_bytes()


def test_a_full_disk_in_a_runtime_run_is_one_line_and_resume_continues(example_spec, finished_run, tmp_path,
                                                                      monkeypatch):
    import errno

    import qac.runtime.jobdir as jobdir

    real, calls = jobdir.write_file, []

    def write_file(path, data):
        calls.append(path)
        if len(calls) == 12:  # a few jobs in: the disk fills
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(jobdir, "write_file", write_file)
    run_dir = tmp_path / "fez"
    out = last_line(runtime_run(example_spec, run_dir))
    assert out.startswith("error: cannot write the run's records") and "No space left on device" in out and f"qac run --resume {run_dir} continues" in out
    monkeypatch.setattr(jobdir, "write_file", real)
    resumed = CliRunner().invoke(main, ["run", "--resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    assert (run_dir / "result" / "result.npz").read_bytes() == (finished_run / "result" / "result.npz").read_bytes()


def qac_process(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qac.cli", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(condition, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_live_run_dir_has_one_writer_and_sigterm_stops_it_with_one_line(example_spec, tmp_path):
    run_dir = tmp_path / "fez"
    live = qac_process("run", str(example_spec), "-t", "ibm_fez", "--runtime", "local", "--max-circuits-per-job", "1",
                       "--shots", "256", "-o", str(run_dir))
    try:
        wait_for(lambda: any(r["status"] == "done" for r in records(run_dir)) or live.poll() is not None)
        assert live.poll() is None
        second = one_line(runtime_run(example_spec, run_dir))
        resume = one_line(CliRunner().invoke(main, ["run", "--resume", str(run_dir)]))
        for out in (second, resume):
            assert f"run directory {run_dir} is in use by a live qac run (pid {live.pid})" in out
        live.send_signal(signal.SIGTERM)
        _, stderr = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    assert live.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (f"error: terminated (SIGTERM); the finished jobs are kept in {run_dir}: "
                                               f"continue with qac run --resume {run_dir}")
    assert any(r["status"] == "done" for r in records(run_dir))
    assert not list(run_dir.rglob("*.tmp")) and not (run_dir / "result").exists()


# ---------------------------------------------------------------------------------------------- signals and leftovers (item 8)
@pytest.mark.parametrize("signum, code, said", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_sigterm_while_the_output_is_written_removes_the_staging(example_spec, tmp_path, monkeypatch, signum, code,
                                                                 said):
    import qac.artefacts.outputs as outputs

    real, written = outputs.write_file, []

    def write_file(path, data):
        real(path, data)
        written.append(path)
        if len(written) == 3:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises here

    monkeypatch.setattr(outputs, "write_file", write_file)
    out = tmp_path / "build"
    result = CliRunner().invoke(main, ["compile", str(example_spec), "-o", str(out)])
    assert result.exit_code == code, result.output
    assert error_lines(result.output)[-1] == f"error: {said}; nothing was written"
    assert len(written) == 3 and os.listdir(tmp_path) == []


def test_leftovers_of_a_killed_run_are_not_blamed_on_the_user(example_spec, tmp_path):
    build = tmp_path / "build"
    assert CliRunner().invoke(main, ["compile", str(example_spec), "-o", str(build)]).exit_code == 0
    (build / ".run.json.x7fq2a.tmp").write_bytes(b"{")  # a run beside the build was SIGKILLed mid-write
    ran = CliRunner().invoke(main, ["run", str(build), "-o", str(build), "--shots", "64"])
    assert ran.exit_code == 0, ran.output
    assert "did not write" not in ran.output and (build / "run.json").is_file()
    assert not (build / ".run.json.x7fq2a.tmp").exists()  # cleaned by the next write into the build
    (build / ".run.json.x7fq2a.tmp").write_bytes(b"{")  # and once more, for the next --force
    again = CliRunner().invoke(main, ["compile", str(example_spec), "-o", str(build), "--force"])
    assert again.exit_code == 0, again.output
    assert not (build / ".run.json.x7fq2a.tmp").exists()  # replaced with the directory


KILL_BETWEEN_RENAMES = """
import os, signal, sys
import qac.artefacts.outputs as outputs
real, calls = os.replace, []
def replace(a, b):
    real(a, b)
    calls.append(b)
    if len(calls) == 1:  # the old directory is hidden, the new one not yet in place
        os.kill(os.getpid(), signal.SIGKILL)
outputs.os.replace = replace
outputs.write_atomic(sys.argv[1], {"manifest.json": b"new"}, force=True)
"""


def test_a_killed_force_never_hides_the_old_build(example_spec, tmp_path):
    build = tmp_path / "build"
    assert CliRunner().invoke(main, ["compile", str(example_spec), "-o", str(build)]).exit_code == 0
    before = {p.relative_to(build): p.read_bytes() for p in build.rglob("*") if p.is_file()}
    killed = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, str(build)], cwd=REPO, check=False)
    assert killed.returncode == -signal.SIGKILL and not build.exists()
    again = CliRunner().invoke(main, ["compile", str(example_spec), "-o", str(build)])
    assert again.exit_code == 2, again.output  # restored, so it exists and needs --force
    assert f"note: restored {build} from " in again.output and "already exists; pass --force" in again.output
    assert {p.relative_to(build): p.read_bytes() for p in build.rglob("*") if p.is_file()} == before
    assert os.listdir(tmp_path) == ["build"]


def test_racing_force_writes_never_cross_their_renames(tmp_path, monkeypatch):
    """B's whole --force write lands while A is between its two renames (the worst moment): both
    succeed, one after the other, and nothing is left hidden (today A said "unchanged" and hid a copy)."""
    import threading

    import qac.artefacts.outputs as outputs

    def build(who: str) -> dict[str, bytes]:
        manifest = {"format": 1, "spec": {"name": who}, "pipeline": "", "templates": []}
        return {"manifest.json": json.dumps(manifest).encode(), "kernels/k.qasm": who.encode()}

    target = tmp_path / "build"
    outputs.write_atomic(target, build("old"))
    real, state = os.replace, {}

    def replace(source, destination):
        if Path(source) == target and "b" not in state:  # A hides the old build: B races in now
            state["b"] = threading.Thread(target=lambda: state.setdefault(
                "b_result", outputs.write_atomic(target, build("b"), force=True)))
            state["b"].start()
            state["b"].join(timeout=3)  # B waits for A's swap to end (or, unlocked, runs right through it)
        real(source, destination)

    monkeypatch.setattr(outputs.os, "replace", replace)
    assert outputs.write_atomic(target, build("a"), force=True) == target
    state["b"].join(timeout=60)
    assert state.get("b_result") == target
    assert json.loads((target / "manifest.json").read_text())["spec"]["name"] == "b"  # the later one wins, whole
    assert (target / "kernels" / "k.qasm").read_bytes() == b"b"
    assert os.listdir(tmp_path) == ["build"]


# ---------------------------------------------------------------------------------------------- a fresh machine (item 12)
def test_the_readme_test_command_installs_chromium_and_ci_runs_exactly_it():
    readme = (REPO / "README.md").read_text().splitlines()
    command = next(line for line in readme if "python -m pytest" in line).split("#")[0].strip()
    assert command.startswith("bash .ci/chromium.sh && ")
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == command
    script = (REPO / ".ci" / "chromium.sh").read_text()
    assert "command -v chromium" in script and "sudo" in script  # a no-op when present; not root: sudo


def test_a_run_dir_left_before_its_first_record_is_used_again_and_a_stale_lock_blocks_nothing(tmp_path):
    from qac.cli.hardware import check_new_run_dir
    from qac.errors import OutputError
    from qac.runtime.lock import RunLock

    run_dir = tmp_path / "fez"
    (run_dir / "runtime" / "stage-0" / "jobs").mkdir(parents=True)  # killed inside RunDir.create
    (run_dir / ".qac-lock").write_text("999999\n")  # its process is gone: nobody holds the flock
    assert not RunLock(run_dir).busy()
    check_new_run_dir(run_dir)  # a new run may start there: nothing was sent from it
    (run_dir / "runtime" / "stage-0" / "manifest.json").write_text("{}")
    with pytest.raises(OutputError, match=f"{run_dir} already exists.*qac run --resume {run_dir}"):
        check_new_run_dir(run_dir)
