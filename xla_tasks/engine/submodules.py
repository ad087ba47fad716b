"""Submodules, recursively, as `git clone --recursive` would have them: stale ones updated
shallow in one batch (one by one with full history where a server cannot serve that),
excluded ones skipped with everything inside them, and the pin's gitlinks remembered in a
memo so that the next sync checks them without git.
"""

import functools
import json
import os
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Set

from xla_tasks.engine.batch import SubmoduleBatch
from xla_tasks.engine.cache import mirror_holding, reading_from
from xla_tasks.engine.disk import (
    git_dir_of,
    has_commit,
    is_shallow,
    read_head,
    read_memo,
    write_atomically,
)
from xla_tasks.engine.fetch import Fetch, fetch_commit
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import SUBMODULE_MEMO, Event, Repo, SyncError, absolute_url
from xla_tasks.engine.pathregex import path_search
from xla_tasks.engine.process import Watch, first_error, git, run_git, run_network
from xla_tasks.engine.runner import Unit
from xla_tasks.engine.worktree import has_local_changes


class Submodule(NamedTuple):
    name: str
    path: str  # relative to its superproject
    full: str  # relative to the dep's top, for excludes and messages
    sha: str  # the commit the superproject records
    url: str = ""  # as `.gitmodules` declares it (maybe relative)


def submodule_tasks(
    job: Job, sup: str, prefix: str, keep: Sequence[str], git_dir: str
) -> List[Unit]:
    """Tasks for the submodules of `sup` not on their recorded commit; recursive.

    A submodule already on its commit costs no network, and no git process below it when
    the last walk saw it on that commit; one the user moved or edited (`keep`, from the
    status before the move, or edits found in a submodule about to move) is left as it
    is; excluded ones are skipped with everything inside them. A submodule already cloned
    moves in place (fetch of its commit when missing, checkout); new ones are cloned by
    one `git submodule update`.
    """
    if not prefix:
        job.memo_dir, job.memo_commit = git_dir, read_head(git_dir).sha
        job.known = read_memo(git_dir)[1:]
    subs = read_submodules(sup, prefix)
    job.count("", {s.full: s.sha for s in subs})
    with job.lock:
        job.walked.add(prefix)
    stale: List[Submodule] = []
    cloned: List[Submodule] = []
    tasks: List[Unit] = []
    for sub in subs:
        if _excluded(job, sub.full):
            job.count("excluded")
            continue
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and read_head(sub_git).sha == sub.sha:
            job.count("there")
            if not _known_in_place(job, sub):
                tasks.extend(submodule_tasks(job, where, sub.full + "/", (), sub_git))
        elif sub.path in keep or (sub_git is not None and has_local_changes(where)):
            with job.lock:
                job.kept_subs.append(sub.full)
        elif sub_git is not None and not job.opts.cache:
            cloned.append(sub)
        else:
            stale.append(sub)
    return tasks + _moves(job, sup, stale, cloned)


def _moves(job: Job, sup: str, stale: List[Submodule], cloned: List[Submodule]) -> List[Unit]:
    """Units that move the submodules off their commits: cloned ones in place, new ones by
    one batch `git submodule update` (each from its mirror with a cache)."""
    if not (stale or cloned):
        return []
    job.queue_submodules(len(stale) + len(cloned))
    urls = _configure(sup, stale, cloned)
    tasks = [_submodule_task(job, sup, sub, urls.get(sub.name), _move) for sub in cloned]
    if stale and job.opts.cache:  # each from its mirror: local, hard-linked clones
        tasks.extend(
            _submodule_task(job, sup, sub, urls.get(sub.name), update_submodule) for sub in stale
        )
    elif stale:
        tasks.append(functools.partial(_update_batch, job, sup, stale))
    return tasks


def _configure(sup: str, new: List[Submodule], cloned: List[Submodule]) -> Dict[str, str]:
    """Only what `git submodule sync` and `init` would change: new submodules get their
    URL in the superproject's config, cloned ones whose URL `.gitmodules` changed follow
    it. Returns the configured URLs (relative ones resolved by git)."""
    urls = _submodule_urls(sup) if cloned else {}
    moved = [s.path for s in cloned if urls.get(s.name) != s.url or not _absolute(s.url)]
    if moved:
        git(["submodule", "sync", "--quiet", "--", *moved], sup, "git submodule sync")
    if new:
        paths = [s.path for s in new]
        git(["submodule", "init", "--quiet", "--", *paths], sup, "git submodule init")
    return _submodule_urls(sup) if moved or new else urls


