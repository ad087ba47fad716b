"""Running one command and measuring it: wall time, peak memory of its process tree, and how
many git processes it started (from git's own trace2 events)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 600  # seconds before one run counts as hung
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    seconds: float
    code: int
    out: str
    err: str
    peak_mb: float = 0.0  # VmHWM of the biggest process of the tree (traced runs only)

    def failure(self) -> str | None:
        if self.code == 0:
            return None
        if self.code == -signal.SIGKILL:
            return f"timed out after {TIMEOUT}s"
        lines = (self.err.strip() or self.out.strip() or "no output").splitlines()
        return f"exit {self.code}: {lines[-1][:200]}"


def timed(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, sample: bool = False
) -> Run:
    """Run once; a hung command's process group is killed after TIMEOUT. With `sample`,
    also watch the peak memory of its processes (costs CPU: only in untimed runs)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, stdout=out, stderr=err, env=env, start_new_session=True
        )
        killer = threading.Timer(TIMEOUT, _kill_group, (process.pid,))
        killer.start()
        sampler = _PeakSampler(process.pid) if sample else None
        code = process.wait()
        seconds = time.perf_counter() - start
        killer.cancel()
        peak = sampler.stop() if sampler else 0.0
        out.seek(0)
        err.seek(0)
        return Run(
            seconds,
            code,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            peak,
        )


class _PeakSampler:
    """Largest VmHWM (MB) seen among a process and its descendants, sampled every 10 ms.
    Not ru_maxrss: a child forked from this big benchmark process would report the
    benchmark's own size there (the kernel keeps the pre-exec high-water mark)."""

    def __init__(self, group: int) -> None:
        self.group, self.peak = group, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak

    def _watch(self) -> None:
        while not self._done.wait(0.01):
            for pid in _tree(self.group):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):  # a zombie has none
                            self.peak = max(self.peak, int(line.split()[1]) / 1024)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc/PID/task/TID/children (Linux)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError, ValueError):  # it may end while we look
            for children in Path(f"/proc/{current}/task").glob("*/children"):
                todo += [int(child) for child in children.read_text().split()]
    return found


def git_processes(argv: Sequence[str], cwd: Path) -> tuple[Run, int]:
    """Run with GIT_TRACE2_EVENT pointing at a folder (one file per git process) and count
    the `start` events: every git process the command started, directly or not. The run
    also samples peak memory."""
    with tempfile.TemporaryDirectory(prefix="trace2-") as folder:
        run = timed(argv, cwd, {**os.environ, "GIT_TRACE2_EVENT": folder}, sample=True)
        starts = 0
        for path in Path(folder).iterdir():
            for line in path.read_text(errors="replace").splitlines():
                try:
                    starts += int(json.loads(line).get("event") == "start")
                except ValueError:
                    continue
    return run, starts


def isolated_env(home: Path) -> dict[str, str]:
    """No user or system git config, fixed identity, this checkout's xla_tasks first;
    file:// submodules allowed (the bench world's submodules are local)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k == "GIT_EXEC_PATH"}
    env = {k: v for k, v in env.items() if not k.startswith(("INVOKE_", "XLA_TASKS_"))}
    # Installed programs start from compiled .pyc files; without them every run would
    # compile the whole package again (about 40 ms), which no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        NO_PROXY="127.0.0.1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


def head(repo: Path) -> str | None:
    if not (repo / ".git").exists():
        return None
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def settle(ws: Path, names: Sequence[str]) -> None:
    """Refresh each dep's index (untimed) so re-hashing racily-clean files right after a
    checkout is charged to no tool's noop run."""
    for name in names:
        if (ws / name).is_dir():
            subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=ws / name, check=False)


@dataclass
class Cell:
    """One tool in one scenario: the time of each run, and what went wrong if anything did."""

    seconds: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    error: str | None = None
    at_pins: bool = True
    actions: dict[str, int] = field(default_factory=dict)
    git_processes: int | None = None

    @property
    def median(self) -> float | None:
        return None if self.error or not self.seconds else statistics.median(self.seconds)

    def record(self, run: Run, ok: bool) -> None:
        """Add one run; the first failure (exit code, or a dep off its pin) sticks."""
        self.at_pins = self.at_pins and ok
        if self.error is None:
            self.error = run.failure() or (None if ok else "finished but some dep is off its pin")
        self.seconds.append(run.seconds)
        try:
            outcomes = json.loads(run.out).get("outcomes", [])
        except (ValueError, AttributeError):
            return
        self.actions = dict(Counter(str(o.get("action", "")) for o in outcomes))

    def as_dict(self, base: float | None) -> dict[str, object]:
        median = self.median
        return {
            "seconds": median,
            "runs": [round(s, 4) for s in self.seconds],
            "ratio": median / base if median and base else None,
            "at_pins": self.at_pins and self.error is None,
            "error": self.error,
            "peak_mb": round(self.peak_mb, 1),
            "git_processes": self.git_processes,
            **({"actions": self.actions} if self.actions else {}),
        }
