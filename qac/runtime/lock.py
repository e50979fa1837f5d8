"""One writer per run directory: an exclusive ``flock`` on ``RUN_DIR/.qac-lock`` for a run's life.

Two ``qac run --runtime`` into the same RUN_DIR, or ``--resume`` while the run is live, would each
submit every job (on ``--runtime cloud`` each paid twice). The lock is taken before anything is
submitted and held until the process ends (the kernel drops it when the process dies, even by
SIGKILL, so a stale lock file never blocks a resume); the file holds the holder's pid, which the
second process names in its one line. The file itself is left in place: it is qac's own.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from qac.errors import OutputError

LOCK_NAME = ".qac-lock"


class RunLock:
    """An exclusive lock on a run directory, held from ``acquire`` until ``release`` (or exit)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.fd: int | None = None

    def holder(self) -> str:
        """The pid written by the process holding the lock, as text ('unknown' if unreadable)."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return "unknown"
        return text if text.isdigit() else "unknown"

    def busy(self) -> bool:
        """Another process holds the lock now (tried without waiting, released at once)."""
        if not self.path.is_file():
            return False
        probe = RunLock(self.directory)
        try:
            probe.acquire()
        except OutputError:
            return True
        probe.release()
        return False

    def acquire(self) -> RunLock:
        """Take the lock or raise ``OutputError`` naming the live process that holds it."""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot lock run directory {self.directory}: {exc.strerror}; check its permissions "
                              f"or choose another -o") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(self.in_use_message()) from None
            raise OutputError(f"cannot lock run directory {self.directory}: {exc.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def in_use_message(self) -> str:
        return (f"run directory {self.directory} is in use by a live qac run (pid {self.holder()}); one run writes "
                f"a RUN_DIR at a time: wait for it (`qac status {self.directory}`) or stop that process, then "
                f"qac run --resume {self.directory}")

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None


def only_lock(directory, records: str = "runtime") -> bool:
    """DIR holds nothing a run recorded: at most qac's lock file and a ``records`` folder without a
    stage manifest (a run stopped before its first stage was whole; no job was sent from it)."""
    directory = Path(directory)
    try:
        names = {p.name for p in directory.iterdir()}
    except OSError:
        return False
    if not names <= {LOCK_NAME, records}:
        return False
    return records not in names or not any((directory / records).glob("stage-*/manifest.json"))
