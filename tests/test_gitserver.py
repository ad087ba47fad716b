"""The smart-HTTP test server behaves, as git users see it, like the servers it stands for."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from gitserver import SHALLOW_REFUSED, GitHttpServer, Rules
from upstreams import Upstreams, git


def run_git(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )


def old_commit(upstreams: Upstreams, name: str) -> str:
    """A commit of `name` that no ref points at (the first of main)."""
    return git(upstreams.path(name), "rev-list", "--reverse", "main").split()[0]


def missing_objects(clone: Path) -> list[str]:
    listing = git(clone, "rev-list", "--objects", "--missing=print", "--all")
    return [line for line in listing.splitlines() if line.startswith("?")]


def pack_bytes(clone: Path) -> int:
    return sum(p.stat().st_size for p in (clone / ".git/objects/pack").glob("*.pack"))


def test_clone_over_http_gets_the_upstream_head_and_counts_what_it_sent(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    """Given the demo upstreams served over HTTP, when xla is cloned, then the clone is on
    xla's head, and the server counted requests and about the pack's size in bytes for xla
    only."""
    assert git_http_server.urls(["xla"]) == {"xla": git_http_server.url("xla")}
    done = run_git("clone", "-q", git_http_server.url("xla"), "xla", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert git(tmp_path / "xla", "rev-parse", "HEAD") == upstreams.head("xla")
    sent = git_http_server.bytes_sent["xla"]
    assert pack_bytes(tmp_path / "xla") <= sent <= pack_bytes(tmp_path / "xla") + 64 * 1024
    assert git_http_server.requests["xla"] >= 2  # the ref advertisement, then the fetch
    assert set(git_http_server.bytes_sent) == {"xla"}


def test_server_speaks_protocol_v2(upstreams: Upstreams, git_http_server: GitHttpServer) -> None:
    """The client's Git-Protocol header reaches upload-pack: the answer is a v2 one."""
    env = {**os.environ, "GIT_TRACE_PACKET": "1"}
    done = subprocess.run(
        ["git", "ls-remote", git_http_server.url("jax")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "version 2" in done.stderr
    assert upstreams.head("jax") in done.stdout


def test_fetch_of_a_commit_no_ref_names_works_unless_the_server_refuses_sha_wants(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    """By default a fetch of an unadvertised commit succeeds; with sha_wants=False git
    says the server does not allow it."""
    sha = old_commit(upstreams, "xla")
    for name in ("yes", "no"):
        git(tmp_path, "init", "-q", name)
    assert (
        run_git("fetch", "-q", git_http_server.url("xla"), sha, cwd=tmp_path / "yes").returncode
        == 0
    )
    git_http_server.set("xla", sha_wants=False)
    refused = run_git("fetch", "-q", git_http_server.url("xla"), sha, cwd=tmp_path / "no")
    assert refused.returncode != 0
    assert "not allow request for unadvertised object" in refused.stderr
    assert (
        run_git("fetch", "-q", git_http_server.url("xla"), "main", cwd=tmp_path / "no").returncode
        == 0
    )


def test_blobless_clone_is_partial_unless_the_server_refuses_filters(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    """--filter=blob:none makes a promisor clone; with filters=False git warns that the
    server ignores the filter and takes every object."""
    url = git_http_server.url("xla")
    assert (
        run_git("clone", "-q", "--filter=blob:none", url, "partial", cwd=tmp_path).returncode == 0
    )
    assert missing_objects(tmp_path / "partial")  # the old xla/BUILD blob is on demand
    git_http_server.set(filters=False)
    done = run_git("clone", "--filter=blob:none", url, "full", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "filtering not recognized by server" in done.stderr
    assert missing_objects(tmp_path / "full") == []


def test_shallow_clone_works_unless_the_server_refuses_deepen(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    """--depth 1 makes a shallow clone; with shallow=False git fails with the server's
    message, and a full clone still works."""
    url = git_http_server.url("xla")
    assert run_git("clone", "-q", "--depth", "1", url, "shallow", cwd=tmp_path).returncode == 0
    assert (tmp_path / "shallow/.git/shallow").is_file()
    git_http_server.set("xla", shallow=False)
    refused = run_git("clone", "-q", "--depth", "1", url, "refused", cwd=tmp_path)
    assert refused.returncode != 0
    assert f"remote error: {SHALLOW_REFUSED}" in refused.stderr
    assert run_git("clone", "-q", url, "full", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("mode", "message"),
    [("refuse", "returned error: 500"), ("reset", "Empty reply from server")],
)
def test_refusing_server_fails_git_with_the_http_error(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path, mode: str, message: str
) -> None:
    git_http_server.set("jax", mode=mode)
    done = run_git("ls-remote", git_http_server.url("jax"), cwd=tmp_path)
    assert done.returncode != 0
    assert message in done.stderr
    assert run_git("ls-remote", git_http_server.url("xla"), cwd=tmp_path).returncode == 0


def test_closed_url_refuses_the_connection(tmp_path: Path) -> None:
    done = run_git("ls-remote", GitHttpServer.closed_url(), cwd=tmp_path)
    assert done.returncode != 0
    assert "Failed to connect" in done.stderr or "Connection refused" in done.stderr


@pytest.mark.parametrize(
    ("changes", "command"),
    [
        ({"mode": "stall"}, "ls-remote"),
        ({"mode": "stall-headers"}, "ls-remote"),
        ({"stall_after_bytes": 200}, "clone"),
    ],
    ids=["stall", "stall-headers", "stall-mid-answer"],
)
def test_stalled_server_makes_git_hang_until_killed(
    upstreams: Upstreams,
    git_http_server: GitHttpServer,
    tmp_path: Path,
    changes: dict,
    command: str,
) -> None:
    """A stalled repo makes `git ls-remote` (or a clone, stalled part way through an
    answer) wait until `timeout` kills it (exit 124), and the server saw the request
    stall; other repos still answer."""
    git_http_server.set("xla", **changes)
    done = subprocess.run(
        ["timeout", "2", "git", command, git_http_server.url("xla")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 124, done.stderr
    assert git_http_server.stalled["xla"] == 1
    assert run_git("ls-remote", git_http_server.url("jax"), cwd=tmp_path).returncode == 0


def test_push_is_refused_unless_allowed(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    url = git_http_server.url("xla")
    git(tmp_path, "clone", "-q", url, "xla")
    clone = tmp_path / "xla"
    git(clone, "commit", "-q", "--allow-empty", "-m", "pushed")
    assert run_git("push", "-q", "origin", "HEAD:refs/heads/topic", cwd=clone).returncode != 0
    git_http_server.set(push=True)
    done = run_git("push", "-q", "origin", "HEAD:refs/heads/topic", cwd=clone)
    assert done.returncode == 0, done.stderr
    assert upstreams.head("xla", "topic") == git(clone, "rev-parse", "HEAD")


def test_stop_ends_stalled_requests_and_leaves_no_threads(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    """Stopping a server with a client stuck on a stalled request returns, the client's
    git gets an error instead of hanging, and no server thread is left."""
    before = set(threading.enumerate())
    server = GitHttpServer(upstreams.root, Rules(mode="stall-headers")).start()
    client = subprocess.Popen(
        ["git", "ls-remote", server.url("xla")], cwd=tmp_path, stderr=subprocess.PIPE
    )
    assert server.wait_stalled("xla")
    server.stop()
    assert client.wait(timeout=30) != 0
    assert client.stderr is not None
    client.stderr.close()
    assert set(threading.enumerate()) <= before


def test_parallel_clones_are_served_and_counted_per_repo(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    """Five clones at once (as a parallel sync makes them) all land on their heads, and
    each repo's requests and bytes are counted under its own name."""
    names = list(upstreams.urls)
    clients = [
        subprocess.Popen(["git", "clone", "-q", url, name], cwd=tmp_path, stderr=subprocess.DEVNULL)
        for name, url in git_http_server.urls(names).items()
    ]
    assert [client.wait(timeout=60) for client in clients] == [0] * len(names)
    for name in names:
        assert git(tmp_path / name, "rev-parse", "HEAD") == upstreams.head(name)
    assert set(git_http_server.requests) == set(names)
    assert all(git_http_server.bytes_sent[name] > 0 for name in names)
