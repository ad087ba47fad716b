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


def test_a_clone_retried_in_its_temporary_folder_keeps_the_folder_and_its_lock(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    """A try that leaves files behind (a git killed mid-clone) is cleared for the next one
    inside the same folder: the flock taken on it still holds, so another run's
    remove_dead_temps (a sync beside this one) leaves the clone in progress alone."""
    from xla_tasks.engine.clone import _clone_once
    from xla_tasks.engine.filelock import owned_temp_dir, release_dir, remove_dead_temps
    from xla_tasks.engine.job import Job
    from xla_tasks.engine.model import EngineOptions, Repo

    parent = tmp_path / "ws"
    parent.mkdir()
    tmp, handle = owned_temp_dir(str(parent), ".xla.clone-")
    try:
        leftover = Path(tmp, ".git", "objects", "pack")
        leftover.mkdir(parents=True)
        (leftover / "tmp_pack_x").write_bytes(b"half a pack")
        inode = Path(tmp).stat().st_ino
        repo = Repo("xla", str(parent / "xla"), upstreams.url("xla"), branch="main")
        job = Job(repo, EngineOptions(), lambda event: None)

        result = _clone_once(job, repo.url, tmp, ())
        remove_dead_temps(str(parent), ".xla.clone-")  # another run, looking for dead ones

        assert result.code == 0, result.err
        assert Path(tmp).stat().st_ino == inode
        assert head(Path(tmp)) == upstreams.head("xla")
        assert not (Path(tmp) / ".git" / "objects" / "pack" / "tmp_pack_x").exists()
    finally:
        release_dir(handle)
