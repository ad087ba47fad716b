"""The benchmark's other measurements: start-up, a submodule world, bytes received per
history mode over the HTTP server, and two workspaces sharing one cache."""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import tomli_w
from gitserver import GitHttpServer  # tests/gitserver.py, on sys.path by bench.py
from measure import Cell, git_processes, timed
from scenarios import XLA, World, rejects_flag
from world import LIMIT_SCRIPTS, PROJECT, SUPER, SubmoduleWorld, git

from xla_tasks.workspace.registry import WORKSPACE_FILE

HISTORIES = ("full", "blobless", "shallow")


def startup(world: World, runs: int) -> dict[str, dict[str, Any]]:
    """Wall time of the quick commands, in a workspace with every dep on its pin, against
    a bare interpreter and `import invoke` (the floor for an invoke program)."""
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import invoke'": [sys.executable, "-c", "import invoke"],
        "xla-tasks --help": [*XLA, "--help"],
        "xla-tasks --list": [*XLA, "--list"],
        "xla-tasks status": [*XLA, "status"],
        "xla-tasks pin --check": [*XLA, "pin", "--check"],
        "xla-tasks pin (nothing moved)": [*XLA, "pin"],
    }
    ws = world.workspace("startup")
    timed(["sh", LIMIT_SCRIPTS["full"]], ws / PROJECT)
    found: dict[str, dict[str, Any]] = {}
    for label, argv in commands.items():
        done = [timed(argv, ws / PROJECT) for _ in range(runs)]
        found[label] = {
            "seconds": statistics.median(r.seconds for r in done),
            "exit": next((r.code for r in done if r.code), 0),
        }
    shutil.rmtree(ws, ignore_errors=True)
    base = found["python -c 'import invoke'"]["seconds"]
    for entry in found.values():
        entry["ratio_to_import_invoke"] = entry["seconds"] / base
    return found


# --- submodules ------------------------------------------------------------------------


def submodules_on_commit(super_repo: Path) -> int:
    """How many submodules, nested ones too, are checked out on their recorded commit."""
    done = timed(["git", "submodule", "status", "--recursive"], super_repo)
    return sum(x.startswith(" ") for x in done.out.splitlines()) if done.code == 0 else 0


def _submodule_templates(work: Path, world: SubmoduleWorld) -> dict[str, Path]:
    """Two starting points: a workspace with the project cloned (for sync and the script),
    and an empty one whose registry names the superproject with submodules on (checkout)."""
    project, registry = work / "sub-template", work / "sub-registry"
    project.mkdir()
    git("clone", "-q", world.project_url, PROJECT, cwd=project)
    registry.mkdir()
    text = tomli_w.dumps({"schema": 1, "repos": {SUPER: {"url": world.url, "submodules": True}}})
    (registry / WORKSPACE_FILE).write_text(text)
    return {"project": project, "registry": registry}


def submodule_rows(work: Path, world: SubmoduleWorld, jobs: int, runs: int) -> dict[str, Any]:
    """Cold: plain `git clone` + `submodule update --init --recursive --depth 1 --jobs J`
    against xla-tasks checkout, xla-tasks sync and sync_deps.py (of a project pinning the
    superproject). Then once more, with everything on its commit: the git processes of
    that noop (for plain git, `submodule update --init --recursive` again)."""
    templates = _submodule_templates(work, world)
    plain = (
        'git clone -q --no-checkout "$0" super && '
        'git -C super -c advice.detachedHead=false checkout -q --detach "$1" && '
        f"git -C super submodule update -q --init --recursive --depth 1 --jobs {jobs}"
    )
    base = f"git clone + submodule update --recursive --depth 1 --jobs {jobs}"
    jobs_flag = ["--jobs", str(jobs)]
    commands = {
        base: (["sh", "-c", plain, world.url, world.pin], "registry", "."),
        "xla-tasks checkout": ([*XLA, "checkout", SUPER, "--json", *jobs_flag], "registry", "."),
        "xla-tasks sync": ([*XLA, "sync", "--json", *jobs_flag], "project", PROJECT),
        "sync_deps.py": ([sys.executable, "sync_deps.py", *jobs_flag], "project", PROJECT),
    }
    again = {base: ["git", "-C", SUPER, "submodule", "update", "-q", "--init", "--recursive"]}
    cells = {name: Cell() for name in commands}
    on_commit = dict.fromkeys(commands, world.count)
    noop: dict[str, dict[str, Any]] = {}
    for run in range(runs):
        for name, (argv, template, cwd) in commands.items():
            ws = work / f"sub-ws-{run}"
            shutil.copytree(templates[template], ws, symlinks=True)
            cells[name].record(timed(argv, ws / cwd), True)
            on_commit[name] = min(on_commit[name], submodules_on_commit(ws / SUPER))
            if run == 0 and name != "xla-tasks checkout":  # again, all on their commits
                done, count = git_processes(again.get(name, argv), ws / cwd)
                noop[name] = {"noop_seconds": done.seconds, "noop_git_processes": count}
            shutil.rmtree(ws, ignore_errors=True)
    for path in templates.values():
        shutil.rmtree(path, ignore_errors=True)
    return {
        "submodules": world.count,
        "nested": world.nested,
        "base": base,
        "rows": {
            name: {
                **cell.as_dict(cells[base].median),
                "on_commit": on_commit[name],
                "complete": on_commit[name] == world.count,
                **noop.get(name, {}),
            }
            for name, cell in cells.items()
        },
    }


