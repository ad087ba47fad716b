"""One operation at a time per workspace, across real processes; a killed holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from syncing import clone_project
from upstreams import Upstreams

HOLD = """
import sys, time
from pathlib import Path
from xla_tasks.lock import workspace_lock
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
