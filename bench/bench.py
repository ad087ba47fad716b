#!/usr/bin/env python3
"""How fast is `xla-tasks sync`, and how close to the limit? One command, one run, offline.

The limit is plain git doing the cheapest correct commands per repo, every repo at once
(clone --no-checkout + checkout when missing, one rev-parse when on the pin, fetch +
checkout of the commit when off it), in full history and at depth 1. Against it: xla-tasks
sync (and `--history shallow` once it has the flag), the generated sync_deps.py (and
`--depth 1`), west update and vcs import, on the same local repos and pins. For each N
(--repos, default 10 and 40) it builds N bare upstreams with `git fast-import` and a
project pinning them, then times, each from a fresh copy of the workspace: `cold` (only
the project cloned), `noop` (everything on its pin) and `moved` (one pin advanced to a
commit that only just appeared upstream). It also measures:

- growth: seconds per extra repo between the two N, against the limit's;
- git processes per noop and moved sync (GIT_TRACE2_EVENT `start` events);
- peak memory (the largest VmHWM among each tool's processes, sampled in the traced run);
- start-up and quick commands: --help, --list, status, pin --check, pin (nothing moved)
  against `python3 -c "import invoke"`;
- a submodule world (30 submodules, some nested) against `git clone` + `git submodule
  update --init --recursive --depth 1 --jobs J`;
- bytes received by a cold sync per history mode (full, blobless, shallow) over a smart-HTTP
  server on 127.0.0.1 (tests/gitserver.py), against plain git in the same mode;
- the shared cache per history mode, over HTTP: a sync without a cache against two in a row
  sharing one empty `--cache` (the first fills it, the second is warm): time and bytes.
- the real-shape world (realshape.py), over HTTP: deps whose main is thousands of commits
  past the pin, a superproject with 15 submodules of which one moves, and torch_xla nested
  in pytorch, each against plain git doing the same work (time, bytes, git processes).
  `--only real-shape` runs just that section (a few minutes).

A tool that rejects a flag it does not have yet shows as n/a. Speed is never asserted in
the tests; this script is how it is measured.

    python3 bench/bench.py [--repos 10,40] [--commits N] [--files N] [--runs N] [--jobs N]
                           [--submodules N] [--no-http] [--only real-shape] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "tests")]  # bench modules,
# this checkout's xla_tasks, and the tests' HTTP git server (one implementation of it)

import extras  # noqa: E402
import realshape  # noqa: E402
import report  # noqa: E402
from measure import isolated_env, timed  # noqa: E402
from scenarios import (  # noqa: E402
    LIMIT,
    LIMIT_D1,
    SCENARIOS,
    Tool,
    World,
    prepare,
    run_scenarios,
    tools,
)
from world import build_submodule_world, git  # noqa: E402

from xla_tasks.workspace.settings import default_jobs  # noqa: E402

QUICK = {"repos": [2], "commits": 5, "files": 20, "runs": 1, "submodules": 2}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", default="10,40", help="numbers of deps, comma-separated")
    parser.add_argument("--commits", type=int, default=200, help="commits per dep (200)")
    parser.add_argument("--files", type=int, default=300, help="files per dep (300)")
    parser.add_argument("--runs", type=int, default=3, help="runs per cell, median (3)")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="parallel git jobs")
    parser.add_argument("--submodules", type=int, default=30, help="submodule world size, 0: skip")
    parser.add_argument(
        "--no-http", action="store_true", help="skip the HTTP sections: bytes, cache, real-shape"
    )
    parser.add_argument("--only", choices=["real-shape"], help="run one section only")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        args.repos = sorted({int(n) for n in args.repos.split(",")})
    except ValueError:
        parser.error("--repos takes numbers separated by commas, e.g. 10,40")
    if args.quick:
        vars(args).update(QUICK)
    for flag in ("commits", "files", "runs", "jobs"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    if min(args.repos) < 1 or args.submodules < 0:
        parser.error("--repos must be at least 1 and --submodules at least 0")
    return args


def facts(args: argparse.Namespace, work: Path, all_tools: Sequence[Any]) -> dict[str, Any]:
    peers = {t.name: t for t in all_tools if t.name in ("west", "vcstool")}
    return {
        "commits": args.commits,
        "files": args.files,
        "runs": args.runs,
        "jobs": args.jobs,
        "git": git("--version", cwd=work).removeprefix("git version "),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "versions": {
            name: None if t.missing else _version([t.argv[0], "--version"], work)
            for name, t in peers.items()
        },
    }


def _version(argv: list[str], cwd: Path) -> str | None:
    run = timed(argv, cwd)
    return (run.out or run.err).split()[-1] if run.code == 0 and (run.out or run.err) else None


class Clock:
    """Seconds per section of the benchmark, so a slow one shows."""

    def __init__(self, laps: dict[str, float]) -> None:
        self.laps, self.last = laps, time.perf_counter()

    def lap(self, label: str) -> None:
        now = time.perf_counter()
        self.laps[label], self.last = round(now - self.last, 2), now


def measure_sizes(
    args: argparse.Namespace, work: Path, all_tools: Sequence[Tool], clock: Clock
) -> dict[int, World]:
    """The three scenarios at every N; the worlds stay for the sections that reuse them."""
    west = next(t for t in all_tools if t.name == "west")
    worlds = {}
    for n in args.repos:
        program = None if west.missing else west.argv[0]
        worlds[n] = prepare(work / f"n{n}", n, args.commits, args.files, program)
        clock.lap(f"setup N={n}")
        run_scenarios(worlds[n], all_tools, args.runs, args.quick)
        clock.lap(f"scenarios N={n}")
    return worlds


def measure_extras(
    args: argparse.Namespace, work: Path, smallest: World, clock: Clock
) -> dict[str, Any]:
    """Start-up, the submodule world, and (over HTTP) bytes per history mode and the cache."""
    found: dict[str, Any] = {
        "startup": extras.startup(smallest, 1 if args.quick else 5 * args.runs)
    }
    clock.lap("start-up")
    if args.submodules:
        nested = max(1, args.submodules // 6)
        sub_world = build_submodule_world(
            work / "subs",
            args.submodules,
            nested,
            max(2, args.commits // 4),
            max(4, args.files // 6),
        )
        found["submodules"] = extras.submodule_rows(work, sub_world, args.jobs, args.runs)
        clock.lap("submodules")
    if not args.no_http:
        found["history_bytes"] = extras.history_bytes(smallest, args.jobs)
        found["cache"] = extras.shared_cache(smallest, args.jobs)
        clock.lap("bytes and cache")
        found["real_shape"] = realshape.real_shape(work, args.jobs, args.runs, args.quick)
        clock.lap("real shape")
    return found


def measure_all(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    if args.only == "real-shape":
        found = realshape.real_shape(work, args.jobs, args.runs, args.quick)
        return {"real_shape": found, "ok": found["ok"]}
    all_tools = tools(args.jobs)
    result: dict[str, Any] = {**facts(args, work, all_tools), "tools": [t.name for t in all_tools]}
    clock = Clock(result.setdefault("section_seconds", {}))
    worlds = measure_sizes(args, work, all_tools, clock)
    result["sizes"] = {n: report.size_result(w, all_tools) for n, w in worlds.items()}
    result["growth"] = report.growth(result["sizes"], all_tools)
    result.update(measure_extras(args, work, worlds[min(worlds)], clock))
    result["ok"] = all(
        row[s][name]["at_pins"]
        for row in result["sizes"].values()
        for s in SCENARIOS
        for name in ("xla-tasks", LIMIT, LIMIT_D1)
    ) and result.get("real_shape", {}).get("ok", True)
    return result


def main(argv: Sequence[str] | None = None, out: Callable[[str], object] = print) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xla-tasks-bench-") as tmp:
        work = Path(tmp)
        os.environ.clear()
        os.environ.update(isolated_env(work / "home"))
        compileall.compile_dir(str(HERE.parent / "xla_tasks"), quiet=1)  # as installed: .pyc
        started = time.perf_counter()
        result = measure_all(args, work)
        result["total_seconds"] = round(time.perf_counter() - started, 3)
    out(json.dumps(result, indent=2) if args.json else report.text(result, tools(args.jobs)))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
