"""The real-shape world (issue 20): what the real OpenXLA and PyTorch/XLA trees look like,
served over smart HTTP on 127.0.0.1 (tests/gitserver.py counts the bytes it sends), and
xla-tasks against plain git doing the same work, in one run:

- **tips far ahead**: a project pinning deps whose `main` is thousands of commits past the
  pin, as it always is in real life; a cold sync (deps missing) in each history mode,
  against the limit scripts (clone + checkout; `--filter=blob:none`; init + fetch --depth 1).
- **15 submodules, one moves**: a project pinning a superproject with 15 submodules; a cold
  sync, then a sync to a pin where one submodule's gitlink moved back four commits, against
  `git clone` + `submodule update --init --depth 1 --jobs J`, then fetch + checkout +
  `submodule update` again.
- **nested layout**: `checkout torch_xla` where torch_xla lives at `pytorch/xla`, inside its
  container, against two `git clone`s; then the same again (a re-run must converge).

Each row: wall seconds (median of the runs), KiB the server sent, git processes (trace2),
and the ratio to plain git. The end state is checked: a row that did not reach it says so.
"""

from __future__ import annotations

import functools
import shutil
import statistics
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from gitserver import GitHttpServer  # tests/gitserver.py, on sys.path by bench.py
from measure import git_processes, head, timed
from scenarios import XLA
from world import (
    LIMIT_SCRIPTS,
    PROJECT,
    Upstream,
    build_upstream,
    git,
    history_stream,
    limit_script,
)

from xla_tasks.demo.upstreams import Gitlink, commit, init_bare, pin_file_text
from xla_tasks.pins.sync_deps_script import render_sync_deps_script
from xla_tasks.workspace.registry import WORKSPACE_FILE

HISTORIES = ("full", "blobless", "shallow")
SUPER, CONTAINER, NESTED = "superproject", "pytorch", "torch_xla"
FAR_PROJECT = "far-project"
PLAIN = "plain git"
MOVED_BACK = 4  # commits the moving submodule's gitlink goes back


@dataclass(frozen=True)
class Sizes:
    deps: int = 3  # deps of the far-ahead project
    before: int = 200  # commits up to each pin
    ahead: int = 3000  # commits on main past the pin
    files: int = 300
    submodules: int = 15
    sub_commits: int = 12
    sub_files: int = 40


QUICK = Sizes(deps=2, before=10, ahead=60, files=20, submodules=3, sub_commits=10, sub_files=6)


@dataclass(frozen=True)
class RealShape:
    root: Path  # the bare upstreams the server serves
    far: list[Upstream]  # pins far behind main
    super_pins: tuple[str, str]  # the superproject before and after one submodule moved
    moved_sub: str
    submodules: dict[str, str]  # name -> the commit the first pin records


def build(root: Path, sizes: Sizes) -> RealShape:
    """Every upstream of the three scenarios under `root` (bare repos, fast-import)."""
    far = [_far_upstream(root, f"far{i:02d}", sizes) for i in range(sizes.deps)]
    subs = {
        f"sub{i:02d}": build_upstream(root, f"sub{i:02d}", sizes.sub_commits, sizes.sub_files)
        for i in range(sizes.submodules)
    }
    init_bare(root / f"{SUPER}.git")
    gitmodules = "".join(
        f'[submodule "{n}"]\n\tpath = third_party/{n}\n\turl = ../{n}.git\n' for n in subs
    )
    files: dict[str, str | Gitlink] = {".gitmodules": gitmodules, "README.md": "super\n"}
    files.update({f"third_party/{n}": Gitlink(u.pin) for n, u in subs.items()})
    first = commit(root / f"{SUPER}.git", files, "add the submodules")
    moved = next(iter(subs))
    older = git("rev-parse", f"{subs[moved].pin}~{MOVED_BACK}", cwd=subs[moved].bare)
    second = commit(root / f"{SUPER}.git", {f"third_party/{moved}": Gitlink(older)}, "move one")
    for name in (CONTAINER, NESTED):
        build_upstream(root, name, sizes.before, sizes.files)
    return RealShape(root, far, (first, second), moved, {n: u.pin for n, u in subs.items()})


