"""How `sync` and `checkout` hand repos to the engine, and read back what it did.

The engine (`xla_tasks.engine`) owns every per-repo step; this module only turns the
package's settings (flags, invoke config, the workspace's `[settings]`) into engine
options and engine outcomes into `RepoOutcome`s relative to the workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .. import engine
from ..engine import EventCallback
from ..parallel import default_jobs
from ..results import RepoOutcome
from ..settings import Options
from ..workspace import Workspace


def engine_options(
    options: Options, workspace: Workspace, *, submodules: bool = True
) -> engine.Options:
    """Flags and invoke config first, then the workspace's [settings], then defaults."""
    cache = options.cache or workspace.cache
    return engine.Options(
        jobs=options.jobs or workspace.jobs or default_jobs(),
        history=options.history or workspace.history or "full",
        cache=str(cache) if cache else None,
        stall_timeout=options.stall_seconds(workspace.stall_timeout),
        dry_run=options.dry_run,
        exclude_submodules=options.exclude_submodules,
        submodules=submodules,
        root=str(workspace.root),
        clean_stale_temps=not options.dry_run,  # callers hold the workspace lock
    )


def place_repos(
    workspace: Workspace,
    repos: Sequence[engine.Repo],
    opts: engine.Options,
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
        for done in engine.sync_repos(repos, opts, on_event)
    ]
