"""One `git submodule update --jobs J` of a superproject's stale submodules, read as it runs:
a row for each submodule in flight, its own progress, and a count of those done.

What git shows (2.39, `run_processes_parallel`): it clones the submodules that have no clone
yet, J at a time, starting them in the order it was given them; it passes one clone's
output through as it comes and holds the others' until they end, so each clone's output
is whole, first line `Cloning into '/abs/path'...`. A clone whose output is followed by
another's has therefore ended. Then it updates every submodule in order (a fetch when the
commit is missing, then the checkout) and prints `Submodule path 'P': checked out 'SHA'` on
stdout after each one.
"""

import os
import re
import threading
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from xla_tasks.engine.disk import git_dir_of
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import Event
from xla_tasks.engine.process import Watch

_CLONING_RE = re.compile(r"^Cloning into '(?P<path>.+)'\.\.\.$")
_CHECKED_OUT_RE = re.compile(r"^Submodule path '(?P<path>.+)': checked out '[0-9a-f]+'$")


class _Sub(NamedTuple):
    path: str  # relative to the superproject, as git names it
    full: str  # relative to the repo's top: its rows are `NAME:FULL`


class SubmoduleBatch:
    """Turns one batch update's output into `NAME:FULL` events (start, phase, progress,
    done) and the repo's `submodules N/M` count. `subs`: (path, full) of each submodule, in
    the order given to git."""

    def __init__(self, job: Job, sup: str, subs: Sequence[Tuple[str, str]], jobs: int) -> None:
        self.job = job
        self.subs = [_Sub(path, full) for path, full in subs]
        self.jobs = max(1, jobs)
        self.clones = [s for s in self.subs if git_dir_of(os.path.join(sup, s.path)) is None]
        self.ended: List[_Sub] = []  # clones whose output ended, in git's order
        self.rows: Dict[str, str] = {}  # full path -> the event name of its row in flight
        self.shown: Optional[_Sub] = None  # whose output git passes through now
        self.updating = False  # the clones are over: git updates the submodules in order
        self.checked: List[_Sub] = []
        self._lock = threading.Lock()

    def watch(self, url: str) -> Watch:
        return Watch(url, self.job.opts.stall_timeout, self.progress, self.said)

    def start(self) -> None:
        """Rows for the clones git starts first."""
        with self._lock:
            self._rows_for_running_clones()

    def progress(self, line: str) -> None:
        with self._lock:
            sub = self._current()
            name = self.job.repo.name if sub is None else self._row(sub, "fetch")
        self.job.emit(Event(name, "progress", line))

    def said(self, line: str) -> None:
        cloning, checked = _CLONING_RE.match(line), _CHECKED_OUT_RE.match(line)
        with self._lock:
            if cloning is not None:
                sub = self._find(cloning["path"])
                if sub is not None and not self.updating:
                    self._end_shown_clone()
                    self.shown = sub
                    self._row(sub, "clone")
            elif checked is not None:
                sub = self._find(checked["path"])
                if sub is not None:
                    self._end_shown_clone()
                    self.updating = True
                    self.checked.append(sub)
                    self._finish(sub)

    def finish(self, full: str) -> None:
        """The batch is over and this submodule is on its commit."""
        with self._lock:
            self._finish(next(s for s in self.subs if s.full == full))

    # -- under the lock ---------------------------------------------------------------------

    def _current(self) -> Optional[_Sub]:
        """The submodule git's progress is about: the clone shown, else the next to update."""
        if not self.updating:
            return self.shown if self.shown is not None else _only(self.subs)
        waiting = [s for s in self.subs if s not in self.checked]
        return waiting[0] if waiting else None

    def _end_shown_clone(self) -> None:
        if self.shown is not None:
            self.ended.append(self.shown)
            self._finish(self.shown)
            self.shown = None
            self._rows_for_running_clones()

    def _rows_for_running_clones(self) -> None:
        """git runs the first J clones not yet ended: each gets a row, the ones it has not
        shown yet without progress."""
        if self.updating:
            return
        running = [s for s in self.clones if s not in self.ended][: self.jobs]
        for sub in running:
            self._row(sub, "clone")

    def _row(self, sub: _Sub, phase: str) -> str:
        full = sub.full
        name = self.rows.get(full)
        if name is None:
            name = self.rows[full] = f"{self.job.repo.name}:{full}"
            self.job.emit(Event(name, "start", full))
            self.job.emit(Event(name, "phase", phase))
        return name

    def _finish(self, sub: _Sub) -> None:
        name = self.rows.pop(sub.full, None)
        if name is not None:
            self.job.emit(Event(name, "done", f"{name}: done"))
        self.job.submodule_finished(sub.full)

    def _find(self, path: str) -> Optional[_Sub]:
        """The submodule git names (absolute for a clone, relative for an update)."""
        found = [s for s in self.subs if path == s.path or path.endswith("/" + s.path)]
        return max(found, key=lambda s: len(s.path)) if found else None


def _only(subs: Sequence[_Sub]) -> Optional[_Sub]:
    return subs[0] if len(subs) == 1 else None
