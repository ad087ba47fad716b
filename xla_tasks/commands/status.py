"""`status`: one row per repo of the workspace and of the current project's deps.

A report, never a failure: missing, dirty or odd repos are rows, and the exit code is 0.
No network: pins come from the project's pin file and, transitively, from each dep's pin
file at its pinned commit when that commit is present locally (the same breadth-first walk
as `sync`). Each repo costs one `git status --porcelain=v2`, run in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..depgraph import Wanted, walk_pins
from ..errors import XlaTasksError
from ..gitrepo import GitRepo, is_repo_top, toplevel
from ..parallel import default_jobs, run_each
from ..pinfiles import read_root_pins
from ..pins import Pins
from ..results import CommandResult, RepoOutcome
from ..settings import Options
from ..workspace import (
    LEGACY_WORKSPACE_FILE,
    WORKSPACE_FILE,
    Workspace,
    find_workspace_root,
    load_workspace,
    workspace_for_project,
)
from .sync import project_name, read_pins_at


@dataclass(frozen=True, slots=True)
class Row:
    """A repo to report: where it should be and what pins it, if anything does."""

    name: str
    path: Path
    pin: str | None = None
    pinned_by: str | None = None
    transitive: bool = False  # pinned by a dep, not by the project itself
    registered: bool = False
    project: bool = False


def status(start: Path, options: Options) -> CommandResult:
    """Report every repo of the workspace and the project's deps; exit 0 whatever their state."""
    project_dir = toplevel(start)
    ws_root = find_workspace_root(start)
    if project_dir is None and ws_root is None:
        raise XlaTasksError(
            f"{start} is neither in a workspace nor in a project checkout",
            "run status inside a workspace, under xla-workspace.toml, or a git repository",
        )
    if ws_root is not None:
        workspace = load_workspace(ws_root)
    else:
        assert project_dir is not None
        workspace = workspace_for_project(project_dir)
    jobs = options.jobs or workspace.jobs or default_jobs()
    result = CommandResult(command="status")
    rows = _rows(workspace, project_dir, jobs, result)
    details: dict[str, dict[str, Any]] = {}
    result.outcomes = run_each(rows, lambda row: _inspect(workspace, row, details), _name, jobs)
    implicit = _implicit_note(workspace)
    result.messages.append(f"workspace {workspace.root}{implicit}")
    result.messages.append(summary([details[row.name] for row in rows]))
    result.data.update(
        workspace=str(workspace.root),
        project=str(project_dir) if project_dir else None,
        repos=[details[row.name] for row in rows],
    )
    return result


def _implicit_note(workspace: Workspace) -> str:
    """How the workspace was found, when it was not from its xla-workspace.toml."""
    if workspace.file is None:
        return f" (no {WORKSPACE_FILE}: the project's parent)"
    if workspace.file.name == LEGACY_WORKSPACE_FILE:
        return (
            f" (made by openxla-workspace: the openxla preset's repos; "
            f"`xla-tasks init` there writes {WORKSPACE_FILE})"
        )
    return ""


def _name(row: Row) -> str:
    return row.name


def _rows(
    workspace: Workspace, project_dir: Path | None, jobs: int, result: CommandResult
) -> list[Row]:
    """The project first, then registered repos, then deps only pin files know, in walk order."""
    pinned: dict[str, Wanted] = {}
    rows: list[Row] = []
    root = None
    if project_dir is not None:
        root = project_name(workspace, project_dir)
        rows.append(Row(root, project_dir, registered=root in workspace.repos, project=True))
        pinned = _pinned_deps(workspace, root, project_dir, jobs, result)
    for name in workspace.repos:
        if name != root:
            rows.append(_row(workspace, name, pinned.get(name)))
    rows.extend(
        _row(workspace, name, pinned[name]) for name in pinned if name not in workspace.repos
    )
    return rows


def _row(workspace: Workspace, name: str, wanted: Wanted | None) -> Row:
    return Row(
        name,
        workspace.path_of(name),
        pin=wanted.dep.rev if wanted else None,
        pinned_by=wanted.asked_by if wanted else None,
        transitive=bool(wanted and wanted.level > 1),
        registered=name in workspace.repos,
    )


