"""`qac report DIR`: one self-contained HTML page for a build or run directory."""

from __future__ import annotations

import click

from qac.cli.main import handle_errors


@click.command("report")
@click.argument("directory", metavar="DIR", type=click.Path())
@click.option("-o", "--output", type=click.Path(), help="where to write the page (default: DIR/report.html)")
@click.option("--target", "-t", help="device file (or name) for the coupling map of a build on a user's device")
@handle_errors
def report_command(directory, output, target):
    """One self-contained HTML page for DIR, a build (`qac compile -o`) or run (`qac run -o`) directory.

    Attention heatmaps per head, error-bar calibration, raw against mitigated errors, kernels, the
    coupling map, circuits and provenance; images embedded, no script, renders offline
    (docs/report.md). Reads DIR only: nothing is recompiled or rerun.
    """
    from qac.report import write_report

    path = write_report(directory, output, target=target)
    click.echo(f"wrote {path}")
