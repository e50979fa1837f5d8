"""Output directories: what ``-o DIR`` may replace, and writing it whole or not at all.

Rules (docs/promises.md, "Output directories"):

- A new DIR is written into a temporary sibling and renamed into place; it gets the user's
  umask (``mkdtemp`` alone would leave it 0700).
- An existing DIR is replaced only with ``force``, and only if qac wrote it: it holds qac's
  ``manifest.json`` or ``run.json`` and nothing but the files qac writes (or it is empty).
  Anything else is refused with one line naming a file that is not qac's, and left alone.
  A replaced DIR keeps its mode.
- DIR may not be the current directory or one of its parents when it would be replaced
  (renaming it away would pull the directory out from under the shell).
- ``add_files`` adds files to an existing directory (a run beside its build) one atomic rename
  per file, never touching the others.
- Every I/O failure (disk full, permission, read-only file system) is an ``OutputError``: one
  line, and whatever was there before is still there; nothing half-written is left.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from qac.errors import OutputError

#: Every file name qac writes at the top of a build or run directory (plus ``kernels/*.qasm``).
QAC_FILES = frozenset({"manifest.json", "program.qpy", "logical.qpy", "bindings.npz", "timings.json",
                       "program.npz", "program.json", "result.npz", "run.json", "report.html", "model_run.json"})
REPORT_GENERATOR = b'<meta name="generator" content="qac report">'


def user_umask() -> int:
    """The process's umask (reading it means setting it; it is put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _json_object(path: Path) -> dict | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 64 << 20:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_qac_directory(directory: Path) -> bool:
    """DIR holds qac's manifest.json (a build) or run.json (a run) or model_run.json."""
    manifest = _json_object(directory / "manifest.json")
    if manifest is not None and isinstance(manifest.get("format"), int) \
            and {"spec", "pipeline", "templates"} <= set(manifest):
        return True
    run = _json_object(directory / "run.json")
    if run is not None and run.get("kind") == "run" and isinstance(run.get("format"), int):
        return True
    model = _json_object(directory / "model_run.json")
    return model is not None and model.get("kind") == "model_run"


def is_qac_report(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return REPORT_GENERATOR in handle.read(1 << 16)
    except OSError:
        return False


def foreign_entries(directory: Path) -> list[str]:
    """Entries of DIR that are not files qac writes (``kernels/`` may hold only ``*.qasm`` files)."""
    out = []
    for name in sorted(os.listdir(directory)):
        path = directory / name
        if name == "kernels" and path.is_dir() and not path.is_symlink():
            out += [f"kernels/{n}" for n in sorted(os.listdir(path))
                    if not (n.endswith(".qasm") and (path / n).is_file() and not (path / n).is_symlink())]
        elif is_qac_staging(name) and path.is_file() and not path.is_symlink():
            continue  # a leftover of a killed qac (its own temporary name): not the user's
        elif name not in QAC_FILES or path.is_symlink() or not path.is_file():
            out.append(name + ("/" if path.is_dir() else ""))
        elif name == "report.html" and not is_qac_report(path):
            out.append(name)
    return out


def refuse_foreign(directory: Path) -> None:
    """``OutputError`` naming the first files of DIR that qac did not write, if there are any."""
    try:
        foreign = foreign_entries(directory)
    except OSError as exc:
        raise OutputError(f"cannot read output directory {directory}: {exc.strerror}; choose another -o") from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(f"output directory {directory} holds files qac did not write ({shown}); qac replaces only "
                          f"its own files, so move them out or choose another -o")


def _holds_cwd(directory: Path) -> bool:
    try:
        here, there = Path.cwd().resolve(), directory.resolve()
    except OSError:
        return False
    return there == here or there in here.parents


def check_replaceable(directory: str | os.PathLike, *, force: bool) -> None:
    """Refuse (``OutputError``, one line) unless ``directory`` is new, or ``force`` is given and
    it is an empty directory or one qac wrote, holding only qac's files, and not the shell's."""
    directory = Path(directory)
    if directory.is_symlink():
        raise OutputError(f"output path {directory} is a symbolic link; give the directory itself or choose another -o")
    recover_retired(directory)
    clean_leftovers(directory)
    if not directory.exists():
        check_creatable(directory)
        return
    if not directory.is_dir():
        raise OutputError(f"output path {directory} is a file, not a directory; choose another -o")
    try:
        empty = not os.listdir(directory)
        if not empty and not is_qac_directory(directory):
            raise OutputError(f"output directory {directory} already exists and was not written by qac (it holds no "
                              f"qac manifest.json or run.json); qac replaces only its own directories, so choose "
                              f"another -o")
    except OSError as exc:
        raise OutputError(f"cannot read output directory {directory}: {exc.strerror}; choose another -o") from None
    if not empty:
        refuse_foreign(directory)
    if not force:
        raise OutputError(f"output directory {directory} already exists; pass --force to replace it or choose "
                          f"another -o")
    if _holds_cwd(directory):
        raise OutputError(f"output directory {directory} is the current directory or holds it; qac replaces an "
                          f"output directory as a whole, so give another one, e.g. -o build")


def check_creatable(directory: str | os.PathLike) -> None:
    """A new output directory can be made, checked before any work (``OutputError``, one line):
    its nearest existing ancestor is a directory qac may create entries in. The check creates and
    removes an empty probe directory there, so read-only file systems (``/sys``), permissions
    and quotas show now, not after the simulation."""
    given = Path(directory)
    ancestor = Path(os.path.abspath(given)).parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"cannot create output directory {given}: {ancestor} is a file, not a directory; "
                          f"choose another -o")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".qac-probe-", dir=ancestor))
    except OSError as exc:
        raise OutputError(f"cannot create output directory {given}: {exc.strerror} (in {ancestor}); "
                          f"choose another -o") from None


