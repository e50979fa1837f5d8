"""qac.runtime: IBM Quantum Runtime jobs, RUN_DIR and resume, all in local testing mode (offline).

The device runs are on ibm_fez's fake backend through the runtime's local testing mode; the
cloud paths are exercised with a fake service (monkeypatched Batch/Sampler) and, for the
missing-account message, a QiskitRuntimeService pointed at an empty home directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import qac
from qac.errors import ExecutionError, QacError
from qac.runtime import jobs as limits
from qac.runtime import retry
from qac.runtime.engine import KILL_AFTER_ENV, RuntimeEngine, bit_counts, job_seed
from qac.runtime.jobdir import RunDir, stage_path, write_file
from qac.runtime.service import Connection

ROOT = Path(__file__).resolve().parent.parent
SHOTS = 200
SEED = 11


def mapping(seed: int = 3, n: int = 4, d: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    Q, K, V = rng.normal(size=(3, n, d))
    return {"Q": Q.tolist(), "K": K.tolist(), "V": V.tolist(), "seed": 5}


def fez_pubs(spec: dict, shots: int = SHOTS) -> list:
    return [(c, v, shots) for c, v in qac.compile(spec, target="ibm_fez").pubs()]


@pytest.fixture(scope="module")
def pubs():
    return fez_pubs(mapping())


@pytest.fixture(scope="module")
def finished(pubs, tmp_path_factory):
    """An uninterrupted local run on ibm_fez in 3 jobs: (run dir, counts, engine)."""
    path = tmp_path_factory.mktemp("runs") / "whole"
    engine = RuntimeEngine("ibm_fez", run_dir=path, max_circuits_per_job=6)
    return path, engine.counts(pubs, seed=SEED), engine


def tree_digest(path: Path) -> dict:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def one_line(exc: BaseException) -> bool:
    return "\n" not in str(exc) and len(str(exc)) < 400


# --------------------------------------------------------------------------- local runs on ibm_fez
def test_local_run_has_the_shape_and_the_distribution_of_aer(pubs, finished):
    from qac.targets import ibm
    from qiskit_aer.primitives import SamplerV2

    path, counts, engine = finished
    assert [c.shape for c in counts] == [(len(v), 2) for _, v, _ in pubs]
    assert all(c.dtype == np.int64 and (c.sum(axis=1) == SHOTS).all() for c in counts)
    assert engine.metadata["jobs"] == 3 and len(set(engine.metadata["job_ids"])) == 3
    assert engine.metadata["engine"] == "runtime-local" and engine.metadata["backend"] == "fake_fez"
    assert engine.metadata["calibration"].startswith("2025-")
    # Aer with the fake backend's full noise model, many shots: a two-sample chi-square over all rows
    reference_shots = 4000
    aer = SamplerV2(seed=1, options={"backend_options": {"noise_model": ibm.noise_model("ibm_fez")}})
    (circuit, values, _), = pubs
    ones_aer = aer.run([(circuit, values, reference_shots)]).result()[0].data.meas.bitcount().sum(axis=-1)
    ones_local = counts[0][:, 1]
    pooled = (ones_aer + ones_local) / (reference_shots + SHOTS)
    expected_local, expected_aer = SHOTS * pooled, reference_shots * pooled
    variance = pooled * (1 - pooled)
    keep = variance > 0
    statistic = float(np.sum(((ones_local - expected_local) ** 2 / (SHOTS * variance)
                              + (ones_aer - expected_aer) ** 2 / (reference_shots * variance))[keep]))
    from scipy.stats import chi2

    assert chi2.sf(statistic, df=int(keep.sum())) > 1e-3, statistic
    # and they are not a constant: the rows differ as the inner products do
    assert np.ptp(ones_local) > 20


def test_same_seed_same_counts_and_job_seeds_are_independent(pubs, finished, tmp_path):
    _, counts, _ = finished
    again = RuntimeEngine("ibm_fez", run_dir=tmp_path / "again", max_circuits_per_job=6).counts(pubs, seed=SEED)
    assert [c.tobytes() for c in again] == [c.tobytes() for c in counts]
    other = RuntimeEngine("ibm_fez", run_dir=tmp_path / "other", max_circuits_per_job=6).counts(pubs, seed=SEED + 1)
    assert any((a != b).any() for a, b in zip(other, counts))
    assert len({job_seed(SEED, i) for i in range(100)}) == 100 and job_seed(SEED, 3) == job_seed(SEED, 3)


KILLED_RUN = """
import json, sys
import qac
from qac.runtime.engine import RuntimeEngine
spec = json.loads(open(sys.argv[1]).read())
pubs = [(c, v, {shots}) for c, v in qac.compile(spec, target="ibm_fez").pubs()]
RuntimeEngine("ibm_fez", run_dir=sys.argv[2], max_circuits_per_job=6).counts(pubs, seed={seed})
print("not killed")
"""


def test_killed_run_resumes_to_byte_identical_counts_without_rerunning_a_finished_job(pubs, finished, tmp_path):
    _, whole, _ = finished
    spec_file, run_dir = tmp_path / "spec.json", tmp_path / "killed"
    spec_file.write_text(json.dumps(mapping()))
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN.format(shots=SHOTS, seed=SEED))
    env = {**os.environ, KILL_AFTER_ENV: "1"}
    proc = subprocess.run([sys.executable, str(script), str(spec_file), str(run_dir)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "not killed" not in proc.stdout
    run = RunDir.open(stage_path(run_dir, 0))
    records = run.records()
    assert [r["status"] for r in records[:2]] == ["done", "done"]
    assert records[2] is None or records[2]["status"] == "submitted"  # submitted, never recorded as done
    done_before = {i: run.counts_path(i).read_bytes() for i in (0, 1)}

    engine = RuntimeEngine("ibm_fez", run_dir=run_dir, max_circuits_per_job=6)
    resumed = engine.counts(pubs, seed=SEED)
    assert engine.submitted == [(0, 2)]  # the finished jobs were read back, not run again
    assert [c.tobytes() for c in resumed] == [c.tobytes() for c in whole]
    assert {i: run.counts_path(i).read_bytes() for i in (0, 1)} == done_before
    assert [r["attempts"] for r in run.records()] == [1, 1, 2 if records[2] else 1]

    # resuming a finished run from RUN_DIR alone (no spec) submits nothing and gives the same counts
    from qac.runtime import resume

    (counts,), metadata = resume(run_dir)
    assert metadata["stages"][0]["submitted_now"] == [] and [c.tobytes() for c in counts] == [c.tobytes() for c in whole]


# --------------------------------------------------------------------------- refusals, nothing lost
def copy_run(finished, tmp_path) -> Path:
    path = tmp_path / "copy"
    shutil.copytree(finished[0], path)
    return path


@pytest.mark.parametrize("damage", ["truncated record", "counts bytes", "wrong status", "manifest", "other job's"])
def test_a_corrupted_job_file_is_refused_in_one_line_and_nothing_is_lost(pubs, finished, tmp_path, damage):
    path = copy_run(finished, tmp_path)
    stage = stage_path(path, 0)
    record = stage / "jobs" / "job-0001.json"
    damaged = "manifest.json" if damage == "manifest" else "job-0001.json"
    if damage == "manifest":
        (stage / "manifest.json").write_text((stage / "manifest.json").read_text()[:-20])
    elif damage == "truncated record":
        record.write_bytes(record.read_bytes()[:40])
    elif damage == "counts bytes":
        data = bytearray((stage / "jobs" / "job-0001.npz").read_bytes())
        data[-30] ^= 0xFF
        (stage / "jobs" / "job-0001.npz").write_bytes(bytes(data))
    elif damage == "wrong status":
        record.write_text(record.read_text().replace('"done"', '"finished"'))
    else:  # job 0's record (and counts) under job 1's name
        (stage / "jobs" / "job-0001.npz").write_bytes((stage / "jobs" / "job-0000.npz").read_bytes())
        record.write_text(json.dumps({**json.loads((stage / "jobs" / "job-0000.json").read_text()), "index": 1}))
    before = tree_digest(path)
    engine = RuntimeEngine("ibm_fez", run_dir=path, max_circuits_per_job=6)
    with pytest.raises(ExecutionError, match=f"{damaged} is corrupted") as caught:
        engine.counts(pubs, seed=SEED)
    assert one_line(caught.value) and engine.submitted == []
    assert tree_digest(path) == before
    proc = subprocess.run([sys.executable, "-m", "qac.cli", "status", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "corrupted" in proc.stderr


def test_a_run_dir_of_another_spec_target_or_version_is_refused_with_the_reason(finished, tmp_path, monkeypatch):
    path = copy_run(finished, tmp_path)
    before = tree_digest(path)
    other = fez_pubs(mapping(seed=4))
    with pytest.raises(ExecutionError, match="made for other circuits") as caught:
        RuntimeEngine("ibm_fez", run_dir=path).counts(other, seed=SEED)
    assert one_line(caught.value)
    with pytest.raises(ExecutionError, match="seed 11, not 12"):
        RuntimeEngine("ibm_fez", run_dir=path).counts(RunDir.open(stage_path(path, 0)).load_pubs(), seed=SEED + 1)
    brisbane = [(c, v, SHOTS) for c, v in qac.compile(mapping(), target="ibm_brisbane").pubs()]
    with pytest.raises(ExecutionError, match="is a run on ibm_fez, not ibm_brisbane"):
        RuntimeEngine("ibm_brisbane", run_dir=path).counts(brisbane, seed=SEED)
    monkeypatch.setattr(qac, "__version__", "9.9.9")
    with pytest.raises(ExecutionError, match="written by qac 0.1.0, this is qac 9.9.9"):
        RuntimeEngine("ibm_fez", run_dir=path).counts(RunDir.open(stage_path(path, 0)).load_pubs(), seed=SEED)
    assert tree_digest(path) == before


def test_a_non_isa_circuit_is_refused_before_anything_is_written(pubs, finished, tmp_path):
    from qiskit import QuantumCircuit

    path = copy_run(finished, tmp_path)
    before = tree_digest(path)
    hadamard = QuantumCircuit(156, name="not_isa")
    hadamard.h(0)
    hadamard.measure_all()  # register "meas"
    far = QuantumCircuit(156, name="far_cz")
    far.cz(0, 100)
    far.measure_all()
    for circuit, why in ((hadamard, "'h' is not in the backend's ISA"), (far, "'cz' is not on qubits (0, 100)")):
        for where in (path, tmp_path / "new"):
            with pytest.raises(ExecutionError, match="not an ISA circuit") as caught:
                RuntimeEngine("ibm_fez", run_dir=where).counts([*pubs, (circuit, None, SHOTS)], seed=SEED)
            assert why in str(caught.value) and one_line(caught.value)
    unmeasured = QuantumCircuit(156, 1, name="no_meas")
    unmeasured.measure(0, 0)
    with pytest.raises(ExecutionError, match="no classical register 'meas'"):
        RuntimeEngine("ibm_fez", run_dir=path).counts([(unmeasured, None, SHOTS)], seed=SEED)
    assert tree_digest(path) == before and not (tmp_path / "new").exists()
    too_many = [(pubs[0][0], pubs[0][1], 200_000)]
    plan = limits.split_jobs(too_many, limits.Limits(156, 300, 100_000))
    rows = len(pubs[0][1])  # over max_shots: two parts of 100,000 (not a refusal), in one job
    assert [(j.shots, j.circuits) for j in plan] == [(100_000, 2 * rows)]


def test_cloud_without_a_saved_account_says_how_to_save_one(tmp_path):
    code = ("import sys\nfrom qac.runtime.service import connect\nfrom qac.errors import QacError\n"
            "try:\n    connect('ibm_fez', 'cloud')\nexcept QacError as exc:\n"
            "    print(exc, file=sys.stderr); sys.exit(exc.exit_code)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QISKIT_IBM")}
    env.update(HOME=str(tmp_path), HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "QiskitRuntimeService.save_account" in proc.stderr
    assert "--runtime local" in proc.stderr


def test_importing_the_runtime_loads_no_qiskit_and_the_cli_lists_status():
    code = "import sys, qac.runtime, qac.cli; assert not [m for m in sys.modules if m.startswith('qiskit')]"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    help_text = subprocess.run([sys.executable, "-m", "qac.cli", "--help"], capture_output=True, text=True).stdout
    assert "status" in help_text


def test_status_command_shows_the_jobs(finished):
    from click.testing import CliRunner

    from qac.cli.main import main

    result = CliRunner().invoke(main, ["status", str(finished[0]), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["complete"] and [j["status"] for j in report["jobs"]] == ["done"] * 3
    assert [j["job_id"] for j in report["jobs"]] == finished[2].metadata["job_ids"]


def test_plan_summary_counts_jobs_circuits_and_shots(pubs):
    from qac.runtime import plan_summary, plan_text

    summary = plan_summary(pubs, "ibm_fez", max_circuits_per_job=6)
    rows = len(pubs[0][1])
    assert (summary["jobs"], summary["circuits"], summary["executions"]) == (3, rows, rows * SHOTS)
    assert summary["estimated_qpu_seconds"] >= rows * SHOTS * summary["repetition_delay"]
    assert "3 job(s)" in plan_text(summary)
    with pytest.raises(QacError, match="IBM device target"):
        plan_summary(pubs, "aer")


# --------------------------------------------------------------------------- a fake cloud service
class FakeJob:
    """Runs at once; ``fail`` makes it end in ERROR. Counts: every shot of a row lands on the
    outcome given by the row's first value, so the assembled counts show where each row went."""

    ids = 0

    def __init__(self, pubs, fail=False, polls=1):
        FakeJob.ids += 1
        self.id, self.pubs, self.fail, self.polls = f"fake-{FakeJob.ids}", pubs, fail, polls

    def job_id(self):
        return self.id

    def status(self):
        self.polls -= 1
        return "QUEUED" if self.polls >= 0 else ("ERROR" if self.fail else "DONE")

    def error_message(self):
        return "calibration changed mid-job"

    def result(self):
        from qiskit.primitives import BitArray

        out = []
        for circuit, values, shots in self.pubs:
            bits = circuit.num_clbits
            outcomes = [int(round(v[0] * 1000)) % (1 << bits) for v in values]
            samples = np.array([[o] * shots for o in outcomes], dtype=np.uint8)[..., None]
            out.append(types.SimpleNamespace(data=types.SimpleNamespace(meas=BitArray(samples, bits))))
        return out


