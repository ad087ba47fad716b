"""The sync engine through both fronts: fast paths, safety, submodules, history, cache, stalls.

Every scenario runs `xla-tasks sync` (in-process or as a subprocess) or the generated
`sync_deps.py` against real bare upstreams in the test's temp dir, and checks what a user
would see: commits, files, exit codes, the lines naming the repo, and how many git
processes ran (git's own trace2 accounting).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from syncing import git_processes, nested_world, pinned_project
from upstreams import Upstreams, git, head

from xla_tasks.demo.upstreams import pin_file_text

# --- a project pinning a superproject with nested submodules --------------------------


_project = pinned_project


@pytest.fixture
def nested(upstreams: Upstreams, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    shas = nested_world(upstreams)
    pins = {
        "top": (shas["top"], upstreams.url("top"), True),
        "jax": (upstreams.head("jax"), upstreams.url("jax"), False),
    }
    return _project(tmp_path / "ws", pins), shas


# --- fast paths ------------------------------------------------------------------------


def test_noop_sync_starts_no_git_process(nested, cli, monkeypatch, tmp_path: Path) -> None:
    """Given every dep and submodule on its pin, a second sync answers from the disk alone."""
    project, _ = nested
    assert cli("sync", cwd=project).code == 0
    trace = tmp_path / "trace2.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))

    again = cli("sync", cwd=project)

    assert again.code == 0, again.err
    assert "top: already at pin" in again.out
    assert "submodules: 0 updated, 3 already there" in again.out
    assert git_processes(trace) == []


def test_noop_run_of_the_script_starts_no_git_process(nested, tmp_path: Path) -> None:
    project, _ = nested
    run = [sys.executable, "-I", "sync_deps.py"]
    assert subprocess.run(run, cwd=project, capture_output=True, check=False).returncode == 0
    trace = tmp_path / "trace2.json"

    again = subprocess.run(
        run,
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TRACE2_EVENT": str(trace)},
    )

    assert again.returncode == 0, again.stderr
    assert "top: already at pin" in again.stdout
    assert [argv for argv in git_processes(trace) if argv[1:2] != ["version"]] == []


# --- submodules ------------------------------------------------------------------------


def test_nested_submodules_are_checked_out_recursively(nested, cli) -> None:
    project, shas = nested
    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    top = project.parent / "top"
    assert head(top) == shas["top"]
    assert head(top / "deps" / "mid") == shas["mid"]
    assert head(top / "deps" / "mid" / "third_party" / "leaf") == shas["leaf"]
    assert (top / "deps" / "mid" / "third_party" / "leaf" / "leaf.c").is_file()
    assert "submodules: 3 updated, 0 already there" in result.out


def test_exclude_submodule_matches_at_depth_and_skips_what_is_inside(nested, cli) -> None:
    project, shas = nested
    result = cli("sync", "--exclude-submodule", "top:deps/mid/third_party/leaf", cwd=project)

    assert result.code == 0, result.err
    mid = project.parent / "top" / "deps" / "mid"
    assert head(mid) == shas["mid"]
    assert not (mid / "third_party" / "leaf" / "leaf.c").exists()
    assert "2 updated, 0 already there, 1 excluded" in result.out

    skip_mid = cli("sync", "--exclude-submodule", "top:deps/mid$", cwd=project)
    assert skip_mid.code == 0, skip_mid.err


def test_excluding_a_submodule_skips_its_own_submodules(upstreams, tmp_path, cli) -> None:
    shas = nested_world(upstreams)
    project = _project(tmp_path / "ws", {"top": (shas["top"], upstreams.url("top"), True)})

    result = cli("sync", "--exclude-submodule", "top:deps/mid", cwd=project)

    assert result.code == 0, result.err
    top = project.parent / "top"
    assert not (top / "deps" / "mid" / "mid.c").exists()
    assert not (top / "deps" / "mid" / "third_party" / "leaf").exists()
    assert head(top / "deps" / "other") == shas["other"]
    assert "1 updated, 0 already there, 1 excluded" in result.out


def test_script_honours_per_dep_exclude_submodules(upstreams, tmp_path) -> None:
    """EXCLUDE_SUBMODULES (from `exclude_submodules` in sync_deps.toml) applies at any depth."""
    from xla_tasks.pins.sync_deps_script import render_sync_deps_script

    shas = nested_world(upstreams)
    project = tmp_path / "ws" / "proj"
    project.mkdir(parents=True)
    (project / "sync_deps.py").write_text(
        render_sync_deps_script(
            {"top": shas["top"]},
            {"top": upstreams.url("top")},
            {"top": 1},
            {"top": "main"},
            exclude_submodules={"top": ["third_party/leaf$"]},
        )
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "sync_deps.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    mid = project.parent / "top" / "deps" / "mid"
    assert head(mid) == shas["mid"]
    assert not (mid / "third_party" / "leaf" / "leaf.c").exists()
    assert "2 updated, 0 already there, 1 excluded" in done.stdout


# --- safety ----------------------------------------------------------------------------


def _synced_jax(upstreams: Upstreams, tmp_path: Path, cli) -> tuple[Path, Path]:
    first = upstreams.head("jax")
    project = _project(tmp_path / "ws", {"jax": (first, upstreams.url("jax"), False)})
    assert cli("sync", cwd=project).code == 0
    return project, project.parent / "jax"


def _repin_jax(project: Path, upstreams: Upstreams, rev: str) -> None:
    (project / "sync_deps.toml").write_text(
        pin_file_text({"jax": (rev, upstreams.url("jax"), False)})
    )


def test_sync_refuses_a_dep_in_the_middle_of_a_rebase(upstreams, tmp_path, cli) -> None:
    """A rebase stopped at `edit` has a clean tree; moving HEAD would lose the user's commit."""
    project, jax = _synced_jax(upstreams, tmp_path, cli)
    git(jax, "switch", "-q", "-c", "work")
    for name in ("a", "b"):
        (jax / f"{name}.txt").write_text(name)
        git(jax, "add", f"{name}.txt")
        git(jax, "commit", "-q", "-m", f"work {name}")
    env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i 1s/^pick/edit/"}
    subprocess.run(["git", "rebase", "-q", "-i", "HEAD~2"], cwd=jax, env=env, check=True)
    stopped_at = head(jax)
    newer = upstreams.commit("jax", {"jax/new.py": "x"}, "jax: newer")
    _repin_jax(project, upstreams, newer)

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert "FAILED jax:" in result.err
    assert "a rebase is in progress" in result.err
    assert "git rebase --abort" in result.err
    assert head(jax) == stopped_at
    git(jax, "rebase", "--continue")
    assert git(jax, "log", "--format=%s", "-2").splitlines() == ["work b", "work a"]