class swap_lock:
    """An exclusive ``flock`` on the parent directory while a directory is swapped into place, so
    two qac processes writing the same -o never interleave their renames, and a recovery never
    mistakes a live swap for a killed one (the kernel drops the lock when a process dies)."""

    def __init__(self, parent: Path):
        self.parent = parent
        self.fd: int | None = None

    def __enter__(self):
        import fcntl

        try:
            self.fd = os.open(self.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:  # a file system without flock: swap as before, unlocked
            if self.fd is not None:
                os.close(self.fd)
            self.fd = None
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return False


def retired_copies(directory: Path) -> list[Path]:
    """Old copies of DIR that a qac killed between its two renames (``--force`` replacing DIR)
    left hidden beside it: ``.DIR.*.old/DIR``."""
    directory = Path(os.path.abspath(directory))
    try:
        return sorted(p / directory.name for p in directory.parent.glob(f".{glob_escape(directory.name)}.*.old")
                      if (p / directory.name).is_dir() and not (p / directory.name).is_symlink())
    except OSError:
        return []


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def recover_retired(directory: str | os.PathLike) -> Path | None:
    """Put back a DIR that a killed ``--force`` left hidden (``retired_copies``), when DIR itself is
    missing; say so on stderr in one line. With DIR present, the hidden copy is an older version:
    it is left, and ``check_replaceable`` names it. Returns where it was restored from."""
    import sys

    directory = Path(os.path.abspath(directory))
    if os.path.lexists(directory) or not retired_copies(directory):
        return None
    with swap_lock(directory.parent):  # a live swap holds it: wait, then look again
        copies = retired_copies(directory)
        if os.path.lexists(directory) or not copies:
            return None
        newest = max(copies, key=lambda p: p.stat().st_mtime)
        os.replace(newest, directory)
        try:
            newest.parent.rmdir()
        except OSError:
            pass
    print(f"note: restored {directory} from {newest} (a qac that was killed while replacing it left it there)",
          file=sys.stderr)
    return newest


def hold_dir(path: Path) -> int | None:
    """An exclusive ``flock`` on a staging folder for as long as this process writes it (the
    kernel drops it if the process dies): a folder nobody holds is a killed qac's leftover."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def release_dir(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def clean_leftovers(directory: str | os.PathLike) -> list[Path]:
    """Remove the staging folders (``.DIR.*.tmp``) and emptied old copies (``.DIR.*.old``) that a
    killed qac left beside DIR: qac's own names, held by no live process (``hold_dir``). An old
    copy that still holds DIR is never removed: DIR missing, ``recover_retired`` puts it back;
    DIR present, one line on stderr says where it is."""
    import sys

    directory = Path(os.path.abspath(directory))
    name, removed = directory.name, []
    try:
        found = sorted([*directory.parent.glob(f".{glob_escape(name)}.*.tmp"),
                        *directory.parent.glob(f".{glob_escape(name)}.*.old")])
    except OSError:
        return removed
    for leftover in found:
        if leftover.is_symlink() or not leftover.is_dir():
            continue
        fd = hold_dir(leftover)
        if fd is None:  # a live qac is writing it
            continue
        try:
            if leftover.suffix == ".old" and (leftover / name).exists():
                print(f"note: an older copy of {directory} is kept at {leftover / name} (a qac was killed while "
                      f"replacing it); remove it when you no longer need it", file=sys.stderr)
                continue
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
        finally:
            release_dir(fd)
    return removed


def is_qac_staging(name: str) -> bool:
    """A temporary name qac gives a file it is writing inside an output directory (``.NAME.*.tmp``
    for one of its own file names, or the ``.qac-`` prefix): a leftover of a killed qac, not a
    user's file."""
    import re

    if name.startswith(".qac-"):
        return True
    match = re.fullmatch(r"\.(.+)\.[^./]+\.tmp", name) or re.fullmatch(r"\.(.+)\.tmp", name)
    return match is not None and match.group(1) in QAC_FILES


def write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with ``data``, flushed to disk, with the umask's mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)  # a full disk may only say so here
    finally:
        os.close(fd)


def _failure(directory: Path, exc: OSError, *, kept: bool) -> OutputError:
    what = exc.strerror or type(exc).__name__  # the file name would be a temporary one: leave it out
    left = "the existing directory is unchanged" if kept else "nothing was written"
    return OutputError(f"cannot write output directory {directory}: {what}; {left}; free space, fix the "
                       f"permissions or choose another -o")


def write_atomic(directory: str | os.PathLike, files: dict[str, bytes], *, force: bool = False) -> Path:
    """Write ``files`` (relative path → bytes) into a temporary sibling, then rename it to
    ``directory`` (replacing it, under ``check_replaceable``'s rules, with ``force``)."""
    given = Path(directory)
    check_replaceable(given, force=force)
    directory = Path(os.path.abspath(given))  # "." and "dir/" get a real name and parent
    parent, name = directory.parent, directory.name
    replacing = directory.exists()
    try:
        mode = (directory.stat().st_mode & 0o7777) if replacing else (0o777 & ~user_umask())
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot create output directory {given}: {exc.strerror}; choose another -o") from None
    retired = None
    guards = [hold_dir(staging)]  # a live staging folder: ``clean_leftovers`` leaves it alone
    try:
        for relative, data in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, data)
        os.chmod(staging, mode)
        with swap_lock(parent):  # one swap at a time: racing --force runs never cross their renames
            replacing = os.path.lexists(directory)  # another qac may have written it meanwhile
            if replacing:
                check_replaceable(given, force=force)
                retired = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=parent))
                guards.append(hold_dir(retired))
                os.replace(directory, retired / name)
                try:
                    os.replace(staging, directory)
                except BaseException:
                    os.replace(retired / name, directory)  # put the user's directory back
                    raise
            else:
                os.replace(staging, directory)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except OSError as exc:
        _clean(staging, retired)
        if retired is not None and (retired / name).exists():  # never hide the old directory silently
            raise OutputError(f"cannot write output directory {given}: {exc.strerror}; the previous directory is "
                              f"kept at {retired / name}: move it back with mv") from None
        raise _failure(given, exc, kept=replacing) from None
    except BaseException:
        _clean(staging, retired)
        raise
    finally:
        for fd in guards:
            release_dir(fd)
    return given


