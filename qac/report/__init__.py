"""``qac report``: one self-contained HTML page for a build or run directory.

Reads the directory's files only (``load.py``; it never compiles or runs anything), draws the
figures with matplotlib (``figures.py``, ``device.py``, ``circuits.py``) as embedded PNG and
renders the jinja2 template beside this module (``page.py``, ``templates/``). The page has no
script, no web font and no external link: it renders offline. Sections: docs/report.md.
"""

from __future__ import annotations

from pathlib import Path

INSTALL_HINT = "pip install -e '.[report]' (source checkout) or pip install 'qac[report]'"


def require_plotting() -> None:
    """Raise a one-line ``ReportError`` naming the install command unless matplotlib imports."""
    from qac.report.load import ReportError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportError(f"qac report draws its figures with matplotlib, which is not installed; "
                          f"install the report extra: {INSTALL_HINT}") from None


def render_report(directory: str | Path, *, target: str | None = None) -> str:
    """The report page of DIR as HTML text (``target``: a device file for a build on a user device)."""
    from qac.report.load import load
    from qac.report.page import render

    require_plotting()
    return render(load(directory), target=target)


GENERATOR = '<meta name="generator" content="qac report">'


def refuse_foreign(path: Path) -> None:
    """A page replaces only an earlier qac report, never a user's file or a directory."""
    from qac.artefacts.guards import NotRegular, read_bounded
    from qac.errors import OutputError

    if path.is_dir():
        raise OutputError(f"{path} is a directory; give -o the name of the HTML file to write, e.g. {path}/report.html")
    if path.exists():
        try:
            head = read_bounded(path, 4096, allow_stdin=False)[:4096].decode("utf-8", "replace")
        except NotRegular as exc:
            raise OutputError(f"{path} is a {exc.kind}, not a file; choose another -o") from None
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {exc.strerror}; choose another -o") from None
        if GENERATOR not in head:
            raise OutputError(f"{path} exists and is not a qac report; it is left alone: choose another -o")


def write_report(directory: str | Path, output: str | Path | None = None, *, target: str | None = None) -> Path:
    """Render DIR's report and write it atomically to ``output`` (default DIR/report.html)."""
    from qac.artefacts.guards import write_staged
    from qac.errors import OutputError

    path = Path(output) if output is not None else Path(directory) / "report.html"
    refuse_foreign(path)
    text = render_report(directory, target=target)
    try:  # an exclusive staging file (unique name, O_EXCL): a link planted beside the page is never followed
        write_staged(path, text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}; choose another -o") from None
    return path
