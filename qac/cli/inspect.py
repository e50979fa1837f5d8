"""`qac inspect SPEC|DIR`: per-kernel cost table, IR after each pass, QASM, physical qubits, JSON."""

from __future__ import annotations

import click

from qac.cli.main import handle_errors


@click.command("inspect")
@click.argument("source", type=click.Path(exists=True))
@click.option("--target", "-t", default="aer", show_default=True, help="target for a SPEC (ignored for a DIR)")
@click.option("--passes", help="pipeline text for a SPEC, e.g. 'normalize,encode{method=unary_diagonal},...'")
@click.option("--seed", type=int, help="override the spec's seed")
@click.option("--print-after-all", is_flag=True, help="print the IR after each pass (SPEC only)")
@click.option("--qasm", "qasm_kernel", is_flag=False, flag_value="", default=None,
              help="print the OpenQASM 3 of a kernel (the first one unless named)")
@click.option("--precision", type=float, default=0.01, show_default=True, help="ε for the shots column")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON (for scripts)")
@handle_errors
def inspect_command(source, target, passes, seed, print_after_all, qasm_kernel, precision, as_json):
    """Show what SPEC (attention.yaml) or DIR (`qac compile -o DIR`) costs on its target."""
    import json
    from pathlib import Path

    from qac.cli.inspect_view import render, report_from_compiled, report_from_directory
    from qac.cli.main import console

    if not precision > 0:
        raise click.BadParameter("--precision must be positive, e.g. 0.01")
    path = Path(source)
    if path.is_dir():
        report = report_from_directory(path, precision=precision, qasm_kernel=qasm_kernel or None)
    else:
        import qac

        compiled = qac.compile(source, target, seed=seed, passes=passes, keep_snapshots=True)
        report = report_from_compiled(compiled, precision=precision, qasm_kernel=qasm_kernel or None)
    if as_json:
        if not print_after_all:
            report = {**report, "ir": [item["after"] for item in report["ir"]]}
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    render(report, console(), print_after_all=print_after_all, show_qasm=qasm_kernel is not None)
