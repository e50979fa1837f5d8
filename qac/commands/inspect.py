"""`qac inspect` (being built; see the open issue)."""

from __future__ import annotations

import click


@click.command("inspect")
@click.argument("source")
def inspect_command(source):
    """(not available yet)"""
    raise click.UsageError("qac inspect is not available in this build yet")
