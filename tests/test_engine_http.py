"""The engine against a real smart-HTTP server on 127.0.0.1 (protocol v2, `git http-backend`).

What file:// cannot show: how many requests and bytes a sync costs, servers that refuse
commit ids, filters or shallow fetches, and a server that stops answering mid-transfer.
"""

from __future__ import annotations

from pathlib import Path

from gitserver import GitHttpServer
from syncing import history, pinned_project
from upstreams import Upstreams, git, head

from xla_tasks.demo.upstreams import pin_file_text

_project = pinned_project


def _xla_project(tmp_path: Path, upstreams: Upstreams, server: GitHttpServer, rev: str) -> Path:
    return _project(tmp_path / "ws", {"xla": (rev, server.url("xla"), False)})


def test_sync_over_http_then_a_noop_sync_sends_no_request(
    upstreams, git_http_server: GitHttpServer, tmp_path, cli
) -> None:
    pin = history(upstreams, "xla")[1]
    project = _xla_project(tmp_path, upstreams, git_http_server, pin)
    assert cli("sync", cwd=project).code == 0
    assert git_http_server.bytes_sent["xla"] > 0
    git_http_server.reset_counts()

    again = cli("sync", cwd=project)

    assert again.code == 0, again.err
    assert head(project.parent / "xla") == pin
    assert git_http_server.requests["xla"] == 0


def test_blobless_and_shallow_receive_less_than_full(
    upstreams, git_http_server: GitHttpServer, tmp_path, cli
) -> None:
    """History is what makes a clone big: 30 commits rewriting 40 KB of source."""
    upstreams.create("big")
    for rev in range(30):
        text = "".join(f"int f{rev}_{k}(int x) {{ return x * {k + rev}; }}\n" for k in range(1200))
        pin = upstreams.commit("big", {"src/big.cc": text}, f"big: revision {rev}")
    received = {}
    for mode in ("full", "blobless", "shallow"):
        pins = {"big": (pin, git_http_server.url("big"), False)}
        project = _project(tmp_path / mode, pins)
        git_http_server.reset_counts()
        result = cli("sync", "--history", mode, cwd=project)
        assert result.code == 0, result.err
        assert head(project.parent / "big") == pin
        received[mode] = git_http_server.bytes_sent["big"]
    assert received["shallow"] < received["full"]
    assert received["blobless"] < received["full"]


def test_a_server_refusing_shallow_fetches_gets_a_full_one(
    upstreams, git_http_server: GitHttpServer, tmp_path, cli
) -> None:
    git_http_server.set("xla", shallow=False)
    pin = history(upstreams, "xla")[1]
    project = _xla_project(tmp_path, upstreams, git_http_server, pin)

    result = cli("sync", "--history", "shallow", cwd=project)

    assert result.code == 0, result.err
    assert "the server refused a shallow fetch: full history" in result.out
    assert head(project.parent / "xla") == pin


def test_a_server_refusing_commit_ids_still_serves_a_pin_below_the_tip(
    upstreams, git_http_server: GitHttpServer, tmp_path, cli
) -> None:
    git_http_server.set("xla", sha_wants=False)
    first = history(upstreams, "xla")[0]
    project = _xla_project(tmp_path, upstreams, git_http_server, upstreams.head("xla"))
    assert cli("sync", cwd=project).code == 0
    (project / "sync_deps.toml").write_text(
        pin_file_text({"xla": (first, git_http_server.url("xla"), False)})
    )
    newer = upstreams.commit("xla", {"xla/n.cc": "n"}, "xla: newer")
    upstreams.commit("xla", {"xla/m.cc": "m"}, "xla: newest")
    (project / "sync_deps.toml").write_text(
        pin_file_text({"xla": (newer, git_http_server.url("xla"), False)})
    )

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert head(project.parent / "xla") == newer


def test_second_workspace_from_the_cache_receives_nothing_from_upstream(
    upstreams, git_http_server: GitHttpServer, tmp_path, cli
) -> None:
    pins = {
        name: (upstreams.head(name), git_http_server.url(name), name == "iree")
        for name in ("iree", "jax")
    }
    cache = tmp_path / "cache"
    first = _project(tmp_path / "one", pins)
    assert cli("sync", "--cache", str(cache), cwd=first).code == 0
    git_http_server.reset_counts()
    second = _project(tmp_path / "two", pins)

    result = cli("sync", "--cache", str(cache), cwd=second)

    assert result.code == 0, result.err
    assert sum(git_http_server.requests.values()) == 0
    assert sum(git_http_server.bytes_sent.values()) == 0
    iree = second.parent / "iree"
    assert head(iree) == pins["iree"][0]
    assert (iree / "third_party" / "stablehlo" / "README.md").is_file()
    assert git(iree, "remote", "get-url", "origin") == git_http_server.url("iree")


def test_a_server_that_stops_mid_answer_fails_that_repo_only(
    upstreams, git_http_server: GitHttpServer, tmp_path, cli, monkeypatch
) -> None:
    git_http_server.set("xla", mode="stall-headers")
    pins = {
        "xla": (upstreams.head("xla"), git_http_server.url("xla"), False),
        "jax": (upstreams.head("jax"), git_http_server.url("jax"), False),
    }
    project = _project(tmp_path / "ws", pins)
    monkeypatch.setenv("INVOKE_XLA_TASKS_STALL_TIMEOUT", "1")

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert f"FAILED xla: no answer from {git_http_server.url('xla')} for 1 s" in result.err
    assert head(project.parent / "jax") == upstreams.head("jax")
    assert not (project.parent / "xla").exists()
