"""The code stays `ruff` clean (lint and format): part of the one test command CI runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(args: list[str]) -> None:
    ruff = shutil.which("ruff") or f"{sys.executable} -m ruff"
    done = subprocess.run(
        [*ruff.split(), *args, "xla_tasks", "tests", "tasks.py", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.timeout(300)  # a cold run over the whole package (~5 s quiet, ~25 s under load)
def test_mypy_is_clean() -> None:
    """Type hints are checked (untyped defs are errors in the package)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", "/dev/null", "xla_tasks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
