"""An flock on a file: the cache's per-mirror lock and the workspace lock.

The kernel drops an flock when its holder dies, so a killed run never leaves a stale lock
behind (no pid files to clean up). POSIX only: elsewhere the lock is a no-op.
"""

import os
import time
from typing import Optional

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class FileLock:
    """An flock on one file: one writer, or many readers, across processes and threads.

    The kernel drops it when the holder dies, so a killed run never leaves a stale lock.
    Used for each cache mirror and, through `xla_tasks.lock`, for the workspace.
    """

    def __init__(self, path: str, shared: bool = False) -> None:
        self.path = path
        self.mode = 0 if fcntl is None else (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        self.handle: Optional[int] = None

    def acquire(self, timeout: Optional[float] = None) -> bool:
        """Take the lock, waiting up to `timeout` seconds (None: as long as it takes)."""
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
                if deadline is not None and time.monotonic() >= deadline:
                    self.release()
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        if self.handle is not None:
            os.close(self.handle)  # closing drops the flock
            self.handle = None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