def _clean(staging: Path, retired: Path | None) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    if retired is not None and retired.exists() and not any(retired.iterdir()):
        retired.rmdir()


def add_files(directory: str | os.PathLike, files: dict[str, bytes], *, remove: tuple[str, ...] = (),
              last: str | None = None) -> Path:
    """Add top-level ``files`` to an existing directory without touching its other files.

    Each file is written to a hidden temporary name and renamed over its name; ``remove`` are
    deleted first and ``last`` is renamed last (a marker such as run.json, so a reader never
    pairs it with files from before). A failure before the renames leaves the directory as it was.
    """
    directory = Path(directory)
    with swap_lock(directory):  # one add at a time in DIR, so the leftovers found now are a killed qac's
        clean_staged_files(directory, files)
        return _add_files(directory, files, remove=remove, last=last)


def clean_staged_files(directory: Path, files) -> list[Path]:
    """Remove the temporary files (``.NAME.*.tmp``, NAME one of ``files``) that an ``add_files``
    killed mid-write left in DIR; called under DIR's ``swap_lock``, so none is a live write."""
    removed = []
    for name in files:
        for leftover in directory.glob(f".{glob_escape(name)}.*.tmp"):
            if leftover.is_file() and not leftover.is_symlink() and is_qac_staging(leftover.name):
                leftover.unlink(missing_ok=True)
                removed.append(leftover)
    return removed


def _add_files(directory: Path, files: dict[str, bytes], *, remove: tuple[str, ...], last: str | None) -> Path:
    staged: dict[str, Path] = {}
    try:
        for name, data in files.items():
            fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            os.close(fd)
            os.unlink(temp)
            staged[name] = Path(temp)  # before writing: a failed write is cleaned up too
            write_file(Path(temp), data)
        for name in (*remove, *([last] if last in files else [])):
            if (directory / name).exists():
                os.unlink(directory / name)
        for name in sorted(staged, key=lambda n: n == last):
            os.replace(staged[name], directory / name)
    except OSError as exc:
        for temp in staged.values():
            temp.unlink(missing_ok=True)
        raise _failure(directory, exc, kept=True) from None
    except BaseException:
        for temp in staged.values():
            temp.unlink(missing_ok=True)
        raise
    return directory