class FakeService:
    def __init__(self, fail_first_job=False, transient=0):
        self.runs, self.fail_first_job, self.transient, self.jobs = [], fail_first_job, transient, {}

    def sampler(self, mode=None):
        service = self

        class Sampler:
            options = types.SimpleNamespace(environment=types.SimpleNamespace(job_tags=None),
                                            simulator=types.SimpleNamespace(seed_simulator=None))

            def run(self, job_pubs):
                if service.transient:
                    service.transient -= 1
                    error = type("RequestsApiError", (Exception,), {})("503 service unavailable")
                    error.status_code = 503
                    raise error
                service.runs.append(job_pubs)
                job = FakeJob(job_pubs, fail=service.fail_first_job and len(service.runs) == 1)
                job.tags = list(self.options.environment.job_tags)
                service.jobs[job.id] = job
                return job

        return Sampler()

    def job(self, job_id):
        return self.jobs[job_id]

    def jobs_with_tags(self, tags):
        return [job for job in self.jobs.values() if set(tags) <= set(job.tags)]


@pytest.fixture
def fake_cloud(monkeypatch):
    import qiskit_ibm_runtime
    import qiskit_ibm_runtime.executor_sampler as executor_sampler
    from qac.targets import ibm

    def install(service, max_circuits=4, max_shots=150):
        fez = ibm.backend("ibm_fez")
        config = types.SimpleNamespace(max_experiments=max_circuits, max_shots=max_shots, default_rep_delay=250e-6)
        backend = types.SimpleNamespace(name="ibm_fez", num_qubits=fez.num_qubits, target=fez.target,
                                        configuration=lambda: config, properties=fez.properties)

        class Batch:
            def __init__(self, backend):
                self.backend = backend

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        monkeypatch.setattr(qiskit_ibm_runtime, "Batch", Batch)
        monkeypatch.setattr(executor_sampler, "Sampler", service.sampler)
        connection = Connection("cloud", "ibm_fez", backend, backend, service=service)
        connection.find_jobs = service.jobs_with_tags
        return connection

    return install


