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
from typing import Any, TextIO

from xla_tasks.engine.model import Event, redact
from xla_tasks.engine.progress import GitProgress, parse_progress
from xla_tasks.ui.report import failure_line


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
    """Not a terminal: one whole line per finished repo, as soon as it is finished, and the
    engine's heartbeat (`still working: ...`) on stderr, so a CI log is never silent."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        super().__init__()
        self.out, self.err = out, err
        self._lock = threading.Lock()
        self._gone: list[TextIO] = []  # streams whose reader went away

    def __call__(self, event: Event) -> None:
        if event.kind == "heartbeat":
            self._write(self.err, redact(event.text))
            return
        if event.kind not in ("done", "failed") or is_submodule(event.repo):
            return
        done = event.kind == "done"
        line = redact(event.text if done else failure_line(event.repo, event.text))
        if self._write(self.out if done else self.err, line):
            self.printed.add(event.repo)

    def _write(self, stream: TextIO, line: str) -> bool:
        """One whole line, under the lock; False when its reader went away."""
        with self._lock:
            if stream in self._gone:
                return False
            try:
                stream.write(line + "\n")
                stream.flush()
            except BrokenPipeError:  # `| head`: the work goes on; the final report ends it (141)
                self._gone.append(stream)
                return False
            return True


_BAR = 20  # columns of a row's progress bar
_PHASE = len("submodules")  # columns of the phase: the longest the engine names
_NAME_MAX = 28  # columns of the name at most; longer names lose their middle
_COUNTED = re.compile(r"^(?P<step>\S+) (?P<done>\d+)/(?P<total>\d+)$")  # "submodules 5/13"


@dataclass(slots=True)
class _Row:
    """One repo or submodule in flight: its step, git's last progress line, its spinner."""

    spinner: Any
    phase: str = ""
    progress: GitProgress | None = None

    def step(self) -> str:
        """The phase column: the engine's phase, else what git's progress shows it doing."""
        if self.phase:
            return self.phase
        if self.progress is None:
            return "starting"
        return (
            "checkout" if self.progress.stage.startswith(("Updating", "Checking out")) else "fetch"
        )


class LiveReporter(Reporter):
    """A terminal: the repos in flight (phase, git's progress) under the finished lines.

    A repo's submodules in flight get rows of their own under its row, which shows how many
    of them are done (`submodules 5/13`). The columns keep their width for the whole run.

    Lock order: our lock guards only the rows and is taken last (the display's refresh
    thread takes it inside rich's), so lines are printed outside it."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        from rich.console import Console  # a terminal is attached: worth the import
        from rich.live import Live

        self._rows: dict[str, _Row] = {}
        self._order: dict[str, int] = {}  # repo -> when it first showed: its rows' place
        self._failed = 0
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
        if event.kind == "heartbeat":  # the display itself shows that work goes on
            return
        if event.kind in ("done", "failed"):
            self._finish(event)
            return
        with self._lock:
            row = self._rows.get(event.repo)
            if row is None:
                from rich.spinner import Spinner

                row = self._rows[event.repo] = _Row(Spinner("dots", style="green"))
                self._order.setdefault(event.repo.partition(":")[0], len(self._order))
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
                self._failed += event.kind == "failed"
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
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            rows = sorted(self._rows.items(), key=self._place)
            failed, finished = self._failed, len(self.printed) - self._failed
        table = Table.grid(padding=(0, 1))
        widths = _widths(self.console.width)
        for width in widths:
            table.add_column(no_wrap=True, overflow="ellipsis", width=width)
        for name, row in rows:
            step, bar, percent, detail = _columns(row)
            table.add_row(
                row.spinner, Text(_fit(name, widths[1]), style="bold"), step, bar, percent, detail
            )
        if not rows:
            return table
        busy = len({name.split(":")[0] for name, _ in rows})  # repos, a submodule's too
        tally = f"{finished} done" + (f", {failed} failed" if failed else "")
        return Group(table, Text(f"{tally}, {busy} in flight", style="dim"))

    def _place(self, item: tuple[str, _Row]) -> tuple[int, bool]:
        """Rows in the order their repos showed up, each repo's submodules under it."""
        repo, _, sub = item[0].partition(":")
        return self._order.get(repo, 0), bool(sub)


def _columns(row: _Row) -> tuple[str, Any, str, str]:
    """Phase, bar, percent and detail of a row: git's progress, or the engine's count."""
    from rich.progress_bar import ProgressBar

    counted = _COUNTED.match(row.phase)
    if counted is not None:  # "submodules 5/13": the bar is the count
        done, total = int(counted["done"]), int(counted["total"])
        bar = ProgressBar(total=max(total, 1), completed=done, width=_BAR)
        return counted["step"], bar, f"{100 * done // max(total, 1):3d}%", f"{done}/{total}"
    found = row.progress
    if found is None or not found.total:  # no count yet: a pulsing bar
        bar, percent = ProgressBar(total=None, width=_BAR), ""
    else:
        bar = ProgressBar(total=found.total, completed=found.handled, width=_BAR)
        percent = f"{found.percent or 0:3d}%"
    return row.step(), bar, percent, found.detail() if found is not None else ""


def _widths(screen: int) -> list[int]:
    """Column widths that fit one row per repo on the screen, however narrow, and do not
    change while the run goes on: spinner, name, phase, bar, percent, git's text."""
    fixed = 1 + _PHASE + _BAR + 4 + 5  # and one space between columns
    name = min(_NAME_MAX, max(8, (screen - fixed) // 2))
    return [1, name, _PHASE, _BAR, 4, max(1, screen - fixed - name)]


def _fit(name: str, width: int) -> str:
    """A name cut to `width`: a submodule keeps its repo and the end of its path."""
    if len(name) <= width:
        return name
    repo, sep, path = name.partition(":")
    keep = width - len(repo) - len(sep) - 1
    if sep and keep > 0:
        return f"{repo}{sep}…{path[-keep:]}"
    return name[: width - 1] + "…"


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
