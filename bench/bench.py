#!/usr/bin/env python3
"""How fast is `xla-tasks sync`? Timed against plain git, the generated sync_deps.py, west and
vcstool, on the same local repos and the same pins, in one run (no network: file:// URLs).

Builds N bare upstreams with `git fast-import` (C commits over F small files each) and a leaf
project pinning all of them a few commits behind their heads; then times three scenarios per
tool, each run from a fresh copy of the workspace: `cold` (only the project is cloned),
`warm` (everything already at its pin) and `moved` (one pin advanced to a commit that only
just appeared upstream). Prints seconds (median of --runs) and each tool's time divided by
xla-tasks' time (>1: xla-tasks is faster), plus start-up times. Speed is never asserted in the
tests; this script is how it is measured.

Reading the numbers: every URL is local, so a fetch costs a few milliseconds here where it
costs a server round trip on a real network. Tools that fetch every repo on every run (the
git script, vcstool) look cheaper here than they are; skipping fetches (xla-tasks,
sync_deps.py, west's smart fetch) pays off more over a network than these numbers show.

    python3 bench/bench.py [--repos N] [--commits N] [--files N] [--runs N] [--jobs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # time this checkout's xla_tasks, not whichever is installed

from xla_tasks.demo import AUTHOR, BASE_DATE, init_bare, pin_file_text  # noqa: E402
from xla_tasks.parallel import default_jobs  # noqa: E402
from xla_tasks.render import render_sync_deps_script  # noqa: E402

SCENARIOS = ("cold", "warm", "moved")
XLA = "xla-tasks"
BEHIND = 3  # pins sit this many commits behind the head of main
NEXT_REF = "refs/bench/next"  # a commit parked upstream; `moved` makes it main's new head
MOVED_DEP = "dep00"
PROJECT = "project"
TIMEOUT = 600  # seconds before one tool run counts as hung


# --- upstreams ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Upstream:
    name: str
    url: str
    bare: Path
    pin: str  # the commit the project pins
    head: str  # main's head while the scenarios start
    next: str  # one commit past head, published for `moved`


def _git(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd}: {done.stderr.decode().strip()}")
    return done.stdout.decode().strip()


def _file_path(index: int) -> str:
    return f"src/part{index % 16:02d}/file{index:04d}.cc"


def _file_text(name: str, index: int, revision: int) -> bytes:
    body = "".join(
        f"int {name}_f{index}_{k}(int x) {{ return x + {revision}; }}\n" for k in range(24)
    )
    return f"// {name}: file {index}, revision {revision}\n{body}".encode()


def history_stream(name: str, commits: int, files: int) -> bytes:
    """One fast-import stream: `commits` commits on main (the first adds every file, the
    others change three), then one more on NEXT_REF for the `moved` scenario."""
    chunks: list[bytes] = []
    for number in range(commits + 1):
        when = f"{BASE_DATE + 3600 * number} +0000"
        message = f"{name}: change {number}".encode()
        ref = "refs/heads/main" if number < commits else NEXT_REF
        chunks += [
            f"commit {ref}\nmark :{number + 1}\n".encode(),
            f"author {AUTHOR} {when}\ncommitter {AUTHOR} {when}\n".encode(),
            f"data {len(message)}\n".encode() + message + b"\n",
        ]
        if number == commits:
            chunks.append(f"from :{commits}\n".encode())
        changed = range(files) if number == 0 else {(number * 7 + k * 31) % files for k in range(3)}
        for index in sorted(changed):
            data = _file_text(name, index, number)
            chunks += [f"M 100644 inline {_file_path(index)}\ndata {len(data)}\n".encode(), data]
            chunks.append(b"\n")
    return b"".join(chunks)


def build_upstream(root: Path, name: str, commits: int, files: int) -> Upstream:
    bare = root / f"{name}.git"
    url = init_bare(bare)
    stream = history_stream(name, commits, files)
    _git("fast-import", "--quiet", "--date-format=raw", cwd=bare, stdin=stream)
    history = _git("rev-list", "--first-parent", "--reverse", "main", cwd=bare).split()
    pin = history[max(0, len(history) - 1 - BEHIND)]
    return Upstream(name, url, bare, pin, history[-1], _git("rev-parse", NEXT_REF, cwd=bare))


# --- the project: the same pins in each tool's format -------------------------------------


def manifests(deps: Sequence[Upstream], pins: Mapping[str, str], url_base: str) -> dict[str, str]:
    """Files of the project repo, each pinning every dep at `pins[name]`."""
    return {
        "sync_deps.toml": pin_file_text({d.name: (pins[d.name], d.url, False) for d in deps}),
        "sync_deps.py": render_sync_deps_script(
            {d.name: pins[d.name] for d in deps},
            {d.name: d.url for d in deps},
            {},
            {d.name: "main" for d in deps},
        ),
        "west.yml": _west_manifest(deps, pins, url_base),
        "deps.repos": _vcs_repos(deps, pins),
        "sync_git.sh": _git_script(deps, pins),
    }


def _west_manifest(deps: Sequence[Upstream], pins: Mapping[str, str], url_base: str) -> str:
    projects = "".join(
        f"    - name: {d.name}\n      repo-path: {d.bare.name}\n      revision: {pins[d.name]}\n"
        for d in deps
    )
    return (
        "manifest:\n  remotes:\n    - name: local\n"
        f"      url-base: {url_base}\n  defaults:\n    remote: local\n"
        f"  projects:\n{projects}  self:\n    path: {PROJECT}\n"
    )


def _vcs_repos(deps: Sequence[Upstream], pins: Mapping[str, str]) -> str:
    entries = "".join(
        f"  {d.name}:\n    type: git\n    url: {d.url}\n    version: {pins[d.name]}\n" for d in deps
    )
    return f"repositories:\n{entries}"


def _git_script(deps: Sequence[Upstream], pins: Mapping[str, str]) -> str:
    lines = "".join(f"sync {d.name} {d.url} {pins[d.name]}\n" for d in deps)
    return (
        "#!/bin/sh\n"
        "# What a hand-written sync script does: clone or fetch, then check out the pin,\n"
        "# one repo after the other.\nset -e\n"
        'cd "$(dirname "$0")/.."\n'
        "sync() {\n"
        '  if [ -d "$1" ]; then git -C "$1" fetch -q origin; else git clone -q "$2" "$1"; fi\n'
        '  git -C "$1" -c advice.detachedHead=false checkout -q --detach "$3"\n'
        "}\n" + lines
    )


def build_project(root: Path, files: Mapping[str, str]) -> str:
    """A bare project repo with one commit holding the pin files; returns its URL."""
    bare = root / f"{PROJECT}.git"
    url = init_bare(bare)
    chunks = [
        b"commit refs/heads/main\n",
        f"author {AUTHOR} {BASE_DATE} +0000\ncommitter {AUTHOR} {BASE_DATE} +0000\n".encode(),
        b"data 14\npin every dep\n",
    ]
    for path, text in sorted(files.items()):
        data = text.encode()
        mode = "100755" if path.endswith((".sh", ".py")) else "100644"
        chunks += [f"M {mode} inline {path}\ndata {len(data)}\n".encode(), data, b"\n"]
    _git("fast-import", "--quiet", "--date-format=raw", cwd=bare, stdin=b"".join(chunks))
    return url


# --- tools -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str
    argv: list[str]
    cwd: str  # relative to the workspace
    missing: str | None = None  # why it cannot run here


def find_program(name: str) -> str | None:
    """Prefer the script beside this interpreter: a shim (pyenv's) would add its own start-up
    to every call, and would lose its way once HOME points at the benchmark's own."""
    beside = Path(sys.executable).parent / name
    return str(beside) if os.access(beside, os.X_OK) else shutil.which(name)


def tools(jobs: int) -> list[Tool]:
    xla = [sys.executable, "-m", "xla_tasks"]
    west = find_program("west")
    vcs = find_program("vcs")
    return [
        Tool(XLA, [*xla, "sync", "--json", "--jobs", str(jobs)], PROJECT),
        Tool("sync_deps.py", [sys.executable, "sync_deps.py", "--jobs", str(jobs)], PROJECT),
        Tool("git script", ["sh", "sync_git.sh"], PROJECT),
        Tool("west", [west or "west", "update"], ".", None if west else "not installed"),
        Tool(
            "vcstool",
            [vcs or "vcs", "import", "--input", f"{PROJECT}/deps.repos", "--workers", str(jobs)],
            ".",
            None if vcs else "not installed",
        ),
    ]


def tool_version(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return None
    return (done.stdout or done.stderr).split()[-1] if done.returncode == 0 else None


# --- running -----------------------------------------------------------------------------


@dataclass
class Cell:
    """One tool in one scenario: the time of each run, and what went wrong if anything did."""

    seconds: list[float] = field(default_factory=list)
    error: str | None = None
    at_pins: bool = True
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def median(self) -> float | None:
        return None if self.error or not self.seconds else statistics.median(self.seconds)


def isolated_env(home: Path) -> dict[str, str]:
    """No user or system git config, fixed identity, this checkout's xla_tasks first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k == "GIT_EXEC_PATH"}
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


def timed(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of one command; a hung one is stopped after TIMEOUT and counts as failed."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess(argv, -1, "", f"timed out after {TIMEOUT}s")
    return time.perf_counter() - start, done


def head(repo: Path) -> str | None:
    if not repo.is_dir():
        return None
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def settle(ws: Path, names: Sequence[str]) -> None:
    """Refresh each dep's index (untimed) so re-hashing racily-clean files right after a
    checkout is charged to no tool's warm run."""
    for name in names:
        if (ws / name).is_dir():
            subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=ws / name, check=False)


def record(cell: Cell, seconds: float, done: subprocess.CompletedProcess[str], ok: bool) -> None:
    """Add one run's time; the first failure (exit code, or a dep off its pin) sticks."""
    cell.at_pins = cell.at_pins and ok
    if done.returncode != 0 and cell.error is None:
        lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        cell.error = f"exit {done.returncode}: {lines[-1][:200]}"
    elif not ok and cell.error is None:
        cell.error = "finished but some dep is not at its pin"
    cell.seconds.append(seconds)
    try:
        outcomes = json.loads(done.stdout).get("outcomes", [])
    except (ValueError, AttributeError):
        return
    cell.actions = dict(Counter(str(o.get("action", "")) for o in outcomes))


@dataclass
class Bench:
    work: Path
    deps: list[Upstream]
    template: Path
    url_base: str
    cells: dict[str, dict[str, Cell]]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.deps]

    def pins(self, moved: bool) -> dict[str, str]:
        return {d.name: d.next if moved and d.name == MOVED_DEP else d.pin for d in self.deps}

    def run_once(self, tool: Tool, run: int) -> None:
        ws = self.work / f"ws-{tool.name.replace(' ', '-')}-{run}"
        shutil.copytree(self.template, ws, symlinks=True)
        moved = next(d for d in self.deps if d.name == MOVED_DEP)
        try:
            for scenario in SCENARIOS:
                if scenario == "moved":
                    _git("update-ref", "refs/heads/main", moved.next, cwd=moved.bare)
                    for path, text in manifests(self.deps, self.pins(True), self.url_base).items():
                        (ws / PROJECT / path).write_text(text)
                seconds, done = timed(tool.argv, ws / tool.cwd)
                expected = self.pins(scenario == "moved")
                ok = all(head(ws / name) == rev for name, rev in expected.items())
                record(self.cells[scenario][tool.name], seconds, done, ok)
                settle(ws, self.names)
        finally:
            _git("update-ref", "refs/heads/main", moved.head, cwd=moved.bare)
            shutil.rmtree(ws, ignore_errors=True)


