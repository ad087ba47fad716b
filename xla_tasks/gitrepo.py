"""The package's git questions and verbs for pin, roll, status and update-repos.

Putting a repo on a pin (clone, fetch, checkout, submodules) is the engine's job
(`engine.py`, shared with the generated script); this module asks everything else, as
plain git processes (the engine's runner). Network verbs (fetch, push, ls-remote) run under
the engine's stall watchdog. Reading objects (commits, files at a commit, gitlinks) is
`gitobjects`' job: one GitPython `cat-file` per repo serves many reads.

Why plumbing over GitPython's object model for state: one `git status --porcelain=v2`
answers "branch, HEAD, dirty" in a single process, where `Repo.is_dirty()` + `active_branch`
spawn several and leave `cat-file` children behind. Every call here:
- passes user-derived operands after `--` / `--end-of-options` (no option injection);
- adds `-c protocol.ext.allow=never` and never prompts (`GIT_TERMINAL_PROMPT=0`);
- turns failure into a GitError naming the repo, the action, the URL and git's first
  `fatal:`/`error:` line.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from xla_tasks.engine.disk import common_dir_of, git_dir_of, has_commit, is_repo_top
from xla_tasks.engine.model import DEFAULT_STALL_TIMEOUT, SyncError, redact
from xla_tasks.engine.process import Watch, first_error, run_network
from xla_tasks.engine.process import run_git as engine_run_git
from xla_tasks.engine.worktree import Status, parse_status, status_args
from xla_tasks.errors import GitError, GitNotFoundError
from xla_tasks.gitobjects import git_dir_at

__all__ = [
    "GitRepo",
    "history_of",
    "is_repo_top",
    "ls_remote_branch",
    "redact",
    "toplevel",
]


def run_git(
    cwd: Path | None,
    args: Sequence[str],
    *,
    repo: str,
    action: str,
    url: str | None = None,
    check: bool = True,
) -> tuple[int, str, str]:
    """Run `git ARGS` in `cwd`; return (status, stdout, stderr) or raise GitError.

    A plain process (the engine's runner, same environment and `-c` guards): importing
    GitPython costs 50-150 ms and two `git version` runs, paid only by a command that reads
    objects (`gitobjects`), where one `cat-file` then serves many reads.
    """
    try:
        done = engine_run_git(list(args), str(cwd) if cwd else None)
    except FileNotFoundError as exc:
        if shutil.which("git") is None:
            raise GitNotFoundError() from None
        raise GitError(repo, action, str(exc), redact(url) if url else None) from None
    except OSError as exc:
        raise GitError(repo, action, str(exc), redact(url) if url else None) from None
    if check and done.code != 0:
        raise GitError(repo, action, first_error(done.err), redact(url) if url else None)
    return done.code, done.out, done.err


def run_network_git(
    cwd: Path | None,
    args: Sequence[str],
    *,
    repo: str,
    action: str,
    url: str,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    check: bool = True,
) -> tuple[int, str, str]:
    """`run_git` for a call that talks to a server: ended when it stalls (engine watchdog)."""
    watch = Watch(url, stall_timeout, lambda line: None)
    try:
        done = run_network(list(args), str(cwd) if cwd else None, watch)
    except SyncError as err:
        raise GitError(repo, action, str(err), redact(url)) from None
    except FileNotFoundError:
        raise GitNotFoundError() from None
    if check and done.code != 0:
        raise GitError(repo, action, first_error(done.err), redact(url))
    return done.code, done.out, done.err


class GitRepo:
    """Verbs on one existing work tree; `name` is what every error message calls it."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name

    def git(self, *args: str, action: str, url: str | None = None) -> str:
        return run_git(self.path, args, repo=self.name, action=action, url=url)[1]

    def try_git(self, *args: str) -> tuple[int, str]:
        status, out, _ = run_git(self.path, args, repo=self.name, action="git", check=False)
        return status, out

    # -- questions -----------------------------------------------------------------------

    def state(self, untracked: bool = False) -> Status:
        """Branch, HEAD and the user's changes (moved submodules apart), from one `git status`."""
        return parse_status(self.git(*status_args(untracked), action="read status"))

    def rev_parse(self, rev: str) -> str | None:
        status, out = self.try_git(
            "rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}"
        )
        return out.strip() if status == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        status, _ = self.try_git(
            "merge-base", "--is-ancestor", "--end-of-options", ancestor, descendant
        )
        return status == 0

    def count_commits(self, old: str, new: str) -> int | None:
        status, out = self.try_git("rev-list", "--count", "--end-of-options", f"{old}..{new}")
        return int(out.strip()) if status == 0 else None

    def first_parent_commits(self, old: str, new: str) -> list[str]:
        """`old..new` along first parents, oldest first: the steps a roll bisects over."""
        out = self.git(
            "rev-list",
            "--first-parent",
            "--reverse",
            "--end-of-options",
            f"{old}..{new}",
            action=f"list commits {old[:12]}..{new[:12]}",
        )
        return out.split()

    def remotes(self) -> dict[str, str]:
        _, out = self.try_git("remote", "-v")
        found: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and line.endswith("(fetch)"):
                found[parts[0]] = parts[1]
        return found

    def has_commit(self, sha: str) -> bool:
        """Is commit `sha` on disk here (loose, packed or in an alternate)? Never a lazy
        fetch in a partial clone, unlike `cat-file -e`: this is the engine's answer."""
        git_dir = git_dir_at(self.path)
        return git_dir is not None and has_commit(str(self.path), git_dir, sha)

    # -- actions -------------------------------------------------------------------------

    def fetch(
        self,
        source: str,
        *refspecs: str,
        url_for_errors: str | None = None,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        """Fetch refspecs from a remote or URL, under the stall watchdog."""
        url = url_for_errors or source
        run_network_git(
            self.path,
            ["fetch", "--progress", "--no-tags", "--", source, *refspecs],
            repo=self.name,
            action="fetch",
            url=url,
            stall_timeout=stall_timeout,
        )

    def create_branch(self, branch: str, start: str) -> None:
        self.git(
            "branch",
            "--no-track",
            "--end-of-options",
            branch,
            start,
            action=f"create branch {branch}",
        )

    def merge_ff_only(self, ref: str) -> None:
        self.git(
            "merge",
            "--ff-only",
            "--quiet",
            "--end-of-options",
            ref,
            action=f"fast-forward to {ref}",
        )

    # -- verbs for update-repos ------------------------------------------------------------

    def fast_forward_branch(self, branch: str, new: str, old: str) -> None:
        """Move a branch that is not checked out from `old` to `new`, without touching files.

        `update-ref REF NEW OLD` is a compare-and-swap: it fails if the branch moved meanwhile.
        Callers check `is_ancestor(old, new)` first; this verb only moves the ref.
        """
        self.git(
            "update-ref",
            "-m",
            "xla-tasks update-repos: fast-forward",
            "--end-of-options",
            f"refs/heads/{branch}",
            new,
            old,
            action=f"fast-forward {branch}",
        )

    def create_tracking_branch(self, branch: str, remote: str) -> None:
        """Create `branch` at `<remote>/<branch>`, tracking it; untracked if git can't track it."""
        status, _ = self.try_git(
            "branch", "--track", "--end-of-options", branch, f"refs/remotes/{remote}/{branch}"
        )
        if status != 0:
            self.create_branch(branch, f"refs/remotes/{remote}/{branch}")

    def worktree_of_branch(self, branch: str) -> Path | None:
        """The work tree (of this repo's `git worktree` family) that has `branch` checked out."""
        _, out = self.try_git("worktree", "list", "--porcelain")
        current: Path | None = None
        for line in out.splitlines():
            if line.startswith("worktree "):
                current = Path(line[len("worktree ") :])
            elif line == f"branch refs/heads/{branch}":
                return current
        return None

    def push_branch(
        self,
        remote: str,
        branch: str,
        url: str | None = None,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> str:
        """Push `branch` to the same name on `remote` (never forced); return git's verdict.

        `--porcelain` flags: `=` up to date, ` ` fast-forward, `*` new, `!` rejected (the
        reason, e.g. "non-fast-forward", is on stdout, not in stderr's first error line).
        """
        ref = f"refs/heads/{branch}:refs/heads/{branch}"
        action = f"push {branch} to {remote}" + (f" ({redact(url)})" if url else "")
        status, out, err = run_network_git(
            self.path,
            ["push", "--progress", "--porcelain", "--", remote, ref],
            repo=self.name,
            action=action,
            url=url or remote,
            stall_timeout=stall_timeout,
            check=False,
        )
        verdicts = {"=": "up to date", " ": "pushed", "*": "created"}
        for line in out.splitlines():
            flag, _, rest = line.partition("\t")
            if rest.startswith(ref):
                if status == 0 and flag in verdicts:
                    return verdicts[flag]
                raise GitError(self.name, action, rest.partition("\t")[2] or first_error(err))
        if status != 0:
            raise GitError(self.name, action, first_error(err))
        return "pushed"


def ls_remote_branch(
    url: str, branch: str, *, repo: str, stall_timeout: float = DEFAULT_STALL_TIMEOUT
) -> str:
    """The commit at the head of `branch` on `url`; exactly one match expected."""
    out = run_network_git(
        None,
        ["ls-remote", "--heads", "--", url, f"refs/heads/{branch}"],
        repo=repo,
        action=f"ls-remote branch {branch}",
        url=url,
        stall_timeout=stall_timeout,
    )[1]
    shas = [line.split()[0] for line in out.splitlines() if line.strip()]
    if len(shas) != 1:
        raise GitError(repo, "ls-remote", f"branch {branch!r} not found", redact(url))
    return shas[0]


def ls_remote_ref(
    url: str, ref: str, *, repo: str, stall_timeout: float = DEFAULT_STALL_TIMEOUT
) -> str:
    """The commit `ref` names on `url` now: a full ref (refs/pull/N/head), else a branch,
    else a tag (peeled), as `git fetch URL REF` would choose."""
    wanted = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    out = run_network_git(
        None,
        ["ls-remote", "--", url, *wanted, *(f"{w}^{{}}" for w in wanted)],
        repo=repo,
        action=f"ls-remote {ref}",
        url=url,
        stall_timeout=stall_timeout,
    )[1]
    found: dict[str, str] = {}
    for line in out.splitlines():
        commit, _, name = line.partition("\t")
        found[name] = commit
    for name in wanted:
        peeled = found.get(f"{name}^{{}}") or found.get(name)
        if peeled:
            return peeled
    raise GitError(repo, "ls-remote", f"ref {ref!r} not found", redact(url))


def toplevel(start: Path) -> Path | None:
    """The top of the work tree holding `start` (the innermost, for nested repos), or None."""
    status, out, _ = run_git(
        start, ["rev-parse", "--show-toplevel"], repo=start.name, action="find repo", check=False
    )
    return Path(out.strip()) if status == 0 and out.strip() else None


# -- verbs for roll messages -------------------------------------------------------------


@contextmanager
def history_of(
    url: str,
    branch: str,
    *,
    repo: str,
    borrow: Path | None = None,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
) -> Iterator[GitRepo]:
    """A temporary bare repo holding the commits of `branch` on `url`, but no trees or blobs.

    Enough to count and list commits without cloning pytorch: `--filter=tree:0` fetches
    commits only (a server that refuses the filter gets a plain fetch). `borrow`, a local
    clone of the same project, becomes an alternate object store: fetch-pack counts its refs
    as already had, so only the commits it lacks cross the network. It is only read.
    """
    with tempfile.TemporaryDirectory(prefix="xla-tasks-history-") as tmp:
        path = Path(tmp)
        run_git(path, ["init", "--quiet", "--bare"], repo=repo, action="make a temporary repo")
        temp = GitRepo(path, repo)
        temp.git("config", "remote.origin.url", url, action="set the temporary repo's url")
        lender = git_dir_of(str(borrow)) if borrow else None
        if lender is not None:
            objects = Path(common_dir_of(lender), "objects").resolve()
            (path / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        fetch = ["fetch", "--progress", "--no-tags"]  # progress feeds the stall watchdog
        refspec = f"+refs/heads/{branch}:refs/heads/{branch}"
        for filtered in (["--filter=tree:0"], []):
            try:
                run_network_git(
                    path,
                    [*fetch, *filtered, "origin", refspec],
                    repo=repo,
                    action="fetch history",
                    url=url,
                    stall_timeout=stall_timeout,
                )
                break
            except GitError:
                if not filtered:
                    raise
        yield temp
