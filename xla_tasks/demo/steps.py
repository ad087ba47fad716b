"""The demo's narrative: each step runs a real command and prints what a user would see."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from xla_tasks.commands.checkout import checkout
from xla_tasks.commands.pin import pin
from xla_tasks.commands.roll import roll
from xla_tasks.commands.status import status
from xla_tasks.commands.sync import sync
from xla_tasks.commands.update_repos import update_repos
from xla_tasks.demo.upstreams import (
    allow_local_submodules,
    build_upstreams,
    commit,
    registry_text,
)
from xla_tasks.errors import XlaTasksError
from xla_tasks.fsutil import atomic_write
from xla_tasks.ui.report import print_result
from xla_tasks.ui.results import CommandResult
from xla_tasks.workspace.registry import WORKSPACE_FILE
from xla_tasks.workspace.settings import TaskOptions


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _run(title: str, command: Callable[[], CommandResult]) -> CommandResult:
    _say(f"\n$ {title}")
    result = command()
    print_result(result, as_json=False)
    sys.stdout.flush()
    if not result.ok:
        raise XlaTasksError(f"demo: `{title}` failed")
    return result


def _git_commit(project: Path, message: str) -> None:
    for args in (["add", "-A"], ["commit", "-q", "-m", message]):
        done = subprocess.run(
            ["git", *args], cwd=project, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise XlaTasksError(f"demo: git {args[0]} failed: {done.stderr.strip()}")
    head = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    _say(head.stdout.strip())


def run_demo(directory: Path) -> None:
    """Build upstreams in DIR/upstreams, a workspace in DIR/workspace, and run the tasks."""

    if directory.exists() and any(directory.iterdir()):
        raise XlaTasksError(f"demo: {directory} is not empty", "choose a new directory")
    allow_local_submodules()
    upstreams = directory.resolve() / "upstreams"
    ws = directory.resolve() / "workspace"
    ws.mkdir(parents=True)
    project = ws / "openxla-pjrt-plugin"
    options = TaskOptions()
    _say(f"# Local 'upstream' repos in {upstreams} (a leaf project pinning iree, jax, xla;")
    _say("# iree has a submodule; jax pins an older xla than the project does)")
    urls = build_upstreams(upstreams)
    _say(f"\n$ cd {ws} && xla-tasks init   # then point the registry at the local upstreams")
    atomic_write(ws / WORKSPACE_FILE, registry_text(urls))
    _say(f"wrote {ws / WORKSPACE_FILE}")
    _run(
        "xla-tasks checkout --sync openxla-pjrt-plugin",
        lambda: checkout(ws, ["openxla-pjrt-plugin"], options, then_sync=True),
    )
    _say(f"\n$ cd {project}")
    _run(
        "xla-tasks pin   # sync_deps.py is generated from sync_deps.toml",
        lambda: pin(project, options),
    )
    _run("xla-tasks pin --check   # what CI runs", lambda: pin(project, options, check=True))
    _say("\n$ git add sync_deps.py && git commit -m 'Add generated sync_deps.py'")
    _git_commit(project, "Add generated sync_deps.py")
    _run("xla-tasks status", lambda: status(project, options))
    _say("\n# upstream xla moves on")
    commit(upstreams / "xla.git", {"xla/new_pass.cc": "// new pass\n"}, "xla: add a pass")
    rolled = _run(
        "xla-tasks roll nightly   # summary ready for a commit message",
        lambda: roll(project, "nightly", options),
    )
    _say('\n$ git commit -am "$(the summary above)"   # a bot opens a pull request from it')
    _git_commit(project, "\n".join(rolled.messages))
    _run(
        "xla-tasks sync   # only xla is fetched; the others are already on their pins",
        lambda: sync(project, options),
    )
    _say("\n$ python3 -I sync_deps.py   # what a CI bot with only python3 and git runs")
    done = subprocess.run(
        [sys.executable, "-I", "sync_deps.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    _say((done.stdout + done.stderr).rstrip())
    _say("\n# upstream jax moves on; bring the local clones' main branches up to date")
    commit(upstreams / "jax.git", {"jax/api.py": "# new api\n"}, "jax: new api")
    _run(
        "xla-tasks update-repos -b xla --no-push",
        lambda: update_repos(ws / "xla", options, base="xla", push=False),
    )
    _say(f"\ndemo done: the workspace is {ws}")
