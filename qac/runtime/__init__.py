"""Running compiled PUBs on IBM Quantum hardware through Qiskit Runtime (docs/hardware.md).

- ``service``: where jobs go (``cloud``: the user's saved account; ``local``: local testing mode)
- ``limits``: the ISA and job-limit checks, and the jobs a PUB list is cut into
- ``rundir``: RUN_DIR, the manifest and one record per job, written atomically
- ``retry``: bounded backoff for transient failures
- ``engine``: ``RuntimeEngine.counts(pubs, *, seed, noise_model)``, the engine interface

This module imports nothing heavy; the functions below are what the CLI's options call.
"""

from __future__ import annotations

from qac.runtime.service import RUNTIMES


def connect(target: str, runtime: str = "local", *, instance: str | None = None):
    """Open the runtime once (cloud: the saved account, network) for ``plan_summary`` and the engine."""
    from qac.runtime.service import connect as _connect

    return _connect(target, runtime, instance=instance)


def make_engine(target: str, run_dir, *, runtime: str = "local", instance: str | None = None,
                max_circuits_per_job: int | None = None, context: dict | None = None, connection=None, log=None,
                resume_path=None):
    """A ``RuntimeEngine`` for ``qac run --runtime local|cloud -o RUN_DIR``; ``context`` (e.g. the
    spec path and run options) is kept in the manifest for ``--resume``; ``resume_path`` is what
    messages tell ``--resume`` to take (the CLI's RUN_DIR; default ``run_dir``)."""
    from qac.runtime.engine import RuntimeEngine

    return RuntimeEngine(target, run_dir=run_dir, runtime=runtime, instance=instance, connection=connection,
                         max_circuits_per_job=max_circuits_per_job, context=context, log=log,
                         resume_path=resume_path)


def plan_summary(pubs, target: str, *, runtime: str = "local", instance: str | None = None,
                 max_circuits_per_job: int | None = None, connection=None) -> dict:
    """What will run, before anything is submitted: jobs, circuits, shots, an estimated QPU time.

    Checks every circuit against the backend (ISA, limits) as the engine will; raises the same
    one-line errors. ``connection`` reuses an open one (else one is opened: network for cloud).
    """
    from qac.runtime.engine import normalise
    from qac.runtime.jobs import backend_limits, check_pubs, job_seconds, split_jobs
    from qac.runtime.service import connect

    pubs = normalise(pubs)
    connection = connection or connect(target, runtime, instance=instance)
    backend = connection.backend
    device_limits = backend_limits(backend).capped(max_circuits_per_job)
    check_pubs(pubs, backend.target, device_limits)
    jobs = split_jobs(pubs, device_limits)
    config = backend.configuration() if callable(getattr(backend, "configuration", None)) else None
    repetition_delay = float(getattr(config, "default_rep_delay", None) or 250e-6)
    durations = [_circuit_seconds(circuit, backend.target) for circuit, _, _ in pubs]
    seconds = sum(job_seconds(durations[k], stop - start, job.shots, repetition_delay)
                  for job in jobs for k, start, stop in job.slices)
    return {
        "target": connection.target, "runtime": connection.runtime, "backend": backend.name,
        "instance": connection.instance, "jobs": len(jobs), "circuits": sum(j.circuits for j in jobs),
        "executions": sum(j.circuits * j.shots for j in jobs),
        "max_circuits_per_job": device_limits.max_circuits, "max_shots": device_limits.max_shots,
        "estimated_qpu_seconds": seconds, "repetition_delay": repetition_delay,
        "per_job": [{"index": j.index, "circuits": j.circuits, "shots": j.shots} for j in jobs],
    }


def plan_text(summary: dict) -> str:
    """The confirmation text ``qac run --runtime cloud`` shows before submitting (skip with --yes)."""
    instance = f" (instance {summary['instance']})" if summary["instance"] else ""
    where = ("local testing mode (offline, fake backend)" if summary["runtime"] == "local"
             else f"IBM Quantum Runtime{instance}")
    return (f"will run {summary['circuits']} circuits in {summary['jobs']} job(s) on {summary['backend']} via {where}: "
            f"{summary['executions']} shots in all, at most {summary['max_circuits_per_job']} circuits per job; "
            f"estimated QPU time ≥ {summary['estimated_qpu_seconds']:.1f} s "
            f"(shots × (circuit duration + {summary['repetition_delay'] * 1e6:.0f} µs repetition delay), "
            f"without per-job overhead)")


def open_run_dir(path) -> list:
    """The stages of an existing RUN_DIR (manifests checked for form), in order: each has
    ``.manifest``, ``.records()``, ``.load_pubs()``, ``.read_counts(job)``."""
    from qac.runtime.jobdir import stages

    return stages(path)


def resume(path, *, instance: str | None = None, connection=None, log=None):
    """Finish every stage stored in RUN_DIR ``path`` from what it holds: ``(counts per stage, metadata)``.

    Uses the PUBs, seeds, target and runtime recorded there, so it needs no spec. A stage the run
    had not started yet is not there: ``qac run --resume RUN_DIR`` recompiles the spec recorded
    in the manifest's ``context`` and calls the engine as the first run did, each call checked
    against the stage's recorded digest.
    """
    from qac.runtime.engine import RuntimeEngine

    stored = open_run_dir(path)
    m = stored[0].manifest
    runner = RuntimeEngine(m["target"], run_dir=path, runtime=m["runtime"], instance=instance or m.get("instance"),
                           connection=connection, context=m.get("context"), log=log)
    counts = [runner.counts(stage.load_pubs(), seed=stage.manifest["seed"]) for stage in stored]
    return counts, runner.metadata


def status(path, *, refresh: bool = False, instance: str | None = None) -> dict:
    """The state of RUN_DIR ``path`` from its files; ``refresh`` asks the service (cloud, network)."""
    stored = open_run_dir(path)
    m = stored[0].manifest
    connection = None
    if refresh and m["runtime"] == "cloud":
        from qac.runtime.service import connect as _connect

        connection = _connect(m["target"], "cloud", instance=instance or m.get("instance"))
    rows = []
    for number, stage in enumerate(stored):
        for job, record in zip(stage.manifest["jobs"], stage.records()):
            live = None
            if connection is not None and record is not None and record["status"] == "submitted":
                from qac.runtime.engine import status_name

                live = status_name(connection.job(record["job_id"]).status())
            rows.append({"stage": number, "index": job["index"], "circuits": sum(b - a for _, a, b in job["slices"]),
                         "shots": job["shots"], "status": "not submitted" if record is None else record["status"],
                         "job_id": None if record is None else record["job_id"],
                         "attempts": 0 if record is None else record["attempts"],
                         "error": None if record is None else record.get("error"), "service_status": live})
    done = sum(r["status"] == "done" for r in rows)
    return {"run_dir": str(path), "target": m["target"], "runtime": m["runtime"], "backend": m["backend"],
            "seed": m["seed"], "qac_version": m["qac_version"], "created": m.get("created"),
            "calibration": m.get("calibration"), "stages": len(stored), "jobs": rows, "done": done,
            "complete": done == len(rows)}


def _circuit_seconds(circuit, target) -> float:
    """The circuit's duration on the target (critical path of its instruction durations), 0 if unknown."""
    try:
        return float(circuit.estimate_duration(target, unit="s"))
    except Exception:  # no durations in the target, or a circuit qiskit cannot time: no estimate
        return 0.0


__all__ = ["RUNTIMES", "connect", "make_engine", "open_run_dir", "plan_summary", "plan_text", "resume", "status"]
