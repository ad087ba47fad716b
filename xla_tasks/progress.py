"""Output while a command works (contract 5.3): the engine's events, shown as they happen.

Three reporters, one chosen by `open_reporter`:
- `LineReporter` (not a terminal: CI, pipes): each repo's line the moment it is done, whole
  lines under one lock so parallel repos never interleave; a failure goes to stderr at once
  and is repeated last by the final report.
- `LiveReporter` (a terminal): a live display of the repos in flight, each with its phase and
  git's own progress; finished repos' lines print above it and stay, so once the display is
  gone the screen holds the lines the plain mode prints. It is `rich`, imported only here,
  only when a terminal is attached, so piped and CI runs do not pay for it.
- `Reporter` itself (`--json`): nothing on stdout but the final object.
Every reporter is an `EventCallback` (called from worker threads) and a context manager.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from typing import Any, NamedTuple, TextIO

from .engine import Event
from .report import failure_line

# One git progress line: "Receiving objects:  45% (450/1000), 1.20 MiB | 2.00 MiB/s",
# "remote: Counting objects: 354, done.", "Resolving deltas: 100% (10/10), done."
_AMOUNT = r"\d+(?:\.\d+)? (?:[KMGT]iB|bytes?)"
_PROGRESS_RE = re.compile(
    r"^(?P<remote>remote: )?(?P<stage>[A-Z][A-Za-z ]*?):\s+"
    r"(?:(?P<percent>\d{1,3})% \((?P<count>\d+)/(?P<total>\d+)\)|(?P<plain>\d+))"
    rf"(?:, (?P<size>{_AMOUNT})(?: \| (?P<rate>{_AMOUNT}/s))?)?"
    r"(?P<done>, done\.?)?\s*$"
)


class GitProgress(NamedTuple):
    """What one line of git's `--progress` output says."""

    stage: str  # "Receiving objects", "remote: Counting objects", "Updating files", ...
    handled: int  # objects, deltas or files handled so far
    total: int | None  # None when git does not know (e.g. "Enumerating objects: 354")
    percent: int | None
    size: str | None  # bytes received so far, as git writes them ("1.20 MiB")
    rate: str | None  # "2.00 MiB/s"
    done: bool  # the stage ended (", done.")

    def detail(self) -> str:
        """The line again, short: stage, counts, bytes and rate, for the live display."""
        text = self.stage + (f" {self.handled}/{self.total}" if self.total else f" {self.handled}")
        text += f", {self.size}" if self.size else ""
        text += f" | {self.rate}" if self.rate else ""
        return text + (", done" if self.done else "")


def parse_progress(line: str) -> GitProgress | None:
    """Parse one of git's progress lines (split on CR/LF); None for anything else."""
    match = _PROGRESS_RE.match(line.replace("\x1b[K", "").strip())  # a tty's erase-line
    if match is None:
        return None
    found = match.groupdict()
    stage = ("remote: " if found["remote"] else "") + found["stage"]
    total = int(found["total"]) if found["total"] else None
    return GitProgress(
        stage=stage,
        handled=int(found["count"] or found["plain"]),
        total=total,
        percent=int(found["percent"]) if found["percent"] else None,
        size=found["size"],
        rate=found["rate"],
        done=found["done"] is not None,
    )


class Reporter:
    """The base every reporter shares; itself it drops the events, as `--json` wants (the
    one object at the end says everything)."""

    streams = False  # the final report prints every repo's line itself

    def __call__(self, event: Event) -> None:
        pass

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class LineReporter(Reporter):
    """Not a terminal: one whole line per finished repo, as soon as it is finished."""

    streams = True

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind == "done":
            self._write(self.out, event.text)
        elif event.kind == "failed":
            self._write(self.err, failure_line(event.repo, event.text))

    def _write(self, stream: TextIO, line: str) -> None:
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


class LiveReporter(Reporter):
    """A terminal: the repos in flight (phase, git's progress) under the finished lines."""

    streams = True

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console  # a terminal is attached: worth the import
        from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn
        from rich.progress import TextColumn as Col

        self.console = Console(file=out, highlight=False, emoji=False)
        self.display = Progress(
            SpinnerColumn(),
            Col("[bold]{task.description}"),
            Col("{task.fields[phase]}"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            Col("{task.fields[detail]}"),
            console=self.console,
            transient=True,  # when it ends, only the finished lines stay on screen
            refresh_per_second=8,
        )
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LiveReporter:
        self.display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.display.stop()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if event.kind in ("done", "failed"):
                self._finish(event)
                return
            task = self._task(event.repo)
            if event.kind == "start":
                self.display.update(task, phase="started")
            elif event.kind == "phase":
                self.display.update(task, phase=event.text, detail="", total=None, completed=0)
            elif event.kind == "progress":
                self._progress(task, event.text)

    def _task(self, repo: str) -> Any:
        if repo not in self._tasks:
            self._tasks[repo] = self.display.add_task(repo, total=None, phase="", detail="")
        return self._tasks[repo]

    def _progress(self, task: Any, text: str) -> None:
        found = parse_progress(text)
        if found is not None:
            completed = found.handled if found.total else 0
            self.display.update(task, total=found.total, completed=completed, detail=found.detail())

    def _finish(self, event: Event) -> None:
        task = self._tasks.pop(event.repo, None)
        if task is not None:
            self.display.remove_task(task)
        if event.kind == "done":
            name, sep, rest = event.text.partition(":")
            line = self._text((name + sep, "bold"), rest) if sep else self._text(event.text)
        else:
            line = self._text((failure_line(event.repo, event.text), "bold red"))
        self.console.print(line, soft_wrap=True)

    @staticmethod
    def _text(*parts: str | tuple[str, str]) -> Any:
        from rich.text import Text

        return Text.assemble(*parts)


def is_live_terminal(out: TextIO) -> bool:
    """A live display only on a real terminal that can move its cursor (not TERM=dumb)."""
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: plain lines
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def open_reporter(as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> Reporter:
    """The reporter for this run: quiet for `--json`, live on a terminal, else plain lines."""
    out = out or sys.stdout
    if as_json:
        return Reporter()
    if is_live_terminal(out):
        return LiveReporter(out)
    return LineReporter(out, err or sys.stderr)
