"""`checkout`: clone named repos and, recursively, their deps.

Deps of a repo come from its own `sync_deps.toml` once cloned (what the project really
builds against), else from the registry's `deps`. The walk goes level by level, each
level cloned in parallel. A repo nested inside another (torch_xla at `pytorch/xla`)
needs its container first, so the container joins the level and clones in an earlier
wave. Existing clones are left exactly as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xla_tasks.engine.disk import is_repo_top
from xla_tasks.engine.model import EngineOptions, EventCallback, Repo, absolute_url
from xla_tasks.errors import XlaTasksError
from xla_tasks.pins.project import read_project_pins
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.lock import workspace_lock
from xla_tasks.workspace.placement import engine_options, place_repos
from xla_tasks.workspace.registry import Workspace, open_workspace
from xla_tasks.workspace.settings import TaskOptions


@dataclass(frozen=True, slots=True)
class Target:
    """A repo to clone: from the registry, or a dep only a pin file knows."""

    name: str
    url: str
    branch: str
    path: Path
    submodules: bool


def checkout(
    start: Path,
    names: list[str],
    options: TaskOptions,
    *,
    with_deps: bool = True,
    submodules: bool = True,
    read_only: bool = False,
    then_sync: bool = False,
    on_event: EventCallback | None = None,
) -> CommandResult:
    """Clone `names` (and their deps) into the workspace around `start`.

    With `then_sync`, the deps the named projects pin are cloned once, by the sync, at
    their pins (never at their branch tips first); the walk then clones only what no pin
    names (registry `deps` of repos without a pin file) on its branch.
    """
    workspace = open_workspace(start)
    if not names:
        raise XlaTasksError("checkout needs at least one NAME", "e.g. checkout iree,jax")
    for name in names:
        workspace.require(name)
    walk = _Walk(
        workspace,
        options,
        engine_options(options, workspace, submodules=submodules),
        read_only,
        on_event,
        CommandResult(command="checkout"),
        set(names),
    )
    named = [_registry_target(workspace, name, read_only) for name in names]
    with workspace_lock(workspace.root, "checkout", options.lock_timeout):
        named, named_outcomes = walk.place(named)
        if with_deps and not then_sync:
            walk.deps_of(named, named_outcomes)
    if then_sync:
        if walk.result.ok:
            _sync_named(workspace, names, options, walk, read_only)
        if with_deps:
            with workspace_lock(workspace.root, "checkout", options.lock_timeout):
                walk.deps_of(named, named_outcomes)
    return walk.result


@dataclass(slots=True)
class _Walk:
    """Checkout's level-by-level walk; repos a sync already placed are walked, not placed."""

    workspace: Workspace
    options: TaskOptions
    engine: EngineOptions
    read_only: bool
    on_event: EventCallback | None
    result: CommandResult
    seen: set[str]
    synced: dict[str, RepoOutcome] = field(default_factory=dict)

    def place(self, level: list[Target]) -> tuple[list[Target], list[RepoOutcome]]:
        """Clone a level and the containers it needs; returns them with their outcomes."""
        level = _with_containers(self.workspace, level, self.seen, self.read_only)
        todo = [_engine_repo(t) for t in level if t.name not in self.synced]
        placed = place_repos(self.workspace, todo, self.engine, self.on_event)
        self.result.outcomes.extend(placed)
        return level, placed + [self.synced[t.name] for t in level if t.name in self.synced]

    def deps_of(self, level: list[Target], outcomes: list[RepoOutcome]) -> None:
        """Clone the deps of `level`, level by level."""
        while level := _next_level(
            self.workspace, level, outcomes, self.seen, self.options, self.read_only
        ):
            level, outcomes = self.place(level)


def _registry_target(workspace: Workspace, name: str, read_only: bool) -> Target:
    spec = workspace.repos[name]
    url = absolute_url(spec.clone_url(read_only), str(workspace.root))  # relative: to the registry
    return Target(name, url, spec.branch, workspace.path_of(name), spec.submodules)


def _with_containers(
    workspace: Workspace, level: list[Target], seen: set[str], read_only: bool
) -> list[Target]:
    """Add the registered repos that enclose a target's path and are not cloned yet."""
    extra: list[Target] = []
    for target in level:
        for spec in workspace.repos.values():
            outer = workspace.path_of(spec.name)
            if spec.name in seen or outer == target.path or is_repo_top(outer):
                continue
            if target.path.is_relative_to(outer):
                seen.add(spec.name)
                extra.append(_registry_target(workspace, spec.name, read_only))
    return extra + level


def _next_level(
    workspace: Workspace,
    level: list[Target],
    outcomes: list[RepoOutcome],
    seen: set[str],
    options: TaskOptions,
    read_only: bool,
) -> list[Target]:
    ok = {o.name for o in outcomes if not o.failed}
    found: list[Target] = []
    for target in level:
        if target.name not in ok:
            continue
        for dep in _deps_of(workspace, target, read_only):
            if dep.name not in seen and not options.excludes_dep(dep.name):
                seen.add(dep.name)
                found.append(dep)
    return found


def _deps_of(workspace: Workspace, target: Target, read_only: bool) -> list[Target]:
    """The project's own pins when it has a pin file, else the registry's `deps`."""
    pins = read_project_pins(target.path, workspace.catalog(), target.name)
    if pins is None:
        spec = workspace.repos.get(target.name)
        names = spec.deps if spec else ()
        return [_registry_target(workspace, name, read_only) for name in names]
    targets = []
    for dep in pins.deps.values():
        if dep.name in workspace.repos:
            targets.append(_registry_target(workspace, dep.name, read_only))
        else:
            url = absolute_url(dep.url, str(target.path))  # relative: to its pin file
            targets.append(
                Target(dep.name, url, dep.branch, workspace.path_of(dep.name), dep.submodules)
            )
    return targets


def _engine_repo(target: Target) -> Repo:
    """A clone on the tracking branch; an existing clone is left exactly as it is."""
    return Repo(
        name=target.name,
        path=str(target.path),
        url=target.url,
        branch=target.branch,
        submodules=target.submodules,
    )


def _sync_named(
    workspace: Workspace, names: list[str], options: TaskOptions, walk: _Walk, read_only: bool
) -> None:
    """`checkout --sync`: run sync in each named repo, after the checkout lock is released.

    The deps it clones get their origin as checkout gives it (`push_url` unless --ro)."""
    from xla_tasks.workspace.syncing import sync_project as sync

    origins = {
        name: spec.clone_url(read_only)
        for name, spec in workspace.repos.items()
        if spec.clone_url(read_only) != spec.url
    }
    for name in names:
        synced = sync(
            workspace.path_of(name),
            options,
            on_event=walk.on_event,
            origins=origins,
            workspace=workspace,
        )
        walk.result.messages.extend(synced.messages)
        walk.result.warnings.extend(synced.warnings)
        for outcome in synced.outcomes:
            outcome.notes.append(f"sync of {name}")
            walk.result.outcomes.append(outcome)
            walk.synced.setdefault(outcome.name, outcome)
