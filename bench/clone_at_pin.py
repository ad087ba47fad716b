#!/usr/bin/env python3
"""`checkout --sync` where every dep's branch runs far past its pin (issue 20, A2-like).

A project pins --deps deps, each at a commit --behind commits below its branch tip, served
over the smart-HTTP server on 127.0.0.1. In each history mode, `xla-tasks checkout --sync
--history MODE proj` into an empty workspace is compared with plain git reaching the same
end state the cheapest way (clone the project; per dep, in parallel: `clone --no-checkout`
[`--filter=blob:none`] + `checkout PIN`, or for shallow `init` + `fetch --depth 1 origin
PIN` + `checkout`): wall time (median of --runs) and bytes the server sent. Then two
workspaces in a row share one `--cache`: the requests the second one makes to each
upstream. A measuring script, not a test:

    python3 bench/clone_at_pin.py [--runs N] [--deps N] [--commits N] [--files N]
                                  [--behind N] [--json]
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
from measure import isolated_env, timed  # noqa: E402
from world import build_upstream, git  # noqa: E402

from xla_tasks.demo.upstreams import commit, init_bare, pin_file_text  # noqa: E402
from xla_tasks.workspace.registry import WORKSPACE_FILE  # noqa: E402

XLA = [sys.executable, "-m", "xla_tasks"]
MODES = ("full", "blobless", "shallow")
_PLAIN = {
    "full": 'git clone -q --no-checkout "$2" "$1" && $CO "$3"',
    "blobless": 'git clone -q --no-checkout --filter=blob:none "$2" "$1" && $CO "$3"',
    "shallow": 'git init -q "$1" && git -C "$1" remote add origin "$2"'
    ' && git -C "$1" fetch -q --depth 1 origin "$3" && $CO FETCH_HEAD',
}


def build(root: Path, server: GitHttpServer, deps: int, commits: int, files: int, behind: int):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deps", type=int, default=4)
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--behind", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clone-at-pin-") as tmp:
        work = Path(tmp)
        env = isolated_env(work / "home")
        ups = work / "upstreams"
        ups.mkdir()
        with GitHttpServer(ups) as server:
            pins = build(ups, server, args.deps, args.commits, args.files, args.behind)
            result = {mode: measure(work, server, env, pins, mode, args.runs) for mode in MODES}
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


def measure(
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


if __name__ == "__main__":
    main()
