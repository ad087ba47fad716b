"""Run one function per repo on N worker threads and collect an outcome for each.

Git work is I/O bound (network, disk, child processes), so threads are enough. A failure
in one repo is recorded on its outcome and never stops the others (contract 3.1.7). The
result keeps the input order so output is stable whatever finishes first. Ctrl-C cancels
the queued work and lets running git children finish their current step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from .errors import XlaTasksError
from .results import RepoOutcome

T = TypeVar("T")


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


def default_jobs() -> int:
    """Git is mostly waiting on I/O: twice the cores, capped at 8 (west and repo use ~8)."""
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


def run_each(
    items: Sequence[T],
    work: Callable[[T], RepoOutcome],
    name_of: Callable[[T], str],
    jobs: int,
    on_done: Callable[[RepoOutcome], None] | None = None,
) -> list[RepoOutcome]:
    """Call `work(item)` for each item, `jobs` at a time; expected errors become outcomes.

    `on_done(outcome)` is called in the worker the moment each item is finished (failed
    ones too), so output can stream while the others still run.
    """

    def guarded(item: T) -> RepoOutcome:
        try:
            outcome = work(item)
        except XlaTasksError as err:
            outcome = RepoOutcome(name=name_of(item), error=str(err))
        if on_done is not None:
            on_done(outcome)
        return outcome

    if jobs <= 1 or len(items) <= 1:
        return [guarded(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(items)), thread_name_prefix="xla-git")
    try:
        futures = [pool.submit(guarded, item) for item in items]
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