def _absolute(url: str) -> bool:
    return not url.startswith(("./", "../"))


def _known_in_place(job: Job, sub: Submodule) -> bool:
    """True when the last complete walk saw `sub` on this commit and read its submodules,
    and those are all still on the commits it recorded (read from disk, no git process)."""
    links, walked = job.known
    inner = sub.full + "/"
    if links.get(sub.full) != sub.sha or inner not in walked:
        return False
    below = {full: sha for full, sha in links.items() if full.startswith(inner)}
    counts = links_in_place(job, below, walked)
    if counts is None:
        return False
    with job.lock:
        job.walked.update(prefix for prefix in walked if prefix.startswith(inner))
    job.count("", below)
    job.tally(counts)
    return True


def _update_batch(job: Job, sup: str, stale: List[Submodule]) -> List[Unit]:
    """One `git submodule update --jobs` for a superproject's stale submodules, shallow.

    git's own parallel clones beat one process per path (measured: 30 submodules).
    Those that a shallow fetch cannot reach (a gitlink that is no tip, on a server that
    refuses commit ids) are retried one by one with full history.
    """
    batch = SubmoduleBatch(job, sup, [(s.path, s.full) for s in stale], job.opts.jobs)
    args = ["submodule", "update", "--progress", "--checkout", "--depth", "1"]
    args += ["--jobs", str(max(1, job.opts.jobs)), "--", *[s.path for s in stale]]
    batch.start()
    run_network(args, sup, batch.watch(sup))
    tasks: List[Unit] = []
    for sub in stale:
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and read_head(sub_git).sha == sub.sha:
            batch.finish(sub.full)
            job.count("updated")
            tasks.extend(submodule_tasks(job, where, sub.full + "/", (), sub_git))
        else:
            tasks.append(_submodule_task(job, sup, sub, None, update_submodule))
    return tasks


def _excluded(job: Job, full: str) -> bool:
    if any(path_search(p, full) for p in job.repo.exclude_submodules):  # a pin file's
        return True
    return any(p.search(f"{job.repo.name}:{full}") for p in job.opts.exclude_submodules)


