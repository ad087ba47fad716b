"""Every error a user can cause, as one line that says what, where and how to fix.

The task layer turns these into `xla-tasks: <line>` on stderr and exit code 1; anything
else is a bug (exit 3). Per-repo failures in parallel runs are not raised but recorded on
the repo's outcome, so the other repos still finish.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from xla_tasks.engine.model import SyncError


class XlaTasksError(SyncError):
    """Base of all expected errors; `str()` is the one line shown to the user.

    A `SyncError`, the engine's expected failure: in a per-repo run (`engine.runner`) it is
    that repo's one line, like any failure the engine itself reports.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(XlaTasksError):
    """A bad flag value, an unknown repo or schedule name."""


class ConfigError(XlaTasksError):
    """A bad file: rendered `path:line: key: message`."""

    def __init__(
        self,
        path: Path | str,
        message: str,
        key: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = str(path) + (f":{line}" if line else "")
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        super().__init__(text, hint)
        self.path = Path(path)
        self.key = key
        self.line = line
        self.reason = message

    def at(self, path: Path | str) -> ConfigError:
        """The same error about the same text found elsewhere (a copy read from a commit)."""
        return ConfigError(path, self.reason, self.key, self.line, self.hint)


class GitError(XlaTasksError):
    """A git command failed; names the repo, what we tried, the URL and git's own reason."""

    def __init__(self, repo: str, action: str, detail: str, url: str | None = None) -> None:
        where = f" from {url}" if url else ""
        super().__init__(f"{repo}: {action}{where} failed: {detail}")
        self.repo = repo
        self.action = action
        self.url = url
        self.detail = detail


class GitNotFoundError(XlaTasksError):
    def __init__(self) -> None:
        super().__init__(
            "git not found on PATH",
            "install git, or set GIT_PYTHON_GIT_EXECUTABLE to its path",
        )


class DirtyRepoError(XlaTasksError):
    """A repo holds work we must not touch."""

    def __init__(self, repo: str, files: Iterable[str], what: str = "uncommitted changes") -> None:
        names = list(files)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        untracked = what == "untracked files"
        fix = (
            "commit them, move them away, or stash them with `git stash --include-untracked`"
            if untracked  # plain `git stash` leaves untracked files where they are
            else "commit or stash them"
        )
        super().__init__(f"{repo}: has {what} ({shown}); not touched", f"{fix}, then run again")
        self.repo = repo
        self.files = names


class LockHeldError(XlaTasksError):
    def __init__(self, lock_path: Path, holder: str) -> None:
        super().__init__(
            f"workspace is busy: {holder} holds {lock_path}",
            "wait for it to finish, or raise xla_tasks.lock_timeout",
        )


class PackageIndexError(XlaTasksError):
    """A package index could not be read or holds no usable version."""
