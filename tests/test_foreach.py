"""`foreach CMD`: one shell command in every present repo status lists, one block per repo."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from syncing import PROJECT, history
from upstreams import Upstreams, git

SHOW_ENV = 'echo "$XLA_TASKS_REPO_NAME|$XLA_TASKS_REPO_PATH|$XLA_TASKS_REPO_PIN|$(pwd)"'


def test_foreach_runs_in_each_present_repo_in_status_order_with_its_env(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    """Given a synced project (stablehlo not cloned), each present repo gets one block."""
    result = cli("foreach", f"{SHOW_ENV}; echo to-stderr >&2", cwd=synced)

    assert result.code == 0, result.err
    ws = workspace.resolve()
    pins = {"xla": history(upstreams, "xla")[2], "jax": upstreams.head("jax")}
    pins["iree"] = upstreams.head("iree")
    expected = [f"== {PROJECT} ({PROJECT}) ==", f"{PROJECT}|{ws / PROJECT}||{ws / PROJECT}"]
    expected.append("to-stderr")
    for name in ("xla", "jax", "iree"):
        expected += [f"== {name} ({name}) ==", f"{name}|{ws / name}|{pins[name]}|{ws / name}"]
        expected.append("to-stderr")
    lines = result.out.splitlines()
    assert lines[: len(expected)] == expected
    assert lines[-1] == "foreach: ran in 4 repo(s), 0 failed; skipped 1 not present: stablehlo"


def test_foreach_lists_failed_repos_and_exit_codes_last_and_exits_one(
    synced: Path, workspace: Path, cli
) -> None:
    cmd = 'case "$XLA_TASKS_REPO_NAME" in jax) echo broke; exit 3;; xla) exit 5;; esac; echo fine'
    result = cli("foreach", cmd, cwd=synced)

    assert result.code == 1
    assert "== jax (jax) ==\nbroke\n== iree (iree) ==\nfine\n" in result.out
    assert result.err.splitlines()[-3:] == [
        "FAILED xla: exit 5 (at xla)",
        "FAILED jax: exit 3 (at jax)",
        "xla-tasks foreach: 2 repo(s) failed: xla, jax",
    ]


def test_foreach_blocks_stay_whole_under_parallel_jobs(synced: Path, cli) -> None:
    """Each repo prints 50 lines, stdout and stderr mixed; no line lands in another's block."""
    name = "$XLA_TASKS_REPO_NAME"
    cmd = f'for i in $(seq 50); do echo "{name} $i"; echo "{name} e$i" >&2; done'
    result = cli("foreach", cmd, "--jobs", "4", cwd=synced)

    assert result.code == 0, result.err
    blocks = result.out.split("== ")[1:]
    assert [block.split(" ", 1)[0] for block in blocks] == [PROJECT, "xla", "jax", "iree"]
    for block in blocks:
        name = block.split(" ", 1)[0]
        body = block.splitlines()[1:101]
        want = [line for i in range(1, 51) for line in (f"{name} {i}", f"{name} e{i}")]
        assert body == want


def test_foreach_streams_each_block_once_it_and_those_before_are_done(
    synced: Path, tmp_path: Path
) -> None:
    """iree (last in status order) waits on a FIFO the test opens only after reading jax's
    block: if blocks were held back until the end, the read would time out instead."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    cmd = (
        f'[ "$XLA_TASKS_REPO_NAME" = iree ] && read line < {fifo}; echo "done $XLA_TASKS_REPO_NAME"'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "xla_tasks", "foreach", cmd, "--jobs", "2"],
        cwd=synced,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()])
    reader.start()
    seen = []
    try:
        while "done jax\n" not in seen:
            seen.append(lines.get(timeout=60))
        assert "done iree\n" not in seen
    finally:
        _release(fifo, proc)
        reader.join()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert "done iree\n" in rest


def _release(fifo: Path, proc: subprocess.Popen[str]) -> None:
    """Let the waiting command go on, whenever it starts waiting; never leave it behind."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until someone reads
        except OSError:
            time.sleep(0.05)
            continue
        os.write(fd, b"go\n")
        os.close(fd)
        break
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_foreach_exclude_dep_skips_matching_repos(synced: Path, cli) -> None:
    result = cli("foreach", "true", "--exclude-dep", "^ja", "--exclude-dep", "iree", cwd=synced)

    assert result.code == 0, result.err
    assert "== jax" not in result.out
    assert "== iree" not in result.out
    assert "== xla (xla) ==" in result.out


def test_foreach_json_is_one_object_with_each_repos_output_and_exit_code(synced: Path, cli) -> None:
    cmd = 'echo "hi $XLA_TASKS_REPO_NAME"; [ "$XLA_TASKS_REPO_NAME" != xla ]'
    result = cli("foreach", cmd, "--json", cwd=synced)

    assert result.code == 1
    data = json.loads(result.out)
    assert data["ok"] is False
    repos = {repo["name"]: repo for repo in data["data"]["repos"]}
    assert list(repos) == [PROJECT, "xla", "jax", "iree"]
    assert repos["xla"]["exit_code"] == 1
    assert repos["jax"] == {
        "name": "jax",
        "path": "jax",
        "pin": repos["jax"]["pin"],
        "exit_code": 0,
        "output": "hi jax\n",
        "output_cut": 0,
    }
    assert data["data"]["skipped"] == ["stablehlo"]


def test_foreach_without_a_command_is_a_one_line_error(synced: Path, cli) -> None:
    result = cli("foreach", " ", cwd=synced)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "foreach needs a command" in result.err


def test_foreach_in_a_dirty_repo_leaves_it_as_it_was(synced: Path, workspace: Path, cli) -> None:
    """foreach itself changes nothing: only the command does what it does."""
    (workspace / "jax" / "README.md").write_text("edited\n")
    before = git(workspace / "jax", "status", "--porcelain")
    assert cli("foreach", "git status --short", cwd=synced).code == 0
    assert git(workspace / "jax", "status", "--porcelain") == before


def test_foreach_at_the_workspace_root_runs_in_the_registered_clones(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """No project here: status lists the registry, so foreach runs where a clone exists."""
    git(workspace, "clone", "-q", upstreams.url("jax"), "jax")

    result = cli("foreach", 'echo "pin=[$XLA_TASKS_REPO_PIN]"', cwd=workspace)

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "== jax (jax) ==",
        "pin=[]",
        "foreach: ran in 1 repo(s), 0 failed; skipped 4 not present: "
        f"xla, stablehlo, iree, {PROJECT}",
    ]
