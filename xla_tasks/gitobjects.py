"""Reading git objects (commits, files at a commit, gitlinks) through GitPython.

What GitPython is good at: one persistent `git cat-file --batch` per repo answers every
read, instead of one git process per read. A roll reads a dozen commits of each dep, `status`
reads pin files (and, for native pins, gitlinks) at pinned commits: one process per repo.

The rules (STYLE A9), kept by `object_reader`:
- one reader per repo and per thread: it refuses calls from another thread, and its
  `cat-file` ends when the `with` block does (GitPython would otherwise leave it running);
- GitPython is imported on the first read, never at module import (`--help` stays fast),
  and it never touches `os.environ`: the reader's own processes get their environment;
- objects are named by full SHA only (no rev parsing, nothing option-like reaches git);
- nothing is fetched: `cat-file` lazily fetches a missing object in a partial clone (even
  `--batch-check`, git 2.39), so there an object is asked for only when the disk holds it
  (`engine.disk`), and `GIT_ALLOW_PROTOCOL=` (empty: no transport) stops any fetch that
  slips through.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from xla_tasks.engine.disk import common_dir_of, git_dir_of, has_object, is_partial
from xla_tasks.engine.model import SHA_RE
from xla_tasks.engine.process import NO_PROMPT_ENV, first_error
from xla_tasks.errors import GitError, GitNotFoundError

if TYPE_CHECKING:
    from types import ModuleType

    from git import Commit, Repo

__all__ = [
    "CommitInfo",
    "CommitRange",
    "NotOnDisk",
    "ObjectReader",
    "TooLarge",
    "git_dir_at",
    "object_reader",
]

GITLINK_MODE = 0o160000  # a tree entry recording a submodule's commit
_ASCII_SPACE = " \t\n\v\f\r"  # what git's isspace() trims


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    date: str  # the committer's day, YYYY-MM-DD in the committer's time zone (git's %cs)
    subject: str  # the first paragraph on one line (git's %s)
    parents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CommitRange:
    """old..new: how many commits, and the newest few of them, newest first."""

    count: int
    newest: tuple[CommitInfo, ...]


class NotOnDisk(GitError):
    """The object is not in this (partial or shallow) clone; reading it would need a fetch."""

    def __init__(self, repo: str, action: str, sha: str) -> None:
        super().__init__(repo, action, f"{sha[:12]} is not on disk here, and reads never fetch")


class TooLarge(GitError):
    """An object over the size its reader accepts; its bytes were not read."""

    def __init__(self, repo: str, action: str, size: int) -> None:
        super().__init__(repo, action, f"it is {size} bytes")
        self.size = size


def git_dir_at(path: Path) -> str | None:
    """The git dir of a work tree top or of a bare repo at `path` (no process)."""
    if (path / "objects").is_dir() and (path / "HEAD").is_file():
        return str(path)
    return git_dir_of(str(path))


@contextmanager
def object_reader(path: Path, name: str) -> Iterator[ObjectReader]:
    """Reads of the repo at `path` (named `name` in errors); its `cat-file` ends on exit.

    Nothing starts until the first read. Use it in one thread only.
    """
    reader = ObjectReader(path, name)
    try:
        yield reader
    finally:
        reader.close()


class ObjectReader:
    """One repo's objects through one GitPython `Repo` (see `object_reader`)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        git_dir = git_dir_at(path)
        if git_dir is None:
            raise GitError(name, "read objects", f"{path} is not a git repository")
        self._git_dir = git_dir
        self._partial = is_partial(git_dir)
        self._thread = threading.get_ident()
        self._repo: Repo | None = None
        # Objects never change: trees read once per reader (a commit's pin files sit in a
        # few folders that every path walks through; XLA's third_party holds a hundred).
        self._trees: dict[str, list[tuple[bytes, int, str]]] = {}
        self._roots: dict[str, str] = {}  # commit -> its tree

    # -- reads ---------------------------------------------------------------------------

    def commit(self, sha: str) -> CommitInfo:
        """Date, subject and parents of commit `sha`."""
        return _info(self._commit(sha, f"read commit {sha[:12]}"))

    def log(self, old: str, new: str, limit: int) -> CommitRange:
        """old..new: the count, and the newest `limit` commits (newest first).

        The newest are read by walking parents from `new` (they are wanted anyway); when
        that line reaches `old` without a merge, it is the whole range. Otherwise (a long
        range, a merge, a shallow edge, `old` not below `new`) one `rev-list` lists it:
        starting it costs ~2 ms, reading one more commit ~0.1 ms.
        """
        action = f"read commits {old[:12]}..{new[:12]}"
        line: list[CommitInfo] = []
        sha = new
        while sha != old and len(line) < limit:
            try:
                info = self.commit(sha)
            except NotOnDisk:
                break  # a shallow edge, or a partial clone's gap: rev-list says what is here
            if len(info.parents) != 1:
                break
            line.append(info)
            sha = info.parents[0]
        if sha == old:
            return CommitRange(len(line), tuple(line))
        shas = self._rev_list(old, new, action)
        read = {info.sha: info for info in line}
        newest = tuple(read.get(sha) or self.commit(sha) for sha in shas[: max(limit, 0)])
        return CommitRange(len(shas), newest)

    def file_at(self, commit: str, path: str, max_size: int | None = None) -> str | None:
        """The UTF-8 text of file `path` in `commit`; None when the commit has no such file.

        Over `max_size` bytes, TooLarge is raised before they are read; bytes that are not
        UTF-8 raise UnicodeDecodeError (a file is refused as it would be on disk).
        """
        action = f"read {path} at {commit[:12]}"
        found = self._entry(commit, path, action)
        if found is None or not stat.S_ISREG(found[0]):
            return None  # a folder, a gitlink or a symlink
        return self._read(found[1], "blob", action, max_size).decode("utf-8")

    def entry_at(self, commit: str, path: str) -> tuple[int, str] | None:
        """(mode, sha) of what `commit`'s tree holds at `path`; None when it holds nothing."""
        return self._entry(commit, path, f"read {path} at {commit[:12]}")

    def folder_at(self, commit: str, path: str) -> list[tuple[str, int]] | None:
        """(name, mode) of each entry of folder `path` ("" is the top) in `commit`, in tree
        order; None when `commit` has no such folder."""
        action = f"list {path or '/'} at {commit[:12]}"
        if path.strip("/"):
            found = self._entry(commit, path, action)
            if found is None or not stat.S_ISDIR(found[0]):
                return None
            tree = found[1]
        else:
            tree = self._root(commit, action)
        return [(name, mode) for _, mode, name in self._tree_entries(tree, action)]

    def blob(self, sha: str, what: str, max_size: int | None = None) -> bytes:
        """The bytes of blob `sha` (`what` names it in errors); over `max_size`, TooLarge is
        raised before the bytes are read."""
        return self._read(sha, "blob", f"read {what}", max_size)

    def gitlinks_at(self, commit: str, paths: Iterable[str]) -> dict[str, str]:
        """The submodule commits `commit`'s tree records at `paths` (those that are gitlinks).

        The paths come from that commit's `.gitmodules` (`file_at`), as git's own
        `submodule` commands take them; a path that is no gitlink is left out.
        """
        found: dict[str, str] = {}
        for path in paths:
            entry = self._entry(commit, path, f"read gitlink {path} at {commit[:12]}")
            if entry is not None and entry[0] == GITLINK_MODE:
                found[path] = entry[1]
        return found

    def close(self) -> None:
        """End this reader's `cat-file` processes (safe to call twice)."""
        repo, self._repo = self._repo, None
        if repo is not None:
            repo.close()

    # -- the object store ----------------------------------------------------------------

    def _commit(self, sha: str, action: str) -> Commit:
        data = self._read(sha, "commit", action)
        commit = _gitpython().Commit(self._open(), bytes.fromhex(sha))
        commit._deserialize(io.BytesIO(data))  # GitPython's own parser, on bytes we hold
        return commit

    def _entry(self, commit: str, path: str, action: str) -> tuple[int, str] | None:
        """(mode, sha) of the entry at `path` in `commit`'s tree, or None when there is none.

        Each tree on the way is one read; a blobless clone has them all, a `tree:0` one not.
        """
        names = [part for part in path.split("/") if part]
        tree = self._root(commit, action)
        for depth, part in enumerate(names):
            entries = self._tree_entries(tree, action)
            found = next(((mode, sha.hex()) for sha, mode, name in entries if name == part), None)
            if found is None or depth == len(names) - 1:
                return found
            if not stat.S_ISDIR(found[0]):
                return None
            tree = found[1]
        return None

    def _root(self, commit: str, action: str) -> str:
        if commit not in self._roots:
            self._roots[commit] = self._commit(commit, action).tree.hexsha
        return self._roots[commit]

    def _tree_entries(self, tree: str, action: str) -> list[tuple[bytes, int, str]]:
        if tree not in self._trees:
            data = self._read(tree, "tree", action)
            try:
                self._trees[tree] = list(_gitpython().objects.fun.tree_entries_from_data(data))
            except ValueError as err:  # GitPython refuses a malformed or hostile tree
                raise GitError(self.name, action, str(err)) from None
        return self._trees[tree]

    def _read(self, sha: str, kind: str, action: str, max_size: int | None = None) -> bytes:
        """The bytes of object `sha`, which must be a `kind` (commit, tree, blob)."""
        if not SHA_RE.fullmatch(sha):
            raise GitError(self.name, action, f"{sha!r} is not a full commit SHA")
        self._require(sha, action)
        try:
            odb = self._open().odb
            if max_size is not None:  # asked first (`--batch-check`): a huge blob is never read
                size = odb.info(bytes.fromhex(sha)).size
                if size > max_size:
                    raise TooLarge(self.name, action, size)
            stream = odb.stream(bytes.fromhex(sha))
            data = stream.read()
        except ValueError as err:  # cat-file answered "missing", or it died (bad ownership)
            self.close()  # the next read starts a fresh one
            if "missing" in str(err):
                raise NotOnDisk(self.name, action, sha) from None
            raise GitError(self.name, action, first_error(str(err))) from None
        found = stream.type.decode() if isinstance(stream.type, bytes) else str(stream.type)
        if found != kind:
            raise GitError(self.name, action, f"{sha[:12]} is a {found}, not a {kind}")
        return bytes(data)

    def _require(self, sha: str, action: str) -> None:
        """In a partial clone, refuse an object the disk does not hold: asking would fetch."""
        if self._partial and not has_object(self._git_dir, sha):
            raise NotOnDisk(self.name, action, sha)

    def _rev_list(self, old: str, new: str, action: str) -> list[str]:
        for sha in (old, new):
            if not SHA_RE.fullmatch(sha):
                raise GitError(self.name, action, f"{sha!r} is not a full commit SHA")
            self._require(sha, action)
        status, out, err = self._open().git.rev_list(
            "--end-of-options", f"{old}..{new}", with_extended_output=True, with_exceptions=False
        )
        if status != 0:
            raise GitError(self.name, action, first_error(str(err)))
        return str(out).split()

    def _open(self) -> Repo:
        if threading.get_ident() != self._thread:
            raise RuntimeError(f"{self.name}: an object reader is used by one thread only")
        if self._repo is None:
            git = _gitpython()
            repo = git.Repo(self._git_dir, expand_vars=False)  # a path is a path, `$X` too
            repo.git.update_environment(**self._environment())
            self._repo = repo
        return self._repo

    def _environment(self) -> dict[str, str]:
        """For this reader's processes only: this repo whatever a hook exported, no prompt,
        no transport (a lazy fetch fails instead of reaching a server)."""
        common = common_dir_of(self._git_dir)
        return {
            **NO_PROMPT_ENV,
            "GIT_ALLOW_PROTOCOL": "",
            "GIT_DIR": self._git_dir,
            "GIT_COMMON_DIR": common,
            "GIT_OBJECT_DIRECTORY": os.path.join(common, "objects"),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": "",
            "GIT_WORK_TREE": str(self.path),
            "GIT_INDEX_FILE": os.path.join(self._git_dir, "index"),
            "GIT_PREFIX": "",
            "GIT_NAMESPACE": "",
            "GIT_CEILING_DIRECTORIES": "",
        }


def _info(commit: Commit) -> CommitInfo:
    offset = timezone(timedelta(seconds=-commit.committer_tz_offset))
    day = datetime.fromtimestamp(commit.committed_date, offset).date().isoformat()
    message = commit.message
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    return CommitInfo(
        commit.hexsha, day, subject_of(message), tuple(p.hexsha for p in commit.parents)
    )


def subject_of(message: str) -> str:
    """git's %s: the first paragraph after leading blank lines, its lines joined by spaces
    (git splits at LF only, and trims ASCII whitespace at each line's end)."""
    lines = [line.rstrip(_ASCII_SPACE) for line in message.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    end = lines.index("") if "" in lines else len(lines)
    return " ".join(lines[:end])


@lru_cache(maxsize=1)
def _gitpython() -> ModuleType:
    """GitPython, imported on first use: its import costs ~70-150 ms and runs `git version`.

    Without git the import fails (GitPython's default GIT_PYTHON_REFRESH): one line instead.
    The user's environment is read, never changed.
    """
    try:
        import git
    except ImportError:
        raise GitNotFoundError() from None
    if shutil.which(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git") is None:
        raise GitNotFoundError()
    return git
