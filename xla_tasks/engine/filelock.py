"""flocks: the cache's mirror locks, the workspace lock, and temporary folders in use.

The kernel drops an flock when its holder dies, so a killed run never leaves a stale lock
behind (no pid files to trust). The same holds for a temporary folder (a clone or a mirror
being filled): its owner holds an flock on the folder itself, so a later run deletes only
the folders whose owner is gone, never one that another live run (the generated
`sync_deps.py` beside `xla-tasks sync`, say) is still filling. POSIX only: elsewhere the
locks are no-ops and leftover folders are kept.
"""

import os
import threading
import time
from typing import Callable, Optional, Tuple

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


UMASK = [0o022]  # the process umask, read once by the engine's entry point (threads share it)


class FileLock:
    """An flock on one file: one writer, or many readers, across processes and threads.

    The kernel drops it when the holder dies, so a killed run never leaves a stale lock.
    Used for each cache mirror and, through `xla_tasks.lock`, for the workspace.
    """

    def __init__(self, path: str, shared: bool = False) -> None:
        self.path = path
        self.mode = 0 if fcntl is None else (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        self.handle: Optional[int] = None
        self.wrote = False  # we wrote a holder text: take it away on release

    def acquire(
        self, timeout: Optional[float] = None, stop: Optional[threading.Event] = None
    ) -> bool:
        """Take the lock, waiting up to `timeout` seconds (None: as long as it takes).

        False when the time ran out or `stop` was set (an interrupt): never a silent
        endless wait for a caller that can be interrupted.
        """
        self.handle = os.open(
            self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666
        )
        if fcntl is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.handle, self.mode | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                late = deadline is not None and time.monotonic() >= deadline
                if late or (stop is not None and stop.wait(0.05)):
                    self.release()
                    return False
                if stop is None:
                    time.sleep(0.05)

    def write_holder(self, text: str) -> None:
        """Say in the lock file who holds it (an exclusive holder only), for those who wait."""
        if self.handle is not None and fcntl is not None:
            os.ftruncate(self.handle, 0)
            os.pwrite(self.handle, text.encode("utf-8", "replace"), 0)
            self.wrote = True

    def release(self) -> None:
        if self.handle is not None:
            if self.wrote:
                os.ftruncate(self.handle, 0)  # its holder text is no longer true
                self.wrote = False
            os.close(self.handle)  # closing drops the flock
            self.handle = None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(path: str) -> str:
    """What the holder of a lock file wrote there ("" when nothing, or unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return ""
    try:
        return os.read(fd, 500).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)


def owned_temp_dir(parent: str, prefix: str) -> Tuple[str, Optional[int]]:
    """A new folder `parent/prefix*`, with the modes the umask gives, flocked as in use.

    Returns its path and the handle that holds the flock (close it with `release_dir`).
    A dead run's folder is removed by `remove_dead_temps`; this one never is while we live.
    """
    import tempfile

    while True:
        path = tempfile.mkdtemp(prefix=prefix, dir=parent)
        os.chmod(path, 0o777 & ~UMASK[0])  # mkdtemp is private; a clone or mirror is not
        if fcntl is None:
            return path, None
        handle = os.open(path, os.O_RDONLY)
        fcntl.flock(handle, fcntl.LOCK_EX)  # a remover may hold it a moment: wait it out
        try:
            if os.path.samestat(os.fstat(handle), os.lstat(path)):
                return path, handle
        except OSError:
            pass
        os.close(handle)  # a remover took it for a dead run's in between: make another


def release_dir(handle: Optional[int]) -> None:
    if handle is not None:
        os.close(handle)


def remove_dead_temps(
    parent: str, prefix: str, deletable: Optional[Callable[[str], bool]] = None
) -> None:
    """Delete the folders `parent/prefix*` whose owner is gone (their flock is free), once
    `deletable(path)` says so (it may first give back what the folder holds)."""
    import shutil
    import stat

    if fcntl is None:
        return
    try:
        names = [name for name in os.listdir(parent) if name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                continue
            handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)  # a live run's folder
            continue
        try:
            if deletable is None or deletable(path):
                shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(handle)
