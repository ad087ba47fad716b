"""How sync fetches a pinned commit that is not on disk: by id first; when the server refuses
ids that are no ref tip (protocol v0), the pin's branch, then every branch and tag, and a
shallow clone is deepened when the pin lies deeper. Branches land under our own refs, never
over the user's.
"""

from typing import List, NamedTuple, Tuple

from xla_tasks.engine.disk import has_commit, is_shallow
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import KEEP_REFS, TAG_REFS, UPSTREAM_REFS, Repo, SyncError, redact
from xla_tasks.engine.process import GitResult, first_error, run_git, run_network


def fetch_source(repo: Repo) -> Tuple[str, str]:
    """Where to fetch from, and where branches go on the fallback.

    A remote already pointing at the URL is used by name (its remote-tracking refs stay a
    normal mirror); otherwise (origin is the user's fork, say) the URL itself, with branches
    under refs/remotes/xla-tasks/upstream, away from the user's refs.
    """
    res = run_git(["config", "-z", "--get-regexp", r"^remote\..*\.url$"], repo.path)
    for item in res.out.split("\0"):
        key, _, value = item.partition("\n")
        if value.rstrip("/") == repo.url.rstrip("/"):
            remote = key[len("remote.") : -len(".url")]
            return remote, "refs/remotes/" + remote
    return repo.url, UPSTREAM_REFS


class Fetch(NamedTuple):
    source: str  # remote name, URL or mirror path
    refs: str  # where branches go on the fallback
    url: str  # for messages and the watchdog
    extra: Tuple[str, ...] = ()  # --depth / --filter
    keep: bool = False  # store a commit fetched by id under refs/xla-tasks/keep (mirrors)
    config: Tuple[str, ...] = ()  # `-c` options for this fetch alone (reading a cache mirror)
    full_if_refused: bool = False  # a server refusing a shallow fetch: again with full history


def fetch_commit(job: Job, path: str, git_dir: str, how: Fetch) -> None:
    """Fetch the pinned commit by id first; by branches and tags when the server refuses.

    Servers speaking protocol v0 refuse ids that are not a ref tip ("Server does not allow
    request for unadvertised object"), so fall back to the branch, every branch, tags; a
    shallow clone whose pin lies deeper than the fetched tips is then deepened in full.
    With `how.full_if_refused`, a server that refuses the shallow fetch by id is asked
    again for full history, and so is every fetch after it.
    """
    rev = job.repo.rev or ""
    target = f"+{rev}:{KEEP_REFS}/{rev}" if how.keep else rev
    by_id = fetch_refspecs(job, path, how, [target])
    if by_id.code != 0 and how.full_if_refused and "shallow" in by_id.err.lower():
        job.notes.append("the server refused a shallow fetch: full history")
        how = how._replace(extra=())
        by_id = fetch_refspecs(job, path, how, [target])
    if by_id.code == 0 and has_commit(path, git_dir, rev):
        return
    refspecs = [f"+refs/heads/*:{how.refs}/*", f"+refs/tags/*:{TAG_REFS}/*"]
    if job.repo.branch:
        refspecs.insert(0, f"+refs/heads/{job.repo.branch}:{how.refs}/{job.repo.branch}")
    reached = False
    for refspec in refspecs:
        if fetch_refspecs(job, path, how, [refspec]).code == 0:
            reached = True
            if has_commit(path, git_dir, rev):
                return
    if reached and is_shallow(git_dir):
        fetch_refspecs(job, path, how._replace(extra=("--unshallow",)), [refspecs[-2]])
        if has_commit(path, git_dir, rev):
            return
    reason = first_error(by_id.err) if by_id.code else "no such commit"
    if reached:
        raise SyncError(f"{rev[:12]} is on no branch of {redact(how.url)} (fetch by id: {reason})")
    raise SyncError(f"fetch of {rev[:12]} from {redact(how.url)} failed: {reason}")


def fetch_refspecs(job: Job, path: str, how: Fetch, refspecs: List[str]) -> GitResult:
    args = [*how.config, "fetch", "--progress", "--no-tags", "--no-write-fetch-head", *how.extra]
    return run_network([*args, "--", how.source, *refspecs], path, job.watch(how.url))
