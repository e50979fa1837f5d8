"""The ``qac`` command line: compile, run, targets.

Qiskit, Aer and the IBM runtime are imported inside the commands that need them, so
``qac --help`` is instant. Bad input prints one line on stderr and exits 2; ``--debug``
shows the traceback instead. A bug (``InternalError`` or any other exception) prints its
traceback and a line asking for a report, and exits 1.
"""

from __future__ import annotations

import functools
import sys

import click

from qac.cli.stops import (
    closed_pipe,
    interrupt_behind,
    interrupted,
    sigterm_as_interrupt,
)
from qac.execution.engines import DEFAULT_ENGINE, ENGINES
from qac.kernels import choices
from qac.runtime.service import RUNTIMES

TARGET_HELP = "target name (see `qac targets`) or a device YAML file; default: aer"


REPORT_LINE = "qac hit an internal error (a bug): please report it with the command and the traceback above"


def shown_dir(output) -> str:
    """``build/`` for -o build and -o build/ alike (never ``build//``)."""
    text = str(output).rstrip("/") or "/"
    return text if text.endswith("/") else text + "/"


def note_retired(target) -> None:
    """One note on stderr when the real device behind a snapshot is retired."""
    if getattr(target, "status", None) == "retired":
        click.echo(f"note: the real {target.name} is retired; this compiles against its last calibration snapshot "
                   f"(run it on the simulator; `qac targets` lists the current devices)", err=True)


def handle_errors(command):
    """QacError (bad input) → one line on stderr, exit 2; Ctrl-C and SIGTERM → one line (and
    what was kept, if anything), exit 130/143; any other exception is a bug → its traceback and
    a line asking for a report, exit 1."""

    @click.option("--debug", is_flag=True, help="show the full traceback on errors")
    @functools.wraps(command)
    def wrapper(*args, debug: bool = False, **kwargs):
        from qac.errors import QacError

        previous = sigterm_as_interrupt()
        try:
            value = command(*args, **kwargs)
            sys.stdout.flush()  # a reader that went away is seen here, not in the interpreter's last flush
            return value
        except QacError as exc:
            if debug:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            interrupted(exc)
        except BrokenPipeError:
            closed_pipe()
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own usage errors and exits
        except Exception as exc:  # InternalError or anything unforeseen: a bug, so keep the traceback
            signal_behind = interrupt_behind(exc)
            if signal_behind is not None:  # a library wrapped the signal (Qiskit's Rust start-up: RuntimeError)
                interrupted(signal_behind)
            import traceback

            traceback.print_exc()
            click.echo(f"error: {REPORT_LINE}", err=True)
            sys.exit(1)
        finally:
            if previous is not None:
                import signal

                signal.signal(signal.SIGTERM, previous)

    wrapper.__qac_handled__ = True
    return wrapper


def check_seed(seed: int | None) -> None:
    """The --seed option is checked here so the message names the option, not the spec."""
    from qac.errors import SpecError
    from qac.limits import check_seed as check

    if seed is not None:
        check(seed, "--seed", SpecError)


def check_finite(result) -> None:
    """Every figure ``qac run`` prints is finite. Inputs are refused beyond the range the run
    carries (``qac.limits.range_problem``), so a NaN or inf here is a bug, never a figure."""
    import numpy as np

    from qac.errors import InternalError

    figures = {"output": result.output, "stderr": result.stderr, "exact": result.exact,
               "raw_output": result.raw_output, "raw_stderr": result.raw_stderr}
    for where, fit in result.mitigation.items():  # every number of every fit and of the precision plan
        figures.update({f"mitigation[{where}].{key}": value for key, value in fit.items()})
    figures.update({f"precision.{key}": value for key, value in result.precision.items()})

    def finite(value) -> bool:
        try:
            return bool(np.all(np.isfinite(np.asarray(value, dtype=float))))
        except (TypeError, ValueError):  # text or nested records: not a printed number
            return True

    bad = [name for name, value in figures.items() if value is not None and not finite(value)]
    if bad:
        raise InternalError(f"the run produced NaN or inf in {', '.join(bad)} from inputs within qac's range")


