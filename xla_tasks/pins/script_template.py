#!/usr/bin/env python3
"""Put this project's pinned dependencies next to it, each on its pinned commit.

CI bots run this with nothing but Python 3.8+ and git, so it is standard library only and
never imports xla-tasks: the sync engine of xla-tasks is embedded below, verbatim, so this
script and `xla-tasks sync` do each step the same way. Each dep lands at
`<parent of this project>/<name>`, detached at its pin: missing deps are cloned (into a temp
dir, then renamed: never a half clone), a fetch happens only when the pinned commit is
absent, and flagged submodules follow, recursively. Work is never discarded: a dep with
uncommitted changes or a rebase/merge/bisect in progress is not moved, and a detached HEAD
that only it holds is saved on a branch `xla-tasks/saved-<sha>` first.

Usage: python3 sync_deps.py [--exclude-dep RE ...] [--exclude-submodule NAME:PATH-RE ...]
                            [--depth N] [--history MODE] [--cache DIR] [--jobs N]
                            [--stall-timeout S] [--heartbeat S]
                            [--cache-lock-timeout S]
Exit status: 0 every dep in place; 1 some dep failed (each listed last as `FAILED name:
reason`); 2 bad arguments; 130 interrupted; 143 terminated (SIGTERM).
"""

# --- BEGIN PINS (generated) ---
PINNED_VERSIONS = {}
ORIGINS = {}
SUBMODULES = {}
BRANCHES = {}
EXCLUDE_SUBMODULES = {}
# --- END PINS ---

import argparse
import os
import re
import shutil
import signal
import sys
import threading
from typing import List, NoReturn, Optional, Pattern, Sequence, Tuple

# isort: split
# --- BEGIN ENGINE (xla_tasks/engine/*.py, verbatim) ---
from xla_tasks.engine.model import (
    DEFAULT_CACHE_LOCK_TIMEOUT,
    DEFAULT_HEARTBEAT,
    DEFAULT_STALL_TIMEOUT,
    HISTORY_MODES,
    EngineOptions,
    Event,
    Repo,
    absolute_url,
    redact,
)
from xla_tasks.engine.sync import sync_repos

# --- END ENGINE ---
# isort: split

_SHA_RE = re.compile(r"[0-9a-f]{40}\Z")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\Z")
_TRANSPORT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
# Goes into a refspec, so no `:`, `*`, spaces or leading `-`.
_BRANCH_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]*\Z")


def check_dep(name: str) -> Optional[str]:
    """Why a dep's data could escape the workspace or smuggle options into git, if it can."""
    sha, url, branch = PINNED_VERSIONS[name], ORIGINS.get(name, ""), BRANCHES.get(name)
    if not _NAME_RE.match(name) or ".." in name:
        return f"invalid dep name {name!r}"
    if not _SHA_RE.match(sha):
        return f"invalid pinned commit {sha!r}: expected 40 hex digits"
    if not url or url.startswith("-") or _TRANSPORT_RE.match(url):
        return f"invalid or missing URL {redact(url)!r} in ORIGINS"
    if branch is not None and (not _BRANCH_RE.match(branch) or ".." in branch):
        return f"invalid branch {branch!r} in BRANCHES"
    return None


def matches_any(text: str, patterns: Sequence[Pattern[str]]) -> bool:
    return any(p.search(text) for p in patterns)


def is_same_folder(path: str, other: str) -> bool:
    """True when both name one folder (links followed; case-insensitive file systems too)."""
    if os.path.realpath(path) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def selected_deps(
    project: str, exclude: Sequence[Pattern[str]]
) -> Tuple[List[Repo], List[Tuple[str, str]], List[Tuple[str, str]]]:
    """The deps to sync, those left out (name, why), and deps with invalid data.

    A dep named like the project's own folder would land on the project itself: it is
    left out, as `xla-tasks sync` does, so the script never moves its own checkout.
    """
    workspace = os.path.dirname(project)
    deps = []  # type: List[Repo]
    skipped = []  # type: List[Tuple[str, str]]
    invalid = []  # type: List[Tuple[str, str]]
    here = os.path.dirname(os.path.abspath(__file__))  # relative URLs are relative to it
    for name in sorted(PINNED_VERSIONS):
        if matches_any(name, exclude):
            skipped.append((name, "--exclude-dep"))
            continue
        problem = check_dep(name)
        if problem:
            invalid.append((name, problem))
            continue
        if is_same_folder(os.path.join(workspace, name), project):
            skipped.append((name, "the project being synced is never moved"))
            continue
        deps.append(
            Repo(
                name=name,
                path=os.path.join(workspace, name),
                url=absolute_url(ORIGINS[name], here),
                rev=PINNED_VERSIONS[name],
                branch=BRANCHES.get(name),
                submodules=bool(SUBMODULES.get(name)),
                exclude_submodules=tuple(EXCLUDE_SUBMODULES.get(name, ())),
            )
        )
    return deps, skipped, invalid


