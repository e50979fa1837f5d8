"""The runtime engine: PUBs → IBM Quantum Runtime jobs (Batch mode) → counts, through a RUN_DIR.

Same interface as the simulators' engines: ``counts(pubs, *, seed, noise_model)`` returns one
``(rows, 2^bits)`` int64 array per PUB ``(isa_circuit, values, shots)``, the outcome index being
the value of the circuit's classical register ``meas`` (clbit 0 least significant). The jobs go
through ``qiskit_ibm_runtime.executor_sampler.Sampler`` in a ``Batch``; each job's record and,
once done, its counts are in RUN_DIR before the next step, so a run that stops (killed, closed
laptop, failed job) continues with ``counts`` (or ``resume``) on the same RUN_DIR: done jobs are
read back, submitted ones re-attached by id (cloud) or submitted again (local mode: its jobs
live only in the process that ran them), the rest submitted. The counts are then exactly those
of a run that never stopped: each local job is seeded from (run seed, job index).

Each ``counts`` call of one engine is a stage of the run (``RUN_DIR/stage-N``): a run that
samples twice (a precision pilot, then the rest) calls it twice, and a resumed run makes the
same calls in the same order. ``noise_model`` is not used: the device is the noise (in local
mode, the fake backend's).
"""

from __future__ import annotations

import datetime
import errno
import os
import signal
import time
import uuid

import numpy as np

from qac import seeds
from qac.errors import ExecutionError, OutputError
from qac.runtime.jobdir import RunDir, check_top, pubs_digest, stage_path
from qac.runtime.jobs import Job, backend_limits, check_pubs, split_jobs
from qac.runtime.retry import Backoff, is_transient
from qac.runtime.retry import call as call_with_retry
from qac.runtime.service import calibration_time, connect

#: Runtime job statuses (V2 jobs give strings, local jobs a JobStatus enum with these names).
FINISHED, FAILED = frozenset({"DONE"}), frozenset({"ERROR", "CANCELLED"})

#: errnos that mean RUN_DIR cannot be written (full disk or quota, read-only, permission, I/O)
DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG})

#: Tests set this to a job index: the process kills itself (SIGKILL) right after that job's
#: counts are recorded, as a crash at the worst moment would.
KILL_AFTER_ENV = "QAC_RUNTIME_KILL_AFTER_JOB"


def job_seed(seed: int, index: int) -> int:
    """The local simulator's seed for job ``index`` of a run seeded ``seed`` (independent of
    which jobs ran before, so a resumed run draws what an uninterrupted one would)."""
    return seeds.child_seed(seed, "runtime_job", index)


def normalise(pubs) -> list[tuple]:
    """PUBs as ``(circuit, float64 values (rows, P), int shots)``."""
    out = []
    for circuit, values, shots in pubs:
        array = np.zeros((1, 0)) if values is None else np.asarray(values, dtype=np.float64)
        out.append((circuit, array.reshape(len(array), -1) if array.ndim != 2 else array, int(shots)))
    return out


def bit_counts(bit_array) -> np.ndarray:
    """A sampler ``BitArray`` of shape (rows,) as counts (rows, 2^bits) indexed by outcome value."""
    packed = np.asarray(bit_array.array)  # (rows, shots, bytes), big-endian bytes
    packed = packed.reshape(-1, *packed.shape[-2:])
    bits = bit_array.num_bits
    values = np.zeros(packed.shape[:2], dtype=np.int64)
    for byte in range(packed.shape[-1]):
        values = (values << 8) | packed[..., byte]
    rows, outcomes = packed.shape[0], 1 << bits
    flat = values + outcomes * np.arange(rows, dtype=np.int64)[:, None]
    return np.bincount(flat.ravel(), minlength=rows * outcomes).reshape(rows, outcomes).astype(np.int64)


