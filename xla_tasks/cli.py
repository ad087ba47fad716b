"""The standalone `xla-tasks` command: invoke's Program over our collection.

A bundled-namespace Program does not read `./invoke.yaml` (invoke only loads project
config next to a discovered tasks.py), so we load it from the workspace root ourselves;
env vars (INVOKE_XLA_TASKS_*) and flags still override it.
"""

from __future__ import annotations

from pathlib import Path

from invoke import Program

from .tasks import ns
from .workspace import find_workspace_root

VERSION = "0.1.0"


class XlaTasksProgram(Program):
    def parse_collection(self) -> None:
        super().parse_collection()
        root = find_workspace_root(Path.cwd())
        if root is not None and self.config is not None:
            self.config.set_project_location(str(root))
            self.config.load_project()


program = XlaTasksProgram(
    namespace=ns,
    version=VERSION,
    name="xla-tasks",
    binary="xla-tasks",
    binary_names=["xla-tasks"],
)
