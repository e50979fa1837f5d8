"""`qac report DIR`: one self-contained HTML page for a build or run directory."""

from __future__ import annotations

import click

from qac.cli import handle_errors


@click.command("report")
@click.argument("directory", type=click.Path())
@click.option("-o", "--output", type=click.Path(), help="where to write the page (default: DIR/report.html)")
@click.option("--target", "-t", help="device file (or name) for the coupling map of a build on a user's device")
@handle_errors
def report_command(directory, output, target):
    """Write one HTML page (figures embedded, renders offline) for DIR from `qac compile -o` or `qac run -o`."""
    from qac.report import write_report

    path = write_report(directory, output, target=target)
    click.echo(f"wrote {path}")
