"""`status`: one row per repo of the workspace and of the current project's deps.

A report, never a failure: missing, dirty or odd repos are rows, and the exit code is 0.
No network: pins come from the project's pin file and, transitively, from each dep's pin
file at its pinned commit when that commit is present locally (the same breadth-first walk
as `sync`). Each repo costs one `git status --porcelain=v2`, run in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..depgraph import Wanted, walk_pins
from ..errors import UsageError, XlaTasksError
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


@dataclass(slots=True)
class Listing:
    """The repos `status` lists, in its order; `foreach` walks the same list."""

    workspace: Workspace
    project_dir: Path | None
    rows: list[Row]
    jobs: int
    warnings: list[str] = field(default_factory=list)


def list_repos(start: Path, options: Options) -> Listing:
    """The project first, then the registry, then deps only pin files know (no network)."""
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
    listing = Listing(workspace, project_dir, [], jobs)
    listing.rows = _rows(workspace, project_dir, jobs, listing.warnings)
    return listing


def status(start: Path, options: Options, check: bool = False) -> CommandResult:
    """Report every repo of the workspace and the project's deps.

    Exit 0 whatever their state, unless `check`: then any pinned dep that is missing, off
    its pin or dirty fails the result (CI's "are we on our pins?").
    """
    listing = list_repos(start, options)
    workspace, rows = listing.workspace, listing.rows
    result = CommandResult(command="status", warnings=listing.warnings)
    details: dict[str, dict[str, Any]] = {}
    result.outcomes = run_each(
        rows, lambda row: _inspect(workspace, row, details), _name, listing.jobs
    )
    implicit = _implicit_note(workspace)
    result.messages.append(f"workspace {workspace.root}{implicit}")
    result.messages.append(summary([details[row.name] for row in rows]))
    project_dir = listing.project_dir
    result.data.update(
        workspace=str(workspace.root),
        project=str(project_dir) if project_dir else None,
        repos=[details[row.name] for row in rows],
    )
    if check:
        _check(result, [details[row.name] for row in rows], project_dir)
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


def _check(result: CommandResult, repos: list[dict[str, Any]], project_dir: Path | None) -> None:
    """One problem line per missing, off-pin or dirty pinned dep, then a one-line verdict."""
    if project_dir is None:
        raise UsageError(
            "status --check needs a project: there are no pins to check here",
            "run it inside the project's checkout (the repo with sync_deps.toml)",
        )
    deps = [r for r in repos if r["pin"] is not None and not r["project"]]
    problems = [line for r in deps for line in problem_lines(r)]
    bad = [r["name"] for r in deps if problem_lines(r)]
    result.data["problems"] = problems
    if not problems:
        result.messages.append(
            f"status --check: ok, {len(deps)} pinned dep(s) present, at their pins and clean"
        )
        return
    result.problems.extend(problems)
    result.failed_check = (
        f"check failed: {len(bad)} of {len(deps)} pinned dep(s) not ready: {', '.join(bad)}"
        " (xla-tasks sync puts deps on their pins; commit or stash changes first)"
    )


def problem_lines(repo: dict[str, Any]) -> list[str]:
    """Why one pinned dep is not ready for a build, one line per reason (empty: it is)."""
    name, pin = repo["name"], str(repo["pin"])[:12]
    where = f"(at {repo['path']})"
    if not repo["present"]:
        return [f"{name}: missing, pinned at {pin} {where}"]
    lines = []
    if repo["at_pin"] is None:
        lines.append(f"{name}: not a readable git repository, pinned at {pin} {where}")
    elif not repo["at_pin"]:
        head = str(repo["head"] or "no commit")[:12]
        lines.append(f"{name}: NOT at pin: HEAD {head}, pin {pin} {where}")
    if repo["dirty"]:
        shown = ", ".join(repo["changed"][:3]) + (" ..." if repo["dirty"] > 3 else "")
        lines.append(f"{name}: dirty: {repo['dirty']} file(s): {shown} {where}")
    return lines


def _name(row: Row) -> str:
    return row.name


def _rows(
    workspace: Workspace, project_dir: Path | None, jobs: int, warnings: list[str]
) -> list[Row]:
    """The project first, then registered repos, then deps only pin files know, in walk order."""
    pinned: dict[str, Wanted] = {}
    rows: list[Row] = []
    root = None
    if project_dir is not None:
        root = project_name(workspace, project_dir)
        rows.append(Row(root, project_dir, registered=root in workspace.repos, project=True))
        pinned = _pinned_deps(workspace, root, project_dir, jobs, warnings)
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
    workspace: Workspace, root: str, project_dir: Path, jobs: int, warnings: list[str]
) -> dict[str, Wanted]:
    """The transitive pins, read without network; unreadable pin files become warnings."""
    try:
        root_pins, script_warnings = read_root_pins(project_dir, strict=False)
        warnings.extend(script_warnings)
    except XlaTasksError as err:
        warnings.append(str(err))
        return {}
    if root_pins is None:
        return {}
    read: dict[str, Pins] = {}

    def read_level(level: list[Wanted]) -> list[tuple[str, Pins]]:
        for outcome in run_each(level, lambda w: _read_dep_pins(workspace, w, read), _wname, jobs):
            if outcome.error:
                warnings.append(outcome.error)
        return [(w.name, read[w.name]) for w in level if w.name in read]

    walk = walk_pins(root, root_pins, read_level)
    warnings.extend(conflict.message() for conflict in walk.conflicts)
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
    rel = workspace.relative(row.path)
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
