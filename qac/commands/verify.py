"""`qac verify` (being built; see the open issue)."""

from __future__ import annotations

import click


@click.command("verify")
@click.argument("source")
def verify_command(source):
    """(not available yet)"""
    raise click.UsageError("qac verify is not available in this build yet")
