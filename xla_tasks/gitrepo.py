"""The git layer: the one module that runs git, through GitPython's process runner.

Why plumbing over GitPython's object model: one `git status --porcelain=v2` answers
"branch, HEAD, dirty" in a single process, where `Repo.is_dirty()` + `active_branch`
spawn several and leave `cat-file` children behind. Every call here:
- passes user-derived operands after `--` / `--end-of-options` (no option injection);
- adds `-c protocol.ext.allow=never` and never prompts (`GIT_TERMINAL_PROMPT=0`);
- turns failure into a GitError naming the repo, the action, the URL and git's first
  `fatal:`/`error:` line.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import GitError, GitNotFoundError

# Variables that make git act on another repository than the one we name (set by hooks).
_HIJACKING_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)
_CHILD_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASK_YESNO": "false"}
_SAFE_CONFIG = ("-c", "protocol.ext.allow=never")
_URL_PASSWORD = re.compile(r"(://[^/@:]+:)[^/@]+@")


@lru_cache(maxsize=1)
def _git_class() -> Any:
    """Import GitPython on first use: its import runs `git version` (~150 ms)."""
    for key in _HIJACKING_ENV:
        os.environ.pop(key, None)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    try:
        import git
    except ImportError:
        raise GitNotFoundError() from None
    if shutil.which(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git") is None:
        raise GitNotFoundError()
    return git.Git


def redact(url: str) -> str:
    """Hide a password embedded in a URL before it reaches a message."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def first_git_error(stderr: str) -> str:
    """git's first `fatal:`/`error:` line: the later ones only restate it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else "git failed with no message"


def run_git(
    cwd: Path | None,
    args: Sequence[str],
    *,
    repo: str,
    action: str,
    url: str | None = None,
    check: bool = True,
) -> tuple[int, str, str]:
    """Run `git ARGS` in `cwd`; return (status, stdout, stderr) or raise GitError."""
    git_class = _git_class()
    runner = git_class(str(cwd) if cwd else None)
    argv = ["git", *_SAFE_CONFIG, *args]
    try:
        status, out, err = runner.execute(
            argv,
            with_extended_output=True,
            with_exceptions=False,
            env=_CHILD_ENV,
            strip_newline_in_stdout=False,
        )
    except OSError as exc:  # GitCommandNotFound is an OSError subclass
        if "not found" in str(exc).lower() or isinstance(exc, FileNotFoundError):
            raise GitNotFoundError() from None
        raise GitError(repo, action, str(exc), redact(url) if url else None) from None
    if check and status != 0:
        raise GitError(repo, action, first_git_error(err), redact(url) if url else None)
    return status, out, err


@dataclass(frozen=True, slots=True)
class RepoState:
    """What one `git status --porcelain=v2 --branch` says about a work tree."""

    head: str | None  # None in a repo with no commit yet
    branch: str | None  # None when detached
    changed: tuple[str, ...] = ()  # tracked files with staged or unstaged changes
    untracked: tuple[str, ...] = field(default=())

    @property
    def is_dirty(self) -> bool:
        return bool(self.changed)


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

    def state(self, untracked: bool = False) -> RepoState:
        mode = "--untracked-files=normal" if untracked else "--untracked-files=no"
        out = self.git("status", "--porcelain=v2", "--branch", "-z", mode, action="read status")
        head: str | None = None
        branch: str | None = None
        changed: list[str] = []
        new: list[str] = []
        records = iter(out.split("\0"))
        for record in records:
            if record.startswith("# branch.oid "):
                oid = record.split(" ", 2)[2]
                head = None if oid == "(initial)" else oid
            elif record.startswith("# branch.head "):
                value = record.split(" ", 2)[2]
                branch = None if value == "(detached)" else value
            elif record.startswith(("1 ", "u ")):
                changed.append(record.split(" ", 8 if record[0] == "1" else 10)[-1])
            elif record.startswith("2 "):
                changed.append(record.split(" ", 9)[-1])
                next(records, None)  # the rename's original path
            elif record.startswith("? "):
                new.append(record[2:])
        return RepoState(head, branch, tuple(changed), tuple(new))

    def has_commit(self, sha: str) -> bool:
        status, _ = self.try_git("cat-file", "-e", "--end-of-options", f"{sha}^{{commit}}")
        return status == 0

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

    def is_reachable_from_refs(self, sha: str) -> bool:
        """True when a branch, tag or remote ref contains `sha`: moving HEAD then loses nothing."""
        _, out = self.try_git(
            "for-each-ref",
            "--contains",
            sha,
            "--count=1",
            "--format=%(refname)",
            "refs/heads",
            "refs/tags",
            "refs/remotes",
        )
        return bool(out.strip())

    def remotes(self) -> dict[str, str]:
        _, out = self.try_git("remote", "-v")
        found: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and line.endswith("(fetch)"):
                found[parts[0]] = parts[1]
        return found

    def commit_summary(self, sha: str) -> tuple[str, str]:
        """(ISO date, subject) of a commit, for `pin` and `roll` output."""
        out = self.git(
            "log", "-1", "--format=%cs%x00%s", "--end-of-options", sha, action="read commit"
        )
        date, _, subject = out.strip().partition("\0")
        return date, subject

    def is_shallow(self) -> bool:
        """A shallow repo has a `shallow` file in its git dir (read on disk: no process)."""
        common = common_dir_of(self.path)
        if common is None:
            return self.try_git("rev-parse", "--is-shallow-repository")[1].strip() == "true"
        return (common / "shallow").is_file()

    def submodule_paths(self) -> list[str]:
        if not (self.path / ".gitmodules").is_file():
            return []
        _, out = self.try_git(
            "config", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*\.path$"
        )
        return [line.split(" ", 1)[1] for line in out.splitlines() if " " in line]

    # -- actions -------------------------------------------------------------------------

    def fetch(
        self,
        source: str,
        *refspecs: str,
        depth: int | None = None,
        url_for_errors: str | None = None,
    ) -> None:
        opts = ["--no-tags", "--quiet"] + ([f"--depth={depth}"] if depth else [])
        self.git(
            "fetch", *opts, "--", source, *refspecs, action="fetch", url=url_for_errors or source
        )

    def fetch_commit(self, url: str, sha: str, branch: str | None = None) -> None:
        """Fetch one commit by id; servers that refuse unadvertised ids get ref fetches.

        Protocol v0 servers answer "not our ref" for a SHA that is not a tip (west's
        Update.fetch falls back to refs/heads/* for the same reason). The pin's branch comes
        first; a pin only a tag or another branch reaches gets every branch and tag, stored
        under refs/remotes/xla-tasks/ so no local branch or tag is ever overwritten.
        """
        depth = 1 if self.is_shallow() else None
        try:
            self.fetch(url, sha, depth=depth)
        except GitError:
            refspec = f"+refs/heads/{branch}" if branch else "+refs/heads/*"
            self.fetch(url, f"{refspec}:refs/remotes/xla-tasks/{branch or '*'}")
            if not self.has_commit(sha):
                self.fetch(
                    url,
                    "+refs/heads/*:refs/remotes/xla-tasks/*",
                    "+refs/tags/*:refs/remotes/xla-tasks/tags/*",
                )
        if not self.has_commit(sha):
            raise GitError(self.name, "fetch", f"commit {sha} is not on the server", redact(url))

    def checkout_detached(self, sha: str) -> None:
        self.git("checkout", "--quiet", "--detach", sha, "--", action=f"check out {sha[:12]}")

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

    def save_orphan_head(
        self, keep: str | None = None, state: RepoState | None = None
    ) -> str | None:
        """If HEAD is detached on commits no ref holds, put a branch on it; return its name.

        `state` is the caller's fresh `state()`, passed to save a `git status`.
        """
        state = state or self.state()
        if state.branch or not state.head or state.head == keep:
            return None
        if self.is_reachable_from_refs(state.head):
            return None
        name = f"xla-tasks/saved-{state.head[:12]}"
        if self.rev_parse(f"refs/heads/{name}") is None:
            self.create_branch(name, state.head)
        return name

    def update_submodules(self, paths: Sequence[str], shallow: bool = True) -> None:
        """Check out the listed submodules, shallow first, full when the commit is not a tip."""
        if not paths:
            return
        self.git("submodule", "sync", "--quiet", "--", *paths, action="sync submodules")
        for path in paths:
            base = ["submodule", "update", "--init", "--quiet"]
            if shallow:
                status, _, _ = run_git(
                    self.path,
                    [*base, "--depth", "1", "--", path],
                    repo=self.name,
                    action="update submodule",
                    check=False,
                )
                if status == 0:
                    continue
            self.git(*base, "--", path, action=f"update submodule {path}")

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

    def push_branch(self, remote: str, branch: str, url: str | None = None) -> str:
        """Push `branch` to the same name on `remote` (never forced); return git's verdict.

        `--porcelain` flags: `=` up to date, ` ` fast-forward, `*` new, `!` rejected (the
        reason, e.g. "non-fast-forward", is on stdout, not in stderr's first error line).
        """
        ref = f"refs/heads/{branch}:refs/heads/{branch}"
        action = f"push {branch} to {remote}" + (f" ({redact(url)})" if url else "")
        status, out, err = run_git(
            self.path,
            ["push", "--porcelain", "--", remote, ref],
            repo=self.name,
            action=action,
            check=False,
        )
        verdicts = {"=": "up to date", " ": "pushed", "*": "created"}
        for line in out.splitlines():
            flag, _, rest = line.partition("\t")
            if rest.startswith(ref):
                if status == 0 and flag in verdicts:
                    return verdicts[flag]
                raise GitError(self.name, action, rest.partition("\t")[2] or first_git_error(err))
        if status != 0:
            raise GitError(self.name, action, first_git_error(err))
        return "pushed"

    # -- verbs for sync and status -------------------------------------------------------

    def read_file_at(self, rev: str, path: str) -> str | None:
        """The text of `path` in commit `rev`, or None when the file is not there."""
        status, out = self.try_git("cat-file", "blob", "--end-of-options", f"{rev}:{path}")
        return out if status == 0 else None

    def set_ref(self, ref: str, sha: str) -> None:
        """Point `ref` at `sha` (no reflog games, no symref following); no-op if it does."""
        if self._loose_ref(ref) == sha:
            return  # the common warm-sync case: skip a git process per repo
        self.git("update-ref", "--no-deref", "--", ref, sha, action=f"set {ref}")

    def _loose_ref(self, ref: str) -> str | None:
        """A ref's value when stored as a loose file (as update-ref writes it), else None."""
        common = common_dir_of(self.path)
        if common is None:
            return None
        try:
            return (common / ref).read_text().strip()
        except OSError:
            return None

    def submodules_out_of_date(self, paths: Sequence[str]) -> list[str]:
        """The listed submodules not checked out at the commit the superproject records.

        Asking first keeps a sync of an up-to-date repo offline and fast. One `ls-files`
        gives the recorded commits and one `rev-parse` per submodule its HEAD: cheaper than
        `git submodule status`, which runs about a dozen git processes per submodule.
        """
        if not paths:
            return []
        _, out = self.try_git("ls-files", "--stage", "-z", "--", *paths)
        recorded: dict[str, str] = {}
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            fields = meta.split()
            if len(fields) == 3 and fields[0] == "160000":
                recorded[path] = fields[1]
        stale = []
        for path in paths:
            sub = self.path / path
            head = None
            if is_repo_top(sub):
                head = GitRepo(sub, f"{self.name}:{path}").rev_parse("HEAD")
            if head is None or head != recorded.get(path):
                stale.append(path)
        return stale


def git_dir_of(path: Path) -> Path | None:
    """The git directory of a work tree top, found the way git finds it (no process).

    `.git` is a directory, or a file `gitdir: <path>` (submodules, worktrees).
    """
    marker = path / ".git"
    if marker.is_dir():
        return marker if (marker / "HEAD").is_file() else None
    if marker.is_file():
        try:
            text = marker.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
        if text.startswith("gitdir:"):
            found = (path / text[len("gitdir:") :].strip()).resolve()
            return found if (found / "HEAD").is_file() else None
    return None


def common_dir_of(path: Path) -> Path | None:
    """Where refs and `shallow` live: the git dir, or the main one for a linked worktree."""
    git_dir = git_dir_of(path)
    if git_dir is None:
        return None
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text().strip()).resolve()
    return git_dir


def is_repo_top(path: Path) -> bool:
    """True when `path` is the top of its own work tree (not a folder inside another repo).

    A folder is a work tree top exactly when it holds a valid `.git`; checking that on disk
    saves one `git rev-parse` per repo on every sync and status.
    """
    return git_dir_of(path) is not None


def ls_remote_branch(url: str, branch: str, *, repo: str) -> str:
    """The commit at the head of `branch` on `url`; exactly one match expected."""
    out = run_git(
        None,
        ["ls-remote", "--heads", "--", url, f"refs/heads/{branch}"],
        repo=repo,
        action=f"ls-remote branch {branch}",
        url=url,
    )[1]
    shas = [line.split()[0] for line in out.splitlines() if line.strip()]
    if len(shas) != 1:
        raise GitError(repo, "ls-remote", f"branch {branch!r} not found", redact(url))
    return shas[0]


def clone(
    url: str,
    dest: Path,
    *,
    repo: str,
    branch: str | None = None,
    depth: int | None = None,
    at: str | None = None,
) -> GitRepo:
    """Clone into a temp folder beside `dest`, then rename: an interrupted clone leaves nothing.

    With `at`, the work tree is checked out once, detached on that commit (fetched when the
    branch does not contain it), instead of on the branch and then again on the pin.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Callers hold the workspace lock, so a leftover temp clone is from a killed run.
    for stale in dest.parent.glob(f".{dest.name}.clone-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.clone-", dir=dest.parent))
    try:
        args = ["clone", "--quiet"] + (["--no-checkout"] if at else [])
        args += ["--branch", branch] if branch else []
        args += [f"--depth={depth}"] if depth else []
        run_git(dest.parent, [*args, "--", url, str(tmp)], repo=repo, action="clone", url=url)
        if at:
            cloned = GitRepo(tmp, repo)
            if not cloned.has_commit(at):
                cloned.fetch_commit(url, at, branch)
            cloned.checkout_detached(at)
        if dest.exists():
            dest.rmdir()  # only an empty placeholder may be here; anything else was refused
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return GitRepo(dest, repo)


def toplevel(start: Path) -> Path | None:
    """The top of the work tree holding `start` (the innermost, for nested repos), or None."""
    status, out, _ = run_git(
        start, ["rev-parse", "--show-toplevel"], repo=start.name, action="find repo", check=False
    )
    return Path(out.strip()) if status == 0 and out.strip() else None


# -- verbs for sync --------------------------------------------------------------------


def clone_detached(
    url: str, dest: Path, sha: str, *, repo: str, branch: str | None = None
) -> GitRepo:
    """Clone and detach on `sha` (fetched if the branch lacks it), all before `dest` exists."""
    return clone(url, dest, repo=repo, branch=branch, at=sha)
