"""One operation at a time per workspace.

`filelock` takes an OS lock (flock on POSIX) that the kernel drops when the holder dies,
so a killed run never leaves a stale lock. Beside the lock we write who holds it
(pid and task) so a second run can name the holder in its message.

The lock is re-entrant per thread: a gated `roll` holds it for its whole run and calls
`sync` in-process for each try; that inner `sync` enters the lock its own thread already
holds instead of waiting on itself (two flocks of one file conflict even in one process).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import LockHeldError

LOCK_NAME = ".xla-tasks.lock"

_held = threading.local()  # .roots: resolved workspace roots this thread holds the lock of


@contextmanager
def workspace_lock(
    root: Path, task: str, timeout: float, *, dry_run: bool = False
) -> Iterator[None]:
    """Hold the lock for `task`; wait up to `timeout` seconds, then fail naming the holder.

    A dry run changes nothing, so it takes no lock: it never waits for a running task and
    never creates the lock file.
    """
    if dry_run:
        yield
        return
    held: set[Path] = _held.__dict__.setdefault("roots", set())
    key = root.resolve()
    if key in held:  # this thread holds it already (a gated roll's in-process sync)
        yield
        return
    path = root / LOCK_NAME
    info = root / f"{LOCK_NAME}.holder"
    lock = FileLock(str(path), timeout=timeout, is_singleton=False)
    try:
        if timeout > 0:
            try:
                lock.acquire(timeout=0)
            except Timeout:
                print(
                    f"xla-tasks: waiting for the workspace lock ({_holder(info)})", file=sys.stderr
                )
                lock.acquire(timeout=timeout)
        else:
            lock.acquire(timeout=0)
    except Timeout:
        raise LockHeldError(path, _holder(info)) from None
    held.add(key)
    try:
        info.write_text(f"pid {os.getpid()} ({task}) since {time.strftime('%H:%M:%S')}\n")
        yield
    finally:
        held.discard(key)
        info.unlink(missing_ok=True)
        lock.release()


def _holder(info: Path) -> str:
    try:
        return info.read_text().strip() or "another xla-tasks run"
    except OSError:
        return "another xla-tasks run"