def prepare(work: Path, repos: int, commits: int, files: int, west: str | None) -> Bench:
    upstreams = work / "upstreams"
    deps = [build_upstream(upstreams, f"dep{i:02d}", commits, files) for i in range(repos)]
    url_base = upstreams.resolve().as_uri()
    pins = {d.name: d.pin for d in deps}
    project_url = build_project(upstreams, manifests(deps, pins, url_base))
    template = work / "template"
    template.mkdir()
    _git("clone", "-q", project_url, PROJECT, cwd=template)
    if west:
        subprocess.run([west, "init", "-l", PROJECT], cwd=template, capture_output=True, check=True)
    cells = {s: {} for s in SCENARIOS}
    return Bench(work, deps, template, url_base, cells)


def run_scenarios(bench: Bench, all_tools: list[Tool], runs: int) -> None:
    """Runs interleave the tools (run 1 of each, then run 2 ...) to spread machine noise."""
    for scenario in SCENARIOS:
        for tool in all_tools:
            bench.cells[scenario][tool.name] = Cell(error=tool.missing)
    for run in range(runs):
        for tool in all_tools:
            if tool.missing is None:
                bench.run_once(tool, run)


def startup(template: Path, runs: int) -> dict[str, dict[str, Any]]:
    """Wall time of commands that only start up: xla-tasks against a bare interpreter."""
    xla = [sys.executable, "-m", "xla_tasks"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "xla-tasks --help": [*xla, "--help"],
        "xla-tasks pin --check": [*xla, "pin", "--check"],
    }
    found: dict[str, dict[str, Any]] = {}
    for label, argv in commands.items():
        times, code = [], 0
        for _ in range(runs):
            seconds, done = timed(argv, template / PROJECT)
            times.append(seconds)
            code = code or done.returncode
        found[label] = {"seconds": statistics.median(times), "exit": code}
    return found


