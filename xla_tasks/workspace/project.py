"""Which project a command runs for: the git work tree around the current directory."""

from __future__ import annotations

import contextlib
from pathlib import Path

from xla_tasks.engine.disk import common_dir_of, is_repo_top, read_head, read_ref, write_ref
from xla_tasks.errors import ConfigError, XlaTasksError
from xla_tasks.gitobjects import NotOnDisk, ObjectReader, TooLarge, git_dir_at, object_reader
from xla_tasks.gitrepo import GitRepo
from xla_tasks.pins.model import Pins
from xla_tasks.pins.native.at_commit import CommitTree
from xla_tasks.pins.native_deps import read_native_deps
from xla_tasks.pins.project import pins_from_texts, read_project_pins
from xla_tasks.pins.sync_deps_script import SCRIPT_FILE
from xla_tasks.pins.sync_deps_toml import PIN_FILE
from xla_tasks.tomlfile import MAX_FILE_BYTES, not_text_error, too_large_error
from xla_tasks.workspace.registry import Workspace


def find_project_dir(start: Path) -> Path:
    """The innermost repo holding `start` (so `pytorch/xla` is torch_xla, not pytorch).

    Found on disk, the way git looks for `.git` (no process); git is asked only when the
    disk says nothing (say, a work tree whose `.git` lives elsewhere).
    """
    here = start.absolute()
    for folder in (here, *here.parents):
        if is_repo_top(folder):
            return folder
    from xla_tasks.gitrepo import toplevel

    top = toplevel(start)
    if top is None:
        raise XlaTasksError(
            f"{start} is not inside a git repository",
            "run this inside a project checkout: the repo that holds sync_deps.toml",
        )
    return top


def project_name(workspace: Workspace, project_dir: Path) -> str:
    """The project's registry name when it is registered, else its directory's name."""
    here = project_dir.resolve()
    for name in workspace.repos:
        if workspace.path_of(name).resolve() == here:
            return name
    return project_dir.name


def read_pins_at(repo: GitRepo, rev: str, workspace: Workspace | None = None) -> Pins | None:
    """A dep's pins as of commit `rev` without moving it: from disk when HEAD is `rev`,
    else from the commit when it is present locally; None when unknown or absent.

    With `workspace`, native pin files count too, read the same way (at another commit,
    from its trees). Offline: every file comes through one `cat-file`, which in a partial
    clone is asked only for objects on disk (a pin file's blob may not be: then its pins
    are unknown).
    """
    if _head(repo) == rev:
        repos = workspace.catalog() if workspace is not None else None
        return read_project_pins(repo.path, repos, repo.name)
    if not repo.has_commit(rev):
        return None
    try:
        with object_reader(repo.path, repo.name) as objects:
            toml = _text_at(objects, repo, rev, PIN_FILE)
            script = _text_at(objects, repo, rev, SCRIPT_FILE) if toml is None else None
            if toml is None and script is None:
                return _native_pins_at(objects, repo, rev, workspace) if workspace else None
    except NotOnDisk:
        return None
    return pins_from_texts(repo.path, toml, script, at=f"@{rev[:12]}")


def _text_at(objects: ObjectReader, repo: GitRepo, rev: str, name: str) -> str | None:
    """A pin file's text at commit `rev`, refused as on disk (over 4 MiB, not UTF-8) with
    the file named `FILE@<sha12>`; None when the commit has no such file."""
    where = Path(f"{repo.path / name}@{rev[:12]}")
    try:
        return objects.file_at(rev, name, MAX_FILE_BYTES)
    except TooLarge:
        raise too_large_error(where) from None
    except UnicodeDecodeError as err:
        raise not_text_error(where, err) from None


def _native_pins_at(
    objects: ObjectReader, repo: GitRepo, rev: str, workspace: Workspace
) -> Pins | None:
    """The native pins commit `rev` of `repo` holds; errors name each file `@<commit>`."""
    tree = CommitTree(objects, rev, repo.path)
    try:
        return read_native_deps(repo.path, workspace.catalog(), project=repo.name, tree=tree)
    except ConfigError as err:
        if f"@{rev[:12]}" in str(err.path):
            raise
        raise err.at(f"{err.path}@{rev[:12]}") from None


# Where sync records the commit a dep's pinned ref (`.torch_pin`) named when it synced it:
# `status` is offline and cannot ask the URL, so it compares HEAD with that.
RESOLVED_REFS = "refs/remotes/xla-tasks/resolved/"


def record_resolved(path: Path, ref: str, sha: str) -> None:
    """Remember, in the dep's clone at `path`, that `ref` named `sha` when it was synced
    (best effort: without it, `status` says the pin is not yet resolved)."""
    git_dir = git_dir_at(path)
    if git_dir is not None:
        with contextlib.suppress(OSError):  # `a` recorded before, now `a/b`: a file in the way
            write_ref(git_dir, RESOLVED_REFS + ref, sha)


def last_resolved(path: Path, ref: str) -> str | None:
    """The commit `ref` named when the dep at `path` was last synced to it (no process)."""
    git_dir = git_dir_at(path)
    return read_ref(common_dir_of(git_dir), RESOLVED_REFS + ref) if git_dir else None


def _head(repo: GitRepo) -> str | None:
    """HEAD's commit read from disk; git is asked only when the files say nothing."""
    git_dir = git_dir_at(repo.path)
    found = read_head(git_dir).sha if git_dir else None
    return found or repo.rev_parse("HEAD")