def test_sync_refuses_a_dep_in_the_middle_of_a_bisect(upstreams, tmp_path, cli) -> None:
    project, jax = _synced_jax(upstreams, tmp_path, cli)
    git(jax, "bisect", "start")
    git(jax, "bisect", "bad")
    newer = upstreams.commit("jax", {"jax/new.py": "x"}, "jax: newer")
    _repin_jax(project, upstreams, newer)
    before = head(jax)

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert "a bisect is in progress" in result.err
    assert head(jax) == before


def test_clones_get_the_permissions_git_clone_gives(upstreams, tmp_path, cli) -> None:
    project = _project(
        tmp_path / "ws", {"jax": (upstreams.head("jax"), upstreams.url("jax"), False)}
    )
    old = os.umask(0o022)
    try:
        assert cli("sync", cwd=project).code == 0
    finally:
        os.umask(old)
    mode = stat.S_IMODE((project.parent / "jax").stat().st_mode)
    assert mode == 0o755


# --- history modes ---------------------------------------------------------------------


def test_blobless_history_makes_a_partial_clone(upstreams, tmp_path, cli) -> None:
    project = _project(
        tmp_path / "ws", {"xla": (upstreams.head("xla"), upstreams.url("xla"), False)}
    )
    upstreams_cfg = ("uploadpack.allowFilter", "true")
    git(upstreams.path("xla"), "config", *upstreams_cfg)

    result = cli("sync", "--history", "blobless", cwd=project)

    assert result.code == 0, result.err
    xla = project.parent / "xla"
    assert git(xla, "config", "remote.origin.promisor") == "true"
    assert head(xla) == upstreams.head("xla")
    assert (xla / "README.md").is_file() or any(xla.iterdir())


