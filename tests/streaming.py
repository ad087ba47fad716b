"""Helpers for output-while-it-works tests: a repo held in flight, the CLI as a child process
(stdout a pipe, or a real pseudo-terminal read through a terminal emulator)."""

from __future__ import annotations

import fcntl
import os
import pty
import queue
import select
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyte

WAIT = 60.0  # seconds before a test gives up on a line that never comes (a hang, not timing)


class Gate:
    """Holds every fetch from one upstream until released: git's `uploadpack.packObjectsHook`
    (read from the global config only) waits in the server for a file to appear."""

    def __init__(self, where: Path, upstream: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        self.waiting = where / "waiting"  # the hook was reached: the repo is in flight
        self.released = where / "released"
        hook = where / "hold.sh"
        hook.write_text(
            "#!/bin/sh\n"
            f'if [ "$(pwd -P)" = "{upstream.resolve()}" ]; then\n'
            f'  : > "{self.waiting}"\n'
            f'  until [ -e "{self.released}" ]; do sleep 0.05; done\n'
            "fi\n"
            'exec "$@"\n'
        )
        hook.chmod(0o755)
        with open(os.environ["GIT_CONFIG_GLOBAL"], "a") as config:
            config.write(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")

    def release(self) -> None:
        self.released.touch()


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "xla_tasks", *args]


class Lines:
    """The CLI with stdout on a pipe, read line by line as the child writes them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def until(self, wanted: Callable[[list[str]], bool]) -> list[str]:
        """Read lines until `wanted(lines so far)`; the test fails if the output ends first."""
        while not wanted(self.seen):
            line = self._queue.get(timeout=WAIT)
            assert line is not None, f"output ended before the expected lines: {self.seen}"
            assert line.endswith("\n"), f"a partial line: {line!r}"
            self.seen.append(line.rstrip("\n"))
        return self.seen

    def rest(self) -> tuple[int, list[str]]:
        while (line := self._queue.get(timeout=WAIT)) is not None:
            self.seen.append(line.rstrip("\n"))
        return self.proc.wait(timeout=WAIT), self.seen


@contextmanager
def piped(args: list[str], cwd: Path, gate: Gate | None = None) -> Iterator[Lines]:
    """Run the CLI with stdout (and stderr) on one pipe, as CI does."""
    proc = subprocess.Popen(
        cli_argv(*args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield Lines(proc)
    finally:
        if gate is not None:
            gate.release()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=WAIT)
        assert proc.stdout is not None
        proc.stdout.close()


# What the user's own shell may set that changes how rich draws; each test says what it wants.
DISPLAY_ENV = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def terminal_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in DISPLAY_ENV}


class Terminal:
    """A pseudo-terminal of a fixed size with a child on it, and the screen a user sees."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], cols: int = 300) -> None:
        self.screen = pyte.Screen(cols, 40)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            cli_argv(*args),
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**terminal_env(), **env},
            close_fds=True,
        )
        os.close(slave)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display if line.strip()]

    def _read(self) -> bool:
        """Take what the child wrote; False once it closed the terminal."""
        ready, _, _ = select.select([self.master], [], [], WAIT)
        assert ready, f"nothing on the terminal for {WAIT}s: {self.lines()}"
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child is gone and the terminal closed
            return False
        self.raw += chunk
        self.stream.feed(chunk)
        return bool(chunk)

    def until(self, wanted: Callable[[list[str]], bool]) -> list[str]:
        while not wanted(self.lines()):
            assert self._read(), f"the terminal closed before the expected screen: {self.lines()}"
        return self.lines()

    def finish(self) -> int:
        while self._read():
            pass
        os.close(self.master)
        return self.proc.wait(timeout=WAIT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)


def in_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI to its end on a terminal: its exit code and every byte it wrote, as text."""
    term = Terminal(args, cwd, env)
    try:
        code = term.finish()
    finally:
        term.close()
    return code, term.raw.decode().replace("\r\n", "\n")
