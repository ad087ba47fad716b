"""How `sync` and `checkout` hand repos to the engine, and read back what it did.

The engine (`xla_tasks.engine`) owns every per-repo step; this module only turns the
package's settings (flags, invoke config, the workspace's `[settings]`) into engine
options and engine outcomes into `RepoOutcome`s relative to the workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xla_tasks.engine.model import (
    DEFAULT_CACHE_LOCK_TIMEOUT,
    EngineOptions,
    EventCallback,
    Repo,
)
from xla_tasks.engine.sync import sync_repos
from xla_tasks.ui.results import RepoOutcome
from xla_tasks.workspace.registry import Workspace
from xla_tasks.workspace.settings import TaskOptions


def engine_options(
    options: TaskOptions, workspace: Workspace, *, submodules: bool = True
) -> EngineOptions:
    """Flags and invoke config first, then the workspace's [settings], then defaults."""
    cache = options.cache or workspace.cache
    return EngineOptions(
        jobs=options.jobs_for(workspace.jobs),
        history=options.history or workspace.history or "full",
        cache=str(cache) if cache else None,
        stall_timeout=options.stall_seconds(workspace.stall_timeout),
        heartbeat=options.heartbeat_seconds(workspace.heartbeat),
        dry_run=options.dry_run,
        exclude_submodules=options.exclude_submodules,
        submodules=submodules,
        root=str(workspace.root),
        cache_lock_timeout=options.cache_lock_timeout
        or workspace.cache_lock_timeout
        or DEFAULT_CACHE_LOCK_TIMEOUT,
    )


def place_repos(
    workspace: Workspace,
    repos: Sequence[Repo],
    opts: EngineOptions,
    on_event: EventCallback | None,
) -> list[RepoOutcome]:
    """Run the engine over `repos`; outcomes in input order, paths relative to the root."""
    return [
        RepoOutcome(
            name=done.name,
            path=workspace.relative(Path(done.path)),
            action=done.action,
            old=done.old,
            new=done.new,
            error=done.error,
            notes=list(done.notes),
        )
        for done in sync_repos(repos, opts, on_event)
    ]
