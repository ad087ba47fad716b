"""The shared mirror cache (contract 5.2, 5.8, 7.1) as users meet it: on git's default
configuration, with another run holding a mirror, with something planted at a mirror's
path, with URLs spelled several ways or relative, under a umask, with two runs at once in
one workspace, and on its first run, which must cost what the same sync costs without it.

Real git, real bare upstreams, served over smart HTTP (tests/gitserver.py) where bytes and
requests are counted; the holder of a lock is a real second run.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitserver import FIXTURE_MARK, GitHttpServer
from syncing import pinned_project
from upstreams import Upstreams, git, head

from xla_tasks.demo.upstreams import Gitlink, pin_file_text
from xla_tasks.engine.cache import mirror_path


@pytest.fixture
def default_git(local_submodules: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """git as users have it: `protocol.file.allow=always` removed (after the `upstreams`
    fixture, which sets it for the demo's file:// submodule, has run)."""
    for key in ("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0"):
        monkeypatch.delenv(key, raising=False)


def _mirrors(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if p.name.endswith(".git") and p.is_dir())


def _leftovers(*folders: Path) -> list[str]:
    """Temporary clones and mirrors a run left behind."""
    found = []
    for folder in folders:
        if folder.is_dir():
            found += [p.name for p in folder.iterdir() if ".clone-" in p.name or ".tmp-" in p.name]
    return found


# --- 1. submodules through the cache on a default git ---------------------------------------


def test_submodules_come_from_the_cache_on_a_default_git(
    default_git, upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path, cli
) -> None:
    """git >= 2.38.1 refuses the file transport for submodules by default; the cache allows
    it on the calls that read a mirror, never in any config a user keeps."""
    upstreams.create("leaf", {"leaf.c": "int leaf;\n"})
    upstreams.create("mid", {"mid.c": "int mid;\n"})
    mid = upstreams.commit(
        "mid",
        {
            ".gitmodules": '[submodule "leaf"]\n\tpath = third_party/leaf\n\turl = ../leaf.git\n',
            "third_party/leaf": Gitlink(upstreams.head("leaf")),
        },
    )
    upstreams.create("top", {"top.c": "int top;\n"})
    top = upstreams.commit(
        "top",
        {
            ".gitmodules": '[submodule "mid"]\n\tpath = deps/mid\n\turl = ../mid.git\n',
            "deps/mid": Gitlink(mid),
        },
    )
    pins = {"top": (top, git_http_server.url("top"), True)}
    cache = tmp_path / "cache"
    project = pinned_project(tmp_path / "ws", pins)

    result = cli("sync", "--cache", str(cache), cwd=project)

    assert result.code == 0, result.err
    leaf_clone = project.parent / "top" / "deps" / "mid" / "third_party" / "leaf"
    assert head(leaf_clone) == upstreams.head("leaf")
    assert git(leaf_clone, "remote", "get-url", "origin") == git_http_server.url("leaf")
    assert git(leaf_clone, "config", "--get-all", "protocol.file.allow", check=False) == ""
    # A second workspace, with the generated script: everything from the cache.
    git_http_server.reset_counts()
    second = pinned_project(tmp_path / "ws2", pins)
    done = subprocess.run(
        [sys.executable, "-I", "sync_deps.py", "--cache", str(cache)],
        cwd=second,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert head(second.parent / "top" / "deps" / "mid" / "third_party" / "leaf") == (
        upstreams.head("leaf")
    )
    assert sum(git_http_server.requests.values()) == 0


# --- 2. another run holding a mirror ---------------------------------------------------------


def _run(argv: list[str], cwd: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def filling_run(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], Path, dict[str, tuple[str, str, bool]]]]:
    """A run filling the xla mirror from a server that stopped answering: it holds the
    mirror's fill lock until it is stopped (SIGINT at the end, and it must clean up)."""
    git_http_server.set("xla", mode="stall")
    pins = {"xla": (upstreams.head("xla"), git_http_server.url("xla"), False)}
    cache = tmp_path / "cache"
    project = pinned_project(tmp_path / "holder", pins)
    argv = [sys.executable, "-m", "xla_tasks", "sync", "--cache", str(cache)]
    holder = _run(argv, project, INVOKE_XLA_TASKS_STALL_TIMEOUT="60", **{FIXTURE_MARK: "1"})
    try:
        assert git_http_server.wait_stalled("xla"), "the holder never reached the server"
        yield holder, cache, pins
    finally:
        holder.send_signal(signal.SIGINT)
        _, err = holder.communicate(timeout=30)
    assert holder.returncode == 130, err
    assert _leftovers(cache, project.parent) == []


def test_a_busy_mirror_names_its_holder_and_the_wait_is_bounded(
    filling_run, tmp_path, cli, monkeypatch
) -> None:
    holder, cache, pins = filling_run
    project = pinned_project(tmp_path / "ws", pins)
    monkeypatch.setenv("INVOKE_XLA_TASKS_CACHE_LOCK_TIMEOUT", "1")

    result = cli("sync", "--cache", str(cache), cwd=project)

    assert result.code == 1
    assert f"FAILED xla: cache: {_mirrors_or_path(cache, pins)} is busy (pid {holder.pid} on " in (
        result.err
    )
    assert "filling it for xla" in result.err
    assert "after 1 s; wait for that run, or raise cache_lock_timeout" in result.err
    assert not (project.parent / "xla").exists()
    assert _leftovers(project.parent) == []


def _mirrors_or_path(cache: Path, pins: dict[str, tuple[str, str, bool]]) -> str:
    return mirror_path(str(cache), pins["xla"][1])


def _waits_on(pid: int, suffix: str, timeout: float = 30) -> bool:
    """True once process `pid` has a file ending in `suffix` open (a lock it waits for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            links = []
        if any(link.endswith(suffix) for link in links):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")
@pytest.mark.parametrize(
    ("front", "sig", "code", "word"),
    [
        ("xla-tasks", signal.SIGINT, 130, "xla-tasks: interrupted"),
        ("sync_deps.py", signal.SIGTERM, 143, "sync_deps.py: terminated"),
    ],
)
def test_an_interrupt_ends_a_wait_for_the_cache(
    filling_run, tmp_path, front, sig, code, word
) -> None:
    _, cache, pins = filling_run
    project = pinned_project(tmp_path / "ws", pins)
    argv = (
        [sys.executable, "-m", "xla_tasks", "sync", "--cache", str(cache)]
        if front == "xla-tasks"
        else [sys.executable, "sync_deps.py", "--cache", str(cache)]
    )
    waiting = _run(argv, project)
    try:
        assert _waits_on(waiting.pid, ".fill.lock"), "the second run never waited"
        waiting.send_signal(sig)
        _, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == code, err
    assert word in err
    assert "Traceback" not in err
    assert _leftovers(project.parent) == []


# --- 3. only our own mirror at a mirror's path ----------------------------------------------


@pytest.mark.parametrize("planted", ["link", "another repo", "file"])
def test_something_planted_at_a_mirror_path_is_refused(
    upstreams: Upstreams, tmp_path, cli, planted
) -> None:
    """The path is predictable from the public URL: what sits there is never fetched into."""
    victim = tmp_path / "victim"
    git(tmp_path, "clone", "-q", upstreams.url("jax"), str(victim))
    before = git(victim, "for-each-ref")
    cache = tmp_path / "cache"
    cache.mkdir()
    mirror = Path(mirror_path(str(cache), upstreams.url("xla")))
    if planted == "link":
        mirror.symlink_to(victim / ".git")
    elif planted == "another repo":
        git(tmp_path, "clone", "-q", "--bare", upstreams.url("jax"), str(mirror))
    else:
        mirror.write_text("not a mirror\n")
    pins = {"xla": (upstreams.head("xla"), upstreams.url("xla"), False)}
    project = pinned_project(tmp_path / "ws", pins)

    result = cli("sync", "--cache", str(cache), cwd=project)

    assert result.code == 1
    why = {
        "link": "is a symbolic link, not a mirror xla-tasks made",
        "another repo": f"is not a bare mirror of {upstreams.url('xla')} (its origin is",
        "file": "is not a folder, not a mirror xla-tasks made",
    }[planted]
    assert f"FAILED xla: cache: {mirror} {why}" in result.err
    assert "remove it, or use another cache folder (--cache DIR)" in result.err
    assert git(victim, "for-each-ref") == before
    assert not (project.parent / "xla").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_another_users_mirror_is_refused(upstreams: Upstreams, tmp_path, cli) -> None:
    cache = tmp_path / "cache"
    pins = {"xla": (upstreams.head("xla"), upstreams.url("xla"), False)}
    assert cli("sync", "--cache", str(cache), cwd=pinned_project(tmp_path / "a", pins)).code == 0
    (mirror,) = _mirrors(cache)
    os.chown(mirror, 4321, 4321)

    result = cli("sync", "--cache", str(cache), cwd=pinned_project(tmp_path / "b", pins))

    assert result.code == 1
    assert f"cache: {mirror} belongs to another user (uid 4321)" in result.err


# --- 4. one mirror per repo, whatever the URL's spelling or the cwd ---------------------------


def test_scp_style_and_ssh_urls_share_one_mirror_from_any_cwd(tmp_path, monkeypatch) -> None:
    cache = str(tmp_path / "cache")
    seen = set()
    for cwd in (tmp_path, tmp_path / "cwd"):
        monkeypatch.chdir(cwd)
        for url in (
            "git@github.com:org/repo.git",
            "ssh://git@github.com/org/repo",
            "ssh://GitHub.com/org/repo.git/",
        ):
            seen.add(mirror_path(cache, url))
    assert len(seen) == 1
    assert mirror_path(cache, "git@github.com:org/other.git") not in seen


def test_a_relative_url_is_relative_to_its_pin_file_not_the_cwd(
    upstreams: Upstreams, tmp_path, cli
) -> None:
    """`../../upstreams/jax.git` in ws/proj/sync_deps.toml: one mirror, from any cwd."""
    cache = tmp_path / "cache"
    relative = os.path.relpath(upstreams.path("jax"), tmp_path / "ws1" / "proj")
    pins = {"jax": (upstreams.head("jax"), relative, False)}
    one = pinned_project(tmp_path / "ws1", pins)
    two = pinned_project(tmp_path / "ws2", pins)
    (two / "sub").mkdir()
    three = pinned_project(tmp_path / "ws3", pins)

    assert cli("sync", "--cache", str(cache), cwd=one).code == 0
    result = cli("sync", "--cache", str(cache), cwd=two / "sub")
    script = subprocess.run(
        [sys.executable, "-I", str(three / "sync_deps.py"), "--cache", str(cache)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.code == 0, result.err
    assert script.returncode == 0, script.stderr
    for project in (one, two, three):
        assert head(project.parent / "jax") == upstreams.head("jax")
    assert len([m for m in _mirrors(cache) if "_jax-" in m.name]) == 1


# --- 5. modes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
@pytest.mark.parametrize("mode", ["full", "shallow"])
def test_mirrors_get_the_modes_the_umask_gives(
    upstreams: Upstreams, tmp_path, cli, umask, mode
) -> None:
    cache = tmp_path / "cache"
    pins = {"xla": (upstreams.head("xla"), upstreams.url("xla"), False)}
    project = pinned_project(tmp_path / "ws", pins)
    previous = os.umask(umask)
    try:
        result = cli("sync", "--cache", str(cache), "--history", mode, cwd=project)
    finally:
        os.umask(previous)

    assert result.code == 0, result.err
    (mirror,) = _mirrors(cache)
    for folder in (mirror, mirror / "objects", mirror / "refs"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask, folder
    assert (project.parent / "xla").stat().st_mode & 0o777 == 0o777 & ~umask


# --- 6. two runs at once in one workspace -------------------------------------------------------


def test_a_clone_in_progress_is_never_removed_by_another_run(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path, cli, monkeypatch
) -> None:
    """`python3 sync_deps.py` takes no workspace lock: `xla-tasks sync` beside it removes
    only the temporary clones of dead runs."""
    git_http_server.set("xla", mode="stall")
    pins = {"xla": (upstreams.head("xla"), git_http_server.url("xla"), False)}
    project = pinned_project(tmp_path / "ws", pins)
    dead = project.parent / ".xla.clone-dead0000"  # a killed run's leftover
    (dead / ".git").mkdir(parents=True)
    script = _run([sys.executable, "sync_deps.py", "--stall-timeout", "60"], project)
    try:
        assert git_http_server.wait_stalled("xla")
        live = [p for p in project.parent.iterdir() if ".clone-" in p.name and p != dead]
        assert len(live) == 1
        monkeypatch.setenv("INVOKE_XLA_TASKS_STALL_TIMEOUT", "1")

        result = cli("sync", cwd=project)

        assert result.code == 1  # the server still stalls for it too
        assert live[0].is_dir(), "the script's clone in progress was deleted"
        assert not dead.exists()
    finally:
        script.send_signal(signal.SIGINT)
        _, err = script.communicate(timeout=30)
    assert script.returncode == 130, err
    assert _leftovers(project.parent) == []


# --- 7. the first run costs what a run without the cache costs ----------------------------------


def _history_world(upstreams: Upstreams) -> str:
    """A repo whose history outweighs its files: 30 commits rewriting 40 KB of source."""
    upstreams.create("big")
    for rev in range(30):
        text = "".join(f"int f{rev}_{k}(int x) {{ return x * {k + rev}; }}\n" for k in range(1200))
        pin = upstreams.commit("big", {"src/big.cc": text}, f"big: revision {rev}")
    upstreams.commit("big", {"src/next.cc": "int next;\n"}, "big: past the pin")
    return pin


def _served_sync(
    cli, server: GitHttpServer, root: Path, pins: dict, mode: str, *cache: str
) -> tuple[Path, int, int]:
    project = pinned_project(root, pins)
    server.reset_counts()
    result = cli("sync", "--history", mode, *cache, cwd=project)
    assert result.code == 0, result.err
    return project.parent / "big", server.bytes_sent["big"], server.requests["big"]


def _history_of(clone: Path) -> str:
    if git(clone, "rev-parse", "--is-shallow-repository") == "true":
        return "shallow"
    promisor = git(clone, "config", "--get", "remote.origin.promisor", check=False)
    return "blobless" if promisor else "full"


@pytest.mark.parametrize("mode", ["full", "blobless", "shallow"])
def test_the_first_run_through_the_cache_costs_what_a_run_without_it_costs(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path, cli, mode
) -> None:
    pin = _history_world(upstreams)
    pins = {"big": (pin, git_http_server.url("big"), False)}
    cache = ("--cache", str(tmp_path / "cache"))
    plain, plain_bytes, _ = _served_sync(cli, git_http_server, tmp_path / "plain", pins, mode)

    first, first_bytes, _ = _served_sync(cli, git_http_server, tmp_path / "a", pins, mode, *cache)
    warm, warm_bytes, warm_requests = _served_sync(
        cli, git_http_server, tmp_path / "b", pins, mode, *cache
    )

    assert first_bytes <= 1.5 * plain_bytes, (first_bytes, plain_bytes)
    assert (warm_bytes, warm_requests) == (0, 0)
    for clone in (plain, first, warm):
        assert head(clone) == pin
        assert _history_of(clone) == mode
        assert git(clone, "remote", "get-url", "origin") == git_http_server.url("big")
        assert git(clone, "config", "--get-regexp", r"remote\..*\.promisor", check=False) in (
            "",
            "remote.origin.promisor true",
        )
    # Deleting the cache breaks neither clone: a blobless one fetches old files upstream.
    shutil.rmtree(tmp_path / "cache")
    for clone in (first, warm):
        git(clone, "fsck", "--no-progress", "--connectivity-only")
        assert "return x * 29;" in git(clone, "log", "-p", "--format=%s", pin)


@pytest.mark.parametrize("mode", ["full", "blobless", "shallow"])
def test_a_moved_pin_comes_through_the_cache_in_the_clones_own_history(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path, cli, mode
) -> None:
    pin = _history_world(upstreams)
    newer = upstreams.head("big")
    cache = ("--cache", str(tmp_path / "cache"))
    first, _, _ = _served_sync(
        cli, git_http_server, tmp_path / "a", {"big": (pin, git_http_server.url("big"), False)},
        mode, *cache,
    )  # fmt: skip
    pins = {"big": (newer, git_http_server.url("big"), False)}
    (first.parent / "proj" / "sync_deps.toml").write_text(pin_file_text(pins))

    result = cli("sync", *cache, cwd=first.parent / "proj")
    _, warm_bytes, _ = _served_sync(cli, git_http_server, tmp_path / "b", pins, mode, *cache)

    assert result.code == 0, result.err
    assert head(first) == newer
    assert _history_of(first) == mode
    assert git(first, "config", "--get-regexp", r"remote\..*\.promisor", check=False) in (
        "",
        "remote.origin.promisor true",
    )
    assert warm_bytes == 0


def test_a_richer_history_grows_the_mirror_once(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path, cli
) -> None:
    pin = _history_world(upstreams)
    pins = {"big": (pin, git_http_server.url("big"), False)}
    cache = ("--cache", str(tmp_path / "cache"))
    _served_sync(cli, git_http_server, tmp_path / "a", pins, "shallow", *cache)

    serve = functools.partial(_served_sync, cli, git_http_server)
    full, full_bytes, _ = serve(tmp_path / "b", pins, "full", *cache)
    _, again, _ = serve(tmp_path / "c", pins, "full", *cache)
    _, shallow_again, _ = serve(tmp_path / "d", pins, "shallow", *cache)

    assert full_bytes > 0
    assert again == 0
    assert shallow_again == 0
    assert _history_of(full) == "full"
    git(full, "fsck", "--no-progress")
    (mirror,) = _mirrors(tmp_path / "cache")
    assert not (mirror / "shallow").exists()
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("mode", ["full", "blobless", "shallow"])
def test_checkout_clones_a_branch_through_the_cache(
    upstreams: Upstreams, workspace: Path, tmp_path, cli, mode
) -> None:
    cache = tmp_path / "cache"

    result = cli(
        "checkout", "jax", "--no-deps", "--history", mode, "--cache", str(cache), cwd=workspace
    )

    assert result.code == 0, result.err
    jax = workspace / "jax"
    assert git(jax, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert head(jax) == upstreams.head("jax")
    assert git(jax, "remote", "get-url", "origin") == upstreams.url("jax")
    assert _history_of(jax) == mode
    assert "objects from the cache" in result.out


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("settings", "0", "settings.cache_lock_timeout: must be seconds > 0, got 0"),
        ("settings", "nan", "settings.cache_lock_timeout: must be seconds > 0, got nan"),
        ("settings", '"soon"', "settings.cache_lock_timeout"),
        ("env", "soon", "INVOKE_XLA_TASKS_CACHE_LOCK_TIMEOUT='soon'"),
        ("env", "-1", "xla_tasks.cache_lock_timeout expects seconds >= 0, got -1"),
    ],
)
def test_a_bad_cache_lock_timeout_is_one_line(
    upstreams: Upstreams, workspace: Path, tmp_path, cli, monkeypatch, where, value, message
) -> None:
    pins = {"xla": (upstreams.head("xla"), upstreams.url("xla"), False)}
    project = pinned_project(workspace, pins)
    registry = workspace / "xla-workspace.toml"
    if where == "settings":
        text = registry.read_text()
        registry.write_text(
            text.replace(
                "schema = 1\n", f"schema = 1\n\n[settings]\ncache_lock_timeout = {value}\n", 1
            )
        )
    else:
        monkeypatch.setenv("INVOKE_XLA_TASKS_CACHE_LOCK_TIMEOUT", value)

    result = cli("sync", "--cache", str(tmp_path / "cache"), cwd=project)

    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err
    assert not (workspace / "xla").exists()
