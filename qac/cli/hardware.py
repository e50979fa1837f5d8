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
    click.echo(("resuming: " if resuming else "") + rt.plan_text(summary) + extra, err=True)
    if runtime == "cloud" and not yes and not resuming:
        click.confirm("submit these jobs to IBM Quantum?", abort=True, err=True)
    return rt.make_engine(target, Path(output) / RUNTIME_DIR, runtime=runtime, connection=connection,
                          max_circuits_per_job=max_circuits_per_job, context=context,
                          log=lambda line: click.echo(line, err=True))


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
    return context
