"""Put many repos on their pins at once: the engine's entry point, `sync_repos`.

Each repo is a `Job`: settled on the spot when the disk shows it on its pin, else handed to
the runner, whose first unit is `place_repo` and whose follow-ups are its submodules.
"""

import functools
import os
from typing import List, Optional, Sequence, Set

from xla_tasks.engine.disk import Head, git_dir_of, is_repo_top, read_head, write_ref
from xla_tasks.engine.filelock import UMASK
from xla_tasks.engine.heartbeat import Heartbeat
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import (
    PIN_REF,
    SUBMODULE_MEMO,
    EngineOptions,
    Event,
    EventCallback,
    Outcome,
    Repo,
    SyncError,
    outcome_line,
)
from xla_tasks.engine.place import PRESENT, place_repo
from xla_tasks.engine.runner import Unit, run_items
from xla_tasks.engine.submodules import submodules_match_memo, write_memo


def sync_repos(
    repos: Sequence[Repo], opts: EngineOptions, on_event: Optional[EventCallback] = None
) -> List[Outcome]:
    """Put every repo in place, `opts.jobs` git operations at a time; outcomes in input order.

    Repos the disk shows already in place are settled right here, with no thread and no
    git process. A repo nested inside another's path (torch_xla at pytorch/xla) starts once
    its container is done. Ctrl-C ends the git processes in flight and re-raises.
    """
    umask = os.umask(0o022)  # read once, in the caller's thread, before any worker starts
    os.umask(umask)
    UMASK[0] = umask
    emit = Heartbeat(on_event or (lambda event: None), opts.heartbeat)
    jobs = [Job(repo, opts, emit) for repo in repos]
    todo = [job for job in jobs if not _settled_on_disk(job)]

    def start(index: int) -> None:
        job = todo[index]
        job.emit(Event(job.repo.name, "start", job.repo.path))

    def finish(index: int, failure: Optional[str]) -> None:
        todo[index].error = todo[index].error or failure
        _finish(todo[index])

    containers = [_containers(job, todo) for job in todo]
    if todo:  # all settled on disk (a noop sync): no heartbeat thread to start and join
        with emit:  # "still working" lines while the repos run
            run_items(
                len(todo),
                lambda index: functools.partial(
                    _place_inside, todo[index], [todo[at] for at in containers[index]]
                ),
                opts.jobs,
                where=lambda index: todo[index].repo.path,
                waits_for=containers,
                on_start=start,
                on_finish=finish,
            )
    return [job.outcome() for job in jobs]


def _settled_on_disk(job: Job) -> bool:
    """Finish a repo the files show on its pin (submodules included), else leave it."""
    repo = job.repo
    git_dir = git_dir_of(repo.path) if repo.rev and not job.opts.dry_run else None
    if git_dir is None or read_head(git_dir) != Head(repo.rev, None):
        return False
    if job.wants_submodules and not submodules_match_memo(job, git_dir, repo.rev):
        return False
    job.emit(Event(repo.name, "start", repo.path))
    job.old = repo.rev
    job.action = "already at pin"
    write_ref(git_dir, PIN_REF, repo.rev or "")
    _finish(job)
    return True


def _containers(job: Job, jobs: Sequence[Job]) -> Set[int]:
    """The repos whose folder holds this one's: they are cloned first."""
    here = os.path.abspath(job.repo.path) + os.sep
    return {
        index
        for index, other in enumerate(jobs)
        if other is not job and here.startswith(os.path.abspath(other.repo.path) + os.sep)
    }


def _place_inside(job: Job, containers: Sequence[Job]) -> List[Unit]:
    """Place a repo once its containers are done: skipped, saying why, when one of them
    failed and is no repo (the clone would take its folder: it could never be cloned)."""
    for outer in containers:
        if outer.error is not None and not is_repo_top(outer.repo.path):
            raise SyncError(
                f"skipped: it lives inside {outer.repo.name}, which failed; "
                "run again once that one is cloned"
            )
    return place_repo(job)


def _finish(job: Job) -> None:
    try:
        write_memo(job)
    except OSError as err:
        job.error = job.error or f"writing {SUBMODULE_MEMO}: {err}"
    if job.action == PRESENT and job.sub_counts["updated"]:
        job.action = "present, its submodules completed"
    out = job.outcome()
    if out.error is None:
        line = outcome_line(out.name, out.action, out.old, out.new, out.notes)
        job.emit(Event(job.repo.name, "done", line))
    else:
        job.emit(Event(job.repo.name, "failed", out.error))