def test_a_server_refusing_filters_gets_a_full_clone_and_says_so(upstreams, tmp_path, cli) -> None:
    project = _project(
        tmp_path / "ws", {"xla": (upstreams.head("xla"), upstreams.url("xla"), False)}
    )
    git(upstreams.path("xla"), "config", "uploadpack.allowFilter", "false")

    result = cli("sync", "--history", "blobless", cwd=project)

    assert result.code == 0, result.err
    assert "the server refused a blobless clone: full history" in result.out
    xla = project.parent / "xla"
    missing = git(xla, "rev-list", "--objects", "--missing=print", "--all")
    assert not [line for line in missing.splitlines() if line.startswith("?")]


def test_shallow_history_fetches_only_the_pinned_commit(upstreams, tmp_path, cli) -> None:
    from syncing import history

    pin = history(upstreams, "xla")[1]  # not the tip
    project = _project(tmp_path / "ws", {"xla": (pin, upstreams.url("xla"), False)})

    result = cli("sync", "--history", "shallow", cwd=project)

    assert result.code == 0, result.err
    xla = project.parent / "xla"
    assert head(xla) == pin
    assert git(xla, "rev-list", "--count", "HEAD") == "1"


def test_history_setting_comes_from_the_workspace_file(workspace, upstreams, cli) -> None:
    from syncing import clone_project

    text = (workspace / "xla-workspace.toml").read_text()
    (workspace / "xla-workspace.toml").write_text(
        text.replace("schema = 1\n", 'schema = 1\n\n[settings]\nhistory = "shallow"\n', 1)
    )
    project = clone_project(upstreams, workspace)

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert git(workspace / "jax", "rev-parse", "--is-shallow-repository") == "true"


def test_a_bad_history_value_is_one_line(nested, cli) -> None:
    project, _ = nested
    result = cli("sync", "--history", "deep", cwd=project)
    assert result.code == 1
    assert "--history expects one of full, blobless, shallow, got 'deep'" in result.err
    assert not (project.parent / "top").exists()


# --- the shared cache ------------------------------------------------------------------


def test_second_workspace_syncs_from_the_cache_without_any_upstream(
    nested, upstreams, tmp_path, cli
) -> None:
    project, shas = nested
    cache = tmp_path / "cache"
    assert cli("sync", "--cache", str(cache), cwd=project).code == 0
    second = tmp_path / "ws2" / "proj"
    second.parent.mkdir()
    git(second.parent, "clone", "-q", str(project), "proj")
    for name in ("top", "mid", "leaf", "other", "jax"):
        upstreams.break_url(name)

    result = cli("sync", "--cache", str(cache), cwd=second)

    assert result.code == 0, result.err
    top = second.parent / "top"
    assert head(top / "deps" / "mid" / "third_party" / "leaf") == shas["leaf"]
    assert git(top, "remote", "get-url", "origin") == upstreams.url("top")
    assert "objects from the cache" in result.out


def test_deleting_the_cache_never_breaks_a_workspace(nested, tmp_path, cli, monkeypatch) -> None:
    project, shas = nested
    cache = tmp_path / "cache"
    monkeypatch.setenv("XLA_TASKS_CACHE", str(cache))
    assert cli("sync", cwd=project).code == 0
    import shutil

    shutil.rmtree(cache)

    top = project.parent / "top"
    git(top, "fsck", "--no-progress")
    git(top / "deps" / "mid", "fsck", "--no-progress")
    assert git(top, "log", "-1", "--format=%H") == shas["top"]
    assert cli("sync", cwd=project).code == 0


def test_cache_is_fetched_only_when_it_lacks_the_pin(upstreams, tmp_path, cli) -> None:
    cache = tmp_path / "cache"
    jax_first = upstreams.head("jax")
    one = _project(tmp_path / "ws1", {"jax": (jax_first, upstreams.url("jax"), False)})
    assert cli("sync", "--cache", str(cache), cwd=one).code == 0
    newer = upstreams.commit("jax", {"jax/n.py": "n"}, "jax: newer")
    two = _project(tmp_path / "ws2", {"jax": (newer, upstreams.url("jax"), False)})

    result = cli("sync", "--cache", str(cache), cwd=two)

    assert result.code == 0, result.err
    assert head(two.parent / "jax") == newer
    (mirror,) = [p for p in cache.iterdir() if p.name.endswith(".git") and "_jax-" in p.name]
    git(mirror, "cat-file", "-e", f"{newer}^{{commit}}")


