"""Starting states for the pin and legacy tests, reached with plain git (fast, no tool)."""

from __future__ import annotations

from pathlib import Path

from upstreams import Upstreams, git, head

PLUGIN = "openxla-pjrt-plugin"
PLUGIN_DEPS = ("iree", "jax", "xla")


def clone_into(workspace: Path, upstreams: Upstreams, *names: str) -> None:
    """`git clone` each upstream to `<workspace>/<name>` (deps left at their branch heads)."""
    for name in names:
        git(workspace, "clone", "--quiet", upstreams.url(name), name)


def plugin_workspace(workspace: Path, upstreams: Upstreams) -> Path:
    """The plugin project and its three deps cloned; returns the project dir."""
    clone_into(workspace, upstreams, PLUGIN, *PLUGIN_DEPS)
    return workspace / PLUGIN


def commit_local(repo: Path, message: str = "local change", file: str = "local.txt") -> str:
    """A new commit in a clone that no remote has; returns its sha."""
    (repo / file).write_text(message + "\n")
    git(repo, "add", "--", file)
    git(repo, "commit", "--quiet", "-m", message)
    return head(repo)


def file_bytes(project: Path) -> dict[str, bytes | None]:
    """Both pin files' bytes (None when absent), for "nothing changed" assertions."""
    out: dict[str, bytes | None] = {}
    for name in ("sync_deps.toml", "sync_deps.py"):
        path = project / name
        out[name] = path.read_bytes() if path.exists() else None
    return out