def _far_upstream(root: Path, name: str, sizes: Sizes) -> Upstream:
    bare = root / f"{name}.git"
    url = init_bare(bare)
    stream = history_stream(name, sizes.before + sizes.ahead, sizes.files)
    git("fast-import", "--quiet", "--date-format=raw", cwd=bare, stdin=stream)
    history = git("rev-list", "--first-parent", "--reverse", "main", cwd=bare).split()
    pin = history[sizes.before - 1]
    return Upstream(name, url, bare, pin, history[-1], history[-1])


# --- running one command against the server ------------------------------------------------


@dataclass
class Row:
    """One tool doing one step: its runs, the bytes the server sent, its git processes."""

    seconds: list[float]
    bytes: int | None = None
    git_processes: int | None = None
    error: str | None = None

    def as_dict(self, base: Row | None) -> dict[str, Any]:
        median = statistics.median(self.seconds) if self.seconds else None
        found: dict[str, Any] = {
            "seconds": median,
            "bytes": self.bytes,
            "git_processes": self.git_processes,
            "error": self.error,
        }
        if base is not None and base is not self:
            plain = base.as_dict(None)
            for key in ("seconds", "bytes", "git_processes"):
                mine, theirs = found[key], plain[key]
                found[f"{key}_ratio"] = mine / theirs if mine is not None and theirs else None
        return found


Step = tuple[str, list[str], str, Callable[[Path], "str | None"]]  # label, argv, cwd, check


class Stepper:
    """Runs tools' steps against the server: timed runs, the tools taking turns (run 1 of
    each, then run 2 ...: machine noise is spread over all), then one traced run each."""

    def __init__(self, server: GitHttpServer, runs: int, quick: bool) -> None:
        self.server, self.runs, self.quick = server, runs, quick

    def measure(
        self, tools: Mapping[str, tuple[Callable[[], Path], list[Step]]]
    ) -> dict[str, dict[str, Row]]:
        """Per tool: a fresh workspace from its `make()` for every run, where its steps
        (label, argv, cwd relative to the workspace, check of the end state) run in order."""
        rows = {tool: {step[0]: Row([]) for step in steps} for tool, (_, steps) in tools.items()}
        plan = [False] if self.quick else [False] * self.runs + [True]
        for traced in plan:
            for tool, (make, steps) in tools.items():
                self._once(make, steps, rows[tool], traced)
        return rows

    def _once(
        self, make: Callable[[], Path], steps: list[Step], rows: dict[str, Row], traced: bool
    ) -> None:
        ws = make()
        try:
            for label, argv, cwd, check in steps:
                row = rows[label]
                self.server.reset_counts()
                if traced or self.quick:
                    run, row.git_processes = git_processes(argv, ws / cwd)
                else:
                    run = timed(argv, ws / cwd)
                sent = sum(self.server.bytes_sent.values())
                row.bytes = sent if row.bytes is None else row.bytes
                if not traced:
                    row.seconds.append(run.seconds)
                problem = run.failure() or check(ws)
                row.error = row.error or problem
                if problem:
                    break
        finally:
            shutil.rmtree(ws, ignore_errors=True)


def _fresh(work: Path, label: str, files: Mapping[str, str] | None = None) -> Path:
    """An empty workspace, or one with a committed project holding `files`."""
    ws = work / f"rs-{label}"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    if files is not None:
        project = ws / PROJECT
        project.mkdir()
        for path, text in files.items():
            (project / path).write_text(text)
        git("init", "-q", cwd=project)
        git("add", "-A", cwd=project)
        git("commit", "-q", "-m", "pins", cwd=project)
    return ws


def _pin_files(pins: Mapping[str, tuple[str, str, bool]]) -> dict[str, str]:
    """sync_deps.toml and sync_deps.py pinning name -> (commit, url, submodules)."""
    return {
        "sync_deps.toml": pin_file_text(dict(pins)),
        "sync_deps.py": render_sync_deps_script(
            {n: p[0] for n, p in pins.items()},
            {n: p[1] for n, p in pins.items()},
            {n: 1 for n, p in pins.items() if p[2]},
            {n: "main" for n in pins},
        ),
    }


# --- the three scenarios -------------------------------------------------------------------


