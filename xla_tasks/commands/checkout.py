"""`checkout`: clone named repos and, recursively, their deps.

Deps of a repo come from its own `sync_deps.toml` once cloned (what the project really
builds against), else from the registry's `deps`. The walk goes level by level, each
level cloned in parallel. A repo nested inside another (torch_xla at `pytorch/xla`)
needs its container first, so the container joins the level and clones in an earlier
wave. Existing clones are left exactly as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xla_tasks.engine.disk import is_repo_top
from xla_tasks.engine.model import EventCallback, Repo, absolute_url
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
    """Clone `names` (and their deps) into the workspace around `start`."""
    workspace = open_workspace(start)
    if not names:
        raise XlaTasksError("checkout needs at least one NAME", "e.g. checkout iree,jax")
    for name in names:
        workspace.require(name)
    opts = engine_options(options, workspace, submodules=submodules)
    result = CommandResult(command="checkout")
    with workspace_lock(workspace.root, "checkout", options.lock_timeout):
        level = [_registry_target(workspace, name, read_only) for name in names]
        seen = set(names)
        while level:
            level = _with_containers(workspace, level, seen, read_only)
            targets = [_engine_repo(target) for target in level]
            outcomes = place_repos(workspace, targets, opts, on_event)
            result.outcomes.extend(outcomes)
            if not with_deps:
                break
            level = _next_level(workspace, level, outcomes, seen, options, read_only)
    if then_sync and result.ok:
        _sync_named(workspace, names, options, result, on_event)
    return result


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
    workspace: Workspace,
    names: list[str],
    options: TaskOptions,
    result: CommandResult,
    on_event: EventCallback | None,
) -> None:
    """`checkout --sync`: run sync in each named repo, after the checkout lock is released."""
    from xla_tasks.workspace.syncing import sync_project as sync

    for name in names:
        synced = sync(workspace.path_of(name), options, on_event=on_event)
        result.messages.extend(synced.messages)
        result.warnings.extend(synced.warnings)
        for outcome in synced.outcomes:
            outcome.notes.append(f"sync of {name}")
            result.outcomes.append(outcome)
