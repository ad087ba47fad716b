"""Helpers for sync and status scenarios: a cloned leaf project, pin edits, upstream history,
the git processes a run started."""

from __future__ import annotations

import json
from pathlib import Path

from upstreams import Upstreams, git

from xla_tasks.demo.upstreams import Gitlink, pin_file_text
from xla_tasks.pins.project import save_pin_files
from xla_tasks.pins.sync_deps_toml import load_pin_file

PROJECT = "openxla-pjrt-plugin"


def history(upstreams: Upstreams, name: str) -> list[str]:
    """The commits of an upstream's main branch, oldest first."""
    return git(upstreams.path(name), "rev-list", "--reverse", "main").split()


def clone_project(upstreams: Upstreams, parent: Path) -> Path:
    """`git clone` the leaf project into `parent` (the starting state of most sync tests)."""
    parent.mkdir(parents=True, exist_ok=True)
    git(parent, "clone", "--quiet", upstreams.url(PROJECT), PROJECT)
    return parent / PROJECT


def demo_pins(upstreams: Upstreams) -> dict[str, tuple[str, str, bool]]:
    """The plugin's pins as the demo commits them: iree (submodules), jax, xla at its 3rd."""
    return {
        "iree": (upstreams.head("iree"), upstreams.url("iree"), True),
        "jax": (upstreams.head("jax"), upstreams.url("jax"), False),
        "xla": (history(upstreams, "xla")[2], upstreams.url("xla"), False),
    }


def write_pins(project: Path, pins: dict[str, tuple[str, str, bool]]) -> None:
    """Rewrite a project's sync_deps.toml (name -> (rev, url, submodules)) in the work tree."""
    (project / "sync_deps.toml").write_text(pin_file_text(pins))


def repin(project: Path, upstreams: Upstreams, **revs: str) -> None:
    """Change some of the plugin's pins, keeping the others as the demo has them."""
    pins = demo_pins(upstreams)
    for name, rev in revs.items():
        _, url, subs = pins.get(name, ("", upstreams.url(name), False))
        pins[name] = (rev, url, subs)
    write_pins(project, pins)


def pinned_project(root: Path, pins: dict[str, tuple[str, str, bool]]) -> Path:
    """A committed project checkout at `<root>/proj` whose pin files pin `pins`."""
    project = root / "proj"
    project.mkdir(parents=True)
    git(project, "init", "-q")
    (project / "sync_deps.toml").write_text(pin_file_text(pins))
    save_pin_files(project, load_pin_file(project / "sync_deps.toml"))
    git(project, "add", "sync_deps.toml", "sync_deps.py")
    git(project, "commit", "-q", "-m", "pins")
    return project


def git_processes(trace: Path) -> list[list[str]]:
    """The argv of every git process git's trace2 (GIT_TRACE2_EVENT=trace) saw start,
    children included; none if no git ran."""
    if not trace.exists():
        return []
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    return [event["argv"] for event in events if event.get("event") == "start"]


def nested_world(upstreams: Upstreams) -> dict[str, str]:
    """leaf <- mid (third_party/leaf) <- top (deps/mid, deps/other); returns commits."""
    shas = {"leaf": upstreams.create("leaf", {"leaf.c": "int leaf;\n"})}
    shas["leaf"] = upstreams.head("leaf")
    upstreams.create("mid", {"mid.c": "int mid;\n"})
    mid_modules = (
        f'[submodule "leaf"]\n\tpath = third_party/leaf\n\turl = {upstreams.url("leaf")}\n'
    )
    shas["mid"] = upstreams.commit(
        "mid",
        {".gitmodules": mid_modules, "third_party/leaf": Gitlink(shas["leaf"])},
        "mid: add leaf",
    )
    upstreams.create("other", {"other.c": "int other;\n"})
    shas["other"] = upstreams.head("other")
    upstreams.create("top", {"top.c": "int top;\n"})
    top_modules = (
        f'[submodule "mid"]\n\tpath = deps/mid\n\turl = {upstreams.url("mid")}\n'
        f'[submodule "other"]\n\tpath = deps/other\n\turl = {upstreams.url("other")}\n'
    )
    shas["top"] = upstreams.commit(
        "top",
        {
            ".gitmodules": top_modules,
            "deps/mid": Gitlink(shas["mid"]),
            "deps/other": Gitlink(shas["other"]),
        },
        "top: add submodules",
    )
    return shas
