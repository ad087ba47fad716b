"""The three sync scenarios (cold, noop, moved) for every tool on one world of N repos."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from measure import Cell, Run, git_processes, head, settle, timed
from world import MOVED_DEP, PROJECT, Upstream, build_project, build_upstream, git, manifests

SCENARIOS = ("cold", "noop", "moved")
XLA = [sys.executable, "-m", "xla_tasks"]
LIMIT, LIMIT_D1 = "limit", "limit depth 1"


@dataclass(frozen=True)
class Tool:
    name: str
    argv: list[str]
    cwd: str  # relative to the workspace
    base: str  # the limit row its ratio is taken against (same history)
    missing: str | None = None  # why it cannot run here


def find_program(name: str) -> str | None:
    """Prefer the script beside this interpreter: a shim (pyenv's) would add its own start-up
    to every call, and would lose its way once HOME points at the benchmark's own."""
    beside = Path(sys.executable).parent / name
    return str(beside) if os.access(beside, os.X_OK) else shutil.which(name)


def tools(jobs: int) -> list[Tool]:
    west, vcs = find_program("west"), find_program("vcs")
    sync = [*XLA, "sync", "--json", "--jobs", str(jobs)]
    script = [sys.executable, "sync_deps.py", "--jobs", str(jobs)]
    return [
        Tool(LIMIT, ["sh", "limit.sh"], PROJECT, LIMIT),
        Tool(LIMIT_D1, ["sh", "limit-depth1.sh"], PROJECT, LIMIT_D1),
        Tool("xla-tasks", sync, PROJECT, LIMIT),
        Tool("xla-tasks --history shallow", [*sync, "--history", "shallow"], PROJECT, LIMIT_D1),
        Tool("sync_deps.py", script, PROJECT, LIMIT),
        Tool("sync_deps.py --depth 1", [*script, "--depth", "1"], PROJECT, LIMIT_D1),
        Tool("west", [west or "west", "update"], ".", LIMIT, None if west else "not installed"),
        Tool(
            "vcstool",
            [vcs or "vcs", "import", "--input", f"{PROJECT}/deps.repos", "--workers", str(jobs)],
            ".",
            LIMIT,
            None if vcs else "not installed",
        ),
    ]


def rejects_flag(run: Run, flag: str) -> bool:
    """The tool does not know `flag` yet (invoke: "No idea what '--history' is!")."""
    return run.code != 0 and flag in run.err and "idea" in run.err


@dataclass
class World:
    """N upstreams, a project pinning them, and a workspace template (project cloned)."""

    work: Path
    deps: list[Upstream]
    template: Path
    url_base: str
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.deps]

    def pins(self, moved: bool) -> dict[str, str]:
        return {d.name: d.next if moved and d.name == MOVED_DEP else d.pin for d in self.deps}

    def files(self, moved: bool, urls: dict[str, str] | None = None) -> dict[str, str]:
        urls = urls or {d.name: d.url for d in self.deps}
        return manifests(self.deps, self.pins(moved), urls, self.url_base)

    def at_pins(self, ws: Path, moved: bool) -> bool:
        return all(head(ws / name) == rev for name, rev in self.pins(moved).items())

    def workspace(self, label: str) -> Path:
        ws = self.work / f"ws-{label.replace(' ', '-')}"
        shutil.rmtree(ws, ignore_errors=True)
        shutil.copytree(self.template, ws, symlinks=True)
        return ws

    def run_once(self, tool: Tool, label: str, traced: bool, keep_time: bool) -> dict[str, Run]:
        """cold, noop, moved in a fresh copy. `traced`: count git processes and sample
        memory; `keep_time`: record the times (a traced run's are a little slower)."""
        ws = self.workspace(f"{tool.name}-{label}")
        moved = next(d for d in self.deps if d.name == MOVED_DEP)
        runs: dict[str, Run] = {}
        try:
            for scenario in SCENARIOS:
                if scenario == "moved":
                    git("update-ref", "refs/heads/main", moved.next, cwd=moved.bare)
                    for path, text in self.files(True).items():
                        (ws / PROJECT / path).write_text(text)
                cell = self.cells[scenario][tool.name]
                if traced:
                    runs[scenario], cell.git_processes = git_processes(tool.argv, ws / tool.cwd)
                    cell.peak_mb = runs[scenario].peak_mb
                else:
                    runs[scenario] = timed(tool.argv, ws / tool.cwd)
                if keep_time:
                    cell.record(runs[scenario], self.at_pins(ws, scenario == "moved"))
                if runs[scenario].code != 0:
                    break
                settle(ws, self.names)
        finally:
            git("update-ref", "refs/heads/main", moved.head, cwd=moved.bare)
            shutil.rmtree(ws, ignore_errors=True)
        return runs


def prepare(work: Path, repos: int, commits: int, files: int, west: str | None) -> World:
    upstreams = work / "upstreams"
    deps = [build_upstream(upstreams, f"dep{i:02d}", commits, files) for i in range(repos)]
    world = World(work, deps, work / "template", upstreams.resolve().as_uri())
    project_url = build_project(upstreams, world.files(False))
    world.template.mkdir()
    git("clone", "-q", project_url, PROJECT, cwd=world.template)
    if west:
        subprocess.run(
            [west, "init", "-l", PROJECT], cwd=world.template, capture_output=True, check=True
        )
    return world


def run_scenarios(world: World, all_tools: Sequence[Tool], runs: int, quick: bool) -> None:
    """Runs interleave the tools (run 1 of each, then run 2 ...) to spread machine noise;
    a tool that rejects a flag it does not have yet is skipped, not failed. Then one
    untimed run per tool counts its git processes and samples its peak memory (`quick`:
    that run is the only one, and its times count)."""
    world.cells = {s: {t.name: Cell(error=t.missing) for t in all_tools} for s in SCENARIOS}
    live = [t for t in all_tools if t.missing is None]
    plan = [("traced", True, True)] if quick else [(str(r), False, True) for r in range(runs)]
    for label, traced, keep_time in [*plan, *([] if quick else [("traced", True, False)])]:
        for tool in list(live):
            first = world.run_once(tool, label, traced, keep_time).get("cold")
            if first is not None and rejects_flag(first, "--history"):
                for scenario in SCENARIOS:
                    world.cells[scenario][tool.name] = Cell(error="not supported yet")
                live.remove(tool)
