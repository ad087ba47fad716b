"""Engine paths the review of the engine found written twice or unsafe: the shallow-refusal
fallback through the cache, and a clone's temporary folder kept (with its lock) on a retry.
"""

from __future__ import annotations

from pathlib import Path

from gitserver import GitHttpServer
from syncing import history, pinned_project
from upstreams import Upstreams, head


def test_a_cache_filled_from_a_server_refusing_shallow_fetches_gets_full_history(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path, cli
) -> None:
    git_http_server.set("xla", shallow=False)
    pin = history(upstreams, "xla")[1]
    project = pinned_project(tmp_path / "ws", {"xla": (pin, git_http_server.url("xla"), False)})

    result = cli("sync", "--history", "shallow", "--cache", str(tmp_path / "cache"), cwd=project)

    assert result.code == 0, result.err
    assert "the server refused a shallow fetch: full history" in result.out
    assert head(project.parent / "xla") == pin
