"""Run one function per repo on N worker threads and collect an outcome for each.

Git work is I/O bound (network, disk, child processes), so threads are enough. A failure
in one repo is recorded on its outcome and never stops the others (contract 3.1.7). The
result keeps the input order so output is stable whatever finishes first. Ctrl-C cancels
the queued work and lets running git children finish their current step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from .errors import XlaTasksError
from .results import RepoOutcome

T = TypeVar("T")


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


def run_nested_last(
    items: Sequence[T],
    work: Callable[[T], RepoOutcome],
    name_of: Callable[[T], str],
    path_of: Callable[[T], Path],
    jobs: int,
) -> list[RepoOutcome]:
    """`run_each` in waves: an item whose path lies inside another item's runs after it.

    A clone of torch_xla at `pytorch/xla` needs the pytorch clone there first. Results keep
    the input order.
    """
    paths = [path_of(item) for item in items]
    waves: dict[int, list[int]] = {}
    for index, here in enumerate(paths):
        depth = sum(1 for other in paths if other != here and here.is_relative_to(other))
        waves.setdefault(depth, []).append(index)
    outcomes: dict[int, RepoOutcome] = {}
    for depth in sorted(waves):
        wave = waves[depth]
        done = run_each([items[i] for i in wave], work, name_of, jobs)
        outcomes.update(zip(wave, done, strict=True))
    return [outcomes[index] for index in range(len(items))]
