"""A run's heartbeat: every few seconds, one line naming the repos still working and what
git last reported for each, so that a CI log is never silent while a big clone runs
(gclient prints "Still working on" for the same reason). Some CI systems end a job after
ten silent minutes.

`Heartbeat` sits between the engine and the caller's callback: it passes every event on,
remembers what each repo is doing, and while it runs (`with heartbeat:`) sends a
`heartbeat` event every `seconds`: `still working: xla (clone, 1.20 GiB received), iree
(submodules 5/13)`. Reporters that show something live (a terminal) ignore it.
"""

import threading
from typing import Dict, List, Optional

from xla_tasks.engine.model import Event, EventCallback
from xla_tasks.engine.progress import parse_progress


class _Busy:
    """One repo still working: its step and git's last words (its own or a submodule's)."""

    __slots__ = ("phase", "said")

    def __init__(self) -> None:
        self.phase = ""
        self.said = ""


class Heartbeat:
    """An `EventCallback` that passes events on and, inside `with`, beats every `seconds`
    (0: never) while some repo is working."""

    def __init__(self, emit: EventCallback, seconds: float) -> None:
        self.emit = emit
        self.seconds = seconds
        self._busy: Dict[str, _Busy] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __call__(self, event: Event) -> None:
        self._note(event)
        self.emit(event)

    def _note(self, event: Event) -> None:
        repo, _, sub = event.repo.partition(":")
        with self._lock:
            if event.kind in ("done", "failed"):
                if not sub:
                    self._busy.pop(repo, None)
                return
            busy = self._busy.setdefault(repo, _Busy())
            if event.kind == "phase" and not sub:
                busy.phase, busy.said = event.text, ""
            elif event.kind == "progress":
                found = parse_progress(event.text)
                if found is not None:
                    busy.said = f"{sub} {found.brief()}" if sub else found.brief()

    def line(self) -> Optional[str]:
        """`still working: NAME (step, git's last words), ...`; None when nothing is."""
        with self._lock:
            parts: List[str] = []
            for name, busy in self._busy.items():
                words = [w for w in (busy.phase or "starting", busy.said) if w]
                parts.append(f"{name} ({', '.join(words)})")
        return "still working: " + ", ".join(parts) if parts else None

    def __enter__(self) -> "Heartbeat":
        if self.seconds > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name="xla-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat(self) -> None:
        while not self._stop.wait(self.seconds):
            text = self.line()
            if text is None:
                continue
            try:
                self.emit(Event("", "heartbeat", text))
            except OSError:  # the reader went away (`| head`): the work goes on, unheard
                return
