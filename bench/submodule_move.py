#!/usr/bin/env python3
"""What moving a superproject's pin costs when one of its submodules moves (issue 20).

The shape of iree: a superproject with 15 submodules (2 of them nested one level deeper),
served over the smart-HTTP server on 127.0.0.1. Its pin moves back four commits, across the
one commit that moves a submodule's gitlink. `xla-tasks sync` of a project pinning it is
compared with plain git doing the same (`git checkout --detach OLD` then `git submodule
update --init --recursive --depth 1`), in time (median of --runs) and in git processes
(GIT_TRACE2_EVENT `start` events, one per process). Each run starts from the new pin, put
back untimed. A measuring script, not a test:

    python3 bench/submodule_move.py [--runs N] [--subs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "tests")]

from gitserver import GitHttpServer  # noqa: E402
from measure import Run, isolated_env, timed  # noqa: E402
from world import build_upstream, git  # noqa: E402

from xla_tasks.demo.upstreams import Gitlink, commit, pin_file_text  # noqa: E402

XLA = [sys.executable, "-m", "xla_tasks"]
MOVED = "sub07"


def build(root: Path, server: GitHttpServer, subs: int, nested: int) -> tuple[str, str]:
    """The superproject's new and old pins (four commits apart, one gitlink moved)."""
    names = [f"sub{i:02d}" for i in range(subs)]
    ups = {n: build_upstream(root, n, 6, 40) for n in names}
    heads = {n: u.head for n, u in ups.items()}
    for parent, child in zip(names[:nested], names[subs - nested :], strict=True):
        modules = f'[submodule "{child}"]\n\tpath = third_party/{child}\n'
        modules += f"\turl = {server.url(child)}\n"
        heads[parent] = commit(
            ups[parent].bare,
            {".gitmodules": modules, f"third_party/{child}": Gitlink(heads[child])},
            "add nested submodule",
        )
    direct = names[: subs - nested]
    old_moved = git("rev-parse", "main~1", cwd=ups[MOVED].bare)
    top = build_upstream(root, "super", 3, 20)
    modules = "".join(
        f'[submodule "{n}"]\n\tpath = third_party/{n}\n\turl = {server.url(n)}\n' for n in direct
    )
    links: dict[str, str | Gitlink | None] = {".gitmodules": modules}
    links.update(
        {f"third_party/{n}": Gitlink(old_moved if n == MOVED else heads[n]) for n in direct}
    )
    old = commit(top.bare, links, "add submodules")
    for number in range(3):
        commit(top.bare, {f"src/more{number}.cc": f"int more{number};\n"}, f"change {number}")
    new = commit(top.bare, {f"third_party/{MOVED}": Gitlink(heads[MOVED])}, f"bump {MOVED}")
    return new, old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--subs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="submove-") as tmp:
        work = Path(tmp)
        env = isolated_env(work / "home")
        ups = work / "upstreams"
        ups.mkdir()
        with GitHttpServer(ups) as server:
            new, old = build(ups, server, args.subs, 2)
            result = measure(work, server, env, new, old, args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for tool, row in result.items():
        print(
            f"{tool:10} {row['seconds']:.3f}s  runs {row['runs']}  "
            f"{row['git_processes']} git processes"
        )
    ours, plain = result["xla-tasks"], result["plain git"]
    print(
        f"ratio: {ours['seconds'] / plain['seconds']:.2f}x time, "
        f"{ours['git_processes'] / plain['git_processes']:.2f}x processes"
    )


def measure(
    work: Path, server: GitHttpServer, env: dict[str, str], new: str, old: str, runs: int
) -> dict[str, dict[str, object]]:
    """Each tool's workspace is put at the new pin once (untimed); each run moves a fresh
    copy of it to the old pin (the moved submodule's old commit must be fetched). The
    last run is traced instead of timed, for the process count."""
    url = server.url("super")
    ours = work / "ours-template"
    (ours / "proj").mkdir(parents=True)
    git("init", "-q", cwd=ours / "proj")
    plain = work / "plain-template"
    git("clone", "-q", url, str(plain / "super"), cwd=work)

    def ours_to(rev: str, ws: Path) -> tuple[list[str], Path]:
        (ws / "proj" / "sync_deps.toml").write_text(pin_file_text({"super": (rev, url, True)}))
        return [*XLA, "sync", "--json"], ws / "proj"

    def plain_to(rev: str, ws: Path) -> tuple[list[str], Path]:
        move = f"git checkout -q --detach {rev}"
        argv = ["sh", "-c", f"{move} && git submodule update -q --init --recursive --depth 1"]
        return argv, ws / "super"

    tools = {"xla-tasks": (ours, ours_to), "plain git": (plain, plain_to)}
    for name, (template, to) in tools.items():
        ready = timed(*to(new, template), env)
        assert ready.code == 0, f"{name}: {ready.err or ready.out}"
    times: dict[str, list[float]] = {name: [] for name in tools}
    counts: dict[str, int] = {}
    for number in range(runs + 1):
        for name, (template, to) in tools.items():
            ws = work / f"run-{name.replace(' ', '-')}"
            shutil.rmtree(ws, ignore_errors=True)
            shutil.copytree(template, ws, symlinks=True)
            argv, cwd = to(old, ws)
            if number == runs:
                run, counts[name] = _traced(argv, cwd, env)
            else:
                run = timed(argv, cwd, env)
                times[name].append(run.seconds)
            assert run.code == 0, f"{name}: {run.err or run.out}"
    return {
        name: {
            "seconds": statistics.median(times[name]),
            "runs": [round(s, 3) for s in times[name]],
            "git_processes": counts[name],
        }
        for name in tools
    }


def _traced(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[Run, int]:
    """Run with GIT_TRACE2_EVENT on: the number of git processes (`start` events)."""
    with tempfile.TemporaryDirectory(prefix="trace2-") as folder:
        run = timed(argv, cwd, {**env, "GIT_TRACE2_EVENT": folder})
        starts = sum(
            line.count('"event":"start"')
            for path in Path(folder).iterdir()
            for line in path.read_text(errors="replace").splitlines()
        )
    return run, starts


if __name__ == "__main__":
    main()
