"""The shared mirror cache: one bare mirror per URL, filled from upstream only when it lacks
what a clone needs, then read locally.

A mirror follows the history the workspaces ask for: a shallow sync fills it with the
pinned commit alone, a blobless one with commits and trees plus the pinned commit's files,
a full one with everything. It only grows richer (shallow < blobless < full): a richer need
builds it again beside the old one and swaps it in. Clones are made with hard links and
never depend on it (no alternates): a blobless clone's promisor is the real URL, so the
files it lacks come from upstream. Submodules are fetched from theirs, shallow, as they are
without a cache.

Two flocks beside each mirror: `<mirror>.lock` (readers shared; exclusive only for the swap)
and `<mirror>.fill.lock` (whoever fetches into it), so readers never wait for a fetch of
something else and two runs never download the same thing twice. A fetch into a mirror
while others read it is safe: objects and refs appear atomically, and auto-gc is off there.
A wait is bounded (`cache_lock_timeout`), names the holder, and ends on Ctrl-C. A mirror
path holding anything but our own bare mirror of that URL (a link, another user's folder)
is refused. The file transport is allowed only on the calls that read a mirror.
"""

import os
import re
import stat
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Set, Tuple

from xla_tasks.engine.disk import has_commit, is_partial, is_shallow, read_ref, write_ref
from xla_tasks.engine.fetch import Fetch, fetch_commit, fetch_refspecs, fetch_source
from xla_tasks.engine.filelock import (
    FileLock,
    owned_temp_dir,
    read_holder,
    release_dir,
    remove_dead_temps,
)
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import UPSTREAM_REFS, SyncError, is_local_path, redact
from xla_tasks.engine.process import STOPPING, first_error, git, run_git, run_network

HISTORY_RANK = {"shallow": 0, "blobless": 1, "full": 2}  # what a mirror of each kind can serve


_FILES_REFS = "refs/xla-tasks/files"  # blobless mirrors: the files of these commits are here


_READ_MIRROR = ("-c", "protocol.file.allow=always")  # on the calls that read a mirror, only


_NO_GC = ("-c", "gc.auto=0", "-c", "maintenance.auto=false")  # readers may be linking its packs


_CHECKED: Set[Tuple[str, int, int]] = set()  # mirrors whose config this process has read


def mirror_key(url: str) -> str:
    """What makes two URLs one mirror: no credentials or user name, lower-case scheme and
    host, no trailing `/` or `.git`; `git@host:org/repo` is `ssh://host/org/repo`, a local
    path is absolute and `file://` is that path."""
    norm = url[len("file://") :] if url.startswith("file://") else url
    if is_local_path(norm):
        norm = os.path.abspath(norm)
    elif "://" not in norm:  # scp-style: host:path
        host, _, path = norm.partition(":")
        norm = f"ssh://{host}/{path.lstrip('/')}"
    norm = norm.rstrip("/")
    norm = norm[:-4] if norm.endswith(".git") else norm
    if "://" in norm:
        scheme, _, rest = norm.partition("://")
        host, _, tail = rest.partition("/")
        norm = f"{scheme.lower()}://{host.rpartition('@')[2].lower()}/{tail}"
    return norm


def mirror_path(cache: str, url: str) -> str:
    """One bare mirror per `mirror_key` of the URL, under `cache`."""
    import hashlib

    norm = mirror_key(url)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", norm.split("://")[-1]).strip("._")[-80:]
    digest = hashlib.sha1(norm.encode("utf-8")).hexdigest()[:10]
    return os.path.join(cache, f"{slug}-{digest}.git")


def history_held(git_dir: str) -> str:
    """What a mirror or clone holds, read from its files: shallow, blobless or full."""
    if is_shallow(git_dir):
        return "shallow"
    return "blobless" if is_partial(git_dir) else "full"


def reading_from(mirror: str, url: str) -> Optional[List[str]]:
    """git options that make one call read `url` from `mirror` (the file transport allowed
    for it alone); None when that cannot be written as a config key (a `=` in it)."""
    if "=" in url or "=" in mirror:
        return None
    return [*_READ_MIRROR, "-c", f"url.file://{mirror}.insteadOf={url}"]


