"""The benchmark's other measurements: start-up, a submodule world, bytes received per
history mode over the HTTP server, and two workspaces sharing one cache."""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from gitserver import GitHttpServer  # tests/gitserver.py, on sys.path by bench.py
from measure import Cell, timed
from scenarios import XLA, World, rejects_flag
from world import LIMIT_SCRIPTS, PROJECT, SUPER, SubmoduleWorld, git

HISTORIES = ("full", "blobless", "shallow")


def startup(cwd: Path, runs: int) -> dict[str, dict[str, Any]]:
    """Wall time of commands that only start up, against a bare interpreter and `import
    invoke` (the floor for an invoke program)."""
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import invoke'": [sys.executable, "-c", "import invoke"],
        "xla-tasks --help": [*XLA, "--help"],
        "xla-tasks --list": [*XLA, "--list"],
        "xla-tasks pin --check": [*XLA, "pin", "--check"],
    }
    found: dict[str, dict[str, Any]] = {}
    for label, argv in commands.items():
        done = [timed(argv, cwd) for _ in range(runs)]
        found[label] = {
            "seconds": statistics.median(r.seconds for r in done),
            "exit": next((r.code for r in done if r.code), 0),
        }
    base = found["python -c 'import invoke'"]["seconds"]
    for entry in found.values():
        entry["ratio_to_import_invoke"] = entry["seconds"] / base
    return found


# --- submodules ------------------------------------------------------------------------


def submodules_complete(super_repo: Path, count: int) -> bool:
    """Every submodule, nested ones too, checked out on its recorded commit."""
    done = timed(["git", "submodule", "status", "--recursive"], super_repo)
    lines = done.out.splitlines()
    return done.code == 0 and len(lines) == count and all(x.startswith(" ") for x in lines)


def submodule_rows(work: Path, world: SubmoduleWorld, jobs: int, runs: int) -> dict[str, Any]:
    """Cold: plain `git clone` + `submodule update --init --recursive --depth 1 --jobs J`
    against xla-tasks sync and sync_deps.py of a project pinning the superproject."""
    template = work / "sub-template"
    template.mkdir()
    git("clone", "-q", world.project_url, PROJECT, cwd=template)
    plain = (
        'git clone -q --no-checkout "$0" super && '
        'git -C super -c advice.detachedHead=false checkout -q --detach "$1" && '
        f"git -C super submodule update -q --init --recursive --depth 1 --jobs {jobs}"
    )
    base = f"git clone + submodule update --recursive --depth 1 --jobs {jobs}"
    commands = {
        base: (["sh", "-c", plain, world.url, world.pin], "."),
        "xla-tasks sync": ([*XLA, "sync", "--json", "--jobs", str(jobs)], PROJECT),
        "sync_deps.py": ([sys.executable, "sync_deps.py", "--jobs", str(jobs)], PROJECT),
    }
    cells = {name: Cell() for name in commands}
    complete: dict[str, bool] = {}
    for run in range(runs):
        for name, (argv, cwd) in commands.items():
            ws = work / f"sub-ws-{run}"
            shutil.copytree(template, ws, symlinks=True)
            done = timed(argv, ws / cwd)
            cells[name].record(done, True)
            complete[name] = complete.get(name, True) and submodules_complete(
                ws / SUPER, world.count
            )
            shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(template, ignore_errors=True)
    return {
        "submodules": world.count,
        "base": base,
        "rows": {
            name: {**cell.as_dict(cells[base].median), "complete": complete[name]}
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
    """Two cold workspaces in a row with one `--cache`: the second's time and the bytes it
    took from upstream (the HTTP server's count)."""
    cache = world.work / "cache"
    argv = [*XLA, "sync", "--json", "--jobs", str(jobs), "--cache", str(cache)]
    found: dict[str, Any] = {}
    with GitHttpServer(world.work / "upstreams") as server:
        for label in ("first", "second"):
            run, ws = _served_run(world, server, f"cache-{label}", argv)
            if rejects_flag(run, "--cache"):
                return {"error": "not supported yet"}
            found[label] = {
                "seconds": run.seconds,
                "bytes_from_upstream": sum(server.bytes_sent.values()),
                "error": run.failure() or (None if world.at_pins(ws, False) else "off its pin"),
            }
            shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    found["ratio"] = found["second"]["seconds"] / found["first"]["seconds"]
    return found