# --- bytes over HTTP -------------------------------------------------------------------


def _http_commands(mode: str, jobs: int) -> dict[str, list[str]]:
    sync = [*XLA, "sync", "--json", "--jobs", str(jobs)]
    commands = {
        "plain git": ["sh", LIMIT_SCRIPTS[mode]],
        "xla-tasks": sync if mode == "full" else [*sync, "--history", mode],
    }
    if mode != "blobless":
        depth = [] if mode == "full" else ["--depth", "1"]
        commands["sync_deps.py"] = [sys.executable, "sync_deps.py", "--jobs", str(jobs), *depth]
    return commands


def _served_run(
    world: World, server: GitHttpServer, label: str, argv: list[str]
) -> tuple[Any, Path]:
    """A cold sync in a fresh workspace whose pins name the server's URLs; counts reset."""
    ws = world.workspace(label)
    urls = {d.name: server.url(d.name) for d in world.deps}
    for path, text in world.files(False, urls).items():
        (ws / PROJECT / path).write_text(text)
    server.reset_counts()
    return timed(argv, ws / PROJECT), ws


def history_bytes(world: World, jobs: int) -> dict[str, dict[str, Any]]:
    """Bytes the server sent for a cold sync of the world, per history mode and tool."""
    found: dict[str, dict[str, Any]] = {}
    with GitHttpServer(world.work / "upstreams") as server:
        for mode in HISTORIES:
            found[mode] = {}
            for name, argv in _http_commands(mode, jobs).items():
                run, ws = _served_run(world, server, f"bytes-{mode}-{name}", argv)
                entry: dict[str, Any] = {"bytes": sum(server.bytes_sent.values())}
                if rejects_flag(run, "--history"):
                    entry = {"bytes": None, "error": "not supported yet"}
                elif run.failure() or not world.at_pins(ws, False):
                    entry["error"] = run.failure() or "finished but some dep is off its pin"
                found[mode][name] = entry
                shutil.rmtree(ws, ignore_errors=True)
    return found


def shared_cache(world: World, jobs: int) -> dict[str, Any]:
    """Per history mode, over HTTP: a cold sync without a cache, then two cold workspaces in
    a row sharing one empty `--cache` (its first run fills it, the second is warm). Time and
    bytes from upstream (the server's count) of each; the first run's ratios to no cache."""
    found: dict[str, Any] = {}
    with GitHttpServer(world.work / "upstreams") as server:
        for mode in HISTORIES:
            cache = world.work / f"cache-{mode}"
            sync = [*XLA, "sync", "--json", "--jobs", str(jobs), "--history", mode]
            rows: dict[str, Any] = {}
            for label in ("no cache", "first", "warm"):
                argv = sync if label == "no cache" else [*sync, "--cache", str(cache)]
                run, ws = _served_run(world, server, f"cache-{mode}-{label}", argv)
                if rejects_flag(run, "--cache"):
                    return {"error": "not supported yet"}
                rows[label] = {
                    "seconds": run.seconds,
                    "bytes_from_upstream": sum(server.bytes_sent.values()),
                    "error": run.failure() or (None if world.at_pins(ws, False) else "off its pin"),
                }
                shutil.rmtree(ws, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
            base, first = rows["no cache"], rows["first"]
            rows["first_to_no_cache"] = {
                "seconds": first["seconds"] / base["seconds"],
                "bytes": first["bytes_from_upstream"] / max(1, base["bytes_from_upstream"]),
            }
            found[mode] = rows
    return found
