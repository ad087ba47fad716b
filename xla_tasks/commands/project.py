"""Which project a command runs for: the git work tree around the current directory."""

from __future__ import annotations

from pathlib import Path

from ..errors import XlaTasksError
from ..gitrepo import toplevel


def find_project_dir(start: Path) -> Path:
    """The innermost repo holding `start` (so `pytorch/xla` is torch_xla, not pytorch)."""
    top = toplevel(start)
    if top is None:
        raise XlaTasksError(
            f"{start} is not inside a git repository",
            "run this inside a project checkout: the repo that holds sync_deps.toml",
        )
    return top
