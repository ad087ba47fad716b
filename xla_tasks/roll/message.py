"""What a roll moves, commit by commit: the count, the newest subjects and a compare link.

Reviewers of a roll want what Chromium's `roll-dep` gives them (contract 5.5). The commits
come from the dep's local clone when it has both pins (no network); otherwise from a
temporary commits-only fetch of the dep's branch (`gitrepo.history_of`), borrowing the
local clone's objects when there is one. A dep whose history cannot be read still rolls:
its line just has no count, and a warning says why.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from xla_tasks.errors import XlaTasksError
from xla_tasks.gitobjects import object_reader
from xla_tasks.gitrepo import GitRepo, history_of, is_repo_top
from xla_tasks.parallel import run_each
from xla_tasks.pins.model import Pins
from xla_tasks.roll.moves import DepMove
from xla_tasks.ui.results import RepoOutcome
from xla_tasks.workspace.registry import Workspace
from xla_tasks.workspace.settings import TaskOptions

_GITHUB = re.compile(
    r"(?:https?://(?:[^/@]+@)?|ssh://(?:[^/@]+@)?|git@)(?:www\.)?github\.com[/:]"
    r"(?P<org>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?"
)


@dataclass(slots=True)
class History:
    """old..new of one dep: how many commits, and the newest `limit` of them."""

    commits: int | None = None
    log: list[tuple[str, str]] = field(default_factory=list)  # (sha, subject), newest first


def add_histories(
    moves: list[DepMove], workspace: Workspace, pins: Pins, options: TaskOptions, jobs: int
) -> list[str]:
    """Fill each dep move's `commits`, `log` and `compare`, in parallel; return warnings.

    Up to `options.log_limit` subjects each; remote reads end when they stall.
    """
    found: dict[str, History] = {}
    read = functools.partial(
        dep_history,
        workspace,
        pins,
        limit=options.log_limit,
        stall=options.stall_seconds(workspace.stall_timeout),
    )

    def work(move: DepMove) -> RepoOutcome:
        found[move.name] = read(move.name, move.old, move.new)
        return RepoOutcome(name=move.name)

    outcomes = run_each(moves, work, lambda move: move.name, jobs)
    for move in moves:
        history = found.get(move.name, History())
        move.commits = history.commits
        move.log = list(history.log)
        move.compare = compare_url(pins.deps[move.name].url, move.old, move.new)
    return [f"{o.error} (no commit log in the roll message)" for o in outcomes if o.failed]


def dep_history(
    workspace: Workspace, pins: Pins, name: str, old: str, new: str, *, limit: int, stall: float
) -> History:
    """From the local clone when it has both commits, else from the dep's remote.

    Presence is read on disk (`holds`), never asked of git: in a partial (blobless) clone
    `cat-file -e` would lazily fetch a missing commit, and its history, into the user's
    clone. A clone lacking either commit still lends its objects to the temporary repo.
    """
    path = workspace.path_of(name)
    local = GitRepo(path, name) if is_repo_top(path) else None
    if local is not None and _has_both(local, old, new):
        return _read(local, old, new, limit)
    dep = pins.deps[name]
    lender = local.path if local else None
    with history_of(dep.url, dep.branch, repo=name, borrow=lender, stall_timeout=stall) as temp:
        if not temp.has_commit(old):
            raise XlaTasksError(
                f"{name}: the old pin {old[:12]} is not in the history of {dep.branch}",
                "it was force-pushed away or lives on another branch",
            )
        return _read(temp, old, new, limit)


def _has_both(local: GitRepo, old: str, new: str) -> bool:
    return local.has_commit(old) and local.has_commit(new)


def _read(repo: GitRepo, old: str, new: str, limit: int) -> History:
    """The count and the newest subjects, through one `cat-file` (and, off a straight line
    of history, one `rev-list`)."""
    with object_reader(repo.path, repo.name) as objects:
        found = objects.log(old, new, limit)
    return History(found.count, [(commit.sha, commit.subject) for commit in found.newest])


def compare_url(url: str, old: str, new: str) -> str | None:
    """GitHub's page of the whole range, for a github.com URL (https, ssh or scp-like)."""
    found = _GITHUB.fullmatch(url)
    if found is None:
        return None
    return f"https://github.com/{found['org']}/{found['repo']}/compare/{old}...{new}"


def move_lines(move: DepMove) -> list[str]:
    """`- NAME: OLD12..NEW12 (N commits)`, the log lines, `and K more`, the compare link;
    for native pins, the files that pin it and where a downloaded hash came from."""
    count = move.commits
    commits = f" ({count} commit{'s' if count != 1 else ''})" if count is not None else ""
    lines = [f"- {move.name}: {move.old[:12]}..{move.new[:12]}{commits}"]
    lines += [f"  {sha[:12]} {subject}" for sha, subject in move.log]
    if count is not None and count > len(move.log):
        lines.append(f"  and {count - len(move.log)} more")
    if move.compare:
        lines.append(f"  {move.compare}")
    if move.files:
        lines.append(f"  pinned in {', '.join(move.files)}")
    lines += [f"  .zip hash downloaded from {url}" for url in move.downloaded]
    return lines
