"""How one repo is put on its pin, and how sync decides what to do: clone it when it is
missing; leave it when it is on its pin; otherwise refuse a dirty tree or an operation in
progress, fetch only when the commit is not on disk, save a detached HEAD no ref holds,
then check out the pin and walk its submodules.
"""

import os
from typing import List, Optional, Tuple

from xla_tasks.engine.cache import fetch_from_cache
from xla_tasks.engine.checkout import checkout_pin
from xla_tasks.engine.clone import clone_repo
from xla_tasks.engine.disk import (
    Head,
    common_dir_of,
    git_dir_of,
    has_commit,
    is_repo_top,
    is_shallow,
    read_head,
    read_ref,
    write_ref,
)
from xla_tasks.engine.fetch import Fetch, fetch_commit, fetch_source
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import PIN_REF, SAVED_BRANCH_PREFIX, Repo, SyncError, redact
from xla_tasks.engine.nesting import nested_clones
from xla_tasks.engine.process import git
from xla_tasks.engine.runner import Unit
from xla_tasks.engine.submodules import submodule_tasks, submodules_match_memo
from xla_tasks.engine.worktree import in_progress, read_status


def place_repo(job: Job) -> List[Unit]:
    """Put one repo in place; returns follow-up tasks (its submodules) for the pool."""
    repo = job.repo
    _check_place(repo, job.opts.root)
    git_dir = git_dir_of(repo.path)
    if git_dir is None:
        if job.opts.dry_run:
            job.action = "would clone"
            job.notes.append(f"from {redact(repo.url)}")
            return []
        git_dir = clone_repo(job)
        keep: Tuple[str, ...] = ()
    elif repo.rev is None:
        present = _present(job, git_dir)
        if present is None:
            return []
        keep = present
    else:
        moved = move_repo(job, git_dir)
        if moved is None:
            return []
        keep = moved
    if not job.wants_submodules or job.opts.dry_run:
        return []
    return submodule_tasks(job, repo.path, "", keep, git_dir)


PRESENT = "present, left as it is"


def _present(job: Job, git_dir: str) -> Optional[Tuple[str, ...]]:
    """A clone that checkout leaves as it is, but whose flagged submodules must be there
    (a run that failed in them kept the clone): the user's submodules, or None when every
    one is in place."""
    job.action = PRESENT
    return _submodule_walk(job, git_dir, read_head(git_dir).sha)


def _submodule_walk(job: Job, git_dir: str, commit: Optional[str]) -> Optional[Tuple[str, ...]]:
    """For a clone left on `commit`: None when its submodules need no walk (none wanted, a
    dry run, or the memo shows each on its commit), else the user's submodules (left as
    they are by the walk)."""
    if not job.wants_submodules or job.opts.dry_run:
        return None
    if submodules_match_memo(job, git_dir, commit):
        return None
    return read_status(job.repo.path, submodule_edits=False).submodules


def _check_place(repo: Repo, root: Optional[str]) -> None:
    """The path must stay inside the workspace and be free or hold a git repo top."""
    if root is not None:
        real, top = os.path.realpath(repo.path), os.path.realpath(root)
        if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
            raise SyncError(f"path {repo.path} leads outside the workspace {root}")
    if not os.path.lexists(repo.path) or is_repo_top(repo.path):
        return
    if nested_clones(repo.path) is not None:  # empty, or other clones only: completed
        return
    raise SyncError(f"{repo.path} exists and is not a git repository; move it away")


def move_repo(job: Job, git_dir: str) -> Optional[Tuple[str, ...]]:
    """Check out the pin detached; never over the user's work. Returns the user's submodules.

    None means nothing more to do (already on the pin with its submodules, or a dry run).
    """
    repo, rev = job.repo, job.repo.rev or ""
    head = read_head(git_dir)
    job.old = head.sha
    if head.sha == rev:
        return _at_pin(job, git_dir, head)
    busy = in_progress(git_dir)
    if busy:
        raise SyncError(
            f"{repo.path}: a {busy} is in progress; not moved: finish it "
            f"(git {busy} --continue) or abort it (git {busy} --abort), then run again"
        )
    status = read_status(repo.path, submodule_edits=False)
    if status.changed:
        shown = ", ".join(status.changed[:5]) + (
            f" and {len(status.changed) - 5} more" if status.changed[5:] else ""
        )
        raise SyncError(f"has uncommitted changes ({shown}); not touched: commit or stash them")
    present = has_commit(repo.path, git_dir, rev)
    if job.opts.dry_run:
        _plan(job, git_dir, head, present)
        return None
    job.action = "checked out"
    if not present:
        job.phase("fetch")
        fetch_into(job, repo.path, git_dir)
        job.action = "fetched"
    _save_orphan_head(job, git_dir, head)
    checkout_pin(job, repo.path, git_dir)
    return status.submodules


def _at_pin(job: Job, git_dir: str, head: Head) -> Optional[Tuple[str, ...]]:
    rev = job.repo.rev or ""
    job.action = "up to date" if job.opts.dry_run else "already at pin"
    if head.branch:
        if job.opts.dry_run:
            job.notes.append(f"would detach from branch {head.branch}")
            return None
        git(["checkout", "-q", "--detach", rev, "--"], job.repo.path, "detaching HEAD")
        job.notes.append(f"detached from branch {head.branch}, which is unchanged")
    if job.opts.dry_run:
        return None
    write_ref(git_dir, PIN_REF, rev)
    return _submodule_walk(job, git_dir, rev)


def _plan(job: Job, git_dir: str, head: Head, present: bool) -> None:
    """What a move would do, touching nothing."""
    job.action = "would check out" if present else "would fetch and check out"
    if head.branch is None and head.sha and not _held_by_refs(job.repo.path, git_dir, head.sha):
        job.notes.append(f"would first save HEAD {head.sha[:12]} on a branch")
    if job.wants_submodules:
        job.notes.append("then its submodules")


def _held_by_refs(path: str, git_dir: str, sha: str) -> bool:
    """True when a branch, tag or remote ref holds `sha` (ours first, read on disk)."""
    if read_ref(common_dir_of(git_dir), PIN_REF) == sha:
        return True
    refs = ["refs/heads", "refs/tags", "refs/remotes"]
    args = ["for-each-ref", "--count=1", "--format=%(refname)", "--contains", sha]
    return bool(git(args + refs, path, "looking for refs holding HEAD").strip())


def _save_orphan_head(job: Job, git_dir: str, head: Head) -> None:
    """Keep commits that only a detached HEAD holds: put a branch on them before moving."""
    if head.branch or not head.sha or _held_by_refs(job.repo.path, git_dir, head.sha):
        return
    branch = SAVED_BRANCH_PREFIX + head.sha[:12]
    if read_ref(common_dir_of(git_dir), "refs/heads/" + branch) is None:
        git(["branch", "--no-track", branch, head.sha], job.repo.path, "saving HEAD on " + branch)
    job.notes.append(f"saved the previous HEAD {head.sha[:12]} on branch {branch}")


def fetch_into(job: Job, path: str, git_dir: str) -> None:
    """Fetch the pin into an existing clone: through the cache when there is one, else
    from upstream (the remote that points at it, if one does)."""
    if job.opts.cache and fetch_from_cache(job, path, git_dir):
        return
    source, refs = fetch_source(job.repo)
    extra = ("--depth", str(job.opts.depth)) if is_shallow(git_dir) else ()
    fetch_commit(job, path, git_dir, Fetch(source, refs, job.repo.url, extra))