def far_ahead(shape: RealShape, stepper: Stepper, work: Path, jobs: int) -> dict[str, Any]:
    """Deps whose main is far past the pin, per history mode: a cold `sync` (the project
    cloned, its deps missing) against the limit script, and `checkout --sync PROJECT` from
    an empty workspace against `git clone` of the project + the limit script."""
    server = stepper.server
    urls = {d.name: server.url(d.name) for d in shape.far}
    pins = {d.name: d.pin for d in shape.far}
    files = _pin_files({d.name: (d.pin, urls[d.name], False) for d in shape.far})
    files.update({LIMIT_SCRIPTS[m]: limit_script(shape.far, pins, urls, m) for m in HISTORIES})
    bare = shape.root / f"{FAR_PROJECT}.git"
    init_bare(bare)
    commit(bare, files, "pin the deps")  # its URLs name this server: made once it runs
    repos = {FAR_PROJECT: {"url": server.url(FAR_PROJECT)}}
    repos.update({d.name: {"url": urls[d.name]} for d in shape.far})
    registry = tomli_w.dumps({"schema": 1, "repos": repos})

    def empty() -> Path:
        ws = _fresh(work, "far-checkout")
        (ws / WORKSPACE_FILE).write_text(registry)
        return ws

    def at_pins(ws: Path) -> str | None:
        off = [d.name for d in shape.far if head(ws / d.name) != d.pin]
        return f"not on the pin: {', '.join(off)}" if off else None

    found: dict[str, Any] = {}
    flags = ["--json", "--jobs", str(jobs)]
    clone = f'git clone -q "$0" {FAR_PROJECT} && sh {FAR_PROJECT}/"$1"'
    for mode in HISTORIES:
        cloned = functools.partial(_fresh, work, "far-sync", files)
        limit = ["sh", LIMIT_SCRIPTS[mode]]
        sync = [*XLA, "sync", *flags, "--history", mode]
        rows = stepper.measure(
            {
                PLAIN: (cloned, [("cold", limit, PROJECT, at_pins)]),
                "xla-tasks": (cloned, [("cold", sync, PROJECT, at_pins)]),
            }
        )
        found[f"{mode}, sync"] = _relative({tool: rows[tool]["cold"] for tool in rows})
        plain = ["sh", "-c", clone, server.url(FAR_PROJECT), LIMIT_SCRIPTS[mode]]
        checkout = [*XLA, "checkout", FAR_PROJECT, "--sync", *flags, "--history", mode]
        rows = stepper.measure(
            {
                PLAIN: (empty, [("cold", plain, ".", at_pins)]),
                "xla-tasks": (empty, [("cold", checkout, ".", at_pins)]),
            }
        )
        found[f"{mode}, checkout --sync"] = _relative({tool: rows[tool]["cold"] for tool in rows})
    return found


def submodule_moves(shape: RealShape, stepper: Stepper, work: Path, jobs: int) -> dict[str, Any]:
    """Cold, then one submodule moved: xla-tasks sync against plain git's commands."""
    url = stepper.server.url(SUPER)
    first, second = shape.super_pins

    def files(pin: str) -> dict[str, str]:
        return _pin_files({SUPER: (pin, url, True)})

    def on(pin: str) -> Callable[[Path], str | None]:
        def check(ws: Path) -> str | None:
            if head(ws / SUPER) != pin:
                return f"{SUPER} not on its pin"
            done = timed(["git", "submodule", "status", "--recursive"], ws / SUPER)
            off = [line for line in done.out.splitlines() if not line.startswith(" ")]
            return f"{len(off)} submodule(s) not on their commit" if off or done.code else None

        return check

    update = f"git -C {SUPER} submodule update -q --init --depth 1 --jobs {jobs}"
    cold = (
        f'git clone -q --no-checkout "$0" {SUPER} && '
        f'git -C {SUPER} -c advice.detachedHead=false checkout -q --detach "$1" && {update}'
    )
    moved = (
        f'git -C {SUPER} fetch -q origin "$1" && '
        f'git -C {SUPER} -c advice.detachedHead=false checkout -q --detach "$1" && {update}'
    )
    sync = [*XLA, "sync", "--json", "--jobs", str(jobs)]
    repin = ["sh", "-c", 'cp "$0" sync_deps.toml && cp "$1" sync_deps.py']
    moved_files = work / "rs-moved-pins"
    moved_files.mkdir(exist_ok=True)
    for path, text in files(second).items():
        (moved_files / path).write_text(text)
    plain_steps: list[Step] = [
        ("cold", ["sh", "-c", cold, url, first], ".", on(first)),
        ("moved", ["sh", "-c", moved, url, second], ".", on(second)),
    ]
    our_steps: list[Step] = [
        ("cold", sync, PROJECT, on(first)),
        ("repin", [*repin, *(str(moved_files / p) for p in files(second))], PROJECT, _ok),
        ("moved", sync, PROJECT, on(second)),
    ]
    rows = stepper.measure(
        {
            PLAIN: (lambda: _fresh(work, "subs-plain"), plain_steps),
            "xla-tasks": (lambda: _fresh(work, "subs-ours", files(first)), our_steps),
        }
    )
    return {
        step: _relative({tool: rows[tool][step] for tool in rows}) for step in ("cold", "moved")
    }


