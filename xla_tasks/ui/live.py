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
from dataclasses import dataclass
from typing import Any, NamedTuple, TextIO

from xla_tasks.engine.model import Event, redact
from xla_tasks.ui.report import failure_line

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

    def __init__(self) -> None:
        # The repos whose line is on screen already: the final report leaves them out.
        self.printed: set[str] = set()

    def __call__(self, event: Event) -> None:
        pass

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def is_submodule(repo: str) -> bool:
    """A submodule's events (`NAME:PATH`) show it in flight; its repo's line sums it up."""
    return ":" in repo


class LineReporter(Reporter):
    """Not a terminal: one whole line per finished repo, as soon as it is finished."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        super().__init__()
        self.out, self.err = out, err
        self._lock = threading.Lock()
        self._gone: list[TextIO] = []  # streams whose reader went away

    def __call__(self, event: Event) -> None:
        if event.kind not in ("done", "failed") or is_submodule(event.repo):
            return
        done = event.kind == "done"
        line = redact(event.text if done else failure_line(event.repo, event.text))
        with self._lock:
            stream = self.out if done else self.err
            if stream in self._gone:
                return
            try:
                stream.write(line + "\n")
                stream.flush()
            except BrokenPipeError:  # `| head`: the work goes on; the final report ends it (141)
                self._gone.append(stream)
                return
            self.printed.add(event.repo)


_BAR = 20  # columns of a row's progress bar


@dataclass(slots=True)
class _Row:
    """One repo in flight: its step, git's last progress line, and its own spinner."""

    spinner: Any
    phase: str = "started"
    progress: GitProgress | None = None


class LiveReporter(Reporter):
    """A terminal: the repos in flight (phase, git's progress) under the finished lines.

    Lock order: our lock guards only the rows and is taken last (the display's refresh
    thread takes it inside rich's), so lines are printed outside it."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        from rich.console import Console  # a terminal is attached: worth the import
        from rich.live import Live

        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self.console = Console(file=out, highlight=False, emoji=False)
        self.display = Live(
            console=self.console,
            transient=True,  # when it ends, only the finished lines stay on screen
            refresh_per_second=8,
            get_renderable=self._render,
        )

    def __enter__(self) -> LiveReporter:
        self.display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.display.stop()

    def __call__(self, event: Event) -> None:
        if event.kind in ("done", "failed"):
            self._finish(event)
            return
        with self._lock:
            row = self._rows.get(event.repo)
            if row is None:
                from rich.spinner import Spinner

                row = self._rows[event.repo] = _Row(Spinner("dots", style="green"))
            if event.kind == "phase":
                row.phase, row.progress = event.text, None
            elif event.kind == "progress":
                row.progress = parse_progress(event.text) or row.progress

    def _finish(self, event: Event) -> None:
        """Drop the repo's row (and its submodules' rows); print its line above the display."""
        with self._lock:
            for name in [
                n for n in self._rows if n == event.repo or n.startswith(event.repo + ":")
            ]:
                del self._rows[name]
            if not is_submodule(event.repo):
                self.printed.add(event.repo)
        self.display.refresh()  # without the row, before the line is printed above it
        if is_submodule(event.repo):
            return
        from rich.text import Text

        if event.kind == "done":
            name, sep, rest = redact(event.text).partition(":")
            line = Text.assemble((name + sep, "bold"), rest) if sep else Text(name)
        else:
            line = Text(redact(failure_line(event.repo, event.text)), style="bold red")
        self.console.print(line, soft_wrap=True)

    def _render(self) -> Any:
        """The live area: spinner, name, phase, bar, percent, git's counts, bytes and rate."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            rows = list(self._rows.items())
            finished = len(self.printed)
        table = Table.grid(padding=(0, 1))
        for width in _widths(self.console.width, [name for name, _ in rows]):
            table.add_column(no_wrap=True, overflow="ellipsis", width=width)
        for name, row in rows:
            found = row.progress
            if found is None or not found.total:  # no count yet: a pulsing bar
                bar, percent = ProgressBar(total=None, width=_BAR), ""
            else:
                bar = ProgressBar(total=found.total, completed=found.handled, width=_BAR)
                percent = f"{found.percent or 0:3d}%"
            detail = found.detail() if found is not None else ""
            table.add_row(row.spinner, Text(name, style="bold"), row.phase, bar, percent, detail)
        if not rows:
            return table
        busy = len({name.split(":")[0] for name, _ in rows})  # repos, a submodule's too
        return Group(table, Text(f"{finished} done, {busy} in flight", style="dim"))


def _widths(screen: int, names: list[str]) -> list[int | None]:
    """Column widths that fit one row per repo on the screen, however narrow: spinner, name,
    phase, bar, percent, git's text; the name and git's text are cut to fit."""
    fixed = 1 + len("submodules") + _BAR + 4 + 5  # and one space between columns
    name = min(max((len(n) for n in names), default=1), max(8, (screen - fixed) // 2))
    return [1, name, len("submodules"), _BAR, 4, max(1, screen - fixed - name)]


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
