"""Put every dep of a project, transitively, on its pinned commit (contract 3.1).

The walk is breadth-first (`depgraph.walk_pins`): each level goes to the engine
(`xla_tasks.engine`, which owns every per-repo step and runs them in parallel), then the
pin files of the deps that landed give the next level. The root project itself is never
moved. Safety (contract 4) lives in the engine: a dep with uncommitted changes or a
rebase/merge/bisect in progress is left alone, a detached HEAD holding commits no ref
holds is saved on a branch first, and nothing is ever reset or cleaned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from xla_tasks.engine.disk import is_repo_top
from xla_tasks.engine.model import EngineOptions, EventCallback, Repo, absolute_url
from xla_tasks.errors import XlaTasksError
from xla_tasks.gitrepo import ls_remote_ref
from xla_tasks.pins.model import Pins
from xla_tasks.pins.project import read_project_pins, read_root_pins
from xla_tasks.pins.sync_deps_script import SCRIPT_FILE
from xla_tasks.pins.sync_deps_toml import PIN_FILE
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.graph import Wanted, walk_pins
from xla_tasks.workspace.listing import listing_of, row_pin
from xla_tasks.workspace.lock import workspace_lock
from xla_tasks.workspace.placement import engine_options, place_repos
from xla_tasks.workspace.project import (
    find_project_dir,
    project_name,
    read_pins_at,
    record_resolved,
)
from xla_tasks.workspace.registry import Workspace, start_pinning_hint, workspace_for_project
from xla_tasks.workspace.settings import TaskOptions

if TYPE_CHECKING:
    from xla_tasks.gitrepo import GitRepo


@dataclass(slots=True)
class SyncRun:
    """One sync: where things are, what was asked, and the pins read from landed deps."""

    project_dir: Path
    root: str
    workspace: Workspace
    options: TaskOptions
    engine: EngineOptions
    on_event: EventCallback | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    pins_read: dict[str, Pins] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)  # dep -> what its ref names now


def sync_project(
    start: Path,
    options: TaskOptions,
    *,
    on_event: EventCallback | None = None,
    origins: Mapping[str, str] | None = None,
    workspace: Workspace | None = None,
) -> CommandResult:
    """Put every dep of the project around `start` on its pin; per-repo failures are listed.

    `origins`: name -> the URL a dep cloned here gets as its origin, when not the pinned
    URL (`checkout --sync` clones from `push_url`, as checkout does). `workspace`: the
    registry the caller has read (checkout, a gated roll's tries), used when it is the
    project's (`workspace_for_project`).
    """
    project_dir = find_project_dir(start)
    workspace = workspace_for_project(project_dir, workspace)
    root = project_name(workspace, project_dir)
    root_pins, script_warnings = read_root_pins(  # refuses a rewritten script
        project_dir, repos=workspace.catalog(), project=root
    )
    if root_pins is None:
        raise XlaTasksError(
            f"{project_dir} has no {PIN_FILE}, legacy {SCRIPT_FILE} or native pin file "
            "naming a registered repo: nothing to sync",
            f"run sync in a project checkout, or {start_pinning_hint(project_dir)}",
        )
    if options.only and not _all_pinned_by_root(workspace, root, root_pins, options.only):
        known = _known_deps(workspace, project_dir, root_pins, options)
        options.check_only(known, f"among the deps {root} pins")
    run = SyncRun(
        project_dir=project_dir,
        root=root,
        workspace=workspace,
        options=options,
        engine=engine_options(options, workspace),
        on_event=on_event,
        origins=origins or {},
    )
    result = CommandResult(command="sync", warnings=script_warnings)
    with workspace_lock(workspace.root, "sync", options.lock_timeout, dry_run=options.dry_run):
        _walk(run, root_pins, result)
    return result


def _walk(run: SyncRun, root_pins: Pins, result: CommandResult) -> None:
    def process(level: list[Wanted]) -> list[tuple[str, Pins]]:
        result.outcomes.extend(_sync_level(run, level))
        return [(w.name, run.pins_read[w.name]) for w in level if w.name in run.pins_read]

    walk = walk_pins(run.root, root_pins, process, is_excluded=run.options.excludes_dep)
    for wanted in walk.excluded:
        if not run.options.selects(wanted.name):
            continue
        path = run.workspace.relative(run.workspace.path_of(wanted.name))
        result.outcomes.append(
            RepoOutcome(name=wanted.name, path=path, action="skipped (--exclude-dep)")
        )
    result.warnings.extend(conflict.message() for conflict in walk.conflicts)
    excluded = {wanted.name for wanted in walk.excluded}
    total = sum(1 for name in walk.settled if name not in excluded and run.options.selects(name))
    done = total - sum(1 for outcome in result.outcomes if outcome.failed)
    count = f"{done} of {total}" if done != total else str(total)
    verb = "dry run, nothing changed: would sync" if run.options.dry_run else "synced"
    result.messages.append(f"{verb} {count} dep(s) of {run.root} in {run.workspace.root}")
    result.data.update(
        project=str(run.project_dir),
        workspace=str(run.workspace.root),
        dry_run=run.options.dry_run,
        conflicts=[conflict.to_dict() for conflict in walk.conflicts],
    )


def _sync_level(run: SyncRun, level: list[Wanted]) -> list[RepoOutcome]:
    """Hand one level to the engine; then read the pin files of the deps that landed."""
    project = str(run.project_dir.resolve())
    todo = [
        w
        for w in level
        if str(run.workspace.path_of(w.name).resolve()) != project and run.options.selects(w.name)
    ]
    for wanted in level:
        if not run.options.selects(wanted.name):  # not named: not moved, and not reported,
            _read_pins_as_they_are(run, wanted)  # but its pins may lead to named deps
    outcomes = _resolve_refs(run, todo)
    todo = [w for w in todo if w.name not in outcomes]
    outcomes.update(
        (outcome.name, outcome)
        for outcome in place_repos(
            run.workspace, [_engine_repo(run, w) for w in todo], run.engine, run.on_event
        )
    )
    chosen = [w for w in level if run.options.selects(w.name)]
    for wanted in chosen:
        outcome = outcomes.get(wanted.name)
        if outcome is None:
            path = run.workspace.relative(run.workspace.path_of(wanted.name))
            action = "skipped (the project being synced is never moved)"
            outcomes[wanted.name] = RepoOutcome(wanted.name, path, action, new=wanted.dep.rev)
        elif not outcome.failed:
            _after_landing(run, wanted, outcome)
    return [outcomes[w.name] for w in chosen]


def _resolve_refs(run: SyncRun, level: list[Wanted]) -> dict[str, RepoOutcome]:
    """A dep pinned to a ref (`.torch_pin`) gets the commit the ref names on its URL now;
    the failures, as outcomes (the others still sync)."""
    failed: dict[str, RepoOutcome] = {}
    for index, wanted in enumerate(level):
        dep = wanted.dep
        if dep.ref is None:
            continue
        try:
            sha = ls_remote_ref(
                dep.url, dep.ref, repo=dep.name, stall_timeout=run.engine.stall_timeout
            )
        except XlaTasksError as err:
            path = run.workspace.relative(run.workspace.path_of(dep.name))
            failed[dep.name] = RepoOutcome(dep.name, path, error=str(err))
            continue
        level[index] = replace(wanted, dep=replace(dep, rev=sha))
        run.resolved[dep.name] = sha
    return failed


def _engine_repo(run: SyncRun, wanted: Wanted) -> Repo:
    dep = wanted.dep
    by_root = wanted.asked_by == run.root
    notes: tuple[str, ...] = () if by_root else (f"pinned by {wanted.asked_by}",)
    if dep.override is not None:
        what = f"{dep.ref} on its URL, per" if dep.ref else "per"
        notes += (f"{what} {dep.override}",)
    # A relative local URL is relative to the pin file that names it, not to the cwd.
    pin_dir = run.project_dir if by_root else run.workspace.path_of(wanted.asked_by)
    return Repo(
        name=dep.name,
        path=str(run.workspace.path_of(dep.name)),
        url=absolute_url(dep.url, str(pin_dir)),
        rev=dep.rev,
        branch=dep.branch,
        submodules=dep.submodules,
        exclude_submodules=dep.exclude_submodules,
        notes=notes,
        origin=run.origins.get(dep.name),
    )


def _after_landing(run: SyncRun, wanted: Wanted, outcome: RepoOutcome) -> None:
    """Read the dep's own pins (the next level); a broken pin file fails that dep only."""
    path = run.workspace.path_of(wanted.name)
    try:
        if not run.options.dry_run:
            if wanted.dep.ref and wanted.name in run.resolved:
                record_resolved(path, wanted.dep.ref, run.resolved[wanted.name])
            _read_pins(run, wanted.name, path)
        elif outcome.action == "would clone":
            outcome.notes.append("its own pins are read once it is cloned")
        else:
            from xla_tasks.gitrepo import GitRepo

            rev = run.resolved.get(wanted.name, wanted.dep.rev)
            _read_pins_if_known(run, GitRepo(path, wanted.name), rev)
    except XlaTasksError as err:
        outcome.error = str(err)


def _read_pins(run: SyncRun, name: str, path: Path) -> None:
    pins = read_project_pins(path, run.workspace.catalog(), name)
    if pins is not None:
        run.pins_read[name] = pins


def _read_pins_if_known(run: SyncRun, repo: GitRepo, rev: str) -> None:
    pins = read_pins_at(repo, rev, run.workspace)
    if pins is not None:
        run.pins_read[repo.name] = pins


def _read_pins_as_they_are(run: SyncRun, wanted: Wanted) -> None:
    """A dep the NAMES filter left out: its pins at its pinned commit, if that is on disk."""
    from xla_tasks.gitrepo import GitRepo

    path = run.workspace.path_of(wanted.name)
    if is_repo_top(path):
        # unreadable: the deps behind it are not reached, as status shows them
        with contextlib.suppress(XlaTasksError):
            rev = run.resolved.get(wanted.name, wanted.dep.rev)
            _read_pins_if_known(run, GitRepo(path, wanted.name), rev)


def _all_pinned_by_root(
    workspace: Workspace, root: str, root_pins: Pins, names: Sequence[str]
) -> bool:
    """Whether every name is a dep the project pins itself, as status lists it (with a
    pin): known without walking the deps' own pins."""
    deps = root_pins.deps
    return all(name != root and name in deps and row_pin(workspace, deps[name]) for name in names)


def _known_deps(
    workspace: Workspace, project_dir: Path, root_pins: Pins, options: TaskOptions
) -> list[str]:
    """The deps a NAMES filter may name: those status lists as pinned (no network)."""
    listing = listing_of(workspace, project_dir, options, strict=True, root_pins=root_pins)
    return [row.name for row in listing.rows if row.pin and not row.project]
