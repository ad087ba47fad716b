"""One repo's run: what it is, what happened so far, how to report it, and the one-line
outcome it ends with (the same line in both fronts).
"""

import threading
from typing import Dict, List, Optional, Set, Tuple

from xla_tasks.engine.model import EngineOptions, Event, EventCallback, Outcome, Repo
from xla_tasks.engine.process import Watch


class Job:
    """One repo's run: what it is, what happened so far, and how to report it."""

    def __init__(self, repo: Repo, opts: EngineOptions, emit: EventCallback) -> None:
        self.repo = repo
        self.opts = opts
        self.emit = emit
        self.action = ""
        self.old: Optional[str] = None
        self.notes: List[str] = list(repo.notes)
        self.error: Optional[str] = None
        self.new: Optional[str] = repo.rev
        self.sub_counts = {"updated": 0, "there": 0, "excluded": 0}
        self.kept_subs: List[str] = []
        self.gitlinks: Dict[str, str] = {}
        self.memo_dir: Optional[str] = None  # set when the submodules were walked in full
        self.subs_queued = 0  # submodules to update, nested ones as they are found
        self.subs_finished: Set[str] = set()  # of those, the ones done (as far as we can tell)
        self.memo_commit: Optional[str] = None  # the superproject commit they were walked at
        self.walked: Set[str] = set()  # superprojects whose submodules were read ("", "a/")
        self.known: Tuple[Dict[str, str], Set[str]] = ({}, set())  # the last walk's memo
        self.lock = threading.Lock()

    @property
    def wants_submodules(self) -> bool:
        """Its submodules are to be put in place: flagged, and not skipped for the run."""
        return self.repo.submodules and self.opts.submodules

    def count(self, key: str, links: Optional[Dict[str, str]] = None) -> None:
        """Tally a submodule (from worker threads), recording the gitlinks walked."""
        with self.lock:
            if key:
                self.sub_counts[key] += 1
            self.gitlinks.update(links or {})

    def queue_submodules(self, count: int) -> None:
        """`count` more submodules to update: the repo's phase counts them (`submodules 0/13`)."""
        with self.lock:
            self.subs_queued += count
            self._show_submodules()

    def submodule_finished(self, full: str) -> None:
        """One queued submodule is done (said once, however often it is told)."""
        with self.lock:
            if full not in self.subs_finished:
                self.subs_finished.add(full)
                self._show_submodules()

    def _show_submodules(self) -> None:  # under the lock: the counts go out in order
        self.phase(f"submodules {len(self.subs_finished)}/{self.subs_queued}")

    def tally(self, counts: Dict[str, int]) -> None:
        """Add submodule counts found at once (from a memo)."""
        with self.lock:
            for key, number in counts.items():
                self.sub_counts[key] += number

    def phase(self, text: str, who: Optional[str] = None) -> None:
        self.emit(Event(who or self.repo.name, "phase", text))

    def watch(self, url: str, who: Optional[str] = None) -> Watch:
        name = who or self.repo.name
        return Watch(url, self.opts.stall_timeout, lambda t: self.emit(Event(name, "progress", t)))

    def outcome(self) -> Outcome:
        notes = list(self.notes) + self._submodule_notes()
        return Outcome(
            self.repo.name, self.repo.path, self.action, self.old, self.new, tuple(notes),
            self.error,
        )  # fmt: skip

    def _submodule_notes(self) -> List[str]:
        counts = self.sub_counts
        if not any(counts.values()) and not self.kept_subs:
            return []
        text = f"submodules: {counts['updated']} updated, {counts['there']} already there"
        text += f", {counts['excluded']} excluded" if counts["excluded"] else ""
        notes = [text]
        if self.kept_subs:
            kept = ", ".join(sorted(self.kept_subs))
            notes.append(f"left submodule(s) with local changes as they are: {kept}")
        return notes
