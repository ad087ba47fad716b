"""Run a user's shell line (`sh -c CMD`) with its output in a file, bounded in time.

CMD is a build and a test: it starts compilers, test runners, servers. It runs in a new
session (its own process group), so a timeout, a Ctrl-C or a crash of ours ends all of it
with one `killpg`, and nothing it started lingers into the next run: what is left of the
group after the shell exits is ended too. Its output goes straight to a file (no pipe to
drain, so a chatty build cannot block on us).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL, for a build to remove its temp files


@dataclass(frozen=True, slots=True)
class ShellRun:
    code: int | None  # the shell's exit status (negative: killed by that signal)
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.code == 0 and not self.timed_out


def run_shell(
    command: str,
    cwd: Path,
    out: BinaryIO,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> ShellRun:
    """`sh -c command` in `cwd`, stdout and stderr to `out`, killed (group) after `timeout`.

    Used by `roll --verify` and `foreach`: both run a user's line and must leave nothing
    of it running after a timeout or a Ctrl-C.
    """
    out.flush()
    proc = subprocess.Popen(
        ["sh", "-c", command],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        try:
            return ShellRun(proc.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            end_group(proc)
            return ShellRun(proc.returncode, timed_out=True)
    finally:
        end_group(proc)  # still running (Ctrl-C, a crash) or leftovers of a finished shell


def end_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it after a grace period; reap the shell."""
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=GRACE_SECONDS)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, sig)


CHUNK = 64 * 1024  # bytes copied at a time: output is streamed, never held whole


def copy_capped(src: BinaryIO, dst: BinaryIO, limit: int, start: int = 0) -> int:
    """Copy `src` from byte `start` to `dst`, keeping at most `limit` bytes: when there is
    more, its first and last `limit // 2` bytes around one line saying how much was cut.
    Returns the number of bytes cut (0: copied whole). Memory: one CHUNK.

    A command's output is kept this way (a roll try's log, foreach's `--json`): the head
    says what started, the tail how it ended, and a runaway command costs bounded space.
    """
    size = src.seek(0, os.SEEK_END) - start
    src.seek(start)
    cut = max(0, size - limit)
    head = size if not cut else limit // 2
    _copy(src, dst, head)
    if cut:
        dst.write(f"\n[xla-tasks: {cut} bytes of output cut here]\n".encode())
        src.seek(start + size - (limit - head))
        _copy(src, dst, limit - head)
    return cut


def cap_in_place(handle: BinaryIO, start: int, limit: int) -> int:
    """Cap what a file (open for reading and appending) holds past byte `start` the way
    `copy_capped` does, in place; returns the bytes cut. A log is written whole while
    the command runs (`tail -f` works) and kept capped once it is done."""
    if handle.seek(0, os.SEEK_END) - start <= limit:
        return 0
    with tempfile.TemporaryFile() as kept:
        cut = copy_capped(handle, kept, limit, start)
        handle.truncate(start)
        size = kept.tell()
        kept.seek(0)
        _copy(kept, handle, size)
    return cut


def _copy(src: BinaryIO, dst: BinaryIO, count: int) -> None:
    while count > 0:
        data = src.read(min(CHUNK, count))
        if not data:
            return
        dst.write(data)
        count -= len(data)


def tail_lines(path: Path, start: int, count: int = 20) -> list[str]:
    """The last `count` lines of `path` from byte `start` on (reads at most the last 64 KiB)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(start, size - 65536))
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-count:]
