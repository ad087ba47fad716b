#!/usr/bin/env python3
"""A roll of JAX's XLA pin, end to end, on a generated XLA-sized tree (issue 17, "Speed").

XLA is a bare upstream of --files files (35,000 by default, ~--kb KiB each, C++-like text)
built with `git fast-import`; JAX is an upstream whose revision.bzl, workspace.bzl and
MODULE.bazel are copies of the real files (tests/data/native) pinning XLA's first commit,
reached through `url.<local>.insteadOf=https://github.com/...`. The workspace holds clones
of both, xla at the pin; then XLA's upstream moves on by --ahead commits.

Measured, each the median of --runs, every run from a fresh copy of the clones' state:
- `xla-tasks roll heads` in jax (ls-remote, fetch into the xla clone, the .tar.gz hash,
  the commit log, the edits of both files);
- the plain way: `git fetch` in the xla clone, `git archive --format=tar --prefix=xla-SHA/
  SHA | gzip -n | sha256sum`, and the two edits (Python string replaces);
- the hash alone: `archive_sha256` against the shell pipeline, on the same commit.
Timings are reported, never asserted.

    python3 bench/native_roll.py [--files N] [--kb N] [--runs N] [--ahead N] [--json]
                                 [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "tests")]

from measure import isolated_env, timed  # noqa: E402
from native_world import GITHUB, jax_files  # noqa: E402

from xla_tasks.demo.upstreams import commit, init_bare  # noqa: E402
from xla_tasks.tomlfile import dump_toml  # noqa: E402
from xla_tasks.workspace.registry import WORKSPACE_FILE  # noqa: E402

XLA_TASKS = [sys.executable, "-m", "xla_tasks"]
BASE_DATE = 1767225600
WORDS = ["hlo", "shape", "buffer", "fusion", "layout", "tensor", "kernel", "stream", "device"]


def _file_text(index: int, revision: int, kib: int) -> bytes:
    """C++-like lines whose names vary with a hash of the line (gzip ~4-6x, like source)."""
    lines = [f"// xla/part{index % 97}/file{index}.cc, revision {revision}\n"]
    size, k = len(lines[0]), 0
    while size < kib * 1024:
        seed = hashlib.blake2b(f"{index}:{k}:{revision}".encode(), digest_size=6).hexdigest()
        a, b = WORDS[int(seed[:2], 16) % len(WORDS)], WORDS[int(seed[2:4], 16) % len(WORDS)]
        line = f"absl::Status {a}_{b}_{seed}(const {b.title()}& {a}) {{ return Ok({k}); }}\n"
        lines.append(line)
        size += len(line)
        k += 1
    return "".join(lines).encode()


def _path(index: int) -> str:
    return f"xla/part{index % 97:02d}/sub{index % 7}/file{index:05d}.cc"


def _stream(files: int, kib: int, first: int, count: int, parent: bool) -> bytes:
    """fast-import commits `first`..`first+count-1` on main: the first of all adds every
    file, each later one changes 40 of them."""
    chunks: list[bytes] = []
    for number in range(first, first + count):
        when = f"{BASE_DATE + 3600 * number} +0000"
        message = f"xla: change {number}".encode()
        chunks += [
            b"commit refs/heads/main\n",
            f"author b <b@example.com> {when}\ncommitter b <b@example.com> {when}\n".encode(),
            f"data {len(message)}\n".encode() + message + b"\n",
        ]
        if parent and number == first:  # later ones follow on in fast-import's own table
            chunks.append(b"from refs/heads/main^0\n")
        changed = (
            range(files) if number == 0 else {(number * 7919 + k * 131) % files for k in range(40)}
        )
        for index in sorted(changed):
            data = _file_text(index, number, kib)
            chunks += [f"M 100644 inline {_path(index)}\ndata {len(data)}\n".encode(), data, b"\n"]
    return b"".join(chunks)


def _git(*args: str, cwd: Path, env: dict[str, str], stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.decode().strip()}")
    return done.stdout.decode().strip()


def _import(bare: Path, env: dict[str, str], stream: bytes) -> str:
    """Feed a fast-import stream to `bare`; its `main` afterwards."""
    _git("fast-import", "--quiet", "--date-format=raw", cwd=bare, env=env, stdin=stream)
    return _git("rev-parse", "main", cwd=bare, env=env)


def _pipeline(clone: Path, sha: str, env: dict[str, str]) -> str:
    line = f"git archive --format=tar --prefix=xla-{sha}/ {sha} | gzip -n | sha256sum"
    out = subprocess.run(["sh", "-c", line], cwd=clone, env=env, capture_output=True, check=True)
    return out.stdout.decode().split()[0]


def _size(pipeline: str, cwd: Path, env: dict[str, str]) -> int:
    done = subprocess.run(
        ["sh", "-c", f"{pipeline} | wc -c"], cwd=cwd, env=env, capture_output=True, check=True
    )
    return int(done.stdout.decode().strip())


def _median(runs: list[float]) -> float:
    return statistics.median(runs)


def _interleaved(
    works: dict[str, Callable[[], object]], runs: int, before: Callable[[], None]
) -> dict[str, list[float]]:
    """Seconds of each run of each work, the works taking turns (a busy machine's load then
    falls on all of them alike); `before` runs untimed before each."""
    found: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            before()
            start = time.perf_counter()
            work()
            found[name].append(time.perf_counter() - start)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=35000)
    parser.add_argument("--kb", type=int, default=4, help="KiB per file, about")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ahead", type=int, default=3, help="commits XLA moves past the pin")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="build the world in DIR and keep it")
    args = parser.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True)
        report = _run(Path(args.keep).resolve(), args)
    else:
        with tempfile.TemporaryDirectory(prefix="native-roll-") as tmp:
            report = _run(Path(tmp), args)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key:34} {value}")


def _run(work: Path, args: argparse.Namespace) -> dict[str, object]:
    env = isolated_env(work / "home")
    ups, ws = work / "upstreams", work / "ws"
    ws.mkdir()
    xla_bare = ups / "xla.git"
    init_bare(xla_bare)
    start = time.perf_counter()
    pin = _import(xla_bare, env, _stream(args.files, args.kb, 0, 1, parent=False))
    built = time.perf_counter() - start
    for name in ("xla", "jax"):
        local = (ups / f"{name}.git").resolve().as_uri()
        _git("config", "--global", f"url.{local}.insteadOf", GITHUB[name], cwd=work, env=env)
    init_bare(ups / "jax.git")
    first_hash = _pipeline(xla_bare, pin, env)
    commit(ups / "jax.git", {"README.md": "JAX\n", **jax_files(pin, first_hash)}, "jax: pin xla")
    repos = {name: {"url": GITHUB[name]} for name in ("jax", "xla")}
    (ws / WORKSPACE_FILE).write_text(dump_toml({"schema": 1, "repos": repos}))
    for name in ("jax", "xla"):
        _git("clone", "--quiet", GITHUB[name], name, cwd=ws, env=env)
    jax, xla = ws / "jax", ws / "xla"
    pristine = work / "xla-git-pristine"
    shutil.copytree(xla / ".git", pristine, symlinks=True)
    head = _import(xla_bare, env, _stream(args.files, args.kb, 1, args.ahead, parent=True))
    tar_bytes = _size(f"git archive --format=tar {head}", xla_bare, env)

    def fresh() -> None:
        shutil.rmtree(xla / ".git")
        shutil.copytree(pristine, xla / ".git", symlinks=True)
        _git("checkout", "--quiet", "--", ".", cwd=jax, env=env)

    def roll() -> None:
        run = timed([*XLA_TASKS, "roll", "heads"], jax, env)
        if run.code != 0:
            raise SystemExit(f"roll failed: {run.err or run.out}")

    def plain() -> None:
        _git("fetch", "--quiet", "origin", "main", cwd=xla, env=env)
        digest = _pipeline(xla, head, env)
        for rel, text in jax_files(head, digest).items():
            (jax / rel).write_text(text)

    fresh()
    roll()
    rolled = {rel: (jax / rel).read_text() for rel in jax_files(head, "0" * 64)}
    fresh()
    plain()
    if rolled != {rel: (jax / rel).read_text() for rel in rolled}:
        raise SystemExit("the roll and the plain way wrote different files")
    ends = _interleaved({"roll": roll, "plain": plain}, args.runs, fresh)
    roll_runs, plain_runs = ends["roll"], ends["plain"]

    from xla_tasks.pins.native.archive_hash import archive_sha256

    os.environ.clear()  # ours runs in this process: with the same git environment as the shell's
    os.environ.update(env)
    prefix = f"xla-{head}/"
    hashes = _interleaved(
        {
            "ours": lambda: archive_sha256(xla, head, prefix),
            "shell": lambda: _pipeline(xla, head, env),
        },
        args.runs,
        lambda: None,
    )
    ours, shell = hashes["ours"], hashes["shell"]
    gz = _size(f"git archive --format=tar --prefix={prefix} {head} | gzip -n", xla, env)
    return {
        "files": args.files,
        "tar MiB": round(tar_bytes / 2**20, 1),
        "tar.gz MiB": round(gz / 2**20, 1),
        "fast-import of the tree s": round(built, 2),
        "roll heads s (median)": round(_median(roll_runs), 2),
        "plain fetch+archive+edits s": round(_median(plain_runs), 2),
        "roll / plain": round(_median(roll_runs) / _median(plain_runs), 2),
        "archive_sha256 s (median)": round(_median(ours), 2),
        "git archive | gzip -n | sha256sum s": round(_median(shell), 2),
        "archive_sha256 / shell": round(_median(ours) / _median(shell), 2),
        "runs": args.runs,
        "roll runs s": [round(x, 2) for x in roll_runs],
        "plain runs s": [round(x, 2) for x in plain_runs],
    }


if __name__ == "__main__":
    main()
