"""`pin`: record each dep's current HEAD in `sync_deps.toml` and regenerate `sync_deps.py`.

Everything is decided before anything is written: every dep's HEAD is read (and, with
`--require-upstream`, checked against a fresh `origin/<branch>`) first; if any dep fails,
neither file is touched. A project with only a legacy `sync_deps.py` is migrated: its
pins are parsed (never run), moved to the deps' HEADs, and both files are written.
`--check` is the CI gate: it compares text only, runs no git and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import UsageError, XlaTasksError
from ..gitrepo import GitRepo, is_repo_top
from ..lock import workspace_lock
from ..parallel import default_jobs, run_each
from ..pinfiles import check_pin_files, pin_files_differ, save_pin_files
from ..pins import PIN_FILE, SCRIPT_FILE, Dep, Pins, is_legacy_project, read_project_pins
from ..results import CommandResult, RepoOutcome
from ..settings import Options
from ..workspace import Workspace, workspace_for_project
from .project import find_project_dir


@dataclass(frozen=True, slots=True)
class _Target:
    """A dep whose HEAD is to be recorded; `added` when `--add` starts pinning it."""

    dep: Dep
    path: Path
    added: bool = False


def pin(
    start: Path,
    options: Options,
    *,
    add: Sequence[str] = (),
    require_upstream: bool = False,
    check: bool = False,
) -> CommandResult:
    """Pin the deps of the project around `start` at their HEADs (or only check, with --check)."""
    if check:
        if add or require_upstream:
            raise UsageError(
                "--check writes nothing; it cannot be combined with --add or --require-upstream"
            )
        return check_project(start)
    project_dir = find_project_dir(start)
    workspace = workspace_for_project(project_dir)
    with workspace_lock(workspace.root, "pin", options.lock_timeout, dry_run=options.dry_run):
        return _pin(project_dir, workspace, options, list(add), require_upstream)


def check_project(start: Path) -> CommandResult:
    """`pin --check`: is `sync_deps.py` exactly the rendering of `sync_deps.toml`? No git."""
    project_dir = find_project_dir_without_git(start)
    reason = check_pin_files(project_dir)
    result = CommandResult(command="pin", data={"project": str(project_dir), "check": True})
    if reason:
        result.failed_check = reason
    else:
        result.messages.append(f"{project_dir / SCRIPT_FILE} is up to date with {PIN_FILE}")
    return result


def find_project_dir_without_git(start: Path) -> Path:
    """The nearest folder at or above `start` with `.git` or a pin file (for --check: no git)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if any((folder / name).exists() for name in (".git", PIN_FILE, SCRIPT_FILE)):
            return folder
    raise XlaTasksError(
        f"{start} is not inside a project",
        f"run this in the project checkout that holds {PIN_FILE}",
    )


def _pin(
    project_dir: Path,
    workspace: Workspace,
    options: Options,
    add: list[str],
    require_upstream: bool,
) -> CommandResult:
    migrated = is_legacy_project(project_dir)
    pins = read_project_pins(project_dir) or Pins()
    targets = _targets(project_dir, workspace, pins, add)
    result = CommandResult(command="pin", data={"project": str(project_dir)})
    warnings: dict[str, str] = {}
    outcomes = run_each(
        targets,
        lambda target: _record(target, require_upstream, warnings),
        lambda target: target.dep.name,
        options.jobs or workspace.jobs or default_jobs(),
    )
    result.warnings.extend(warnings[name] for name in sorted(warnings))
    failed = [outcome for outcome in outcomes if outcome.failed]
    if failed:
        result.outcomes = failed
        result.messages.append(f"nothing written: {PIN_FILE} and {SCRIPT_FILE} left as they were")
        return result
    new_pins = _with_heads(pins, targets, outcomes)
    changes = [o for o in outcomes if o.old != o.new]
    result.outcomes = changes
    _describe(result, project_dir, new_pins, changes, migrated, options.dry_run)
    return result


def _targets(project_dir: Path, workspace: Workspace, pins: Pins, add: list[str]) -> list[_Target]:
    """The pinned deps plus the `--add`ed ones (registered, not the project itself)."""
    targets = {
        name: _Target(dep, workspace.path_of(name)) for name, dep in sorted(pins.deps.items())
    }
    for name in add:
        spec = workspace.require(name)
        path = workspace.path_of(name)
        if path.resolve() == project_dir.resolve():
            raise UsageError(f"{name} is this project; a project cannot pin itself")
        if name not in targets:
            dep = Dep(name, rev="", url=spec.url, branch=spec.branch, submodules=spec.submodules)
            targets[name] = _Target(dep, path, added=True)
    if not targets:
        raise XlaTasksError(
            f"nothing to pin: {project_dir} has no {PIN_FILE}",
            "start pinning a registered repo with `xla-tasks pin --add NAME`",
        )
    return [targets[name] for name in sorted(targets)]


