"""Real trees (contract 7.2): clones at the pin, nested layouts that converge, error lines
that keep git's cause, and submodules that a failed run left behind, with real git and the
smart-HTTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from gitserver import GitHttpServer
from syncing import pinned_project
from upstreams import Upstreams, git

# --- error lines keep the cause --------------------------------------------------------


def _corrupt_upstream(root: Path, name: str) -> tuple[str, str]:
    """A bare repo served with one blob missing (loose objects, one deleted): a server
    that breaks mid-clone with `remote: fatal: unable to read ...`. Returns (head, blob)."""
    work = root / f"{name}-work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for number in range(3):
        (work / f"file{number}.c").write_text(f"int f{number};\n")
        git(work, "add", ".")
        git(work, "commit", "-q", "-m", f"change {number}")
    bare = root / f"{name}.git"
    git(root, "init", "-q", "--bare", str(bare))
    git(work, "push", "-q", str(bare), "main")  # few objects: stored loose, not packed
    blob = git(bare, "rev-parse", "main~1:file1.c")
    (bare / "objects" / blob[:2] / blob[2:]).unlink()
    return git(bare, "rev-parse", "main"), blob


def test_a_clone_the_server_breaks_names_the_servers_reason(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path, cli
) -> None:
    rev, blob = _corrupt_upstream(upstreams.root, "broken")
    project = pinned_project(
        tmp_path / "ws", {"broken": (rev, git_http_server.url("broken"), False)}
    )

    result = cli("sync", cwd=project)

    assert result.code == 1
    line = next(line for line in result.err.splitlines() if line.startswith("FAILED broken"))
    assert f"remote: fatal: unable to read {blob}" in line
    assert "aborting due to possible repository corruption on the remote side" in line
    assert "fatal: early EOF" in line
    assert not (project.parent / "broken").exists()
