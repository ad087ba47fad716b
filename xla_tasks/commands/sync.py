"""`sync`: put every dep of a project, transitively, on its pinned commit (contract 3.1).

The walk is breadth-first (`depgraph.walk_pins`): each level goes to the engine
(`xla_tasks.engine`, which owns every per-repo step and runs them in parallel), then the
pin files of the deps that landed give the next level. The root project itself is never
moved. Safety (contract 4) lives in the engine: a dep with uncommitted changes or a
rebase/merge/bisect in progress is left alone, a detached HEAD holding commits no ref
holds is saved on a branch first, and nothing is ever reset or cleaned.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import engine
from ..depgraph import Wanted, walk_pins
from ..engine import EventCallback
from ..errors import XlaTasksError
from ..lock import workspace_lock
from ..pinfiles import read_root_pins
from ..pins import PIN_FILE, SCRIPT_FILE, Pins, read_project_pins
from ..results import CommandResult, RepoOutcome
from ..settings import Options
from ..workspace import Workspace, start_pinning_hint, workspace_for_project
from .place import engine_options, place_repos
from .project import find_project_dir

if TYPE_CHECKING:
    from ..gitrepo import GitRepo

PIN_REF = engine.PIN_REF


@dataclass(slots=True)
class SyncRun:
    """One sync: where things are, what was asked, and the pins read from landed deps."""

    project_dir: Path
    root: str
    workspace: Workspace
    options: Options
    engine: engine.Options
    on_event: EventCallback | None = None
    pins_read: dict[str, Pins] = field(default_factory=dict)


def sync(start: Path, options: Options, *, on_event: EventCallback | None = None) -> CommandResult:
    """Put every dep of the project around `start` on its pin; per-repo failures are listed."""
    project_dir = find_project_dir(start)
    workspace = workspace_for_project(project_dir)
    root_pins, script_warnings = read_root_pins(project_dir)  # refuses a rewritten script
    if root_pins is None:
        raise XlaTasksError(
            f"{project_dir} has no {PIN_FILE} (nor a legacy {SCRIPT_FILE}): nothing to sync",
            f"run sync in a project checkout, or {start_pinning_hint(project_dir)}",
        )
    run = SyncRun(
        project_dir=project_dir,
        root=project_name(workspace, project_dir),
        workspace=workspace,
        options=options,
        engine=engine_options(options, workspace),
        on_event=on_event,
    )
    result = CommandResult(command="sync", warnings=script_warnings)
    with workspace_lock(workspace.root, "sync", options.lock_timeout, dry_run=options.dry_run):
        _walk(run, root_pins, result)
    return result


def project_name(workspace: Workspace, project_dir: Path) -> str:
    """The project's registry name when it is registered, else its directory's name."""
    here = project_dir.resolve()
    for name in workspace.repos:
        if workspace.path_of(name).resolve() == here:
            return name
    return project_dir.name


def _walk(run: SyncRun, root_pins: Pins, result: CommandResult) -> None:
    def process(level: list[Wanted]) -> list[tuple[str, Pins]]:
        result.outcomes.extend(_sync_level(run, level))
        return [(w.name, run.pins_read[w.name]) for w in level if w.name in run.pins_read]

    walk = walk_pins(run.root, root_pins, process, is_excluded=run.options.excludes_dep)
    for wanted in walk.excluded:
        path = run.workspace.relative(run.workspace.path_of(wanted.name))
        result.outcomes.append(
            RepoOutcome(name=wanted.name, path=path, action="skipped (--exclude-dep)")
        )
    result.warnings.extend(conflict.message() for conflict in walk.conflicts)
    total = len(walk.settled) - len(walk.excluded)
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
    todo = [w for w in level if str(run.workspace.path_of(w.name).resolve()) != project]
    outcomes = {
        outcome.name: outcome
        for outcome in place_repos(
            run.workspace, [_engine_repo(run, w) for w in todo], run.engine, run.on_event
        )
    }
    for wanted in level:
        outcome = outcomes.get(wanted.name)
        if outcome is None:
            path = run.workspace.relative(run.workspace.path_of(wanted.name))
            action = "skipped (the project being synced is never moved)"
            outcomes[wanted.name] = RepoOutcome(wanted.name, path, action, new=wanted.dep.rev)
        elif not outcome.failed:
            _after_landing(run, wanted, outcome)
    return [outcomes[w.name] for w in level]


def _engine_repo(run: SyncRun, wanted: Wanted) -> engine.Repo:
    dep = wanted.dep
    notes = (f"pinned by {wanted.asked_by}",) if wanted.asked_by != run.root else ()
    return engine.Repo(
        name=dep.name,
        path=str(run.workspace.path_of(dep.name)),
        url=dep.url,
        rev=dep.rev,
        branch=dep.branch,
        submodules=dep.submodules,
        exclude_submodules=dep.exclude_submodules,
        notes=notes,
    )


def _after_landing(run: SyncRun, wanted: Wanted, outcome: RepoOutcome) -> None:
    """Read the dep's own pins (the next level); a broken pin file fails that dep only."""
    path = run.workspace.path_of(wanted.name)
    try:
        if not run.options.dry_run:
            _read_pins(run, wanted.name, path)
        elif outcome.action == "would clone":
            outcome.notes.append("its own pins are read once it is cloned")
        else:
            from ..gitrepo import GitRepo

            _read_pins_if_known(run, GitRepo(path, wanted.name), wanted.dep.rev)
    except XlaTasksError as err:
        outcome.error = str(err)


def _read_pins(run: SyncRun, name: str, path: Path) -> None:
    pins = read_project_pins(path)
    if pins is not None:
        run.pins_read[name] = pins


def _read_pins_if_known(run: SyncRun, repo: GitRepo, rev: str) -> None:
    pins = read_pins_at(repo, rev)
    if pins is not None:
        run.pins_read[repo.name] = pins


def read_pins_at(repo: GitRepo, rev: str) -> Pins | None:
    """A dep's pins as of commit `rev` without moving it: from disk when HEAD is `rev`,
    else from the commit when it is present locally; None when unknown or absent."""
    if repo.rev_parse("HEAD") == rev:
        return read_project_pins(repo.path)
    if not repo.has_commit(rev):
        return None
    texts = {name: repo.read_file_at(rev, name) for name in (PIN_FILE, SCRIPT_FILE)}
    if not any(texts.values()):
        return None
    with tempfile.TemporaryDirectory(prefix=f"{repo.name}@{rev[:12]}-") as tmp:
        for name, text in texts.items():
            if text is not None:
                (Path(tmp) / name).write_text(text, encoding="utf-8")
        return read_project_pins(Path(tmp))