def read_submodules(sup: str, prefix: str) -> List[Submodule]:
    """The submodules `.gitmodules` declares, with the commits the index records."""
    if not os.path.isfile(os.path.join(sup, ".gitmodules")):
        return []
    res = run_git(
        ["config", "-z", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*\.(path|url)$"],
        sup,
    )
    if res.code not in (0, 1):  # 1: no entries
        raise SyncError("reading .gitmodules failed: " + first_error(res.err))
    names: Dict[str, str] = {}
    declared: Dict[str, str] = {}
    for item in res.out.split("\0"):
        key, _, value = item.partition("\n")
        name, _, field = key[len("submodule.") :].rpartition(".")
        if field == "url":
            declared[name] = value
        elif value and not value.startswith("-") and ".." not in value.split("/"):
            names[value] = name
    if not names:
        return []
    staged = git(["ls-files", "--stage", "-z", "--", *names], sup, "reading submodule commits")
    subs = []
    for entry in staged.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[0] == "160000" and path in names:
            name = names[path]
            subs.append(Submodule(name, path, prefix + path, fields[1], declared.get(name, "")))
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


def _submodule_task(
    job: Job,
    sup: str,
    sub: Submodule,
    url: Optional[str],
    do: Callable[[Job, str, Submodule, Optional[str], str], None],
) -> Unit:
    """One submodule as its own unit (its own row while it works), then its submodules."""

    def task() -> List[Unit]:
        who = f"{job.repo.name}:{sub.full}"
        where = os.path.join(sup, sub.path)
        job.emit(Event(who, "start", where))
        job.phase("fetch" if git_dir_of(where) else "clone", who)
        try:
            do(job, sup, sub, url, who)
        except SyncError as err:
            job.emit(Event(who, "failed", str(err)))
            raise SyncError(f"submodule {sub.full}: {err}") from None
        job.emit(Event(who, "done", f"{who}: checked out {sub.sha[:12]}"))
        job.submodule_finished(sub.full)
        job.count("updated")
        return submodule_tasks(job, where, sub.full + "/", (), git_dir_of(where) or where)

    return task


def _move(job: Job, sup: str, sub: Submodule, url: Optional[str], who: str) -> None:
    """Move a cloned submodule to its commit, as `git submodule update` would, without its
    ~20 processes: fetch the commit from origin when it is missing (shallow when the
    submodule is; the engine's fallbacks when the server refuses ids), then check it out."""
    where = os.path.join(sup, sub.path)
    sub_git = git_dir_of(where) or os.path.join(where, ".git")
    if not has_commit(where, sub_git, sub.sha):
        job.phase("fetch", who)
        depth = ("--depth", "1") if is_shallow(sub_git) else ()
        how = Fetch("origin", "refs/remotes/origin", url or sub.url or where, depth)
        fetch_commit(_sub_job(job, sub, url or sub.url), where, sub_git, how)
    git(["checkout", "-q", "--detach", sub.sha, "--"], where, f"checkout of {sub.sha[:12]}")


def update_submodule(job: Job, sup: str, sub: Submodule, url: Optional[str], who: str) -> None:
    """`git submodule update` of one path: shallow first, full when the server refuses.

    With a cache it reads the submodule's mirror, shallow as without one, for this one call
    (`-c url.file://MIRROR.insteadOf=URL`, the file transport allowed for it alone): the
    superproject's config is not rewritten and origin is the real URL.
    """
    watch = job.watch(url or sub.path, who)
    if url and job.opts.cache:
        sub_job = _sub_job(job, sub, absolute_url(url, sup))
        with mirror_holding(sub_job, sub.sha, "shallow") as (mirror, _):
            config = reading_from(mirror, url)
            if config is not None:
                _update(sup, sub, config, watch)
                return
    _update(sup, sub, [], watch)


def _update(sup: str, sub: Submodule, config: List[str], watch: Watch) -> None:
    base = [*config, "submodule", "update", "--progress", "--checkout"]
    res = run_network([*base, "--depth", "1", "--", sub.path], sup, watch)
    if res.code != 0:
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and is_shallow(sub_git):
            run_network([*config, "fetch", "--progress", "--unshallow"], where, watch)
        res = run_network([*base, "--", sub.path], sup, watch)
        if res.code != 0:
            raise SyncError(f"update failed: {first_error(res.err)}")


def _sub_job(job: Job, sub: Submodule, url: str) -> Job:
    """A Job standing for a submodule when its mirror is filled: its URL, depth 1."""
    opts = job.opts._replace(history="shallow", depth=1)
    return Job(Repo(f"{job.repo.name}:{sub.full}", sub.path, url, sub.sha), opts, job.emit)


def write_memo(job: Job) -> None:
    """Remember the pin's gitlinks, so a later sync checks submodules with no git process,
    and which superprojects' submodules were read (their gitlinks are all there)."""
    if job.memo_dir is None or job.error is not None or job.kept_subs:
        return
    memo = {"pin": job.memo_commit, "gitlinks": job.gitlinks, "walked": sorted(job.walked)}
    write_atomically(os.path.join(job.memo_dir, SUBMODULE_MEMO), json.dumps(memo, sort_keys=True))


def submodules_match_memo(job: Job, git_dir: str, commit: Optional[str]) -> bool:
    """True when every wanted submodule is on the commit the memo of `commit` records."""
    pin, links, walked = read_memo(git_dir)
    counts = links_in_place(job, links, walked) if commit and pin == commit else None
    if counts is None:
        return False
    job.tally(counts)
    return True


def links_in_place(job: Job, links: Dict[str, str], walked: Set[str]) -> Optional[Dict[str, int]]:
    """Counts ("there", "excluded") when every wanted gitlink of `links` (paths from the
    dep's top) is checked out on its commit, read from disk, and its own submodules were
    read by that walk (not excluded then); None when one is not."""
    counts = {"there": 0, "excluded": 0}
    for full, sha in links.items():
        excluded = [_excluded(job, part) for part in _ancestors(full)]
        if any(excluded):  # counted once: at the outermost excluded one, not those inside it
            counts["excluded"] += 0 if any(excluded[:-1]) else 1
            continue
        sub_git = git_dir_of(os.path.join(job.repo.path, full))
        if full + "/" not in walked or sub_git is None or read_head(sub_git).sha != sha:
            return None
        counts["there"] += 1
    return counts


def _ancestors(full: str) -> List[str]:
    parts = full.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
