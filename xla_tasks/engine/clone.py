"""Cloning a missing repo: into a temporary folder beside its place, renamed into place when
complete (never a half clone at the path), in the history mode asked for (full, blobless,
shallow), through the cache when there is one.
"""

import contextlib
import os
import re
from typing import List, Tuple

from xla_tasks.engine.cache import clone_from_cache
from xla_tasks.engine.checkout import checkout_pin
from xla_tasks.engine.disk import git_dir_of, has_commit, read_head
from xla_tasks.engine.fetch import Fetch, fetch_commit
from xla_tasks.engine.filelock import owned_temp_dir, release_dir, remove_dead_temps
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import EngineOptions, SyncError, redact
from xla_tasks.engine.nesting import (
    finish_move_in,
    move_back,
    move_in,
    nested_clones,
    remove_empty_folders,
)
from xla_tasks.engine.process import GitResult, first_error, git, run_network


def clone_repo(job: Job) -> str:
    """Clone beside the target, then rename into place: never a half clone at the path.

    A folder at the path that holds only other clones (torch_xla at pytorch/xla) is
    completed: they are moved into the new clone, never deleted. A failure leaves no
    folder this made (an empty `pytorch/` around a failed torch_xla clone).
    The temporary folder is flocked while we fill it, so the leftovers of dead runs are
    removed here and a live run's (another sync in this workspace) never is.
    """
    import shutil

    repo = job.repo
    parent = os.path.dirname(os.path.abspath(repo.path))
    made = _make_folders(parent)
    base = os.path.basename(repo.path)
    # A dead run's temporary folder may hold nested clones it moved in: back they go first.
    remove_dead_temps(parent, f".{base}.clone-", deletable=move_back)
    nested = nested_clones(repo.path) or []
    tmp, handle = owned_temp_dir(parent, f".{base}.clone-")
    try:
        job.phase("clone")
        _clone_into(job, tmp)
        if nested:
            move_in(repo.path, tmp, nested)
            job.notes.append(f"moved in the clone(s) it already held: {', '.join(nested)}")
        elif os.path.isdir(repo.path):
            remove_empty_folders(repo.path)  # made for us; anything else fails here
        os.replace(tmp, repo.path)
        finish_move_in(repo.path)
    except BaseException:
        if tmp and move_back(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        raise
    finally:
        release_dir(handle)
    job.action = "cloned"
    return git_dir_of(repo.path) or os.path.join(repo.path, ".git")


def _make_folders(path: str) -> List[str]:
    """`os.makedirs(path)`, returning the folders it made, outermost first."""
    missing: List[str] = []
    while not os.path.isdir(path) and path != os.path.dirname(path):
        missing.append(path)
        path = os.path.dirname(path)
    made = []
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by a run beside this one
            os.mkdir(folder)
            made.append(folder)
    return made


def _clone_into(job: Job, tmp: str) -> None:
    repo, opts = job.repo, job.opts
    if opts.cache and (repo.rev or repo.branch):
        clone_from_cache(job, tmp)
    elif opts.history == "shallow" and repo.rev:
        git(["init", "-q"], tmp, "git init")
        git(["remote", "add", "origin", repo.url], tmp, "adding remote origin")
        depth = ("--depth", str(opts.depth))
        how = Fetch("origin", "refs/remotes/origin", repo.url, depth, full_if_refused=True)
        fetch_commit(job, tmp, os.path.join(tmp, ".git"), how)
    else:
        _clone_from(job, repo.url, tmp, _history_args(opts))
    if repo.rev:
        git_dir = os.path.join(tmp, ".git")
        if not has_commit(tmp, git_dir, repo.rev):
            job.phase("fetch")
            fetch_commit(job, tmp, git_dir, Fetch("origin", "refs/remotes/origin", repo.url))
        checkout_pin(job, tmp, git_dir)
        if repo.origin and not opts.cache:
            git(["remote", "set-url", "origin", repo.origin], tmp, "setting origin")
    else:
        job.new = read_head(os.path.join(tmp, ".git")).sha
        job.notes.append(f"{repo.branch or 'default branch'} from {redact(repo.url)}")


def _history_args(opts: EngineOptions) -> Tuple[str, ...]:
    if opts.history == "blobless":
        return ("--filter=blob:none",)
    if opts.history == "shallow":
        return ("--depth", str(opts.depth))
    return ()


def _clone_from(job: Job, source: str, tmp: str, extra: Tuple[str, ...]) -> None:
    """`git clone` (no checkout when a pin follows). Retried on the server's refusals: of a
    filter or a shallow clone (full history then), and, when a pin is known, of a branch
    it does not have (the pin counts, not the branch: its default branch then)."""
    repo = job.repo
    branch: Tuple[str, ...] = ("--branch", repo.branch) if repo.branch else ()
    res = _clone_once(job, source, tmp, (*extra, *branch))
    if res.code != 0 and branch and repo.rev and _NO_BRANCH.search(res.err):
        job.notes.append(f"no branch {repo.branch} at {redact(repo.url)}: its default branch")
        branch = ()
        res = _clone_once(job, source, tmp, extra)
    if res.code != 0 and extra and re.search(r"shallow|deepen|filter", res.err, re.I):
        job.notes.append(f"the server refused a {job.opts.history} clone: full history")
        res = _clone_once(job, source, tmp, branch)
    if res.code != 0:
        raise SyncError(f"clone from {redact(repo.url)} failed: {first_error(res.err)}")
    if "filtering not recognized by server" in res.err:
        job.notes.append("the server refused a blobless clone: full history")


_NO_BRANCH = re.compile(r"Remote branch .* not found")


def _clone_once(job: Job, source: str, tmp: str, extra: Tuple[str, ...]) -> GitResult:
    """One `git clone` into the empty folder `tmp`, emptied of what a failed try left.

    Emptied, never replaced: the flock `owned_temp_dir` took is on this folder, and a new
    one would be free for another run's `remove_dead_temps` to delete mid-clone.
    """
    import shutil

    for name in os.listdir(tmp):
        path = os.path.join(tmp, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    args = ["clone", "--progress", *extra, *(["--no-checkout"] if job.repo.rev else [])]
    return run_network([*args, "--", source, tmp], None, job.watch(job.repo.url))
