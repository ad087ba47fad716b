"""Git object reads of `roll`, `pin` and `status` on many moved deps: how many git processes
each starts (from git's own trace2 events); time them from outside with any timer.

    python bench/git_reads.py build DIR [--deps 40 --commits 300 --move 50]
    python bench/git_reads.py count DIR -- roll --schedule all --dry-run --log-limit 10
    python bench/git_reads.py command DIR roll   # the folder and argv to hand a timer, e.g.
    cd DIR/ws/project && /usr/bin/time -v python -m xla_tasks roll --schedule all --dry-run

The world: DEPS bare upstreams of COMMITS commits each, a project pinning every dep MOVE
commits behind its head (with a schedule `all` naming them), and a full clone of each dep
beside the project on its upstream head. So `roll --schedule all` moves every dep by MOVE
commits and reads its log from the local clone, `pin` records MOVE-commit moves, and
`status` and `sync --dry-run` read each dep's pin files at its pinned commit. All change
nothing, so each run starts from the same state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from world import build_upstream, git  # noqa: E402  (bench/ is not a package)

from xla_tasks.demo.upstreams import pin_file_text  # noqa: E402

PROJECT = "project"
COMMANDS = {
    "roll": ["roll", "--schedule", "all", "--dry-run", "--log-limit", "10"],
    "pin": ["pin", "--dry-run"],
    "status": ["status"],  # reads each dep's pin files at its pinned commit
    "sync-dry-run": ["sync", "--dry-run"],
}


def build(root: Path, deps: int, commits: int, move: int) -> None:
    upstreams, ws = root / "upstreams", root / "ws"
    shutil.rmtree(root, ignore_errors=True)
    ws.mkdir(parents=True)
    upstreams.mkdir()
    pins: dict[str, tuple[str, str, bool]] = {}
    for index in range(deps):
        name = f"dep{index:02d}"
        upstream = build_upstream(upstreams, name, commits, files=20)
        pins[name] = (git("rev-parse", f"main~{move}", cwd=upstream.bare), upstream.url, False)
        git("clone", "-q", upstream.url, str(ws / name), cwd=root)
    text = pin_file_text(pins, schedules={"all": {"deps": sorted(pins)}})
    project = ws / PROJECT
    git("init", "-q", "--initial-branch=main", str(project), cwd=root)
    (project / "sync_deps.toml").write_text(text)
    git("add", "sync_deps.toml", cwd=project)
    git(
        "-c",
        "user.name=bench",
        "-c",
        "user.email=b@example.com",
        "commit",
        "-qm",
        "pins",
        cwd=project,
    )
    # sync_deps.py, rendered from the TOML, so `pin` has only the 40 moves to report
    subprocess.run(
        [sys.executable, "-m", "xla_tasks", "pin", "--from-toml"], cwd=project, check=True
    )


def count(root: Path, args: list[str]) -> None:
    """Run `xla-tasks ARGS` in the project once; print its git processes by subcommand."""
    with tempfile.TemporaryDirectory(prefix="trace2-") as folder:
        env = {**os.environ, "GIT_TRACE2_EVENT": folder}
        done = subprocess.run(
            [sys.executable, "-m", "xla_tasks", *args],
            cwd=root / "ws" / PROJECT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        verbs: Counter[str] = Counter()
        for path in Path(folder).iterdir():
            for line in path.read_text(errors="replace").splitlines():
                event = json.loads(line)
                if event.get("event") == "start":
                    argv = event.get("argv", [])
                    verbs[_verb(argv)] += 1
    print(
        json.dumps(
            {
                "exit": done.returncode,
                "git": sum(verbs.values()),
                "by_verb": dict(verbs.most_common()),
            }
        )
    )
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)


def _verb(argv: list[str]) -> str:
    """`cat-file --batch`, `rev-list`, ...: the subcommand after git's own options."""
    if argv and Path(argv[0]).name.startswith("git-"):
        return Path(argv[0]).name  # git-upload-pack, git-remote-https
    words = argv[1:]
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] in ("-c", "-C") else words[1:]
    if not words:
        return argv[0] if argv else "?"
    flag = next((w for w in words[1:] if w.startswith("--batch")), "")
    return f"{words[0]} {flag}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    made = sub.add_parser("build")
    made.add_argument("root", type=Path)
    made.add_argument("--deps", type=int, default=40)
    made.add_argument("--commits", type=int, default=300)
    made.add_argument("--move", type=int, default=50)
    counted = sub.add_parser("count")
    counted.add_argument("root", type=Path)
    counted.add_argument("args", nargs="+")
    shown = sub.add_parser("command")
    shown.add_argument("root", type=Path)
    shown.add_argument("name", choices=sorted(COMMANDS))
    opts = parser.parse_args()
    if opts.what == "build":
        build(opts.root.resolve(), opts.deps, opts.commits, opts.move)
    elif opts.what == "count":
        count(opts.root.resolve(), opts.args)
    else:
        argv = [sys.executable, "-m", "xla_tasks", *COMMANDS[opts.name]]
        print(json.dumps({"cwd": str(opts.root.resolve() / "ws" / PROJECT), "argv": argv}))


if __name__ == "__main__":
    main()