def test_fake_service_splits_jobs_within_the_backends_limits(pubs, fake_cloud, tmp_path):
    service = FakeService()
    connection = fake_cloud(service, max_circuits=4, max_shots=150)
    circuit, values, _ = pubs[0]
    many = [(circuit, values[:10], SHOTS), (circuit, values[10:], 100)]  # 200 shots > max_shots 150: two parts
    engine = RuntimeEngine("ibm_fez", run_dir=tmp_path / "run", connection=connection, sleep=lambda s: None)
    counts = engine.counts(many, seed=SEED)
    sizes = [sum(len(v) for _, v, _ in job) for job in service.runs]
    shots = {s for job in service.runs for _, _, s in job}
    # 10 rows × 2 parts of 100 shots + 6 rows × 100 shots = 26 circuits of 100 shots, 4 per job
    assert sizes == [4, 4, 4, 4, 4, 4, 2] and shots == {100}
    for (circuit, v, total), c in zip(many, counts):  # each row's shots all on its outcome, parts summed
        where = [int(round(x[0] * 1000)) % 2 for x in v]
        assert (c[np.arange(len(v)), where] == total).all() and (c.sum(axis=1) == total).all()
    assert engine.metadata["engine"] == "runtime-cloud" and len(engine.metadata["job_ids"]) == len(service.runs)


