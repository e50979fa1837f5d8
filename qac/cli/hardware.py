"""``qac run --runtime local|cloud -o RUN_DIR`` and ``qac run --resume RUN_DIR``: the compiled PUBs
on an IBM device (or its fake backend, offline) through ``qac.runtime``'s engine.

RUN_DIR holds the runtime's job records under ``RUN_DIR/runtime/`` (written as jobs finish, so a
killed run resumes) and, once every stage has run, the run directory qac writes for any run
(result.npz, run.json, …) under ``RUN_DIR/result/``. The run's options are kept in the runtime
manifest's ``context``, so ``--resume`` needs nothing but the folder.
"""

from __future__ import annotations

from pathlib import Path

import click

RUNTIME_DIR, RESULT_DIR = "runtime", "result"


def prepare(compiled, *, runtime: str, output: str, instance, yes: bool, max_circuits_per_job, context: dict,
            shots: int, resuming: bool = False):
    """Check and show what will run, ask before spending a cloud budget, and return the engine."""
    from qac import runtime as rt

    target = compiled.target.name
    connection = rt.connect(target, runtime, instance=instance)
    pubs = [(circuit, values, shots) for circuit, values in compiled.pubs()]
    summary = rt.plan_summary(pubs, target, connection=connection, max_circuits_per_job=max_circuits_per_job)
    extra = " (the data circuits; with mitigation its calibration and readout circuits run too)"
    if resuming:  # what the records say, not a new plan
        click.echo(resume_text(output), err=True)
    else:
        click.echo(rt.plan_text(summary) + extra, err=True)
    if runtime == "cloud" and not yes and not resuming:
        click.confirm("submit these jobs to IBM Quantum?", abort=True, err=True)
    if not resuming:  # the one writer of the new RUN_DIR from here on (a resume took it already)
        lock_run_dir(output, new=True)
    return rt.make_engine(target, Path(output) / RUNTIME_DIR, runtime=runtime, connection=connection,
                          max_circuits_per_job=max_circuits_per_job, context=context,
                          log=lambda line: click.echo(line, err=True), resume_path=output)


def resume_text(run_dir) -> str:
    """The line ``--resume`` prints: the recorded jobs, their size, and how many are done."""
    from qac.runtime import status

    report = status(Path(run_dir) / RUNTIME_DIR)
    limits = recorded_limits(run_dir)
    per_job = f", at most {limits} circuits per job" if limits else ""
    left = len(report["jobs"]) - report["done"]
    return (f"resuming {run_dir} on {report['backend']} ({report['runtime']}): {report['done']} of "
            f"{len(report['jobs'])} recorded job(s) done in {report['stages']} stage(s){per_job}; "
            f"{left} to run, and any stage not started yet")


def recorded_limits(run_dir) -> int | None:
    """The circuits-per-job cap the run was made with (stage 0's manifest)."""
    from qac.runtime import open_run_dir

    limits = open_run_dir(Path(run_dir) / RUNTIME_DIR)[0].manifest.get("limits") or {}
    value = limits.get("max_circuits_per_job")
    return int(value) if isinstance(value, int) and value > 0 else None


def check_new_run_dir(output) -> None:
    """A new runtime RUN_DIR: refused if a live run holds it (naming its pid) or it exists (say
    --resume); one left with nothing but qac's lock file (a run stopped before its first record) is
    used again. A path that cannot be created is refused now, before compiling."""
    from qac.artefacts.outputs import check_creatable
    from qac.errors import OutputError
    from qac.runtime.lock import RunLock, only_lock

    path = Path(output)
    if path.is_dir() and not path.is_symlink():
        lock = RunLock(path)
        if lock.busy():
            raise OutputError(lock.in_use_message())
        if only_lock(path):
            return
    if path.exists() or path.is_symlink():
        raise OutputError(f"{output} already exists; a runtime run starts a new RUN_DIR "
                          f"(finish a stopped one with qac run --resume {output})")
    check_creatable(path)


def lock_run_dir(output, *, new: bool = False):
    """Hold RUN_DIR's lock until the command ends (``qac.runtime.lock``): made here for a new run,
    which must still be empty once the lock is held (another run may have got there first)."""
    from qac.errors import OutputError
    from qac.runtime.lock import RunLock, only_lock

    path = Path(output)
    if new:
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            check_new_run_dir(output)
        except OSError as exc:
            raise OutputError(f"cannot create run directory {output}: {exc.strerror}; choose another -o") from None
    lock = RunLock(path).acquire()
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(lock.release)
    if new and not only_lock(path):
        lock.release()
        raise OutputError(f"{output} was filled by another run meanwhile; finish that one with qac run --resume "
                          f"{output}, or choose another -o")
    if not new:
        clean_staging(path)
    return lock


def clean_staging(run_dir) -> list[Path]:
    """Remove the temporary files a killed process left in RUN_DIR's records (``.NAME.*.tmp``,
    written by ``qac.runtime.jobdir.write_file``); only under the lock, so none is a live write."""
    removed = []
    for pattern in ("stage-*/.*.tmp", "stage-*/jobs/.*.tmp"):
        for leftover in sorted((Path(run_dir) / RUNTIME_DIR).glob(pattern)):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()
                removed.append(leftover)
    return removed


def resume_context(run_dir: str) -> dict:
    """The run options recorded in RUN_DIR (one line and exit 2 when it is not a runtime RUN_DIR)."""
    from qac.errors import ExecutionError
    from qac.runtime import open_run_dir

    where = Path(run_dir) / RUNTIME_DIR
    if not where.is_dir():
        raise ExecutionError(f"{run_dir} is not a runtime run directory (no {RUNTIME_DIR}/ inside); "
                             f"start one with qac run SPEC --runtime local|cloud -o {run_dir}")
    context = open_run_dir(where)[0].manifest.get("context") or {}
    if "spec" not in context:
        raise ExecutionError(f"{run_dir} records no spec to resume from; run it again with qac run SPEC --runtime ...")
    lock_run_dir(run_dir)  # one writer: a live run is named, in one line, before anything else
    return {**context, "max_circuits_per_job": context.get("max_circuits_per_job") or recorded_limits(run_dir)}


def records_of(run_dir) -> tuple[Path, str]:
    """Where a run's job records are, and the command that finishes it: ``qac run --resume RUN_DIR``
    for the CLI's RUN_DIR (records in ``RUN_DIR/runtime/``, also when given that folder itself),
    ``qac.runtime.resume(...)`` for a folder the Python engine wrote directly."""
    path = Path(run_dir)
    if (path / RUNTIME_DIR).is_dir():
        return path / RUNTIME_DIR, f"qac run --resume {path}"
    if path.name == RUNTIME_DIR and (path.parent / RESULT_DIR).exists() or \
            path.name == RUNTIME_DIR and _has_cli_context(path):
        return path, f"qac run --resume {path.parent}"
    return path, f"python -c \"import qac.runtime; qac.runtime.resume({str(path)!r})\""


def _has_cli_context(records: Path) -> bool:
    try:
        from qac.runtime import open_run_dir

        return "spec" in (open_run_dir(records)[0].manifest.get("context") or {})
    except Exception:  # noqa: BLE001  not readable as a run: the caller reports it
        return False
