"""The demo's narrative: each step runs a real command and prints what a user would see."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import XlaTasksError
from .fsutil import atomic_write
from .report import print_result
from .settings import Options
from .workspace import WORKSPACE_FILE


def _step(title: str) -> None:
    sys.stdout.write(f"\n$ {title}\n")
    sys.stdout.flush()


def run_steps(directory: Path) -> None:
    from .commands.checkout import checkout
    from .demo import allow_local_submodules, build_upstreams, registry_text

    if directory.exists() and any(directory.iterdir()):
        raise XlaTasksError(f"demo: {directory} is not empty", "choose a new directory")
    allow_local_submodules()
    upstreams = directory.resolve() / "upstreams"
    workspace = directory.resolve() / "workspace"
    workspace.mkdir(parents=True)
    _step(f"# build local upstream repos in {upstreams}")
    urls = build_upstreams(upstreams)
    for name, url in urls.items():
        sys.stdout.write(f"{name}: {url}\n")
    _step(f"cd {workspace} && xla-tasks init   # registry pointing at the local upstreams")
    atomic_write(workspace / WORKSPACE_FILE, registry_text(urls))
    sys.stdout.write(f"created {workspace / WORKSPACE_FILE}\n")
    options = Options()
    _step("xla-tasks checkout openxla-pjrt-plugin")
    result = checkout(workspace, ["openxla-pjrt-plugin"], options)
    print_result(result, as_json=False)
    if not result.ok:
        raise XlaTasksError("demo: checkout failed")
    sys.stdout.write(f"\ndemo done: the workspace is {workspace}\n")