def test_fake_service_retries_a_transient_failure_with_backoff(pubs, fake_cloud, tmp_path):
    service = FakeService(transient=2)
    connection = fake_cloud(service)
    waits = []
    engine = RuntimeEngine("ibm_fez", run_dir=tmp_path / "run", connection=connection, sleep=waits.append,
                           backoff=retry.Backoff(attempts=3, first=2.0, factor=3.0), poll_seconds=7.0)
    engine.counts([(pubs[0][0], pubs[0][1][:3], 100)], seed=SEED)
    assert waits[:2] == [2.0, 6.0] and 7.0 in waits  # two backoffs, then polling while QUEUED
    service = FakeService(transient=3)  # one more than the budget: the error surfaces, nothing recorded
    connection = fake_cloud(service)
    engine = RuntimeEngine("ibm_fez", run_dir=tmp_path / "run2", connection=connection, sleep=lambda s: None,
                           backoff=retry.Backoff(attempts=3))
    with pytest.raises(Exception, match="503"):
        engine.counts([(pubs[0][0], pubs[0][1][:3], 100)], seed=SEED)
    assert RunDir.open(stage_path(tmp_path / "run2", 0)).records() == [None]


def test_a_job_that_fails_for_good_is_reported_with_its_id_and_resubmitted_on_resume(pubs, fake_cloud, tmp_path):
    service = FakeService(fail_first_job=True)
    connection = fake_cloud(service, max_circuits=4)
    job_pubs = [(pubs[0][0], pubs[0][1][:8], 100)]
    engine = RuntimeEngine("ibm_fez", run_dir=tmp_path / "run", connection=connection, sleep=lambda s: None)
    with pytest.raises(ExecutionError, match=r"job 0 \(id fake-\d+\): calibration changed mid-job") as caught:
        engine.counts(job_pubs, seed=SEED)
    assert "--resume" in str(caught.value) and one_line(caught.value)
    records = RunDir.open(stage_path(tmp_path / "run", 0)).records()
    assert [r["status"] for r in records] == ["failed", "done"]
    again = RuntimeEngine("ibm_fez", run_dir=tmp_path / "run", connection=connection, sleep=lambda s: None)
    counts = again.counts(job_pubs, seed=SEED)
    assert again.submitted == [(0, 0)] and (counts[0].sum(axis=1) == 100).all()