def test_concurrent_runs_share_one_cache_safely(upstreams, tmp_path) -> None:
    cache = tmp_path / "cache"
    projects = [
        _project(tmp_path / f"ws{i}", {"xla": (upstreams.head("xla"), upstreams.url("xla"), False)})
        for i in range(3)
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "xla_tasks", "sync", "--cache", str(cache)],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for project in projects
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for project in projects:
        assert head(project.parent / "xla") == upstreams.head("xla")
    for mirror in (p for p in cache.iterdir() if p.name.endswith(".git")):
        git(mirror, "fsck", "--no-progress")


def test_script_takes_a_cache(nested, upstreams, tmp_path) -> None:
    project, shas = nested
    cache = tmp_path / "cache"
    run = [sys.executable, "-I", "sync_deps.py", "--cache", str(cache)]
    first = subprocess.run(run, cwd=project, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    second = tmp_path / "ws2" / "proj"
    second.parent.mkdir()
    git(second.parent, "clone", "-q", str(project), "proj")
    for name in ("top", "mid", "leaf", "other", "jax"):
        upstreams.break_url(name)

    done = subprocess.run(run, cwd=second, capture_output=True, text=True, check=False)

    assert done.returncode == 0, done.stderr
    assert head(second.parent / "top" / "deps" / "mid") == shas["mid"]


# --- the stall watchdog ----------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        deadline = time.monotonic() + 120  # bounded, whatever the test does
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/stalled.git"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_a_stalled_server_fails_that_dep_and_the_others_sync(
    upstreams, tmp_path, cli, monkeypatch, silent_server: str
) -> None:
    sha = upstreams.head("jax")
    project = _project(
        tmp_path / "ws",
        {
            "jax": (sha, upstreams.url("jax"), False),
            "stalled": ("1" * 40, silent_server, False),
        },
    )
    monkeypatch.setenv("INVOKE_XLA_TASKS_STALL_TIMEOUT", "1.5")
    started = time.monotonic()

    result = cli("sync", cwd=project)

    assert time.monotonic() - started < 60
    assert result.code == 1
    assert f"FAILED stalled: no answer from {silent_server} for 1.5 s: stopped" in result.err
    assert head(project.parent / "jax") == sha
    assert not (project.parent / "stalled").exists()


def test_script_stall_timeout_ends_a_stalled_clone(tmp_path, silent_server: str) -> None:
    from xla_tasks.pins.sync_deps_script import render_sync_deps_script

    project = tmp_path / "ws" / "proj"
    project.mkdir(parents=True)
    (project / "sync_deps.py").write_text(
        render_sync_deps_script(
            {"stalled": "1" * 40}, {"stalled": silent_server}, {}, {"stalled": "main"}
        )
    )
    done = subprocess.run(
        [sys.executable, "-I", "sync_deps.py", "--stall-timeout", "1"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"FAILED stalled: no answer from {silent_server} for 1 s" in done.stderr
    assert sorted(p.name for p in project.parent.iterdir()) == ["proj"]


def test_roll_ls_remote_on_a_stalled_server_fails_naming_the_url(
    upstreams, tmp_path, cli, monkeypatch, silent_server: str
) -> None:
    project = tmp_path / "ws" / "proj"
    project.mkdir(parents=True)
    git(project, "init", "-q")
    (project / "sync_deps.toml").write_text(
        pin_file_text({"stalled": ("1" * 40, silent_server, False)})
        + '\n[schedules.nightly]\ndeps = ["stalled"]\n'
    )
    before = (project / "sync_deps.toml").read_bytes()
    monkeypatch.setenv("INVOKE_XLA_TASKS_STALL_TIMEOUT", "1")

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 1
    assert silent_server in result.err
    assert "no answer" in result.err
    assert (project / "sync_deps.toml").read_bytes() == before
