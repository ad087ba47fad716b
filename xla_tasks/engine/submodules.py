"""Submodules, recursively, as `git clone --recursive` would have them: stale ones updated
shallow in one batch (one by one with full history where a server cannot serve that),
excluded ones skipped with everything inside them, and the pin's gitlinks remembered in a
memo so that the next sync checks them without git.
"""

import functools
import json
import os
import re
from typing import (
    Dict,
    List,
    NamedTuple,
    Optional,
    Sequence,
)

from xla_tasks.engine.cache import ensure_mirror
from xla_tasks.engine.disk import git_dir_of, is_shallow, read_head
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import SUBMODULE_MEMO, Event, Repo, SyncError
from xla_tasks.engine.process import first_error, git, run_git, run_network
from xla_tasks.engine.runner import Unit


class Submodule(NamedTuple):
    name: str
    path: str  # relative to its superproject
    full: str  # relative to the dep's top, for excludes and messages
    sha: str  # the commit the superproject records


def submodule_tasks(
    job: Job, sup: str, prefix: str, keep: Sequence[str], git_dir: str
) -> List[Unit]:
    """Tasks for the submodules of `sup` not on their recorded commit; recursive.

    A submodule already on its commit costs no network; one the user moved or edited
    (`keep`, from the status before the move) is left as it is; excluded ones are skipped
    with everything inside them.
    """
    subs = read_submodules(sup, prefix)
    job.count("", {s.full: s.sha for s in subs})
    if not prefix:
        job.memo_dir, job.memo_commit = git_dir, read_head(git_dir).sha
    stale: List[Submodule] = []
    tasks: List[Unit] = []
    for sub in subs:
        if _excluded(job, sub.full):
            job.count("excluded")
            continue
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and read_head(sub_git).sha == sub.sha:
            job.count("there")
            tasks.extend(submodule_tasks(job, where, sub.full + "/", (), sub_git))
        elif sub.path in keep:
            with job.lock:
                job.kept_subs.append(sub.full)
        else:
            stale.append(sub)
    if stale:
        paths = [s.path for s in stale]
        git(["submodule", "sync", "--quiet", "--", *paths], sup, "git submodule sync")
        git(["submodule", "init", "--quiet", "--", *paths], sup, "git submodule init")
        if job.opts.cache:  # each from its mirror: local, hard-linked clones
            urls = _submodule_urls(sup)
            tasks.extend(_update_task(job, sup, sub, urls.get(sub.name)) for sub in stale)
        else:
            tasks.append(functools.partial(_update_batch, job, sup, stale))
    return tasks


def _update_batch(job: Job, sup: str, stale: List[Submodule]) -> List[Unit]:
    """One `git submodule update --jobs` for a superproject's stale submodules, shallow.

    git's own parallel clones beat one process per path (measured: 30 submodules).
    Those that a shallow fetch cannot reach (a gitlink that is no tip, on a server that
    refuses commit ids) are retried one by one with full history.
    """
    who = f"{job.repo.name}:{stale[0].full}" if len(stale) == 1 else job.repo.name
    job.phase("submodules")
    args = ["submodule", "update", "--progress", "--checkout", "--depth", "1"]
    args += ["--jobs", str(max(1, job.opts.jobs)), "--", *[s.path for s in stale]]
    run_network(args, sup, job.watch(sup, who))
    tasks: List[Unit] = []
    for sub in stale:
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and read_head(sub_git).sha == sub.sha:
            job.count("updated")
            tasks.extend(submodule_tasks(job, where, sub.full + "/", (), sub_git))
        else:
            tasks.append(_update_task(job, sup, sub, None))
    return tasks


def _excluded(job: Job, full: str) -> bool:
    if any(re.search(p, full) for p in job.repo.exclude_submodules):
        return True
    return any(p.search(f"{job.repo.name}:{full}") for p in job.opts.exclude_submodules)


