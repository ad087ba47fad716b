"""Per-repo work in the tasks (status, pin, roll, foreach, update-repos): the engine's runner.

Every task that works repo by repo runs on the one executor the engine uses
(`engine.runner`), with its one failure rule: an exception in one repo becomes that repo's
`RepoOutcome.error`, one line, and the other repos finish (contract 3.1.7). The outcomes
keep the input order, so output is stable whatever finishes first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from xla_tasks.engine.runner import Unit, run_items
from xla_tasks.ui.results import RepoOutcome

T = TypeVar("T")


def run_each(
    items: Sequence[T],
    work: Callable[[T], RepoOutcome],
    name_of: Callable[[T], str],
    jobs: int,
    on_done: Callable[[RepoOutcome], None] | None = None,
) -> list[RepoOutcome]:
    """Call `work(item)` for each item, `jobs` at a time; failures become outcomes.

    `on_done(outcome)` is called the moment each item is finished (failed ones too), so
    output can stream while the others still run.
    """
    outcomes: list[RepoOutcome] = [RepoOutcome(name=name_of(item)) for item in items]

    def unit(index: int) -> Unit:
        def run() -> list[Unit]:
            outcomes[index] = work(items[index])
            return []

        return run

    def finish(index: int, failure: str | None) -> None:
        if failure is not None:
            outcomes[index] = RepoOutcome(name=name_of(items[index]), error=failure)
        if on_done is not None:
            on_done(outcomes[index])

    run_items(len(items), unit, jobs, where=lambda i: name_of(items[i]), on_finish=finish)
    return outcomes
