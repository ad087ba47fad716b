"""One operation at a time per workspace, across real processes; a killed holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from simple_index import fixture_silent_port  # noqa: F401 (the fixture)
from syncing import clone_project
from upstreams import Upstreams

HOLD = """
import sys, time
from pathlib import Path
from xla_tasks.workspace.lock import workspace_lock
with workspace_lock(Path(sys.argv[1]), "pin", timeout=0):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(workspace: Path):  # type: ignore[no-untyped-def]
    """Another process holding the workspace lock, as a long `pin` would."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(workspace)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_second_run_fails_naming_the_holder_then_works_once_it_is_killed(
    workspace: Path,
    upstreams: Upstreams,
    holder: subprocess.Popen[str],
    cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = clone_project(upstreams, workspace)
    monkeypatch.setenv("INVOKE_XLA_TASKS_LOCK_TIMEOUT", "0")
    for argv in (["sync"], ["pin"], ["roll", "nightly"], ["update-repos", "-a"]):
        result = cli(*argv, cwd=project)
        assert result.code == 1, argv
        assert f"workspace is busy: pid {holder.pid} (pin)" in result.err, argv
    assert not (workspace / "xla").exists()
    assert not (project / "sync_deps.py").exists()
    os.killpg(holder.pid, signal.SIGKILL)  # the kernel drops a dead holder's lock
    holder.wait()
    result = cli("sync", cwd=project)
    assert result.code == 0, result.err
    assert (workspace / "xla" / ".git").exists()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def test_ctrl_c_during_a_hanging_clone_exits_130_and_leaves_no_half_clone(
    tmp_path: Path, upstreams: Upstreams, silent_port: int
) -> None:
    """A server that accepts and never answers (open until the test's end, so a git helper
    that Ctrl-C missed is still there for the leak check); the user presses Ctrl-C."""
    import time

    from xla_tasks.demo.upstreams import pin_file_text

    url = f"http://127.0.0.1:{silent_port}/xla.git"
    project = tmp_path / "ws" / "proj"
    project.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "sync_deps.toml").write_text(
        pin_file_text({"xla": (upstreams.head("xla"), url, False)})
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "xla_tasks", "sync"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while not _children(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let git connect and wait on the silent server
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "xla-tasks: interrupted" in err
    assert "Traceback" not in err
    leftovers = [p.name for p in (tmp_path / "ws").iterdir() if p.name != "proj"]
    assert [name for name in leftovers if not name.startswith(".xla-tasks.lock")] == []
