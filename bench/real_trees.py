#!/usr/bin/env python3
"""Real-tree measurements (issue 20), each against plain git, over the smart-HTTP server on
127.0.0.1 (tests/gitserver.py). Measuring scripts, not tests (no timing is ever asserted).

`clone-at-pin`: `checkout --sync` where every dep's branch runs far past its pin (A2-like).
A project pins --deps deps, each --behind commits below its branch tip. In each history
mode, `xla-tasks checkout --sync --history MODE proj` into an empty workspace against plain
git reaching the same end state the cheapest way (clone the project; per dep, in parallel:
`clone --no-checkout` [`--filter=blob:none`] + `checkout PIN`, or for shallow `init` +
`fetch --depth 1 origin PIN` + `checkout`): wall time (median of --runs) and bytes the
server sent. Then two workspaces in a row share one `--cache`: the requests the second one
makes to each upstream.

`submodule-move`: the shape of iree, a superproject with --subs submodules (2 of them
nested one level deeper) whose pin moves back four commits, across the one commit that
moves a submodule's gitlink. `xla-tasks sync` of a project pinning it against `git
checkout --detach OLD` + `git submodule update --init --recursive --depth 1`: time (median
of --runs, each from a fresh copy of a workspace at the new pin) and git processes
(GIT_TRACE2_EVENT `start` events, one per process); and a noop sync right after each move,
which is start-up alone, to show what the move itself costs beyond it.

    python3 bench/real_trees.py clone-at-pin [--runs N] [--deps N] [--commits N]
                                             [--files N] [--behind N] [--json]
    python3 bench/real_trees.py submodule-move [--runs N] [--subs N] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "tests")]

from gitserver import GitHttpServer  # noqa: E402
from measure import Run, isolated_env, timed  # noqa: E402
from world import build_upstream, git  # noqa: E402

from xla_tasks.demo.upstreams import Gitlink, commit, init_bare, pin_file_text  # noqa: E402
from xla_tasks.workspace.registry import WORKSPACE_FILE  # noqa: E402

XLA = [sys.executable, "-m", "xla_tasks"]


@contextlib.contextmanager
def served(prefix: str) -> Iterator[tuple[Path, dict[str, str], Path, GitHttpServer]]:
    """A temporary folder, an isolated git environment, and a server for its upstreams."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        env = isolated_env(work / "home")
        ups = work / "upstreams"
        ups.mkdir()
        with GitHttpServer(ups) as server:
            yield work, env, ups, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("clone-at-pin", "submodule-move"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deps", type=int, default=4)
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--behind", type=int, default=300)
    parser.add_argument("--subs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run = clone_at_pin if args.what == "clone-at-pin" else submodule_move
    run(args)


# --- clone at the pin ---------------------------------------------------------------------

MODES = ("full", "blobless", "shallow")
_PLAIN = {
    "full": 'git clone -q --no-checkout "$2" "$1" && $CO "$3"',
    "blobless": 'git clone -q --no-checkout --filter=blob:none "$2" "$1" && $CO "$3"',
    "shallow": 'git init -q "$1" && git -C "$1" remote add origin "$2"'
    ' && git -C "$1" fetch -q --depth 1 origin "$3" && $CO FETCH_HEAD',
}


def build_pinned_deps(
    root: Path, server: GitHttpServer, deps: int, commits: int, files: int, behind: int
) -> dict[str, str]:
    pins = {}
    for number in range(deps):
        name = f"dep{number:02d}"
        bare = build_upstream(root, name, commits, files).bare
        pins[name] = git("rev-parse", f"main~{behind}", cwd=bare)
    pin_text = pin_file_text({n: (rev, server.url(n), False) for n, rev in pins.items()})
    init_bare(root / "proj.git")
    commit(root / "proj.git", {"sync_deps.toml": pin_text}, "pin the deps")
    return pins


def plain_script(pins: dict[str, str], server: GitHttpServer, mode: str) -> str:
    lines = "".join(
        f"one {name} {server.url(name)} {rev} & p{i}=$!\n"
        for i, (name, rev) in enumerate(pins.items())
    )
    waits = "".join(f"wait $p{i} || rc=1\n" for i in range(len(pins)))
    return (
        f'rc=0\ngit clone -q "{server.url("proj")}" proj || exit 1\n'
        'one() {\n  CO="git -C $1 -c advice.detachedHead=false checkout -q --detach"\n'
        f"  {_PLAIN[mode]}\n}}\n{lines}{waits}exit $rc\n"
    )


def clone_at_pin(args: argparse.Namespace) -> None:
    with served("clone-at-pin-") as (work, env, ups, server):
        pins = build_pinned_deps(ups, server, args.deps, args.commits, args.files, args.behind)
        result = {mode: clone(work, server, env, pins, mode, args.runs) for mode in MODES}
        result["warm cache"] = warm_cache(work, server, env, pins)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for mode in MODES:
        ours, plain = result[mode]["xla-tasks"], result[mode]["plain git"]
        print(
            f"{mode:8}  xla-tasks {ours['seconds']:.2f}s {ours['mb']:.2f} MB   "
            f"plain git {plain['seconds']:.2f}s {plain['mb']:.2f} MB   "
            f"ratio {ours['seconds'] / plain['seconds']:.2f}x time, "
            f"{ours['mb'] / plain['mb']:.3f}x bytes"
        )
    warm = result["warm cache"]
    print(f"warm cache: requests to the deps' upstreams {warm['deps']}, to proj {warm['proj']}")


def _workspace(work: Path, label: str, server: GitHttpServer) -> Path:
    ws = work / label
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir()
    (ws / WORKSPACE_FILE).write_text(f'schema = 1\n[repos.proj]\nurl = "{server.url("proj")}"\n')
    return ws


def clone(
    work: Path,
    server: GitHttpServer,
    env: dict[str, str],
    pins: dict[str, str],
    mode: str,
    runs: int,
) -> dict[str, dict[str, float]]:
    """Runs alternate between the tools; each from an empty workspace."""
    script = work / f"plain-{mode}.sh"
    script.write_text(plain_script(pins, server, mode))
    tools = {
        "xla-tasks": [*XLA, "checkout", "--sync", "--json", "--history", mode, "proj"],
        "plain git": ["sh", str(script)],
    }
    seconds: dict[str, list[float]] = {name: [] for name in tools}
    sent: dict[str, int] = {}
    for _ in range(runs):
        for name, argv in tools.items():
            ws = _workspace(work, f"ws-{mode}", server)
            server.reset_counts()
            run = timed(argv, ws, env)
            assert run.code == 0, f"{name} {mode}: {run.err or run.out}"
            for dep, rev in pins.items():
                assert git("rev-parse", "HEAD", cwd=ws / dep) == rev, f"{name}: {dep} off its pin"
            seconds[name].append(run.seconds)
            sent[name] = sum(server.bytes_sent.values())
    return {
        name: {
            "seconds": statistics.median(seconds[name]),
            "runs": [round(s, 3) for s in seconds[name]],  # type: ignore[dict-item]
            "mb": sent[name] / 1e6,
        }
        for name in tools
    }


def warm_cache(
    work: Path, server: GitHttpServer, env: dict[str, str], pins: dict[str, str]
) -> dict[str, int]:
    """Two workspaces in a row with one cache: the second's requests per upstream."""
    cache = work / "cache"
    for label in ("cache-1", "cache-2"):
        ws = _workspace(work, label, server)
        server.reset_counts()
        run = timed([*XLA, "checkout", "--sync", "--cache", str(cache), "proj"], ws, env)
        assert run.code == 0, run.err or run.out
    return {
        "deps": sum(server.requests[name] for name in pins),
        "proj": server.requests["proj"],
    }


# --- a submodule moves --------------------------------------------------------------------

MOVED = "sub07"


def build_superproject(
    root: Path, server: GitHttpServer, subs: int, nested: int
) -> tuple[str, str]:
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


def submodule_move(args: argparse.Namespace) -> None:
    with served("submodule-move-") as (work, env, ups, server):
        new, old = build_superproject(ups, server, args.subs, 2)
        result = move(work, server, env, new, old, args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for tool, row in result.items():
        print(
            f"{tool:10} {row['seconds']:.3f}s  runs {row['runs']}  "
            f"{row['git_processes']} git processes"
        )
    ours, plain, noop = result["xla-tasks"], result["plain git"], result["xla-tasks noop"]
    print(
        f"ratio: {ours['seconds'] / plain['seconds']:.2f}x time, "
        f"{ours['git_processes'] / plain['git_processes']:.2f}x processes; "
        f"beyond a noop sync (start-up): {(ours['seconds'] - noop['seconds']):.3f}s, "
        f"{(ours['seconds'] - noop['seconds']) / plain['seconds']:.2f}x plain git's time"
    )


def move(
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
    noops: list[float] = []
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
                if name == "xla-tasks":  # the same again, on the pin: start-up alone
                    noops.append(timed(argv, cwd, env).seconds)
            assert run.code == 0, f"{name}: {run.err or run.out}"
    result: dict[str, dict[str, object]] = {
        name: {
            "seconds": statistics.median(times[name]),
            "runs": [round(s, 3) for s in times[name]],
            "git_processes": counts[name],
        }
        for name in tools
    }
    result["xla-tasks noop"] = {
        "seconds": statistics.median(noops),
        "runs": [round(s, 3) for s in noops],
        "git_processes": 0,
    }
    return result


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