@contextmanager
def mirror_holding(job: Job, rev: Optional[str], need: str) -> Iterator[Tuple[str, str]]:
    """The job's mirror holding `rev` (None: its branch's tip now) as history `need` asks,
    read-locked while the caller reads it; yields its path and the commit.

    The upstream is contacted only when the mirror lacks that (and then once, whoever
    else waits for the same mirror).
    """
    cache = job.opts.cache or ""
    os.makedirs(cache, exist_ok=True)
    mirror = mirror_path(cache, job.repo.url)
    for _ in range(3):
        if rev is not None:
            lock = _wait_for(job, mirror + ".lock", shared=True)
            try:
                if _is_ours(mirror, job.repo.url) and _ready(mirror, rev, need):
                    yield mirror, rev
                    return
            finally:
                lock.release()
        rev = _fill(job, mirror, rev, need)
    raise SyncError(f"cache: {mirror} still lacks {(rev or '')[:12]} after filling it")


def clone_from_cache(job: Job, tmp: str) -> None:
    """Clone the job's repo into the empty folder `tmp` from its mirror; origin is the URL.

    Hard links, from any mirror: a blobless one's clone is marked blobless (its promisor
    the real URL), a shallow one's gets the mirror's list of shallow commits.
    """
    repo = job.repo
    with mirror_holding(job, repo.rev, job.opts.history) as (mirror, _):
        kind = history_held(mirror)
        if kind == "shallow" and repo.rev:
            git(["init", "-q"], tmp, "git init")
            _link_objects(mirror, os.path.join(tmp, ".git"))
            git(["remote", "add", "origin", repo.origin or repo.url], tmp, "adding remote origin")
        else:
            args = [*_READ_MIRROR, "clone", "--progress"]
            args += ["--no-local", "--depth", str(job.opts.depth)] if kind == "shallow" else []
            args += ["--no-checkout"] if repo.rev else ["--branch", repo.branch or ""]
            res = run_network([*args, "--", mirror, tmp], None, job.watch(repo.url))
            if res.code != 0:
                raise SyncError(f"clone from the cache {mirror} failed: {first_error(res.err)}")
            git(["remote", "set-url", "origin", repo.origin or repo.url], tmp, "setting origin")
        if kind == "blobless":
            _mark_blobless(tmp)
    job.notes.append("objects from the cache")


def _link_objects(mirror: str, git_dir: str) -> None:
    """What `git clone --local` does, which git refuses for a shallow source: hard-link
    (else copy) the mirror's packs and loose objects, and copy its list of shallow commits
    (first: a commit fetched meanwhile is then only an unreferenced extra)."""
    import shutil

    shutil.copyfile(os.path.join(mirror, "shallow"), os.path.join(git_dir, "shallow"))
    source = os.path.join(mirror, "objects")
    for folder, subfolders, names in os.walk(source):
        subfolders[:] = [name for name in subfolders if name != "info"]
        target = os.path.join(git_dir, "objects", os.path.relpath(folder, source))
        os.makedirs(target, exist_ok=True)
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith("tmp_") or name.endswith(".keep") or not os.path.isfile(path):
                continue
            try:
                os.link(path, os.path.join(target, name))
            except OSError:  # another file system
                shutil.copy2(path, os.path.join(target, name))


def fetch_from_cache(job: Job, path: str, git_dir: str) -> bool:
    """Fetch the pin into an existing clone from the mirror, in the clone's own history mode
    (a blobless clone gets commits, trees and the pin's files, and keeps its promisor).

    False when it cannot (a blobless clone of a URL that holds `=`): fetch from upstream.
    """
    need = history_held(git_dir)
    config = reading_from(mirror_path(job.opts.cache or "", job.repo.url), job.repo.url)
    if need == "blobless" and config is None:
        return False
    with mirror_holding(job, job.repo.rev, need) as (mirror, rev):
        if need == "blobless":
            source, refs = fetch_source(job.repo)
            how = Fetch(source, refs, mirror, ("--filter=blob:none",), config=tuple(config or ()))
            fetch_commit(job, path, git_dir, how)
            _fetch_files(job, path, rev, how)
        else:
            extra = ("--depth", str(job.opts.depth)) if need == "shallow" else ()
            how = Fetch(mirror, UPSTREAM_REFS, mirror, extra, config=_READ_MIRROR)
            fetch_commit(job, path, git_dir, how)
    return True


# --- filling a mirror ----------------------------------------------------------------------


def _ready(mirror: str, rev: str, need: str) -> bool:
    kind = history_held(mirror)
    if HISTORY_RANK[kind] < HISTORY_RANK[need] or not has_commit(mirror, mirror, rev):
        return False
    return kind != "blobless" or read_ref(mirror, f"{_FILES_REFS}/{rev}") is not None


