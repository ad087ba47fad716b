"""The speed benchmark runs end to end at a tiny size (its timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ("--repos", "2", "--commits", "5", "--files", "20", "--runs", "1")
PEERS = ("sync_deps.py", "git script", "west", "vcstool")


def test_bench_reports_every_scenario_with_xla_tasks_at_the_pins() -> None:
    """Given 2 local upstreams, when the benchmark runs once per cell with --json,
    then stdout is one JSON object with cold, warm and moved for every tool, xla-tasks
    left the deps at their pins in each scenario, and every installed peer did too."""
    done = subprocess.run(
        [sys.executable, "bench/bench.py", *SMALL, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["ok"] is True
    assert set(result["scenarios"]) == {"cold", "warm", "moved"}
    for scenario, row in result["scenarios"].items():
        assert row["xla-tasks"]["at_pins"] is True, (scenario, row["xla-tasks"])
        assert row["xla-tasks"]["seconds"] > 0
        for peer in PEERS:
            if row[peer]["error"] != "not installed":
                assert row[peer]["at_pins"] is True, (scenario, peer, row[peer])
    assert set(result["startup"]) == {"python -c pass", "xla-tasks --help", "xla-tasks pin --check"}
