"""One operation at a time per workspace.

An flock (the engine's `FileLock`, shared with the cache mirrors) that the kernel drops
when the holder dies, so a killed run never leaves a stale lock. (The `filelock` package
did the same and cost 30 ms of import on every sync and pin.) Beside the lock we write who holds it
(pid and task) so a second run can name the holder in its message.

A gated `roll` holds the lock for its whole run and calls `sync` in-process for each try.
Two flocks of one file conflict even in one process, so the holder says so explicitly
(`lock_lent_to_nested`): the inner `sync` then passes through instead of waiting on
itself. Nothing is re-entrant by accident: an unrelated in-process caller still waits.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xla_tasks.engine.filelock import FileLock
from xla_tasks.errors import ConfigError, LockHeldError
from xla_tasks.ui.notices import notice

LOCK_NAME = ".xla-tasks.lock"

_lent = threading.local()  # .roots: workspace roots whose lock this thread's holder lent


@contextmanager
def lock_lent_to_nested(root: Path) -> Iterator[None]:
    """Inside `workspace_lock(root)`: let commands called in-process here take it as held."""
    roots: set[Path] = _lent.__dict__.setdefault("roots", set())
    key = root.resolve()
    added = key not in roots
    roots.add(key)
    try:
        yield
    finally:
        if added:
            roots.discard(key)


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
    if root.resolve() in _lent.__dict__.get("roots", ()):  # our caller holds it (gated roll)
        yield
        return
    path = root / LOCK_NAME
    info = root / f"{LOCK_NAME}.holder"
    _refuse_odd_file(path)
    _refuse_odd_file(info)
    lock = FileLock(str(path))
    if not lock.acquire(timeout=0):
        if timeout > 0:
            notice(f"waiting for the workspace lock ({_holder(info)})")
        if timeout <= 0 or not lock.acquire(timeout=timeout):
            raise LockHeldError(path, _holder(info))
    try:
        _write_holder(info, f"pid {os.getpid()} ({task}) since {time.strftime('%H:%M:%S')}\n")
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def _refuse_odd_file(path: Path) -> None:
    """The lock and holder files must be plain files: a link would make us open (and write)
    whatever it points to, and a folder there made the lock fail with a traceback."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    what = (
        "a symbolic link"
        if stat.S_ISLNK(mode)
        else "a directory"
        if stat.S_ISDIR(mode)
        else "not a regular file"
    )
    raise ConfigError(
        path, f"is {what}, not xla-tasks' lock file", hint="remove it, then run again"
    )


def _write_holder(info: Path, text: str) -> None:
    """Like write_text, but never through a link planted after the check above."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(info, flags, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _holder(info: Path) -> str:
    try:
        return info.read_text().strip() or "another xla-tasks run"
    except OSError:
        return "another xla-tasks run"