def _fill(job: Job, mirror: str, rev: Optional[str], need: str) -> str:
    """Fetch what the mirror lacks (building it, or a richer one, first): the fill lock is
    held meanwhile, so a second run waiting for the same thing finds it done."""
    lock = _wait_for(job, mirror + ".fill.lock", shared=False)
    try:
        lock.write_holder(_holder_text(job, "filling it"))
        present = _is_ours(mirror, job.repo.url)
        if rev is not None and present and _ready(mirror, rev, need):
            return rev  # another run filled it while we waited
        job.phase("cache")
        cache, base = os.path.split(mirror)
        remove_dead_temps(cache, f".{base}.tmp-")
        kind = history_held(mirror) if present else None
        if kind is not None and HISTORY_RANK[kind] >= HISTORY_RANK[need]:
            return _fetch_into_mirror(job, mirror, rev, kind)
        return _build(job, mirror, rev, need, replace=kind is not None)
    finally:
        lock.release()


def _build(job: Job, mirror: str, rev: Optional[str], need: str, replace: bool) -> str:
    """A new mirror of kind `need` filled beside, then moved into place (over the old one,
    once its readers are done): never a half mirror at the path."""
    import shutil

    cache, base = os.path.split(mirror)
    tmp, handle = owned_temp_dir(cache, f".{base}.tmp-")
    try:
        git(["init", "--bare", "--quiet", tmp], cache, "creating a cache mirror")
        settings = [("remote.origin.url", _without_credentials(job.repo.url))]
        settings += [("gc.auto", "0"), ("maintenance.auto", "false")]
        for key, value in settings:
            git(["config", key, value], tmp, "configuring a cache mirror")
        if need == "blobless":
            _mark_blobless(tmp)
        rev = _fetch_into_mirror(job, tmp, rev, need)
        if replace:
            swap = _wait_for(job, mirror + ".lock", shared=False)  # readers finish first
            try:
                swap.write_holder(_holder_text(job, f"making it {need}"))
                _swap(mirror, tmp)
            finally:
                swap.release()
        else:
            os.replace(tmp, mirror)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        release_dir(handle)
    return rev


def _swap(mirror: str, new: str) -> None:
    import shutil

    cache, base = os.path.split(mirror)
    old, handle = owned_temp_dir(cache, f".{base}.tmp-")
    try:
        os.replace(mirror, os.path.join(old, "mirror"))
        os.replace(new, mirror)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        release_dir(handle)


def _fetch_into_mirror(job: Job, where: str, rev: Optional[str], kind: str) -> str:
    """Fetch `rev` (None: the branch's tip) into a mirror of `kind`, as that kind holds it."""
    url = job.repo.url
    extra: Tuple[str, ...] = ()
    config: Tuple[str, ...] = _NO_GC
    source = url
    if kind == "shallow":
        extra = ("--depth", str(job.opts.depth))
    elif kind == "blobless":  # by the promisor's name: a URL given instead would be recorded
        extra, source = ("--filter=blob:none",), "origin"
        stored = _without_credentials(url)
        if stored != url and "=" not in url:
            config += ("-c", f"url.{url}.insteadOf={stored}")
    shallow = kind == "shallow"  # a server refusing that gets a full fetch by fetch_commit
    how = Fetch(source, "refs/heads", url, extra, keep=True, config=config, full_if_refused=shallow)
    if rev is None:
        rev = _fetch_branch(job, where, how)
    elif not has_commit(where, where, rev):
        fetch_commit(job, where, where, how)
    if kind == "blobless" and read_ref(where, f"{_FILES_REFS}/{rev}") is None:
        _fetch_files(job, where, rev, how)
        write_ref(where, f"{_FILES_REFS}/{rev}", rev)
    return rev


def _fetch_branch(job: Job, where: str, how: Fetch) -> str:
    branch = job.repo.branch
    if branch is None:
        raise SyncError("a clone through the cache needs a pinned commit or a branch")
    ref = f"refs/heads/{branch}"
    res = fetch_refspecs(job, where, how, [f"+{branch}:{ref}"])
    rev = read_ref(where, ref) if res.code == 0 else None
    if rev is None:
        reason = first_error(res.err) if res.code else f"no branch {branch}"
        raise SyncError(f"fetch of {branch} from {redact(job.repo.url)} failed: {reason}")
    return rev