# --- report ------------------------------------------------------------------------------


def summary(bench: Bench, all_tools: list[Tool], facts: dict[str, Any]) -> dict[str, Any]:
    scenarios: dict[str, dict[str, Any]] = {}
    for scenario, row in bench.cells.items():
        base = row[XLA].median
        scenarios[scenario] = {
            name: {
                "seconds": cell.median,
                "runs": [round(s, 4) for s in cell.seconds],
                "ratio": cell.median / base if cell.median and base else None,
                "at_pins": cell.at_pins and cell.error is None,
                "error": cell.error,
                **({"actions": cell.actions} if cell.actions else {}),
            }
            for name, cell in row.items()
        }
    ok = all(scenarios[s][XLA]["at_pins"] for s in SCENARIOS)
    return {"ok": ok, **facts, "tools": [t.name for t in all_tools], "scenarios": scenarios}


def _cell_text(entry: Mapping[str, Any], is_base: bool) -> str:
    if entry["error"]:
        return "n/a" if entry["error"] == "not installed" else "FAILED"
    text = f"{entry['seconds']:.3f}s"
    return text if is_base or entry["ratio"] is None else f"{text} {entry['ratio']:.2f}x"


def table(result: Mapping[str, Any]) -> str:
    names = result["tools"]
    widths = [max(16, len(n) + 2) for n in names]
    versions = ", ".join(f"{k} {v or 'not installed'}" for k, v in result["versions"].items())
    lines = [
        f"{result['repos']} repos x {result['commits']} commits x {result['files']} files, "
        f"median of {result['runs']} runs; setup {result['setup_seconds']:.1f}s, "
        f"whole benchmark {result['total_seconds']:.1f}s",
        f"git {result['git']}, Python {result['python']}, {result['cores']} cores; {versions}",
        f"--jobs {result['jobs']} for xla-tasks, sync_deps.py and vcstool "
        "(the git script and west update go one repo at a time)",
        "seconds, and tool time / xla-tasks time (>1: xla-tasks is faster); all URLs are "
        "file://, so fetches here cost far less than over a network",
        "",
        "scenario  " + "".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
    ]
    for scenario, row in result["scenarios"].items():
        cells = [_cell_text(row[n], n == XLA) for n in names]
        lines.append(
            f"{scenario:<10}" + "".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        )
    lines += ["", "start-up              seconds  over python -c pass"]
    base = result["startup"]["python -c pass"]["seconds"]
    for label, entry in result["startup"].items():
        extra = "" if label.startswith("python") else f"+{entry['seconds'] - base:.3f}s"
        failed = f"  (exit {entry['exit']})" if entry["exit"] else ""
        lines.append(f"{label:<22}{entry['seconds']:.3f}s   {extra}{failed}")
    notes = _notes(result)
    return "\n".join(lines + (["", *notes] if notes else []))


