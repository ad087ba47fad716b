"""`init`: write `xla-workspace.toml` from a preset, unless a workspace already holds us.

Idempotent like `git init`: inside an existing workspace it only names the root. In a
workspace `openxla-workspace` made (its `.openxla_workspace.json` at the root), it writes
`xla-workspace.toml` at that root and keeps the old file, so both tools keep working there.
"""

from __future__ import annotations

from pathlib import Path

from xla_tasks.fsutil import atomic_write
from xla_tasks.ui.results import CommandResult
from xla_tasks.workspace.registry import (
    DEFAULT_PRESET,
    LEGACY_WORKSPACE_FILE,
    WORKSPACE_FILE,
    find_workspace_root,
    preset_text,
)


def init_workspace(directory: Path, preset: str | None = None) -> CommandResult:
    """Create the registry in `directory`; change nothing if a workspace already covers it.

    `preset` None is the default, openxla; one given inside a workspace is named as not
    applied, so `--preset pytorch-xla` in an openxla workspace is not silently ignored."""
    asked = preset
    preset = preset or DEFAULT_PRESET
    text = preset_text(preset)  # validates the preset name before anything else
    result = CommandResult(command="init")
    root = find_workspace_root(directory)
    if root is not None and not (root / WORKSPACE_FILE).is_file():
        path = root / WORKSPACE_FILE
        atomic_write(path, text)
        result.messages.append(
            f"created {path} (preset {preset}) in the workspace openxla-workspace made; "
            f"its {LEGACY_WORKSPACE_FILE} is kept, so both tools work here"
        )
        result.data.update(root=str(root), created=True, preset=preset, kept=LEGACY_WORKSPACE_FILE)
        return result
    if root is not None:
        line = f"already in a workspace: {root} ({WORKSPACE_FILE}); nothing changed"
        if asked:
            line += (
                f", so --preset {asked} is not applied: for a {asked} workspace, "
                f"run init in a folder outside {root}"
            )
        result.messages.append(line)
        result.data.update(root=str(root), created=False)
        return result
    path = directory.resolve() / WORKSPACE_FILE
    atomic_write(path, text)
    result.messages.append(f"created {path} (preset {preset})")
    result.messages.append("next: xla-tasks checkout NAME[,NAME...]")
    result.data.update(root=str(path.parent), created=True, preset=preset)
    return result
