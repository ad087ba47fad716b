"""README command 1: the offline demo runs every task on local upstreams and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _demo(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xla_tasks", "demo", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )


def test_demo_runs_the_whole_story_offline(tmp_path: Path) -> None:
    done = _demo(tmp_path / "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for expected in (
        "iree: cloned",
        "no pin moved; wrote sync_deps.py",
        "sync_deps.py is up to date with sync_deps.toml",
        "Roll nightly: xla",
        "xla: fetched",
        "xla: already at pin",  # the standalone sync_deps.py, after sync
        "jax: fast-forwarded main",
        "demo done",
    ):
        assert expected in out, expected
    project = tmp_path / "demo" / "workspace" / "openxla-pjrt-plugin"
    assert (project / "sync_deps.py").exists()
    log = subprocess.run(
        ["git", "log", "-1", "--format=%s"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert log.strip() == "Roll nightly: xla"


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    done = _demo(target)
    assert done.returncode == 1
    assert "is not empty" in done.stderr
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
