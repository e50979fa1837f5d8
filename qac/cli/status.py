"""`qac status RUN_DIR`: the jobs of a hardware run, from its files (no network unless --refresh)."""

from __future__ import annotations

import click

from qac.cli.main import handle_errors


@click.command("status")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--refresh", is_flag=True, help="ask IBM Quantum Runtime for the live status of submitted jobs (network)")
@click.option("--instance", help="IBM Quantum instance (CRN) for --refresh; default: the one the run used")
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON (for scripts)")
@handle_errors
def status_command(run_dir, refresh, instance, as_json):
    """Show what a `qac run --runtime ... -o RUN_DIR` has done: jobs, ids, status, errors."""
    import json

    from qac.cli.hardware import records_of
    from qac.runtime import status

    records, resume = records_of(run_dir)
    report = {**status(records, refresh=refresh, instance=instance), "run_dir": run_dir, "resume": resume}
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    _render(report)


def _render(report: dict) -> None:
    from rich.table import Table

    from qac.cli.main import console

    table = Table(title=f"{report['run_dir']}: {report['runtime']} run on {report['backend']}",
                  caption=f"seed {report['seed']}, qac {report['qac_version']}, started {report['created']}, "
                          f"calibration {report['calibration'] or 'unknown'}")
    live = any(row["service_status"] for row in report["jobs"])
    numeric = ("stage", "job", "circuits", "shots", "attempts")
    for column in ("stage", "job", "circuits", "shots", "status", *(["service"] if live else []), "attempts",
                   "runtime job id"):
        table.add_column(column, justify="right" if column in numeric else "left")
    for row in report["jobs"]:
        table.add_row(str(row["stage"]), str(row["index"]), str(row["circuits"]), str(row["shots"]), row["status"],
                      *([row["service_status"] or "-"] if live else []), str(row["attempts"]), row["job_id"] or "-")
    out = console()
    out.print(table)
    for row in report["jobs"]:
        if row["status"] == "failed":
            out.print(f"stage {row['stage']} job {row['index']} ({row['job_id']}) failed: {row['error']}", markup=False)
    left = len(report["jobs"]) - report["done"]
    out.print(f"{report['done']} of {len(report['jobs'])} jobs done" +
              ("" if not left else f"; finish with `{report['resume']}`"), markup=False)