def status_name(status) -> str:
    return str(getattr(status, "name", status)).upper()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class RuntimeEngine:
    """Runs PUBs on an IBM device (``runtime="cloud"``) or its fake (``"local"``) through ``run_dir``."""

    name = "runtime"

    def __init__(self, target: str, *, run_dir, runtime: str = "local", instance: str | None = None,
                 max_circuits_per_job: int | None = None, connection=None, context: dict | None = None,
                 backoff: Backoff = Backoff(), sleep=time.sleep, poll_seconds: float | None = None,
                 in_flight: int | None = None, log=None, resume_path=None):
        self.target, self.runtime, self.instance = target, runtime, instance
        self.run_dir_path = run_dir
        self.resume_path = run_dir if resume_path is None else resume_path  # what --resume takes
        self.max_circuits_per_job = max_circuits_per_job
        self.connection = connection
        self.context = context or {}
        self.backoff, self.sleep = backoff, sleep
        self.poll_seconds = poll_seconds
        # Jobs submitted but not yet waited for. Local jobs each run in a thread of this process,
        # so two at a time keep two cores busy; the cloud queues them all in the Batch.
        self.in_flight = in_flight
        self.log = log or (lambda message: None)
        self.submitted: list[tuple[int, int]] = []  # (stage, job index) this engine submitted
        self.stage = -1  # the stage the last counts call ran: one per call, in call order
        self._resumed = False
        self.metadata: dict = {}

    # ------------------------------------------------------------------ the engine interface
    def counts(self, pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
        """Counts (rows, 2^bits) per PUB, from RUN_DIR where it has them, from the device otherwise.
        A full disk (or a RUN_DIR that became unwritable) is one line saying --resume continues:
        every record is written whole, so what was recorded before it stands."""
        try:
            return self._counts(pubs, seed=seed, noise_model=noise_model)
        except OSError as exc:
            if exc.errno not in DISK_ERRORS:
                raise
            raise OutputError(f"cannot write the run's records in {self.run_dir_path}: "
                              f"{exc.strerror or os.strerror(exc.errno)}; every job recorded so far is kept: free "
                              f"space (or fix the permissions), then qac run --resume {self.resume_path} continues"
                              ) from None

    def _counts(self, pubs, *, seed: int, noise_model=None) -> list[np.ndarray]:
        del noise_model  # the device (or its fake backend) is the noise
        pubs = normalise(pubs)
        self.stage += 1
        connection = self.connection or connect(self.target, self.runtime, instance=self.instance)
        self.connection = connection
        device_limits = backend_limits(connection.backend).capped(self.max_circuits_per_job)
        check_pubs(pubs, connection.backend.target, device_limits)  # before RUN_DIR is touched
        run_dir, self._resumed = self._open(pubs, seed, device_limits)
        jobs = [Job.from_dict(j) for j in run_dir.manifest["jobs"]]
        records = run_dir.records()  # refuses a corrupted record before anything runs
        handles = self._attach(run_dir, jobs, records)
        pending = [job for job, record in zip(jobs, records)
                   if (record is None or record["status"] != "done") and job.index not in handles]
        failures: list[str] = []
        in_flight = [(job, *handles[job.index]) for job in jobs if job.index in handles]

        def finish_oldest():
            failure = self._wait(run_dir, pubs, *in_flight.pop(0))
            if failure:
                failures.append(failure)

        if pending:
            window = self.in_flight or (2 if self.connection.local else None)
            for job, handle, record in self._submit(run_dir, pubs, pending, records, seed):
                in_flight.append((job, handle, record))
                while window is not None and len(in_flight) >= window and pending[-1] is not job:
                    finish_oldest()
        while in_flight:
            finish_oldest()
        if failures:
            raise ExecutionError(f"{len(failures)} of {len(jobs)} runtime jobs failed ({'; '.join(failures)}); "
                                 f"the others are saved in {run_dir.path}: run again with --resume {self.resume_path} "
                                 f"to submit the failed ones again")
        return self._assemble(run_dir, pubs, jobs)

    # ------------------------------------------------------------------ RUN_DIR
    def _open(self, pubs, seed: int, device_limits) -> tuple[RunDir, bool]:
        """The run directory for these PUBs (created, or an earlier one checked to fit), and
        whether it is an earlier one."""
        import qac

        digest = pubs_digest(pubs)
        check_top(self.run_dir_path)
        path = stage_path(self.run_dir_path, self.stage)
        if (path / "manifest.json").exists():
            run_dir = RunDir.open(path)
            run_dir.check_fits(digest=digest, target=self.connection.target, qac_version=qac.__version__)
            if run_dir.manifest["seed"] != int(seed):
                raise ExecutionError(f"{path} is a run with seed {run_dir.manifest['seed']}, not {seed}; resume it "
                                     f"with --seed {run_dir.manifest['seed']} or start a new run with another -o")
            if run_dir.manifest["runtime"] != self.connection.runtime:
                raise ExecutionError(f"{path} is a --runtime {run_dir.manifest['runtime']} run; resume it with "
                                     f"--runtime {run_dir.manifest['runtime']} or start a new run with another -o")
            return run_dir, True
        jobs = split_jobs(pubs, device_limits)
        backend = self.connection.backend
        manifest = {
            "qac_version": qac.__version__, "target": self.connection.target, "runtime": self.connection.runtime,
            "instance": self.connection.instance, "backend": backend.name, "seed": int(seed), "digest": digest,
            "run_id": uuid.uuid4().hex, "created": _now(), "calibration": calibration_time(backend),
            "limits": {"max_circuits_per_job": device_limits.max_circuits, "max_shots": device_limits.max_shots,
                       "max_executions": device_limits.max_executions},
            "pubs": [{"rows": len(v), "shots": s, "bits": c.num_clbits, "qubits": c.num_qubits} for c, v, s in pubs],
            "jobs": [job.as_dict() for job in jobs], "context": self.context,
        }
        return RunDir.create(path, manifest, pubs), False

    # ------------------------------------------------------------------ submit, attach, wait
    def _job_pubs(self, pubs, job):
        out = []
        for k, start, stop in job.slices:
            circuit, values, _ = pubs[k]
            out.append((circuit, values[start:stop] if circuit.num_parameters else None, job.shots))
        return out

    def _tags(self, run_dir: RunDir, index: int) -> list[str]:
        return ["qac", f"qac-run-{run_dir.manifest['run_id']}", f"qac-job-{index}"]

    def _attach(self, run_dir: RunDir, jobs, records) -> dict:
        """Handles of jobs submitted by an earlier process that the service can still give back."""
        handles = {}
        if self.connection.local:
            for record in records:
                if record is not None and record["status"] == "submitted":
                    self.log(f"job {record['index']} (local id {record['job_id']}) did not finish before the run "
                             f"stopped; local jobs do not outlive their process, so it runs again")
            return handles
        # Jobs are submitted in index order and recorded one by one, so a crash between a
        # submission and its record orphans at most the first job not recorded as submitted.
        orphan = next((job.index for job, record in zip(jobs, records)
                       if record is None or record["status"] == "failed"), None) if self._resumed else None
        for job, record in zip(jobs, records):
            if record is not None and record["status"] == "done":
                continue
            job_id = record["job_id"] if record is not None and record["status"] == "submitted" else None
            if job_id is None and job.index == orphan:
                job_id = self._find_orphan(run_dir, job, record)
            if job_id is None:
                continue
            try:
                handle = self._call(lambda i=job_id: self.connection.job(i))
            except ExecutionError:
                raise
            except Exception as exc:
                self.log(f"job {job.index} (id {job_id}) is gone from the service ({exc}); it runs again")
                continue
            previous = record or {"index": job.index, "attempts": 1, "submitted_at": None,
                                  "slices": [list(x) for x in job.slices], "shots": job.shots}
            handles[job.index] = (handle, {**previous, "status": "submitted", "job_id": job_id})
            self.log(f"re-attached job {job.index} (id {job_id})")
        return handles

    def _find_orphan(self, run_dir: RunDir, job, record) -> str | None:
        """A live job with this job's tags that no record names (its submitter died before recording)."""
        known = None if record is None else record["job_id"]
        for handle in self._call(lambda: self.connection.find_jobs(self._tags(run_dir, job.index))):
            if handle.job_id() != known and status_name(self._call(handle.status)) not in FAILED:
                return handle.job_id()
        return None

    def _call(self, fn):
        """``fn()`` with retries; a transient failure that outlasts them becomes one line to act on."""
        try:
            return call_with_retry(fn, backoff=self.backoff, sleep=self.sleep)
        except Exception as exc:
            if is_transient(exc):
                raise ExecutionError(f"IBM Quantum Runtime did not answer after {self.backoff.attempts} tries "
                                     f"({' '.join(str(exc).split())}); everything so far is in {self.run_dir_path}: "
                                     f"run again with --resume {self.resume_path} later") from None
            raise

    def _submit(self, run_dir: RunDir, pubs, pending, records, seed: int):
        """Submit ``pending`` jobs in one Batch, in order, recording each id as soon as the service
        gives it; yields ``(job, handle, record)`` so the caller can wait between submissions."""
        from qiskit_ibm_runtime import Batch
        from qiskit_ibm_runtime.executor_sampler import Sampler

        by_index = {r["index"]: r for r in records if r is not None}
        with Batch(backend=self.connection.mode_backend(pubs)) as batch:
            sampler = Sampler(mode=batch)
            for job in pending:
                sampler.options.environment.job_tags = self._tags(run_dir, job.index)
                if self.connection.local:
                    sampler.options.simulator.seed_simulator = job_seed(seed, job.index)
                try:
                    handle = self._call(lambda j=job: sampler.run(self._job_pubs(pubs, j)))
                except ExecutionError:
                    raise
                except Exception as exc:  # the service refused the job: say which and why, keep the rest
                    raise ExecutionError(f"submitting job {job.index} failed: {' '.join(str(exc).split())}; "
                                         f"the jobs before it are in {run_dir.path} (--resume {self.resume_path} continues)") from None
                self.submitted.append((self.stage, job.index))
                previous = by_index.get(job.index, {})
                record = {"index": job.index, "status": "submitted", "job_id": handle.job_id(),
                          "runtime": self.connection.runtime, "submitted_at": _now(),
                          "attempts": int(previous.get("attempts", 0)) + 1, "error": None,
                          "slices": [list(s) for s in job.slices], "shots": job.shots}
                run_dir.write_record(record)
                self.log(f"submitted job {job.index} ({job.circuits} circuits × {job.shots} shots): {record['job_id']}")
                yield job, handle, record

    def _wait(self, run_dir: RunDir, pubs, job, handle, record) -> str | None:
        """Poll a job to its end; record its counts (done) or its error (failed, returned)."""
        poll = self.poll_seconds if self.poll_seconds is not None else (0.01 if self.connection.local else 15.0)
        last = None
        while True:
            status = status_name(self._call(handle.status))
            if status in FINISHED or status in FAILED:
                break
            if status != last:
                self.log(f"job {job.index} ({record['job_id']}): {status.lower()}")
                last = status
            self.sleep(poll)
        if status in FINISHED:
            try:
                result = self._call(handle.result)
            except ExecutionError:
                raise
            except Exception as exc:
                return self._failed(run_dir, record, exc)
            counts = [bit_counts(result[i].data.meas) for i in range(len(job.slices))]
            for (k, start, stop), c in zip(job.slices, counts):
                if c.shape != (stop - start, 1 << _meas_bits(pubs[k][0])):
                    raise ExecutionError(f"job {job.index} ({record['job_id']}) returned counts of shape {c.shape} for "
                                         f"{stop - start} rows of {_meas_bits(pubs[k][0])} bits; the result is not usable")
            run_dir.write_counts({**record, "finished_at": _now()}, counts)
            self.log(f"job {job.index} done ({record['job_id']})")
            if os.environ.get(KILL_AFTER_ENV) == str(job.index):
                os.kill(os.getpid(), signal.SIGKILL)
            return None
        message = "cancelled" if status == "CANCELLED" else _error_message(handle)
        return self._failed(run_dir, record, message)

    def _failed(self, run_dir: RunDir, record: dict, error) -> str:
        text = " ".join(str(error).split()) or type(error).__name__
        run_dir.write_record({**record, "status": "failed", "error": text, "finished_at": _now()})
        return f"job {record['index']} (id {record['job_id']}): {text}"

    # ------------------------------------------------------------------ results
    def _assemble(self, run_dir: RunDir, pubs, jobs) -> list[np.ndarray]:
        out = [np.zeros((len(v), 1 << _meas_bits(c)), dtype=np.int64) for c, v, _ in pubs]
        records = run_dir.records()
        for job, record in zip(jobs, records):
            for (k, start, stop), counts in zip(job.slices, run_dir.read_counts(job.index)):
                out[k][start:stop] += counts
        m = run_dir.manifest
        stage = {"stage": self.stage, "path": str(run_dir.path), "job_ids": [r["job_id"] for r in records],
                 "attempts": [r["attempts"] for r in records],
                 "submitted_now": [i for s, i in self.submitted if s == self.stage]}
        stages = [*self.metadata.get("stages", [])[:self.stage], stage]
        self.metadata = {
            "engine": f"runtime-{m['runtime']}", "backend": m["backend"], "target": m["target"],
            "instance": m.get("instance"), "calibration": m.get("calibration"), "run_dir": str(self.run_dir_path),
            "job_ids": [i for st in stages for i in st["job_ids"]], "jobs": sum(len(st["job_ids"]) for st in stages),
            "stages": stages,
        }
        return out


def _meas_bits(circuit) -> int:
    for register in circuit.cregs:
        if register.name == "meas":
            return register.size
    raise ExecutionError(f"circuit {circuit.name!r} has no 'meas' register; qac's ISA circuits measure into 'meas'")


def _error_message(handle) -> str:
    try:
        return handle.error_message() or "the job ended in ERROR"
    except Exception:  # the message is a courtesy; the status already says it failed
        return "the job ended in ERROR"