def read_submodules(sup: str, prefix: str) -> List[Submodule]:
    """The submodules `.gitmodules` declares, with the commits the index records."""
    if not os.path.isfile(os.path.join(sup, ".gitmodules")):
        return []
    res = run_git(
        ["config", "-z", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*\.path$"], sup
    )
    if res.code not in (0, 1):  # 1: no entries
        raise SyncError("reading .gitmodules failed: " + first_error(res.err))
    names: Dict[str, str] = {}
    for item in res.out.split("\0"):
        key, _, path = item.partition("\n")
        if path and not path.startswith("-") and ".." not in path.split("/"):
            names[path] = key[len("submodule.") : -len(".path")]
    if not names:
        return []
    staged = git(["ls-files", "--stage", "-z", "--", *names], sup, "reading submodule commits")
    subs = []
    for entry in staged.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[0] == "160000" and path in names:
            subs.append(Submodule(names[path], path, prefix + path, fields[1]))
    return subs


def _submodule_urls(sup: str) -> Dict[str, str]:
    """The absolute URLs `git submodule init` resolved (relative ones included)."""
    res = run_git(["config", "-z", "--get-regexp", r"^submodule\..*\.url$"], sup)
    urls = {}
    for item in res.out.split("\0"):
        key, _, value = item.partition("\n")
        if value:
            urls[key[len("submodule.") : -len(".url")]] = value
    return urls


def _update_task(job: Job, sup: str, sub: Submodule, url: Optional[str]) -> Unit:
    def task() -> List[Unit]:
        who = f"{job.repo.name}:{sub.full}"
        job.emit(Event(who, "start", os.path.join(sup, sub.path)))
        try:
            update_submodule(job, sup, sub, url, who)
        except SyncError as err:
            job.emit(Event(who, "failed", str(err)))
            raise SyncError(f"submodule {sub.full}: {err}") from None
        job.emit(Event(who, "done", f"{who}: checked out {sub.sha[:12]}"))
        job.count("updated")
        where = os.path.join(sup, sub.path)
        return submodule_tasks(job, where, sub.full + "/", (), git_dir_of(where) or where)

    return task


def update_submodule(job: Job, sup: str, sub: Submodule, url: Optional[str], who: str) -> None:
    """`git submodule update` of one path: shallow first, full when the server refuses.

    With a cache the clone comes from the mirror (`-c submodule.NAME.url=MIRROR`: the
    superproject's config is not rewritten), then origin is pointed back at the real URL.
    """
    config: List[str] = []
    watch_url = url or sub.path
    if url and job.opts.cache:
        mirror = ensure_mirror(_sub_job(job, sub, url), sub.sha)
        config = ["-c", f"submodule.{sub.name}.url={mirror}"]
    base = [*config, "submodule", "update", "--progress", "--checkout"]
    watch = job.watch(watch_url, who)
    res = run_network([*base, "--depth", "1", "--", sub.path], sup, watch)
    if res.code != 0:
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and is_shallow(sub_git):
            run_network(["fetch", "--progress", "--unshallow"], where, watch)
        res = run_network([*base, "--", sub.path], sup, watch)
        if res.code != 0:
            raise SyncError(f"update failed: {first_error(res.err)}")
    if config and url:
        git(["remote", "set-url", "origin", url], os.path.join(sup, sub.path), "setting origin")


def _sub_job(job: Job, sub: Submodule, url: str) -> Job:
    """A Job standing for a submodule when its mirror is filled (same options, its URL)."""
    return Job(Repo(f"{job.repo.name}:{sub.full}", sub.path, url, sub.sha), job.opts, job.emit)


def write_memo(job: Job) -> None:
    """Remember the pin's gitlinks, so a later sync checks submodules with no git process."""
    if job.memo_dir is None or job.error is not None or job.kept_subs:
        return
    memo = {"pin": job.memo_commit, "gitlinks": job.gitlinks}
    path = os.path.join(job.memo_dir, SUBMODULE_MEMO)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(memo, handle, sort_keys=True)
    os.replace(tmp, path)


def submodules_match_memo(job: Job, git_dir: str, commit: Optional[str]) -> bool:
    """True when every wanted submodule is on the commit the memo of `commit` records."""
    try:
        with open(os.path.join(git_dir, SUBMODULE_MEMO), encoding="utf-8") as handle:
            memo = json.load(handle)
        if commit is None or memo.get("pin") != commit:
            return False
        links = dict(memo["gitlinks"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for full, sha in links.items():
        if any(_excluded(job, part) for part in _ancestors(full)):
            job.sub_counts["excluded"] += 0 if _excluded_parent(job, full) else 1
            continue
        sub_git = git_dir_of(os.path.join(job.repo.path, full))
        if sub_git is None or read_head(sub_git).sha != sha:
            job.sub_counts = {"updated": 0, "there": 0, "excluded": 0}
            return False
        job.sub_counts["there"] += 1
    return True


def _ancestors(full: str) -> List[str]:
    parts = full.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _excluded_parent(job: Job, full: str) -> bool:
    return any(_excluded(job, part) for part in _ancestors(full)[:-1])