def _notes(result: Mapping[str, Any]) -> list[str]:
    """Failures, missing peers (the header names them), and what xla-tasks did per scenario."""
    notes = []
    for scenario, row in result["scenarios"].items():
        for name, entry in row.items():
            if entry["error"] and entry["error"] != "not installed":
                notes.append(f"{scenario} / {name}: {entry['error']}")
        actions = row[XLA].get("actions", {})
        if actions:
            done = ", ".join(f"{k or '(none)'} x{v}" for k, v in sorted(actions.items()))
            notes.append(f"{scenario} / xla-tasks actions: {done}")
    return notes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=8, help="number of deps (default 8)")
    parser.add_argument("--commits", type=int, default=200, help="commits per dep (default 200)")
    parser.add_argument("--files", type=int, default=300, help="files per dep (default 300)")
    parser.add_argument("--runs", type=int, default=3, help="runs per cell, median (default 3)")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="parallel git jobs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    for flag in ("repos", "commits", "files", "runs", "jobs"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None, out: Callable[[str], object] = print) -> int:
    args = parse_args(argv)
    all_tools = tools(args.jobs)
    by_name = {t.name: t for t in all_tools}
    with tempfile.TemporaryDirectory(prefix="xla-tasks-bench-") as tmp:
        work = Path(tmp)
        os.environ.clear()
        os.environ.update(isolated_env(work / "home"))
        peers = {t.name: t.argv[0] for t in all_tools if t.name in ("west", "vcstool")}
        west = None if by_name["west"].missing else peers["west"]
        started = time.perf_counter()
        bench = prepare(work, args.repos, args.commits, args.files, west)
        setup_seconds = time.perf_counter() - started
        run_scenarios(bench, all_tools, args.runs)
        facts = {
            "repos": args.repos,
            "commits": args.commits,
            "files": args.files,
            "runs": args.runs,
            "jobs": args.jobs,
            "git": _git("--version", cwd=work).removeprefix("git version "),
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "versions": {
                name: None if by_name[name].missing else tool_version([program, "--version"])
                for name, program in peers.items()
            },
            "startup": startup(bench.template, max(5, args.runs)),
        }
        facts["setup_seconds"] = round(setup_seconds, 3)
        facts["total_seconds"] = round(time.perf_counter() - started, 3)
        result = summary(bench, all_tools, facts)
    out(json.dumps(result, indent=2) if args.json else table(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
