"""`sync`: put every dep of a project, transitively, on its pinned commit (contract 3.1).

The walk is breadth-first (`depgraph.walk_pins`): each level is synced in parallel, then
the pin files of the deps that landed give the next level. Per dep: clone if missing,
fetch only when the pinned commit is absent, check it out detached, update flagged
submodules. Safety (contract 4): a dep with uncommitted changes to tracked files is left
alone, a detached HEAD holding commits no ref holds is saved on a branch first, and
nothing is ever reset or cleaned. The root project itself is never moved.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..depgraph import Wanted, walk_pins
from ..engine import Event, EventCallback
from ..errors import DirtyRepoError, XlaTasksError
from ..gitrepo import GitRepo, RepoState, clone_detached
from ..lock import workspace_lock
from ..parallel import default_jobs, run_nested_last
from ..pins import PIN_FILE, SCRIPT_FILE, Dep, Pins, read_project_pins
from ..report import events_to, outcome_event
from ..results import CommandResult, RepoOutcome
from ..settings import Options
from ..workspace import Workspace, workspace_for_project
from .place import has_clone
from .project import find_project_dir

# Where sync leaves the commit it checked out. It makes that commit "held by a ref", so a
# later sync moving off it does not mistake it for the user's orphan work, and it keeps a
# commit fetched by id from being garbage-collected while it is checked out.
PIN_REF = "refs/remotes/xla-tasks/pinned"


@dataclass(slots=True)
class SyncRun:
    """One sync: where things are, what was asked, and the pins read from landed deps."""

    project_dir: Path
    root: str
    workspace: Workspace
    options: Options
    jobs: int
    pins_read: dict[str, Pins] = field(default_factory=dict)
    on_event: EventCallback = field(default=events_to(None))

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.workspace.root))
        except ValueError:
            return str(path)


def sync(start: Path, options: Options, *, on_event: EventCallback | None = None) -> CommandResult:
    """Put every dep of the project around `start` on its pin; per-repo failures are listed.

    `on_event` hears each dep start and finish as it happens (progress.py prints them)."""
    project_dir = find_project_dir(start)
    workspace = workspace_for_project(project_dir)
    root_pins = read_project_pins(project_dir)
    if root_pins is None:
        raise XlaTasksError(
            f"{project_dir} has no {PIN_FILE} (nor a legacy {SCRIPT_FILE}): nothing to sync",
            "run sync in a project checkout, or start pinning with `xla-tasks pin --add NAME`",
        )
    run = SyncRun(
        project_dir=project_dir,
        root=project_name(workspace, project_dir),
        workspace=workspace,
        options=options,
        jobs=options.jobs or workspace.jobs or default_jobs(),
        on_event=events_to(on_event),
    )
    result = CommandResult(command="sync")
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
        path = run.workspace.path_of(wanted.name)
        skipped = RepoOutcome(
            name=wanted.name, path=run.rel(path), action="skipped (--exclude-dep)"
        )
        run.on_event(outcome_event(skipped))
        result.outcomes.append(skipped)
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
    """Sync one level in parallel, in waves so a container repo lands before nested ones."""
    return run_nested_last(
        level,
        lambda w: _sync_guarded(run, w),
        lambda w: w.name,
        lambda w: run.workspace.path_of(w.name),
        run.jobs,
    )


def _sync_guarded(run: SyncRun, wanted: Wanted) -> RepoOutcome:
    """Sync one dep; a failure lands on its outcome, keeping the notes made so far."""
    path = run.workspace.path_of(wanted.name)
    outcome = RepoOutcome(name=wanted.name, path=run.rel(path), new=wanted.dep.rev)
    if wanted.asked_by != run.root:
        outcome.notes.append(f"pinned by {wanted.asked_by}")
    run.on_event(Event(wanted.name, "start", outcome.path))
    try:
        _sync_dep(run, wanted.dep, path, outcome)
    except XlaTasksError as err:
        outcome.error = str(err)
    except OSError as err:  # e.g. no permission to create the dep's folder: this dep only
        outcome.error = f"{wanted.name}: {err}"
    run.on_event(outcome_event(outcome))
    return outcome


def _sync_dep(run: SyncRun, dep: Dep, path: Path, outcome: RepoOutcome) -> None:
    if path.resolve() == run.project_dir.resolve():
        outcome.action = "skipped (the project being synced is never moved)"
        return
    if not has_clone(dep.name, path, run.workspace.root):
        _clone(run, dep, path, outcome)
        return
    repo = GitRepo(path, dep.name)
    if run.options.dry_run:
        _plan_move(repo, dep, outcome)
        _read_pins_if_known(run, repo, dep)
        return
    before = _move(repo, dep, outcome)
    _update_submodules(run, repo, dep, outcome, keep=before.changed)
    _read_pins(run, dep.name, path)


def _clone(run: SyncRun, dep: Dep, path: Path, outcome: RepoOutcome) -> None:
    outcome.notes.append(f"from {dep.url}")
    if run.options.dry_run:
        outcome.action = "would clone"
        outcome.notes.append("its own pins are read once it is cloned")
        return
    repo = clone_detached(dep.url, path, dep.rev, repo=dep.name, branch=dep.branch)
    outcome.action = "cloned"
    repo.set_ref(PIN_REF, dep.rev)
    _update_submodules(run, repo, dep, outcome)
    _read_pins(run, dep.name, path)


def _move(repo: GitRepo, dep: Dep, outcome: RepoOutcome) -> RepoState:
    """Check out the pin detached; never over uncommitted work, never losing orphan commits.

    Returns the state found before, whose changed paths (submodules included) are the user's.
    """
    state = repo.state()
    outcome.old = state.head
    if state.head == dep.rev:
        outcome.action = "already at pin"
        if state.is_dirty:
            where = f", on branch {state.branch}" if state.branch else ""
            outcome.notes.append(
                f"{len(state.changed)} uncommitted change(s) left as they are{where}"
            )
        elif state.branch:
            repo.checkout_detached(dep.rev)  # same commit: the work tree does not change
            outcome.notes.append(f"detached from branch {state.branch}, which is unchanged")
        repo.set_ref(PIN_REF, dep.rev)
        return state
    if state.is_dirty:
        raise DirtyRepoError(dep.name, state.changed)
    outcome.action = "checked out"
    if not repo.has_commit(dep.rev):
        repo.fetch_commit(dep.url, dep.rev, dep.branch)
        outcome.action = "fetched"
    saved = repo.save_orphan_head(keep=dep.rev, state=state)
    if saved:
        outcome.notes.append(f"saved the previous HEAD {(state.head or '')[:12]} on branch {saved}")
    repo.checkout_detached(dep.rev)
    repo.set_ref(PIN_REF, dep.rev)
    return state


def _plan_move(repo: GitRepo, dep: Dep, outcome: RepoOutcome) -> None:
    """What `_move` would do, touching nothing."""
    state = repo.state()
    outcome.old = state.head
    if state.head == dep.rev:
        outcome.action = "up to date"
        if state.branch and not state.is_dirty:
            outcome.notes.append(f"would detach from branch {state.branch}")
        return
    if state.is_dirty:
        raise DirtyRepoError(dep.name, state.changed)
    has_pin = repo.has_commit(dep.rev)
    outcome.action = "would check out" if has_pin else "would fetch and check out"
    if state.branch is None and state.head and not repo.is_reachable_from_refs(state.head):
        outcome.notes.append(f"would first save HEAD {state.head[:12]} on a branch")
    if dep.submodules:
        outcome.notes.append("then its submodules")


def _update_submodules(
    run: SyncRun, repo: GitRepo, dep: Dep, outcome: RepoOutcome, keep: tuple[str, ...] = ()
) -> None:
    """Check out the submodules not at their recorded commit, except excluded ones and those
    the user changed (`keep`: another commit checked out, or local edits)."""
    if not dep.submodules:
        return
    paths = repo.submodule_paths()
    kept = [p for p in paths if not run.options.excludes_submodule(dep.name, p)]
    skipped = [p for p in paths if p not in kept]
    stale = repo.submodules_out_of_date(kept)
    mine = [p for p in stale if p in keep]
    stale = [p for p in stale if p not in keep]
    repo.update_submodules(stale)
    if stale:
        outcome.notes.append(f"updated submodule(s) {', '.join(stale)}")
    if skipped:
        outcome.notes.append(f"excluded submodule(s) {', '.join(skipped)}")
    if mine:
        outcome.notes.append(f"left submodule(s) with local changes as they are: {', '.join(mine)}")


def _read_pins(run: SyncRun, name: str, path: Path) -> None:
    pins = read_project_pins(path)
    if pins is not None:
        run.pins_read[name] = pins


def _read_pins_if_known(run: SyncRun, repo: GitRepo, dep: Dep) -> None:
    pins = read_pins_at(repo, dep.rev)
    if pins is not None:
        run.pins_read[dep.name] = pins


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