def _record(target: _Target, require_upstream: bool, warnings: dict[str, str]) -> RepoOutcome:
    """Read one dep's HEAD (and check it is upstream); errors stay on this dep's outcome."""
    name, path = target.dep.name, target.path
    outcome = RepoOutcome(name=name, path=str(path), old=target.dep.rev or None)
    if not path.is_dir():
        outcome.error = f"{name}: not checked out at {path} (run `xla-tasks checkout {name}`)"
        return outcome
    if not is_repo_top(path):
        outcome.error = f"{name}: {path} is not the top of a git repository"
        return outcome
    repo = GitRepo(path, name)
    state = repo.state()
    if state.head is None:
        outcome.error = f"{name}: has no commit to pin at {path}"
        return outcome
    if state.is_dirty:
        shown = ", ".join(state.changed[:5]) + (" ..." if len(state.changed) > 5 else "")
        warnings[name] = f"{name}: has uncommitted changes ({shown}); they are not pinned"
    if require_upstream:
        problem = _not_upstream(repo, state.head, target.dep.branch)
        if problem:
            outcome.error = problem
            return outcome
    outcome.new = state.head
    outcome.action = "added" if target.added else ""
    if outcome.old != outcome.new:
        date, subject = repo.commit_summary(state.head)
        outcome.notes.append(f"{date} {subject}")
    return outcome


def _not_upstream(repo: GitRepo, head: str, branch: str) -> str | None:
    """Why `head` is not on a freshly fetched `origin/<branch>`, or None when it is."""
    url = repo.remotes().get("origin")
    if url is None:
        return f"{repo.name}: has no remote 'origin' to check {head[:12]} against"
    tracking = f"refs/remotes/origin/{branch}"
    repo.fetch("origin", f"+refs/heads/{branch}:{tracking}", url_for_errors=url)
    if not repo.is_ancestor(head, tracking):
        return (
            f"{repo.name}: HEAD {head[:12]} is not on origin/{branch} ({url}); "
            "push it first, or pin without --require-upstream"
        )
    return None


def _with_heads(pins: Pins, targets: list[_Target], outcomes: list[RepoOutcome]) -> Pins:
    """`pins` with every target at the HEAD just read (added deps joining with it)."""
    new_pins = pins
    for target, outcome in zip(targets, outcomes, strict=True):
        new_pins = new_pins.with_dep(replace(target.dep, rev=outcome.new or target.dep.rev))
    return new_pins


def _describe(
    result: CommandResult,
    project_dir: Path,
    new_pins: Pins,
    changes: list[RepoOutcome],
    migrated: bool,
    dry_run: bool,
) -> None:
    """Write the files unless dry-running, and say what moved (or that nothing did)."""
    stale = pin_files_differ(project_dir, new_pins)
    result.data.update(
        changes=[_change_data(outcome) for outcome in changes],
        migrated=migrated,
        dry_run=dry_run,
        files=stale,
        written=bool(stale) and not dry_run,
    )
    if not stale:
        result.messages.append(
            f"nothing changed: {len(new_pins.deps)} dep(s) already pinned at HEAD"
        )
        return
    if not dry_run:
        save_pin_files(project_dir, new_pins)
    verb = "would write" if dry_run else "wrote"
    files = " and ".join(stale)
    if migrated:
        result.messages.append(
            f"migrated legacy {SCRIPT_FILE} to {PIN_FILE}"
            + (" (dry run: nothing written)" if dry_run else f"; regenerated {SCRIPT_FILE}")
        )
    elif not changes:
        result.messages.append(f"no pin moved; {verb} {files}")
    else:
        result.messages.append(f"{len(changes)} pin(s) moved; {verb} {files}")


def _change_data(outcome: RepoOutcome) -> dict[str, Any]:
    date, _, subject = (outcome.notes[0] if outcome.notes else "").partition(" ")
    return {
        "name": outcome.name,
        "old": outcome.old,
        "new": outcome.new,
        "added": outcome.action == "added",
        "date": date,
        "subject": subject,
    }
