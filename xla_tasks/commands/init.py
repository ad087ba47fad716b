"""`init`: write `xla-workspace.toml` from a preset, unless a workspace already holds us.

Idempotent like `git init`: inside an existing workspace it only names the root.
"""

from __future__ import annotations

from pathlib import Path

from ..fsutil import atomic_write
from ..results import CommandResult
from ..workspace import WORKSPACE_FILE, find_workspace_root, preset_text


def init_workspace(directory: Path, preset: str = "openxla") -> CommandResult:
    """Create the registry in `directory`; change nothing if a workspace already covers it."""
    text = preset_text(preset)  # validates the preset name before anything else
    result = CommandResult(command="init")
    root = find_workspace_root(directory)
    if root is not None:
        result.messages.append(
            f"already in a workspace: {root} ({WORKSPACE_FILE}); nothing changed"
        )
        result.data.update(root=str(root), created=False)
        return result
    path = directory.resolve() / WORKSPACE_FILE
    atomic_write(path, text)
    result.messages.append(f"created {path} (preset {preset})")
    result.messages.append("next: xla-tasks checkout NAME[,NAME...]")
    result.data.update(root=str(path.parent), created=True, preset=preset)
    return result
