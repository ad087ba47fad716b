"""The shared mirror cache: one bare mirror per URL, filled from upstream only when it lacks
the commit needed, then cloned from locally (objects hard-linked). Each mirror has an flock:
one writer or many readers, across processes.
"""

import os
import re
from typing import (
    Optional,
)

from xla_tasks.engine.disk import has_commit, has_object
from xla_tasks.engine.fetch import Fetch, fetch_commit, fetch_refspecs
from xla_tasks.engine.filelock import FileLock
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import SyncError, redact
from xla_tasks.engine.process import first_error, run_network


def mirror_path(cache: str, url: str) -> str:
    """One bare mirror per normalized URL: no credentials, no trailing `/` or `.git`."""
    norm = redact(url).replace("***@", "").rstrip("/")
    norm = norm[:-4] if norm.endswith(".git") else norm
    if "://" in norm:
        scheme, _, rest = norm.partition("://")
        host, _, tail = rest.partition("/")
        norm = f"{scheme.lower()}://{host.lower()}/{tail}"
    else:
        norm = os.path.abspath(norm)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", norm.split("://")[-1]).strip("._")[-80:]
    import hashlib

    digest = hashlib.sha1(norm.encode("utf-8")).hexdigest()[:10]
    return os.path.join(cache, f"{slug}-{digest}.git")


def mirror_lock(mirror: str, shared: bool = False) -> FileLock:
    """The lock of one cache mirror, `<mirror>.lock` beside it."""
    os.makedirs(os.path.dirname(mirror), exist_ok=True)
    return FileLock(mirror + ".lock", shared)


def ensure_mirror(job: Job, rev: Optional[str]) -> str:
    """The mirror of the repo's URL, holding `rev` (or its branch when `rev` is None).

    The upstream is contacted only when the mirror lacks what is needed.
    """
    url = job.repo.url
    mirror = mirror_path(job.opts.cache or "", url)
    if rev is not None and _mirror_has(mirror, rev):
        return mirror
    with mirror_lock(mirror):
        if not os.path.isdir(mirror):
            import shutil
            import tempfile

            job.phase("cache")
            tmp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(mirror))
            try:
                res = run_network(
                    ["clone", "--progress", "--bare", "--", url, tmp], None, job.watch(url)
                )
                if res.code != 0:
                    raise SyncError(f"clone from {redact(url)} failed: {first_error(res.err)}")
                os.replace(tmp, mirror)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        elif rev is None:  # a branch checkout: its head now, not the mirror's last one
            job.phase("cache")
            fetch_refspecs(
                job, mirror, Fetch(url, "refs/heads", url), ["+refs/heads/*:refs/heads/*"]
            )
        if rev and not has_commit(mirror, mirror, rev):
            job.phase("cache")
            fetch_commit(job, mirror, mirror, Fetch(url, "refs/heads", url, keep=True))
    return mirror


def _mirror_has(mirror: str, rev: str) -> bool:
    return os.path.isfile(os.path.join(mirror, "HEAD")) and bool(has_object(mirror, rev))
