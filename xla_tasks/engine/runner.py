"""The one parallel executor: all per-repo work, in the engine and in every task.

Git work waits on the network, the disk and child processes, so threads are enough. Work
comes as items; an item's first unit may return follow-up units (a repo's submodules), and
an item may wait for others (a repo nested in another's folder starts once its container
is done). An item is finished when its units are.

One failure rule, whoever runs it: an exception in a unit is that item's failure, as one
line (`failure_text`), and the other items go on. An expected failure (`SyncError` and the
package's errors built on it) is its own text; anything else is a bug, still one line, with
the traceback on stderr under XLA_TASKS_DEBUG=1. Ctrl-C ends the git processes in flight,
drops what is queued and re-raises.
"""

import os
import sys
import traceback
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Set

from xla_tasks.engine.model import SyncError, redact
from xla_tasks.engine.process import STOPPING, kill_running_git

if TYPE_CHECKING:
    from concurrent.futures import Future

Unit = Callable[[], Sequence["Unit"]]  # a piece of work; returns follow-up units


def failure_text(err: BaseException, where: str) -> str:
    """The one line an exception in a unit becomes (redacted)."""
    if isinstance(err, SyncError):
        reason = str(err)
    elif isinstance(err, OSError):
        reason = f"{err.strerror or err}: {err.filename or where}"
    else:
        if os.environ.get("XLA_TASKS_DEBUG", "") not in ("", "0"):
            traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
        reason = (
            f"internal error: {type(err).__name__}: {err} (set XLA_TASKS_DEBUG=1 for the traceback)"
        )
    if _FILE_REFUSED in reason and "protocol.file.allow" not in reason:
        reason += f" ({FILE_PROTOCOL_HINT})"
    return redact(reason)


# git >= 2.38.1 refuses file:// URLs in submodules (protocol.file.allow defaults to "user",
# and submodule clones are not "from the user"), so local upstreams fail with only this.
_FILE_REFUSED = "transport 'file' not allowed"
FILE_PROTOCOL_HINT = (
    "a local file:// submodule, which git refuses by default; to allow local submodules: "
    "git config --global protocol.file.allow always"
)


def run_items(
    count: int,
    first_unit: Callable[[int], Unit],
    jobs: int,
    *,
    where: Callable[[int], str] = str,
    waits_for: Optional[Sequence[Set[int]]] = None,
    on_start: Optional[Callable[[int], None]] = None,
    on_finish: Optional[Callable[[int, Optional[str]], None]] = None,
) -> List[Optional[str]]:
    """Run items 0..count-1, `jobs` units at a time; return each item's failure (or None).

    `waits_for[i]`: items that must finish before item i starts. `on_start(i)` and
    `on_finish(i, failure)` are called in the caller's thread, in the order things happen,
    so output can stream while the others still run. An item's first failure wins.
    """
    if count == 0:
        return []
    from concurrent.futures import ThreadPoolExecutor

    STOPPING.clear()  # a new run: an earlier interrupt in this process is over
    run = _Run(count, first_unit, where, waits_for, on_start, on_finish)
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, count)), thread_name_prefix="xla-git")
    try:
        run.drive(pool)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        kill_running_git()
        raise
    finally:
        pool.shutdown(wait=True)
    return run.failures


class _Run:
    """The bookkeeping of one `run_items`: what waits, what runs, what failed."""

    def __init__(
        self,
        count: int,
        first_unit: Callable[[int], Unit],
        where: Callable[[int], str],
        waits_for: Optional[Sequence[Set[int]]],
        on_start: Optional[Callable[[int], None]],
        on_finish: Optional[Callable[[int, Optional[str]], None]],
    ) -> None:
        self.first_unit = first_unit
        self.where = where
        self.on_start = on_start
        self.on_finish = on_finish
        self.failures: List[Optional[str]] = [None] * count
        self.pending = [0] * count
        self.waiting: Dict[int, Set[int]] = {
            i: set(waits_for[i]) if waits_for else set() for i in range(count)
        }
        self.running: Dict[Future[Sequence[Unit]], int] = {}

    def drive(self, pool: "object") -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        self.pool = pool
        self._start_ready()
        while self.running:
            done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
            for future in done:
                item = self.running.pop(future)
                self.pending[item] -= 1
                for unit in self._follow_ups(item, future):
                    self._submit(item, unit)
                if self.pending[item] == 0:
                    if self.on_finish is not None:
                        self.on_finish(item, self.failures[item])
                    for other in self.waiting.values():
                        other.discard(item)
            self._start_ready()

    def _submit(self, item: int, unit: Unit) -> None:
        self.pending[item] += 1
        self.running[self.pool.submit(unit)] = item  # type: ignore[attr-defined]

    def _start_ready(self) -> None:
        for item in sorted(i for i, waits in self.waiting.items() if not waits):
            del self.waiting[item]
            if self.on_start is not None:
                self.on_start(item)
            self._submit(item, self.first_unit(item))

    def _follow_ups(self, item: int, future: "Future[Sequence[Unit]]") -> List[Unit]:
        try:
            return list(future.result())
        except Exception as err:  # the one failure rule: this item's line, the rest go on
            if self.failures[item] is None:
                self.failures[item] = failure_text(err, self.where(item))
            return []
