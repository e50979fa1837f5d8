"""`qac verify SPEC|DIR`: check every routed kernel against its logical template.

Exit 0 when every check passes, 1 when one fails (the line names the kernel), 2 on bad input.
Qiskit and mqt.qcec load inside the command, so ``qac --help`` stays instant.
"""

from __future__ import annotations

import click

from qac.cli.main import TARGET_HELP, handle_errors


@click.command("verify")
@click.argument("source")
@click.option("--target", "-t", default=None, help=TARGET_HELP + " (SPEC only; a DIR knows its target)")
@click.option("--seed", type=int, help="override the spec's seed (SPEC only)")
@click.option("--rows", type=int, default=None, help="bound rows checked per kernel (default 3)")
@click.option("--generic", type=int, default=None, help="generic parameter points per template (default 2)")
@click.option("--timeout", type=float, default=None, help="seconds per equivalence check (default 120)")
@handle_errors
def verify_command(source, target, seed, rows, generic, timeout):
    """Prove each routed kernel of SPEC (compiled now) or DIR (`qac compile -o DIR`) equivalent to its template."""
    import math
    from pathlib import Path

    from qac.errors import CompileError, SpecError
    from qac.verify import DEFAULT_GENERIC, DEFAULT_ROWS, DEFAULT_TIMEOUT, print_report

    for flag, value, lo in (("--rows", rows, 0), ("--generic", generic, 0)):
        if value is not None and not lo <= value <= 1000:
            raise CompileError(f"{flag} must be from {lo} to 1000, not {value}; pass e.g. {flag} 3")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise CompileError(f"--timeout must be a positive number of seconds, not {timeout}; pass e.g. --timeout 60")
    options = {"rows": DEFAULT_ROWS if rows is None else rows,
               "generic": DEFAULT_GENERIC if generic is None else generic,
               "timeout": DEFAULT_TIMEOUT if timeout is None else timeout}
    if options["rows"] == 0 and options["generic"] == 0:
        raise CompileError("--rows 0 with --generic 0 checks nothing; keep at least one of them positive")

    path = Path(source)
    if not path.exists():
        raise SpecError(f"{source}: no such file or directory; give a spec file or a directory written by "
                        f"`qac compile -o DIR`")
    from qac.cli.main import console

    out = console()
    if path.is_dir():
        from qac.verify import verify_directory

        if target is not None or seed is not None:
            raise CompileError(f"{source} is a compiled directory; it fixes its target and seed, "
                               f"so drop --target/--seed (or pass the spec file instead)")
        report = verify_directory(path, **options)
    else:
        import qac
        from qac.verify import verify_compiled

        compiled = qac.compile(str(path), target or "aer", seed=seed)
        report = verify_compiled(compiled, **options)
    print_report(report, out)
    if not report.ok:
        raise SystemExit(1)
