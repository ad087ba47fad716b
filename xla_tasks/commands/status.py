"""`status`: one row per repo of the workspace and of the current project's deps.

A report, never a failure: missing, dirty or odd repos are rows, and the exit code is 0.
No network: pins come from the project's pin file and, transitively, from each dep's pin
file at its pinned commit when that commit is present locally (the same breadth-first walk
as `sync`). Each repo costs one `git status --porcelain=v2`, run in parallel.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xla_tasks.errors import UsageError, XlaTasksError
from xla_tasks.gitrepo import GitRepo
from xla_tasks.parallel import run_each
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.listing import Row, list_repos, selected_rows
from xla_tasks.workspace.registry import (
    LEGACY_WORKSPACE_FILE,
    WORKSPACE_FILE,
    Workspace,
)
from xla_tasks.workspace.settings import TaskOptions


def status(start: Path, options: TaskOptions, check: bool = False) -> CommandResult:
    """Report every repo of the workspace and the project's deps.

    Exit 0 whatever their state, unless `check`: then any pinned dep that is missing, off
    its pin, dirty or missing a flagged submodule fails the result, and so does a pin file
    that cannot be read (CI's "are we on our pins?" fails closed).
    """
    listing = list_repos(start, options, strict=check)
    workspace, rows = listing.workspace, selected_rows(listing, options)
    result = CommandResult(command="status", warnings=listing.warnings)
    if not check:
        result.warnings.extend(listing.pin_errors)
    details: dict[str, dict[str, Any]] = {}
    result.outcomes = run_each(
        rows, lambda row: _inspect(workspace, row, details, check), _name, listing.jobs
    )
    implicit = _implicit_note(workspace)
    result.messages.append(f"workspace {workspace.root}{implicit}")
    result.messages.append(summary([details[row.name] for row in rows]))
    if listing.left_alone:
        result.messages.append(
            left_alone_line(listing.left_alone, listing.left_alone_urls, workspace)
        )
    project_dir = listing.project_dir
    result.data.update(
        workspace=str(workspace.root),
        project=str(project_dir) if project_dir else None,
        repos=[details[row.name] for row in rows],
        left_alone=list(listing.left_alone),
        left_alone_urls=listing.left_alone_urls,
    )
    if check:
        _check(result, [details[row.name] for row in rows], project_dir, listing.pin_errors)
    return result


def left_alone_line(names: tuple[str, ...], urls: dict[str, str], workspace: Workspace) -> str:
    """One line for every repo the project's pin files pin that the registry does not list,
    ending with the registry entry that would make one of them a dep."""
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    example = next((name for name in names if name in urls), names[0])
    entry = f'[repos.{example}] url = "{urls.get(example, "<its git URL>")}"'
    if workspace.file is None or workspace.file.name != WORKSPACE_FILE:
        how = (
            f"to sync one, run `xla-tasks init` in {workspace.root} (`--preset pytorch-xla` "
            f"for PyTorch/XLA), then add {entry} to its {WORKSPACE_FILE}"
        )
    else:
        how = f"to sync one, add it to {workspace.file}: {entry}"
    return (
        f"left alone: {len(names)} repo(s) pinned in the project's files but not registered "
        f"({shown}); {how}"
    )


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


def _check(
    result: CommandResult,
    repos: list[dict[str, Any]],
    project_dir: Path | None,
    pin_errors: list[str],
) -> None:
    """One problem line per unreadable pin file and per missing, off-pin or dirty pinned
    dep (or one missing a submodule), then a one-line verdict."""
    if project_dir is None:
        raise UsageError(
            "status --check needs a project: there are no pins to check here",
            "run it inside the project's checkout (the repo with sync_deps.toml)",
        )
    deps = [r for r in repos if (r["pin"] or r["pin_ref"]) and not r["project"]]
    per_dep = [(r["name"], problem_lines(r)) for r in deps]
    problems = [*pin_errors, *(line for _, lines in per_dep for line in lines)]
    bad = [name for name, lines in per_dep if lines]
    result.data["problems"] = problems
    if not problems:
        result.messages.append(
            f"status --check: ok, {len(deps)} pinned dep(s) present, at their pins and clean"
        )
        return
    result.problems.extend(problems)
    verdicts = []
    if pin_errors:
        verdicts.append(
            f"{len(pin_errors)} pin file(s) cannot be read, so the pins are unknown "
            "(fix the file named above)"
        )
    if bad or not pin_errors:
        verdicts.append(
            f"{len(bad)} of {len(deps)} pinned dep(s) not ready: {', '.join(bad)}"
            " (xla-tasks sync puts deps on their pins; commit or stash changes first)"
        )
    result.failed_check = "check failed: " + "; ".join(verdicts)


def problem_lines(repo: dict[str, Any]) -> list[str]:
    """Why one pinned dep is not ready for a build, one line per reason (empty: it is)."""
    name, pin = repo["name"], str(repo["pin"])[:12] if repo["pin"] else repo["pin_ref"]
    where = f"(at {repo['path']})"
    if not repo["present"]:
        return [f"{name}: missing, pinned at {pin} {where}"]
    lines = []
    if repo["pin"] is None:
        lines.append(
            f"{name}: pinned to {repo['pin_ref']}, which no sync has resolved yet "
            f"(xla-tasks sync resolves it on the dep's URL) {where}"
        )
    elif repo["at_pin"] is None:
        lines.append(f"{name}: not a readable git repository, pinned at {pin} {where}")
    elif not repo["at_pin"]:
        head = str(repo["head"] or "no commit")[:12]
        lines.append(f"{name}: NOT at pin: HEAD {head}, pin {pin} {where}")
    if repo["dirty"]:
        lines.append(f"{name}: {_dirty_note(repo['changed'])} {where}")
    lines.extend(f"{name}: {problem} {where}" for problem in repo["submodule_problems"])
    return lines


def _name(row: Row) -> str:
    return row.name


def _inspect(
    workspace: Workspace, row: Row, details: dict[str, dict[str, Any]], check: bool = False
) -> RepoOutcome:
    """One row: its state from one `git status`, as a line and as JSON fields.

    `check`: a dep on its pin that wants submodules also has its submodule tree checked.
    """
    rel = workspace.relative(row.path)
    info: dict[str, Any] = {
        "name": row.name,
        "path": rel,
        "present": False,
        "branch": None,
        "head": None,
        "pin": row.pin,
        "at_pin": None,
        "dirty": 0,
        "changed": [],
        "pinned_by": row.pinned_by,
        "pin_ref": row.ref,  # a ref pinned instead of a commit; `pin` is what it last named
        "registered": row.registered,
        "project": row.project,
        "submodule_problems": [],  # filled by --check only: missing or moved submodules
    }
    details[row.name] = info  # first: an OSError below fails this row, not the report
    info["present"] = row.path.exists()
    outcome = RepoOutcome(name=row.name, path=rel, old=row.pin, notes=[f"at {rel}"])
    if row.project:
        outcome.notes.insert(0, "the project")
    pinned_by = [f"pinned by {row.pinned_by}"] if row.transitive or row.native else []
    if not info["present"]:
        outcome.action = "missing, pinned at" if row.pin else "missing"
        if row.pin is None and row.ref is not None:
            outcome.action = f"missing, pinned to {row.ref}"
        outcome.notes.extend(pinned_by)
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
    outcome.action = _against_pin(row, state.branch, state.head, info)
    if check and info["at_pin"] and row.submodules:
        info["submodule_problems"] = _submodule_problems(row)
        outcome.notes.extend(info["submodule_problems"])
    outcome.notes.extend(pinned_by)
    if state.changed:
        outcome.notes.append(_dirty_note(state.changed))
    return outcome


def _dirty_note(changed: Sequence[str]) -> str:
    """`dirty: N file(s): a, b, c ...`: the count and the first three changed files."""
    shown = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
    return f"dirty: {len(changed)} file(s): {shown}"


def _against_pin(row: Row, branch: str | None, head: str | None, info: dict[str, Any]) -> str:
    """Where HEAD is, and whether it is the pin (`info["at_pin"]` set when there is one)."""
    where = f"on {branch}" if branch else "detached"
    if row.pin is None and row.ref is not None:
        return f"{where}, pin not yet resolved"
    if row.pin is None:
        return where
    info["at_pin"] = head == row.pin
    return f"{where}, at pin" if info["at_pin"] else f"{where}, NOT at pin (pin -> HEAD)"


def _submodule_problems(row: Row) -> list[str]:
    from xla_tasks.engine.model import SyncError
    from xla_tasks.workspace.submodule_state import submodule_problems

    assert row.pin is not None
    try:
        return submodule_problems(row.path, row.pin, row.exclude_submodules)
    except SyncError as err:
        return [f"submodules cannot be read: {err}"]


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
