"""The speed benchmark runs end to end at a tiny size (its timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Not a unit test: one run of every section (8 s without the peers, 41 s in issue 16), so it
# runs apart (`python3 -m pytest -m bench`; CI runs it after the suite).
pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[1]
PEERS = ("sync_deps.py", "sync_deps.py --depth 1", "west", "vcstool")
SKIPPED = ("not installed", "not supported yet")


@pytest.mark.timeout(240)  # the run's own bound is 180 s
def test_bench_quick_run_reports_every_section_with_xla_tasks_and_the_limit_at_the_pins() -> None:
    """Given 2 local upstreams, when the benchmark runs once with --quick --json, then stdout
    is one JSON object; in cold, noop and moved, xla-tasks and the plain-git limit rows left
    the deps at their pins, every installed peer did too, and the git processes of each
    were counted; start-up, the submodule world, bytes per history mode (over the HTTP
    server) and the cache section are present."""
    done = subprocess.run(
        [sys.executable, "bench/bench.py", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["ok"] is True
    (row,) = result["sizes"].values()
    assert set(row) == {"cold", "noop", "moved"}
    for scenario, cells in row.items():
        for name in ("xla-tasks", "limit", "limit depth 1"):
            assert cells[name]["at_pins"] is True, (scenario, name, cells[name])
            assert cells[name]["git_processes"] is not None, (scenario, name)
        assert cells["limit"]["git_processes"] > 0
        for peer in PEERS:
            if cells[peer]["error"] not in SKIPPED:
                assert cells[peer]["at_pins"] is True, (scenario, peer, cells[peer])
    assert {
        "python -c 'import invoke'",
        "xla-tasks --help",
        "xla-tasks --list",
        "xla-tasks status",
    } <= set(result["startup"])
    assert all(entry["exit"] == 0 for entry in result["startup"].values()), result["startup"]
    assert result["submodules"]["rows"][result["submodules"]["base"]]["complete"] is True
    full = result["history_bytes"]["full"]
    assert full["plain git"]["bytes"] > 0
    assert full["xla-tasks"]["bytes"] > 0
    assert set(result["history_bytes"]) == {"full", "blobless", "shallow"}
    assert "cache" in result
    real = result["real_shape"]
    assert real["ok"] is True, real
    for group in ("far_ahead", "submodules", "nested"):
        for step, rows in real[group].items():
            assert rows["xla-tasks"]["bytes"] is not None, (group, step, rows)
            assert rows["xla-tasks"]["git_processes"] is not None, (group, step, rows)
