"""The edges of files: bounded reads, plain names, exclusive staging files.

- ``read_bounded``: at most ``limit + 1`` bytes of a regular file or of stdin (a pipe fed
  forever stops there); a FIFO or device named by path is refused, opened with ``O_NONBLOCK``
  so a FIFO with no writer cannot block, and never read whole (``st_size`` is 0 for them).
- ``check_name``: a name read from a manifest, run.json or a job record is a plain relative
  path (no ``..``, not absolute, no NUL or backslash) that stays inside its folder.
- ``staging_file``: a new file in DIR under a unique hidden name, created with ``O_EXCL``
  (``mkstemp``), so a link planted at a staging name is never followed.

Stdlib only: spec and device loading use it (``.npz`` archives: ``qac.artefacts.npz_guard``).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path, PurePosixPath

CHUNK = 1 << 16


class NotRegular(OSError):
    """A path names a FIFO, device or socket (not stdin): its kind is in ``kind``."""

    def __init__(self, path, kind: str):
        super().__init__(f"{path} is a {kind}, not a regular file")
        self.kind = kind


def file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory")):
        if test(mode):
            return kind
    return "special file"


def _is_stdin(info: os.stat_result) -> bool:
    try:
        here = os.fstat(0)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (info.st_dev, info.st_ino)


def open_regular(path, *, allow_stdin: bool = True) -> int:
    """A read-only descriptor of ``path`` if it is a regular file (or the process's stdin),
    else ``NotRegular``. Opened non-blocking, so a FIFO without a writer returns at once; the
    flag is cleared for what is then read."""
    import fcntl

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) and not (allow_stdin and _is_stdin(info)):
            raise NotRegular(path, file_kind(info.st_mode))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bounded(path, limit: int, *, allow_stdin: bool = True) -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (more than ``limit`` means "too big"), whatever
    ``st_size`` says. Raises ``NotRegular`` for FIFOs and devices other than stdin, ``OSError``
    as ``open`` does."""
    fd = open_regular(path, allow_stdin=allow_stdin)
    try:
        parts, left = [], limit + 1
        while left > 0:
            data = os.read(fd, min(CHUNK, left))
            if not data:
                break
            parts.append(data)
            left -= len(data)
        return b"".join(parts)
    finally:
        os.close(fd)


def regular_size(path) -> int | None:
    """``st_size`` of a regular file (following links), None for anything else or a missing path."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


# ----------------------------------------------------------------------------- names
def name_problem(name, folder=None) -> str | None:
    """Why ``name`` is not a plain relative path inside ``folder`` (None when it is)."""
    if not isinstance(name, str) or not name:
        return "is not a non-empty text name"
    if "\x00" in name:
        return "holds a NUL character"
    if "\\" in name:
        return "holds a backslash"
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("~"):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "holds '..', '.' or an empty part"
    if folder is not None:
        root = Path(folder).resolve()
        try:
            (root / name).resolve().relative_to(root)
        except ValueError:
            return f"leads outside {folder} (through a symbolic link)"
    return None


def check_name(name, folder, *, error: type[Exception], where: str, fix: str) -> str:
    """``name`` if it is a plain relative path inside ``folder``, else ``error`` (one line)."""
    problem = name_problem(name, folder)
    if problem is not None:
        raise error(f"{where}: the name {name!r} {problem}; qac reads and writes only plain names inside the "
                    f"directory, so {fix}")
    return name


# ----------------------------------------------------------------------------- staging
def staging_file(directory, name: str) -> tuple[int, Path]:
    """A new, empty file in ``directory`` under a unique hidden name (``.NAME.XXXX.tmp``) that
    qac recognises as its own, created exclusively (never through a link). Returns (fd, path)."""
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    return fd, Path(temp)


def write_staged(path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through an exclusive staging file beside it (the staging
    file is removed on any failure; a link at ``path`` itself is replaced, not followed)."""
    path = Path(path)
    fd, temp = staging_file(path.parent, path.name)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        mode = 0o666 & ~_umask()
        os.chmod(temp, mode)  # mkstemp makes 0600; a page or record gets the user's umask
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
