"""The demo's narrative: each step runs the real `xla-tasks` program, as a user would.

Every `$ xla-tasks ...` line is followed by exactly what that command prints (stdout and
stderr in one stream, in the order written), because it is that command: the program runs
as a subprocess in the folder the transcript names. Only the scene-setting (the local
upstreams, pointing the registry at them, the commits upstream makes meanwhile) is the
demo's own, and says so.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from xla_tasks.demo.upstreams import (
    LOCAL_SUBMODULES_NOTE,
    allow_local_submodules,
    build_upstreams,
    commit,
    registry_text,
)
from xla_tasks.errors import XlaTasksError
from xla_tasks.fsutil import atomic_write
from xla_tasks.workspace.registry import WORKSPACE_FILE


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _run(argv: list[str], cwd: Path, comment: str = "") -> str:
    """`$ xla-tasks ARGV` in `cwd`, its output shown as it comes; fails the demo if it fails."""
    _say(f"\n$ {shlex.join(['xla-tasks', *argv])}" + (f"   # {comment}" if comment else ""))
    return _shell([sys.executable, "-m", "xla_tasks", *argv], cwd, f"xla-tasks {argv[0]}")


def as_a_user_sees(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `args` with stdout and stderr in one stream, in the order written (a log's view)."""
    return subprocess.run(
        args,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        env=env,
    )


def _shell(args: list[str], cwd: Path, what: str) -> str:
    done = as_a_user_sees(args, cwd)
    sys.stdout.write(done.stdout)
    sys.stdout.flush()
    if done.returncode != 0:
        raise XlaTasksError(f"demo: `{what}` failed (exit {done.returncode})")
    return done.stdout


def _git(args: list[str], cwd: Path) -> str:
    _say(f"\n$ {shlex.join(['git', *args])}")
    return _shell(["git", *args], cwd, f"git {args[0]}")


def run_demo(directory: Path) -> None:
    """Build upstreams in DIR/upstreams, a workspace in DIR/workspace, and run the tasks."""
    if directory.exists() and any(directory.iterdir()):
        raise XlaTasksError(f"demo: {directory} is not empty", "choose a new directory")
    upstreams = directory.resolve() / "upstreams"
    ws = directory.resolve() / "workspace"
    ws.mkdir(parents=True)
    project = ws / "openxla-pjrt-plugin"
    _say(f"# Local 'upstream' repos in {upstreams}: a leaf project pinning iree, jax and xla;")
    _say("# iree has a submodule; jax pins an older xla than the project does.")
    urls = build_upstreams(upstreams)
    _say(f"# {LOCAL_SUBMODULES_NOTE}")
    allow_local_submodules()
    _say(f"\n$ cd {ws}")
    _run(["init"], ws)
    _say(f"\n# The demo points {WORKSPACE_FILE} at the local upstreams (url = file://...).")
    atomic_write(ws / WORKSPACE_FILE, registry_text(urls))
    _run(["checkout", "--sync", "openxla-pjrt-plugin"], ws)
    _say(f"\n$ cd {project}")
    _run(["pin"], project, "sync_deps.py is generated from sync_deps.toml")
    _run(["pin", "--check"], project, "what CI runs")
    _git(["add", "sync_deps.py"], project)
    _git(["commit", "-q", "-m", "Add generated sync_deps.py"], project)
    _run(["status"], project)
    _say("\n# Upstream xla moves on (the demo commits to its local upstream).")
    commit(upstreams / "xla.git", {"xla/new_pass.cc": "// new pass\n"}, "xla: add a pass")
    summary = _run(["roll", "nightly"], project, "its output is a commit message")
    _say('\n$ git commit -q -am "<the summary above>"   # a bot opens a pull request from it')
    _shell(["git", "commit", "-q", "-am", summary.strip()], project, "git commit")
    _run(["sync"], project, "only xla is fetched; the others are already on their pins")
    _say("\n$ python3 -I sync_deps.py   # what a CI bot with only python3 and git runs")
    _shell([sys.executable, "-I", "sync_deps.py"], project, "python3 sync_deps.py")
    _say("\n# Upstream jax moves on; bring the local clones' main branches up to date.")
    commit(upstreams / "jax.git", {"jax/api.py": "# new api\n"}, "jax: new api")
    _run(["update-repos", "-b", "xla", "--no-push"], ws / "xla")
    _say(f"\ndemo done: the workspace is {ws}")