def _pinned_deps(
    workspace: Workspace, root: str, project_dir: Path, jobs: int, result: CommandResult
) -> dict[str, Wanted]:
    """The transitive pins, read without network; unreadable pin files become warnings."""
    try:
        root_pins, script_warnings = read_root_pins(project_dir, strict=False)
        result.warnings.extend(script_warnings)
    except XlaTasksError as err:
        result.warnings.append(str(err))
        return {}
    if root_pins is None:
        return {}
    read: dict[str, Pins] = {}

    def read_level(level: list[Wanted]) -> list[tuple[str, Pins]]:
        for outcome in run_each(level, lambda w: _read_dep_pins(workspace, w, read), _wname, jobs):
            if outcome.error:
                result.warnings.append(outcome.error)
        return [(w.name, read[w.name]) for w in level if w.name in read]

    walk = walk_pins(root, root_pins, read_level)
    result.warnings.extend(conflict.message() for conflict in walk.conflicts)
    return walk.settled


def _wname(wanted: Wanted) -> str:
    return wanted.name


def _read_dep_pins(workspace: Workspace, wanted: Wanted, read: dict[str, Pins]) -> RepoOutcome:
    path = workspace.path_of(wanted.name)
    if is_repo_top(path):
        pins = read_pins_at(GitRepo(path, wanted.name), wanted.dep.rev)
        if pins is not None:
            read[wanted.name] = pins
    return RepoOutcome(name=wanted.name)


def _inspect(workspace: Workspace, row: Row, details: dict[str, dict[str, Any]]) -> RepoOutcome:
    """One row: its state from one `git status`, as a line and as JSON fields."""
    rel = _rel(workspace, row.path)
    info: dict[str, Any] = {
        "name": row.name,
        "path": rel,
        "present": row.path.exists(),
        "branch": None,
        "head": None,
        "pin": row.pin,
        "at_pin": None,
        "dirty": 0,
        "changed": [],
        "pinned_by": row.pinned_by,
        "registered": row.registered,
        "project": row.project,
    }
    details[row.name] = info
    outcome = RepoOutcome(name=row.name, path=rel, old=row.pin, notes=[f"at {rel}"])
    if row.project:
        outcome.notes.insert(0, "the project")
    if not info["present"]:
        outcome.action = "missing, pinned at" if row.pin else "missing"
        return outcome
    if not (row.path / ".git").exists():
        outcome.action = "not a git repository"
        return outcome
    try:
        state = GitRepo(row.path, row.name).state()
    except XlaTasksError as err:
        outcome.action = "unreadable"
        outcome.notes.append(str(err))
        return outcome
    info.update(branch=state.branch, head=state.head, dirty=len(state.changed))
    info["changed"] = list(state.changed)
    outcome.new = state.head
    where = f"on {state.branch}" if state.branch else "detached"
    if row.pin is None:
        outcome.action = where
    else:
        info["at_pin"] = state.head == row.pin
        outcome.action = (
            f"{where}, at pin" if info["at_pin"] else f"{where}, NOT at pin (pin -> HEAD)"
        )
    if row.transitive:
        outcome.notes.append(f"pinned by {row.pinned_by}")
    if state.changed:
        shown = ", ".join(state.changed[:3]) + (" ..." if len(state.changed) > 3 else "")
        outcome.notes.append(f"dirty: {len(state.changed)} file(s): {shown}")
    return outcome


def _rel(workspace: Workspace, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(workspace.root.resolve()))
    except ValueError:
        return str(path)


def summary(repos: list[dict[str, Any]]) -> str:
    """One line of counts, e.g. `5 repo(s): 3 at pin, 1 NOT at pin, 1 dirty, 1 missing`."""
    counts = {
        "at pin": sum(1 for r in repos if r["at_pin"] is True),
        "NOT at pin": sum(1 for r in repos if r["at_pin"] is False),
        "dirty": sum(1 for r in repos if r["dirty"]),
        "missing": sum(1 for r in repos if not r["present"]),
    }
    parts = [f"{n} {label}" for label, n in counts.items() if n]
    return f"{len(repos)} repo(s)" + (f": {', '.join(parts)}" if parts else "")
