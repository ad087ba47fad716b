"""Which project a command runs for: the git work tree around the current directory."""

from __future__ import annotations

from pathlib import Path

from ..engine import is_repo_top
from ..errors import XlaTasksError


def find_project_dir(start: Path) -> Path:
    """The innermost repo holding `start` (so `pytorch/xla` is torch_xla, not pytorch).

    Found on disk, the way git looks for `.git` (no process); git is asked only when the
    disk says nothing (say, a work tree whose `.git` lives elsewhere).
    """
    here = start.absolute()
    for folder in (here, *here.parents):
        if is_repo_top(folder):
            return folder
    from ..gitrepo import toplevel

    top = toplevel(start)
    if top is None:
        raise XlaTasksError(
            f"{start} is not inside a git repository",
            "run this inside a project checkout: the repo that holds sync_deps.toml",
        )
    return top
