"""Where a repo goes: one check, shared by checkout and sync, before any clone or move."""

from __future__ import annotations

from pathlib import Path

from ..errors import XlaTasksError
from ..fsutil import is_inside
from ..gitrepo import is_repo_top


def has_clone(name: str, path: Path, root: Path) -> bool:
    """True when a clone is at `path`; False when it is free (absent, or an empty folder).

    Refuses a path that leads outside the workspace `root` (a symlink, say) and a path that
    holds something other than a git repo: neither is ever cloned into or moved.
    """
    if not is_inside(path, root):
        raise XlaTasksError(
            f"{name}: path {path} leads outside the workspace {root}",
            "fix the path or the symlink",
        )
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return False
    if is_repo_top(path):
        return True
    raise XlaTasksError(
        f"{name}: {path} exists and is not a git repository",
        "move it away, or set another path for it in xla-workspace.toml",
    )