def _fetch_files(job: Job, where: str, rev: str, how: Fetch) -> None:
    """Fetch the files of `rev` that a blobless repo lacks, in one request, from its
    promisor (as git's own lazy fetch does), so a checkout needs no network."""
    listed = run_git(["rev-list", "--objects", "--no-walk", "--missing=print", rev], where)
    if listed.code != 0:
        raise SyncError(f"listing the files of {rev[:12]} failed: {first_error(listed.err)}")
    missing = [line[1:] for line in listed.out.splitlines() if line.startswith("?")]
    if not missing:
        return
    args = [*how.config, "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--progress"]
    args += ["--no-tags", "--no-write-fetch-head", "--recurse-submodules=no"]
    args += ["--filter=blob:none", "--stdin", "--", how.source]
    feed = "".join(f"{sha}\n" for sha in missing).encode()
    res = run_network(args, where, job.watch(how.url), feed=feed)
    if res.code != 0:
        raise SyncError(
            f"fetch of the files of {rev[:12]} from {redact(how.url)} failed: "
            f"{first_error(res.err)}"
        )


def _mark_blobless(path: str) -> None:
    """What `git clone --filter=blob:none` records: origin is the promisor of what is absent."""
    for key, value in (
        ("core.repositoryformatversion", "1"),
        ("remote.origin.promisor", "true"),
        ("remote.origin.partialclonefilter", "blob:none"),
    ):
        git(["config", key, value], path, "marking a blobless clone")


def _without_credentials(url: str) -> str:
    """The URL a shared mirror records: nobody's password or token."""
    return redact(url).replace("***@", "")


# --- refusing what is not ours ---------------------------------------------------------------


def _is_ours(mirror: str, url: str) -> bool:
    """False when there is no mirror yet; True for our own bare mirror of the URL; anything
    else there (a link, a file, another user's folder, another repo) is refused."""
    try:
        st = os.lstat(mirror)
    except FileNotFoundError:
        return False
    fix = "remove it, or use another cache folder (--cache DIR)"
    if stat.S_ISLNK(st.st_mode):
        raise SyncError(f"cache: {mirror} is a symbolic link, not a mirror xla-tasks made; {fix}")
    if not stat.S_ISDIR(st.st_mode):
        raise SyncError(f"cache: {mirror} is not a folder, not a mirror xla-tasks made; {fix}")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise SyncError(
            f"cache: {mirror} belongs to another user (uid {st.st_uid}); "
            "use a cache folder of your own (--cache DIR)"
        )
    if (mirror, st.st_dev, st.st_ino) in _CHECKED:
        return True
    config = _read_config(mirror)
    origin = config.get("remote.origin.url", "")
    if config.get("core.bare") != "true" or mirror_key(origin) != mirror_key(url):
        found = f"its origin is {redact(origin)}" if origin else "it has no origin"
        raise SyncError(f"cache: {mirror} is not a bare mirror of {redact(url)} ({found}); {fix}")
    _CHECKED.add((mirror, st.st_dev, st.st_ino))
    return True


def _read_config(mirror: str) -> Dict[str, str]:
    path = os.path.join(mirror, "config")
    if not os.path.isfile(path) or os.path.islink(path):
        return {}
    regex = r"^(core\.bare|remote\.origin\.url)$"
    res = run_git(["config", "--file", path, "--get-regexp", regex], os.path.dirname(mirror))
    found: Dict[str, str] = {}
    for line in res.out.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key, value)
    return found


# --- waiting for another run -----------------------------------------------------------------


def _wait_for(job: Job, path: str, shared: bool) -> FileLock:
    """Take a mirror's lock: at once, else saying who holds it, for at most
    `cache_lock_timeout` seconds, and never past a Ctrl-C."""
    _refuse_odd_lock(path)
    lock = FileLock(path, shared)
    if lock.acquire(timeout=0):
        return lock
    holder = read_holder(path) or "other runs reading it"
    job.phase(f"waiting for the cache: {holder}")
    limit = job.opts.cache_lock_timeout
    if lock.acquire(timeout=limit, stop=STOPPING):
        return lock
    if STOPPING.is_set():
        raise SyncError("interrupted while waiting for the cache")
    mirror = path[: -len(".fill.lock")] if path.endswith(".fill.lock") else path[: -len(".lock")]
    raise SyncError(
        f"cache: {mirror} is busy ({holder}) after {limit:g} s; "
        "wait for that run, or raise cache_lock_timeout"
    )


def _refuse_odd_lock(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise SyncError(f"cache: {path} is {what}, not a lock file xla-tasks made; remove it")


def _holder_text(job: Job, doing: str) -> str:
    import socket
    import sys
    import time

    program = os.path.basename(sys.argv[0] if sys.argv and sys.argv[0] else "python")
    program = "xla-tasks" if program in ("__main__.py", "-c", "") else program
    when = time.strftime("%H:%M:%S")
    host = socket.gethostname()
    return f"pid {os.getpid()} on {host}, {program} {doing} for {job.repo.name}, since {when}"
