"""Routing what happens while a command works: finished repos as events, in order.

Commands report finished repos (`RepoOutcome`s) as the engine reports its own `Event`s,
so one reporter (ui.live) shows both. `InOrder` streams items in a fixed order (status
order, dependency order) as soon as each one and all before it are done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from xla_tasks.engine.model import Event, EventCallback
from xla_tasks.ui.report import outcome_line
from xla_tasks.ui.results import RepoOutcome

T = TypeVar("T")


def outcome_event(outcome: RepoOutcome) -> Event:
    """The "done" or "failed" event of a finished repo, for the live output (ui.live)."""
    if outcome.failed:
        return Event(outcome.name, "failed", outcome.error or "")
    return Event(outcome.name, "done", outcome_line(outcome))


def in_order(outcomes: list[RepoOutcome], events: EventCallback) -> Callable[[RepoOutcome], None]:
    """A callback for finished outcomes that reports each one (`events`) once it and every
    outcome before it in `outcomes` are finished: streamed, yet in the list's order."""
    where = {id(outcome): index for index, outcome in enumerate(outcomes)}
    order: InOrder[RepoOutcome] = InOrder(lambda outcome: events(outcome_event(outcome)))
    return lambda outcome: order.done(where[id(outcome)], outcome)


def no_events(event: Event) -> None:
    """The callback of a caller who wants no events (library use, tests)."""


def events_to(on_event: EventCallback | None) -> EventCallback:
    return on_event or no_events


class InOrder(Generic[T]):
    """Hands items to `emit` in input order, each as soon as all before it are done.

    Work runs in parallel and finishes in any order; output that must keep an order
    (status order, dependency order) still streams this way, without ever mixing.
    """

    def __init__(self, emit: Callable[[T], None] | None) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self._next = 0
        self._waiting: dict[int, T] = {}

    def done(self, index: int, item: T) -> None:
        with self._lock:
            self._waiting[index] = item
            while self._next in self._waiting:
                ready = self._waiting.pop(self._next)
                self._next += 1
                if self._emit is not None:
                    self._emit(ready)