def nested_layout(shape: RealShape, stepper: Stepper, work: Path, jobs: int) -> dict[str, Any]:
    """`checkout torch_xla` (inside pytorch) against two plain clones; then once again."""
    server = stepper.server
    registry = {
        "schema": 1,
        "repos": {
            CONTAINER: {"url": server.url(CONTAINER)},
            NESTED: {"url": server.url(NESTED), "path": f"{CONTAINER}/xla", "deps": [CONTAINER]},
        },
    }

    def make() -> Path:
        ws = _fresh(work, "nested")
        (ws / WORKSPACE_FILE).write_text(tomli_w.dumps(registry))
        return ws

    def both_cloned(ws: Path) -> str | None:
        top = git("rev-parse", "--show-toplevel", cwd=ws / CONTAINER / "xla")
        return None if Path(top) == (ws / CONTAINER / "xla").resolve() else "torch_xla misplaced"

    clone = f'git clone -q "$0" {CONTAINER} && git clone -q "$1" {CONTAINER}/xla'
    urls = [server.url(CONTAINER), server.url(NESTED)]
    checkout = [*XLA, "checkout", NESTED, "--json", "--jobs", str(jobs)]
    rows = stepper.measure(
        {
            PLAIN: (make, [("cold", ["sh", "-c", clone, *urls], ".", both_cloned)]),
            "xla-tasks": (
                make,
                [("cold", checkout, ".", both_cloned), ("again", checkout, ".", both_cloned)],
            ),
        }
    )
    return {
        "cold": _relative({tool: rows[tool]["cold"] for tool in rows}),
        "again": {"xla-tasks": rows["xla-tasks"]["again"].as_dict(None)},
    }


def _ok(ws: Path) -> str | None:
    return None


def _relative(rows: Mapping[str, Row]) -> dict[str, Any]:
    """Each tool's row, with its ratios to plain git's."""
    base = rows[PLAIN]
    return {name: row.as_dict(base) for name, row in rows.items()}


def real_shape(work: Path, jobs: int, runs: int, quick: bool) -> dict[str, Any]:
    """Build the world, serve it, measure the three scenarios."""
    sizes = QUICK if quick else Sizes()
    shape = build(work / "real-shape", sizes)
    with GitHttpServer(shape.root) as server:
        stepper = Stepper(server, runs, quick)
        found = {
            "sizes": vars(sizes),
            "far_ahead": far_ahead(shape, stepper, work, jobs),
            "submodules": submodule_moves(shape, stepper, work, jobs),
            "nested": nested_layout(shape, stepper, work, jobs),
        }
    shutil.rmtree(shape.root, ignore_errors=True)
    rows = [r for group in _groups(found) for r in group.values()]
    found["ok"] = all(row["error"] is None for row in rows)
    return found


def _groups(found: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [rows for key in ("far_ahead", "submodules", "nested") for rows in found[key].values()]


if __name__ == "__main__":  # pragma: no cover - run through bench.py
    sys.exit("run: python3 bench/bench.py --only real-shape")