def test_fake_service_resume_re_attaches_submitted_jobs_and_finds_an_unrecorded_one(pubs, fake_cloud, tmp_path):
    service = FakeService()
    connection = fake_cloud(service, max_circuits=3)
    job_pubs = [(pubs[0][0], pubs[0][1][:9], 100)]  # 3 jobs
    sleeps = []

    def stop_on_second_poll(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt  # the user closes the laptop while job 1 is queued

    path = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        RuntimeEngine("ibm_fez", run_dir=path, connection=connection, sleep=stop_on_second_poll).counts(job_pubs, seed=1)
    assert [r["status"] for r in RunDir.open(stage_path(path, 0)).records()] == ["done", "submitted", "submitted"]
    (stage_path(path, 0) / "jobs" / "job-0002.json").unlink()  # as if killed between submitting job 2 and recording it
    assert len(service.runs) == 3
    again = RuntimeEngine("ibm_fez", run_dir=path, connection=connection, sleep=lambda s: None)
    counts = again.counts(job_pubs, seed=1)
    assert again.submitted == [] and len(service.runs) == 3  # jobs 1 and 2 re-attached, nothing run twice
    where = [int(round(x[0] * 1000)) % 2 for x in job_pubs[0][1]]
    assert (counts[0][np.arange(9), where] == 100).all()
    assert [r["job_id"] for r in RunDir.open(stage_path(path, 0)).records()] == [f"fake-{n}" for n in
                                                                  range(FakeJob.ids - 2, FakeJob.ids + 1)]


def test_each_counts_call_is_a_stage_of_the_run_and_resume_finishes_them_all(pubs, fake_cloud, tmp_path):
    """A precision run samples twice (pilot, then the rest): each call keeps its own stage."""
    from qac.runtime import resume, status

    service = FakeService()
    connection = fake_cloud(service, max_circuits=4)
    pilot, rest = [(pubs[0][0], pubs[0][1][:5], 100)], [(pubs[0][0], pubs[0][1][5:12], 50)]
    path = tmp_path / "run"
    engine = RuntimeEngine("ibm_fez", run_dir=path, connection=connection, sleep=lambda s: None)
    first, second = engine.counts(pilot, seed=1), engine.counts(rest, seed=2)
    assert engine.submitted == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [st["stage"] for st in engine.metadata["stages"]] == [0, 1] and engine.metadata["jobs"] == 4
    report = status(path)
    assert report["stages"] == 2 and [(j["stage"], j["status"]) for j in report["jobs"]] == [
        (0, "done"), (0, "done"), (1, "done"), (1, "done")]
    ((again_first,), (again_second,)), metadata = resume(path, connection=connection)
    assert again_first.tobytes() == first[0].tobytes() and again_second.tobytes() == second[0].tobytes()
    assert len(service.runs) == 4 and metadata["job_ids"] == engine.metadata["job_ids"]
    with pytest.raises(QacError, match="not a qac run directory"):
        RuntimeEngine("ibm_fez", run_dir=tmp_path, connection=connection).counts(pilot, seed=1)


# --------------------------------------------------------------------------- units
@given(st.lists(st.tuples(st.integers(0, 9), st.sampled_from([1, 50, 100, 250])), min_size=1, max_size=6),
       st.integers(1, 5), st.sampled_from([None, 100, 120]), st.sampled_from([10_000_000, 600]))
def test_split_jobs_covers_every_shot_once_within_the_limits(shape, max_circuits, max_shots, max_executions):
    pubs = [(None, np.zeros((rows, 1)), shots) for rows, shots in shape]
    lim = limits.Limits(156, max_circuits, max_shots, max_executions)
    jobs = limits.split_jobs(pubs, lim)
    got = {}
    for index, job in enumerate(jobs):
        assert job.index == index and 0 < job.circuits <= lim.circuits_per_job(job.shots)
        assert max_shots is None or job.shots <= max_shots
        for k, start, stop in job.slices:
            for row in range(start, stop):
                got[k, row] = got.get((k, row), 0) + job.shots
    assert got == {(k, r): shots for k, (rows, shots) in enumerate(shape) for r in range(rows)}
    order = [k for job in jobs for k, _, _ in job.slices]
    assert order == sorted(order)  # PUB order kept


def test_bit_counts_reads_multi_byte_registers_like_get_int_counts():
    from qiskit.primitives import BitArray

    rng = np.random.default_rng(0)
    samples = rng.integers(0, 1 << 10, size=(3, 50))
    array = BitArray.from_samples(samples.ravel().tolist(), num_bits=10).reshape(3, 50)
    counts = bit_counts(array)
    assert counts.shape == (3, 1024)
    for row in range(3):
        expected = array.slice_shots(list(range(50)))[row].get_int_counts()
        assert {i: int(n) for i, n in enumerate(counts[row]) if n} == expected


def test_transient_failures_are_told_from_final_ones():
    def error(name, status=None):
        exc = type(name, (Exception,), {})("x")
        exc.status_code = status
        return exc

    assert retry.is_transient(ConnectionError()) and retry.is_transient(error("RequestsApiError", 503))
    assert retry.is_transient(error("RequestsApiError", 429))
    assert not retry.is_transient(error("RequestsApiError", 401)) and not retry.is_transient(ValueError())
    assert retry.Backoff(attempts=5, first=1, factor=2, ceiling=5).delays() == [1, 2, 4, 5]


def test_write_file_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    write_file(target, b"one")
    write_file(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.slow
def test_restricted_local_simulator_draws_what_the_fake_backend_itself_draws(pubs):
    """The runtime on FakeFez itself (full noise model rebuilt per job, ≈5 s) draws the same samples."""
    from qiskit_ibm_runtime import Batch
    from qiskit_ibm_runtime.executor_sampler import Sampler

    from qac.runtime.service import connect

    connection = connect("ibm_fez", "local")
    job_pubs = [(pubs[0][0], pubs[0][1][:5], 100)]
    results = []
    for mode_backend in (connection.mode_backend(pubs), connection.backend):
        with Batch(backend=mode_backend) as batch:
            sampler = Sampler(mode=batch)
            sampler.options.simulator.seed_simulator = 9
            results.append(bit_counts(sampler.run(job_pubs).result()[0].data.meas))
    assert results[0].tobytes() == results[1].tobytes()
