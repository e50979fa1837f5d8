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
    """One single-threaded worker without a nanny (killing it leaves the cluster with none)."""
    return start("distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard")


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