class WholeNumber(click.ParamType):
    """An integer option that also takes whole numbers written as ``1e6`` (the spec does too);
    range checks are left to the command, so they print qac's one line, not a usage error."""

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from decimal import Decimal, InvalidOperation

        try:
            number = Decimal(str(value).strip().replace("_", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number != number.to_integral_value() \
                or number.adjusted() > 4000:  # 1e4000 is absurd; int() of 1e(10^9) would never end
            self.fail(f"{value!r} is not a whole number", param, ctx)
        return int(number)


def console(stderr: bool = False):
    """A rich console; piped output gets a wide page so tables are not cut at 80 columns."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200
    out = Console(stderr=stderr, highlight=False, width=width, file=stream)
    if not stderr:
        out.on_broken_pipe = closed_pipe  # rich's own exits 1; a reader that stopped (`| head`) is not an error
    return out


def resources_table(compiled):
    from rich.table import Table

    table = Table(title=f"{compiled.spec.name} on {compiled.target.name}", caption=f"pipeline: {compiled.pipeline}")
    for column in ("kernel", "template", "circuits", "qubits", "2q gates", "depth", "physical qubits"):
        table.add_column(column, justify="left" if column in ("kernel", "template", "physical qubits") else "right")
    for row in compiled.resources():
        table.add_row(row["kernel"], row["template"], str(row["circuits"]), str(row["qubits"]),
                      str(row["two_qubit_gates"]), str(row["depth"]),
                      ",".join(map(str, row["physical_qubits"])))
    return table


class LazyGroup(click.Group):
    """Subcommands that live in their own modules (``qac.cli.*``), imported on use."""

    lazy = {"inspect": "qac.cli.inspect:inspect_command", "verify": "qac.cli.verify:verify_command",
            "model": "qac.cli.model:model_command", "eval": "qac.cli.eval:eval_command",
            "report": "qac.cli.report:report_command",
            "status": "qac.cli.status:status_command"}

    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx, name):
        if name in self.lazy:
            import importlib

            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qac")
def main():
    """qac — compile attention kernels softmax(Q·Kᵀ·scale + mask)·V into quantum circuits."""


@main.command("compile")
@click.argument("spec", type=click.Path())
@click.option("--target", "-t", default="aer", show_default=True, help=TARGET_HELP)
@click.option("-o", "--output", type=click.Path(), help="write QASM 3, QPY, bindings, manifest here")
@click.option("--force", is_flag=True, help="replace the output directory if qac wrote it")
@click.option("--seed", type=int, help="override the spec's seed")
@click.option("--passes", help="pipeline text, e.g. 'normalize,encode{method=binary},estimate,layout{optimization_level=3}'")
@click.option("--print-after-all", is_flag=True, help="print the IR after each pass")
@click.option("--verify", "verify", is_flag=True, help="check every routed kernel against its template (as `qac verify`)")
@click.option("--pv", type=click.Choice(choices.PV), help="where O = P·V runs (default: the spec's compile.pv, classical)")
@handle_errors
def compile_command(spec, target, output, force, seed, passes, print_after_all, verify, pv):
    """Compile SPEC (attention.yaml) for a target; write the program with -o."""
    if output:  # refuse before any work
        from qac.artefacts.outputs import check_replaceable

        check_replaceable(output, force=force)
    check_seed(seed)
    import qac

    compiled = qac.compile(spec, target, seed=seed, passes=passes, keep_snapshots=print_after_all, pv=pv)
    note_retired(compiled.target)
    out = console()
    if print_after_all:
        for name, text in compiled.snapshots:
            out.print(f"[bold]// IR after {name}[/bold]")
            out.print(text, markup=False)
    out.print(resources_table(compiled))
    if verify:
        from qac.verify import print_report, verify_compiled

        report = verify_compiled(compiled)
        print_report(report, out)
        if not report.ok:
            raise SystemExit(1)  # nothing is written for a program that failed verification
    if output:
        compiled.save(output, force=force)
        out.print(f"wrote {shown_dir(output)} (kernels/*.qasm, program.qpy, bindings.npz, manifest.json, program.json/.npz; "
                  f"`qac run {shown_dir(output)}` runs it)", markup=False)


@main.command("run")
@click.argument("spec", type=click.Path(), required=False)
@click.option("--target", "-t", default=None,
              help=TARGET_HELP + "; a build DIR runs on the target it was compiled for")
@click.option("--noise", is_flag=True, help="simulate with the target's noise model")
@click.option("--mitigation/--no-mitigation", default=None,
              help="readout + signal-rescale mitigation (default: on with --noise)")
@click.option("--shots", type=WholeNumber(), help="shots per circuit, e.g. 4096 or 1e6 (default: the spec's)")
@click.option("--precision", type=float, help="wanted standard error of the output; sets the shots")
@click.option("--seed", type=int, help="override the spec's seed (for a build DIR: the sampler seed)")
@click.option("-o", "--output", type=click.Path(),
              help="write the run directory here: the build, result.npz, run.json, timings.json")
@click.option("--force", is_flag=True,
              help="replace the output directory if qac wrote it (or an earlier run beside its build)")
@click.option("--report", "with_report", is_flag=True, help="also write DIR/report.html (needs -o; `qac report`)")
@click.option("--engine", type=click.Choice(list(ENGINES)), default=DEFAULT_ENGINE, show_default=True,
              help="auto: qac's batched simulator wherever it supports the circuits and noise model, else Aer")
@click.option("--workers", type=int, help="spread the batched engine over a local Dask cluster of N workers")
@click.option("--scheduler", help="the address of an existing Dask scheduler (instead of --workers)")
@click.option("--runtime", type=click.Choice(RUNTIMES),
              help="run on the IBM device through Qiskit Runtime (local: its fake backend, offline); needs -o RUN_DIR")
@click.option("--instance", help="the IBM Quantum instance (CRN) for --runtime cloud")
@click.option("--yes", is_flag=True, help="submit to the cloud without asking")
@click.option("--max-circuits-per-job", type=int, help="smaller runtime jobs than the device allows")
@click.option("--resume", "resume_dir", type=click.Path(), help="finish a runtime RUN_DIR that stopped (no SPEC needed)")
@click.option("--pv", type=click.Choice(choices.PV), help="where O = P·V runs (default: the spec's compile.pv, classical)")
@handle_errors
def run_command(spec, target, noise, mitigation, shots, precision, seed, output, force, with_report, engine, workers,
                scheduler, runtime, instance, yes, max_circuits_per_job, resume_dir, pv):
    """Compile SPEC (or load a build DIR from `qac compile -o`), simulate it (or run it on an IBM
    device with --runtime), reconstruct the attention output, compare with numpy. For a DIR,
    --seed is the sampler seed only."""
    from pathlib import Path

    from qac.errors import ExecutionError, OutputError

    if resume_dir is not None:  # everything comes from the RUN_DIR's records
        from qac.cli.hardware import RESULT_DIR, resume_context

        context = resume_context(resume_dir)
        spec, target, runtime, output = context["spec"], context["target"], context["runtime"], resume_dir
        shots, seed, precision = context.get("shots"), context.get("seed"), context.get("precision")
        mitigation, instance = context.get("mitigation"), instance or context.get("instance")
        max_circuits_per_job = context.get("max_circuits_per_job")  # the recorded jobs' size
    elif runtime is not None:
        if not output:
            raise OutputError("--runtime records its jobs in a run directory; pass -o RUN_DIR")
        from qac.cli.hardware import RESULT_DIR, check_new_run_dir

        check_new_run_dir(output)
    hardware = runtime is not None
    if hardware and (workers or scheduler or noise):
        raise ExecutionError("--runtime runs on the device: drop --noise/--workers/--scheduler (the device is the noise)")
    if spec is None:
        raise click.UsageError("give SPEC (an attention.yaml or a build DIR), or --resume RUN_DIR")
    if workers is not None or scheduler is not None:  # before compiling: alternatives, one worker a core
        from qac.execution.engines import check_workers

        check_workers(workers, scheduler)
    if scheduler is not None:  # a bad or dead address: one line before compiling
        from qac.execution.batched import check_scheduler_address

        check_scheduler_address(scheduler)

    build = Path(spec).is_dir()
    if output and not hardware:  # refuse before any work (a run may go beside the same build: see qac/artefacts/rundir.py)
        from qac.artefacts.rundir import check_run_output

        check_run_output(output, force=force)
    if shots is not None and shots <= 0:
        raise ExecutionError(f"--shots must be positive, not {shots}; pass e.g. --shots 4096")
    if shots is not None:  # the cap of qac/limits.py, before compiling
        from qac.limits import check_shots

        check_shots(shots, "--shots")
    if precision is not None and not 0 < precision <= 1:  # refuse before compiling (NaN fails too)
        raise ExecutionError(f"--precision must be in (0, 1], not {precision}; "
                             f"give the wanted standard error of the output, e.g. --precision 0.01")
    if with_report and not output:
        raise OutputError("--report writes DIR/report.html of the run directory; pass -o DIR too")
    if with_report:  # refuse before running: the report needs the plotting extra
        from qac.report import require_plotting

        require_plotting()
    check_seed(seed)
    import qac

    compiled = qac.load(spec, target=target) if build else None
    if noise:  # refuse before compiling: the simulator target has no noise model
        from qac import targets

        (compiled.target if build else targets.get(target or "aer")).require_noise()
    import numpy as np

    if not build:
        compiled = qac.compile(spec, target or "aer", seed=seed, pv=pv)
        note_retired(compiled.target)
    if output and not hardware:
        from qac.artefacts.rundir import check_same_build

        check_same_build(output, compiled, force=force)
    import time
    from dataclasses import replace

    from qac.cli.progress import progress_bar
    from qac.execution.options import RunOptions

    options = RunOptions.resolve(compiled.spec, shots=shots, noise=noise,
                                 mitigation=True if hardware and mitigation is None else mitigation,  # a device is noisy
                                 precision=precision, seed=seed if build or hardware else None, engine=engine,
                                 workers=workers, scheduler=scheduler,
                                 pairs=sum(len(k.pairs) for k in compiled.kernels))
    started = time.perf_counter()
    try:
        with progress_bar() as progress:
            if hardware:
                from qac.cli.hardware import prepare

                context = {"spec": str(Path(spec).resolve()), "target": compiled.target.name, "runtime": runtime,
                           "shots": shots, "seed": seed, "precision": precision, "mitigation": mitigation,
                           "instance": instance, "max_circuits_per_job": max_circuits_per_job}
                options = replace(options, engine=prepare(
                    compiled, runtime=runtime, output=output, instance=instance, yes=yes,
                    max_circuits_per_job=max_circuits_per_job, context=context, shots=options.shots,
                    resuming=resume_dir is not None))
            result = compiled.run(options=options, progress=progress)
    except KeyboardInterrupt as exc:
        if hardware:  # the jobs that finished are recorded in RUN_DIR: say so, not "nothing was written"
            from qac.cli.hardware import clean_staging

            clean_staging(output)  # a record the signal cut between mkstemp and its try (still under the lock)
            exc.qac_note = f"the finished jobs are kept in {output}: continue with qac run --resume {output}"
        raise
    run_seconds = time.perf_counter() - started
    check_finite(result)  # before anything is printed or written
    out = console()
    out.print(resources_table(compiled))
    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    per_pair = f"{result.shots} shots/pair" if not result.precision else "shots per pair from --precision"
    out.print(f"attention output ({result.output.shape[0]}x{result.output.shape[1]}, {per_pair}, "
              f"{'noisy' if noise or hardware else 'ideal'} {compiled.target.name}{', mitigated' if result.mitigated else ''}):",
              markup=False)
    out.print(str(result.output), markup=False)
    from qac.artefacts.rundir import engine_label

    out.print(f"engine: {engine_label(result)}   error bars: {result.error_method}", markup=False)
    if result.engine_path:
        out.print(f"engine path: {result.engine_path}", markup=False)
    out.print(f"max |output - exact| = {result.max_error:.4g}   max reported sigma = {result.max_stderr:.4g}   "
              f"entries within 2 sigma: {100 * result.coverage:.0f}%", markup=False)
    if result.mitigated:
        raw_error = float(np.max(np.abs(result.raw_error))) if result.raw_error.size else 0.0
        raw_cover = float(np.mean(np.abs(result.raw_error) <= 2 * result.raw_stderr + 1e-12)) if result.raw_error.size else 1.0
        out.print(f"unmitigated (same job): max |output - exact| = {raw_error:.4g}   "
                  f"entries within 2 sigma: {100 * raw_cover:.0f}%", markup=False)
        for where, fit in result.mitigation.items():
            out.print(f"  {where}: attenuation {fit['attenuation']:.4f} ± {fit['attenuation_stderr']:.4f}, "
                      f"offset {fit['offset']:+.4f}, readout p(1|0),p(0|1) {fit['readout_flip_rates']}"
                      + (", sign-symmetrised" if fit["sign_symmetrised"] else ""), markup=False)
    if result.precision:
        p = result.precision
        verdict = "reached" if p["reached"] else "NOT reached"
        out.print(f"precision {p['requested']:g} {verdict}: max reported sigma {p['achieved']:.4g} after "
                  f"{p['pair_shots']} pair shots in {p['stages']} stages (pilot {p['pilot_shots']}/pair); "
                  f"the same error model puts a uniform split at {p['uniform_pair_shots_model']} pair shots "
                  f"(a model figure, not measured)", markup=False)
    out.print(f"shots used: {result.shots_used} in {result.circuits_run} circuits "
              f"({result.pairs_per_circuit:.3g} pairs/circuit; calibration and readout circuits included)", markup=False)
    if hardware:
        output, force = str(Path(output) / RESULT_DIR), True  # the result beside the job records
    if output:
        from qac.artefacts.rundir import write_run

        write_run(output, compiled, result, seed=options.seed,
                  mitigation=result.mitigated, run_seconds=run_seconds, force=force)
        out.print(f"wrote {shown_dir(output)} (the build, result.npz, run.json, timings.json)", markup=False)
    if with_report:
        from qac.report import write_report

        page = write_report(output)
        out.print(f"wrote {page}", markup=False)


@main.command("targets")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@handle_errors
def targets_command(as_json):
    """List the targets: simulators and device calibration snapshots."""
    from qac import targets

    rows = targets.catalogue()
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    from rich.table import Table

    def fmt(value, spec=".2e"):
        return "-" if value is None else format(value, spec)

    table = Table(title="qac targets",
                  caption="ibm_* are calibration snapshots (not live devices); vendor files hold published averages")
    for column in ("name", "qubits", "2q gate", "median 2q error", "median readout error", "snapshot", "real device"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], str(row["qubits"]), row.get("two_qubit_gate") or "-",
                      fmt(row.get("median_two_qubit_error")), fmt(row.get("median_readout_error")),
                      row.get("snapshot_date") or "-", row.get("status", "-"))
    console().print(table)