class LinePrinter:
    """Prints each dep's line the moment it is done, and the heartbeat (`still working:
    ...`) on stderr; whole lines only (threads share it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures = []  # type: List[Tuple[str, str]]

    def __call__(self, event: Event) -> None:
        if ":" in event.repo:  # a submodule: its dep's line sums it up
            return
        with self.lock:
            if event.kind == "heartbeat":
                print(event.text, file=sys.stderr, flush=True)
            elif event.kind == "done":
                print(event.text, flush=True)
            elif event.kind == "failed":
                self.failures.append((event.repo, event.text))


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def seconds_or_zero(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0: never), got {text!r}")
    return value


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints the whole usage block by default)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = OneLineParser(description="Put each pinned dependency next to this project.")
    parser.add_argument(
        "--exclude-dep",
        nargs="+",
        action="extend",
        default=[],
        metavar="RE",
        help="skip deps whose name matches (re.search); repeatable",
    )
    parser.add_argument(
        "--exclude-submodule",
        nargs="+",
        action="extend",
        default=[],
        metavar="RE",
        help="skip submodules whose NAME:PATH matches; repeatable",
    )
    parser.add_argument(
        "--depth", type=positive_int, metavar="N", help="shallow-clone missing deps to N commits"
    )
    parser.add_argument(
        "--history",
        choices=HISTORY_MODES,
        default=None,
        help="how new clones get history: full (default), blobless, shallow",
    )
    parser.add_argument("--cache", metavar="DIR", help="shared mirror cache (one per URL)")
    parser.add_argument(
        "--cache-lock-timeout",
        type=positive_float,
        metavar="S",
        default=DEFAULT_CACHE_LOCK_TIMEOUT,
        help="wait at most S seconds for another run using a cache mirror (default %(default)g)",
    )
    parser.add_argument(
        "--stall-timeout",
        type=positive_float,
        metavar="S",
        default=DEFAULT_STALL_TIMEOUT,
        help="end a git network operation silent for S seconds (default %(default)g)",
    )
    parser.add_argument(
        "--heartbeat",
        type=seconds_or_zero,
        metavar="S",
        default=DEFAULT_HEARTBEAT,
        help="print the deps still working every S seconds (default %(default)g; 0: never)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        default=min(8, os.cpu_count() or 1),
        help="deps processed at once",
    )
    args = parser.parse_args(argv)
    for flag in ("exclude_dep", "exclude_submodule"):
        setattr(args, flag, [compile_regex(parser, flag, text) for text in getattr(args, flag)])
    return args


def compile_regex(parser: argparse.ArgumentParser, flag: str, text: str) -> "Pattern[str]":
    """Compile a user regex up front so a typo fails before anything is touched."""
    try:
        return re.compile(text)
    except re.error as err:
        option = "--" + flag.replace("_", "-")
        parser.error(f"{option}: invalid regex {text!r}: {err}")
        raise  # unreachable: parser.error exits


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job), unwound like Ctrl-C: clones in progress are removed."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:  # Ctrl-C even when a parent ignored it, and SIGTERM, end the run cleanly
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave the caller's handlers alone
        pass
    args = parse_args(argv)
    if shutil.which("git") is None:
        print("sync_deps.py: git not found on PATH", file=sys.stderr)
        return 1
    history = args.history or ("shallow" if args.depth else "full")
    opts = EngineOptions(
        jobs=args.jobs,
        history=history,
        depth=args.depth or 1,
        cache=os.path.abspath(args.cache) if args.cache else None,
        stall_timeout=args.stall_timeout,
        heartbeat=args.heartbeat,
        cache_lock_timeout=args.cache_lock_timeout,
        exclude_submodules=tuple(args.exclude_submodule),
    )
    project = os.path.dirname(os.path.abspath(__file__))
    deps, skipped, invalid = selected_deps(project, args.exclude_dep)
    for name, why in skipped:
        print(f"{name}: skipped ({why})", flush=True)
    printer = LinePrinter()
    try:
        sync_repos(deps, opts, printer)
    except KeyboardInterrupt as err:
        terminated = isinstance(err, Terminated)
        print(f"sync_deps.py: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    failures = sorted(invalid + printer.failures)
    for name, reason in failures:
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
