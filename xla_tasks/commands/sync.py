"""`sync`: put every dep of the project you stand in, transitively, on its pinned commit."""

from __future__ import annotations

from pathlib import Path

from xla_tasks.engine.model import EventCallback
from xla_tasks.ui.results import CommandResult
from xla_tasks.workspace.settings import TaskOptions
from xla_tasks.workspace.syncing import sync_project


def sync(
    start: Path, options: TaskOptions, *, on_event: EventCallback | None = None
) -> CommandResult:
    """Put every dep of the project around `start` on its pin; per-repo failures are listed."""
    return sync_project(start, options, on_event=on_event)
