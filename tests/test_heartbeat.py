"""Never silent in CI (issue 20, contract 7.2): not on a terminal, a run prints a line every
few seconds naming the repos still working and what git last reported for each, until they
are done; both fronts (`xla-tasks sync` and the generated `sync_deps.py`) do it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gitserver import GitHttpServer
from streaming import WAIT, piped
from syncing import pinned_project
from upstreams import Upstreams

from xla_tasks.engine.heartbeat import Heartbeat
from xla_tasks.engine.model import Event

BEAT = "still working: "


def big_upstream(upstreams: Upstreams) -> str:
    """A repo whose pack is about 1 MB of incompressible text: a clone of it takes a while
    to receive once the server trickles. Returns its head."""
    upstreams.create("big")
    for rev in range(6):
        pin = upstreams.commit("big", {f"blob{rev}.txt": os.urandom(90_000).hex()}, f"big {rev}")
    return pin


@pytest.fixture
def big_project(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path, monkeypatch
) -> Path:
    """A project pinning `big`, served over HTTP; heartbeats every 0.2 s."""
    pin = big_upstream(upstreams)
    monkeypatch.setenv("GIT_PROGRESS_DELAY", "0")  # git reports at once, not after 2 s
    monkeypatch.setenv("INVOKE_XLA_TASKS_HEARTBEAT", "0.2")
    return pinned_project(tmp_path / "ws", {"big": (pin, git_http_server.url("big"), False)})


@pytest.fixture
def trickling_big(big_project: Path, git_http_server: GitHttpServer) -> Path:
    """The server sends at 300 KB/s: the clone takes about three seconds."""
    git_http_server.set("big", trickle=300_000)
    return big_project


@pytest.fixture
def stalling_big(big_project: Path, git_http_server: GitHttpServer, monkeypatch) -> Path:
    """The server stops sending after 300 KB of the pack; git is given up after 2 s."""
    git_http_server.set("big", stall_after_bytes=300_000)
    monkeypatch.setenv("INVOKE_XLA_TASKS_STALL_TIMEOUT", "2")
    return big_project


def beats(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(BEAT)]


def received_beat(seen: list[str]) -> bool:
    return any(" received" in line for line in beats(seen))


def test_a_piped_sync_names_the_repo_still_working_and_what_git_received(
    trickling_big: Path,
) -> None:
    with piped(["sync"], trickling_big) as run:
        early = list(run.until(received_beat))
        code, lines = run.rest()

    assert code == 0, lines
    assert not any(line.startswith("big:") for line in early), lines  # beats while working
    shown = next(line for line in beats(lines) if " received" in line)
    assert re.fullmatch(
        r"still working: big \(clone, [0-9.]+ (KiB|MiB) received, \d+% of objects\)", shown
    ), shown
    done = lines.index(next(line for line in lines if line.startswith("big: cloned")))
    assert beats(lines[done:]) == []  # nothing works any more: no heartbeat
    assert lines[-1].startswith("synced 1 dep(s) of proj")


def test_a_stalled_clone_beats_until_it_is_given_up(stalling_big: Path) -> None:
    with piped(["sync"], stalling_big) as run:
        code, lines = run.rest()

    assert code == 1
    failed = lines.index(next(line for line in lines if line.startswith("FAILED big")))
    assert len(beats(lines[:failed])) >= 5  # two silent seconds, a beat every 0.2 s
    assert all(line.startswith("still working: big (clone") for line in beats(lines))
    assert beats(lines[failed:]) == []
    assert lines[-1] == "xla-tasks sync: 1 repo(s) failed: big"


def test_the_generated_script_beats_too(trickling_big: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "sync_deps.py", "--heartbeat", "0.2"],
        cwd=trickling_big,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = proc.communicate(timeout=WAIT)

    lines = out.splitlines()
    assert proc.returncode == 0, out
    assert received_beat(lines), out
    # clone, then checkout: a slow machine may beat once more before the line
    assert all(line.startswith("still working: big (") for line in beats(lines)), out
    assert lines[-1].startswith("big: cloned ")


def test_heartbeat_zero_in_the_workspace_settings_turns_it_off(
    stalling_big: Path, monkeypatch
) -> None:
    monkeypatch.delenv("INVOKE_XLA_TASKS_HEARTBEAT")
    registry = stalling_big.parent / "xla-workspace.toml"
    registry.write_text("schema = 1\n\n[settings]\nheartbeat = 0\n")

    with piped(["sync"], stalling_big) as run:
        code, lines = run.rest()

    assert code == 1, lines
    assert beats(lines) == []
    assert lines[-1] == "xla-tasks sync: 1 repo(s) failed: big"


def test_a_bad_heartbeat_setting_is_one_line(stalling_big: Path, monkeypatch) -> None:
    monkeypatch.setenv("INVOKE_XLA_TASKS_HEARTBEAT", "soon")

    with piped(["sync"], stalling_big) as run:
        code, lines = run.rest()

    assert code == 1
    assert lines == [
        "xla-tasks: xla_tasks.heartbeat expects seconds >= 0, got 'soon' "
        "(fix invoke.yaml or INVOKE_XLA_TASKS_HEARTBEAT; 0 turns the heartbeat off)"
    ]
    assert not (stalling_big.parent / "big").exists()


def test_the_line_names_each_busy_repo_with_its_step_and_gits_last_words() -> None:
    seen: list[Event] = []
    beat = Heartbeat(seen.append, 0)
    for event in [
        Event("xla", "start", "/ws/xla"),
        Event("xla", "phase", "clone"),
        Event("xla", "progress", "Receiving objects:  45% (450/1000), 1.20 GiB | 2.00 MiB/s"),
        Event("iree", "start", "/ws/iree"),
        Event("iree", "phase", "submodules 5/13"),
        Event("iree:third_party/llvm", "progress", "Resolving deltas:  12% (12/100)"),
        Event("jax", "start", "/ws/jax"),
        Event("jax", "done", "jax: cloned 0123456789ab"),
        Event("pytorch", "start", "/ws/pytorch"),
    ]:
        beat(event)

    assert len(seen) == 9  # every event passes on
    assert beat.line() == (
        "still working: xla (clone, 1.20 GiB received, 45% of objects), "
        "iree (submodules 5/13, third_party/llvm resolving deltas 12%), pytorch (starting)"
    )
    beat(Event("xla", "failed", "xla: no answer"))
    beat(Event("iree", "done", "iree: cloned 0123456789ab"))
    beat(Event("pytorch", "done", "pytorch: cloned 0123456789ab"))
    assert beat.line() is None
