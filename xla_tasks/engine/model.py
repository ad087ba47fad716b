"""What the engine works on and reports: repos, options, events, outcomes, and the refs
it keeps. Also `redact`, which every line that may hold a URL passes through.
"""

import re
from typing import Callable, NamedTuple, Optional, Pattern, Sequence, Tuple


class Event(NamedTuple):
    """One thing that happened to one repo, sent to the caller's callback as it happens.

    `repo` is the repo's name (a submodule is `NAME:PATH`). `kind` is one of:
    - "start": work on the repo began (text: its path);
    - "phase": a new step began (text: "clone", "fetch", "checkout", "submodules", ...);
    - "progress": git's own progress line, raw (text: e.g.
      "Receiving objects:  45% (450/1000), 1.20 MiB | 2.00 MiB/s");
    - "done": the repo is finished (text: its one-line summary);
    - "failed": the repo failed (text: the one-line reason);
    - "heartbeat": the run is still working (repo "", text: `still working: ...`, see
      heartbeat.py); only reporters without a live display show it.
    Callbacks are called from worker threads and must be thread-safe.
    """

    repo: str
    kind: str
    text: str


EventCallback = Callable[[Event], None]


PIN_REF = "refs/remotes/xla-tasks/pinned"


UPSTREAM_REFS = "refs/remotes/xla-tasks/upstream"


TAG_REFS = "refs/remotes/xla-tasks/tags"


KEEP_REFS = "refs/xla-tasks/keep"  # in cache mirrors: commits fetched by id


SAVED_BRANCH_PREFIX = "xla-tasks/saved-"


SUBMODULE_MEMO = "xla-tasks-submodules.json"  # in a dep's git dir: gitlinks at its pin


HISTORY_MODES = ("full", "blobless", "shallow")


DEFAULT_STALL_TIMEOUT = 120.0


DEFAULT_HEARTBEAT = 30.0  # seconds between "still working" lines; 0: none
DEFAULT_CACHE_LOCK_TIMEOUT = 600.0  # a mirror being filled: pytorch over a slow link takes minutes


SHA_RE = re.compile(r"[0-9a-f]{40}\Z")


# User info runs to the last `@` before the host's `/` (a password may hold an `@`).
_SECRET_RE = re.compile(r"(?<=://)[^/\s'\"]+@")


class SyncError(Exception):
    """An expected failure of one repo: its text is the one line shown, no traceback."""


class Repo(NamedTuple):
    """One repo to put in place. `rev` None: clone on `branch` and leave existing clones."""

    name: str
    path: str
    url: str
    rev: Optional[str] = None
    branch: Optional[str] = None
    submodules: bool = False
    exclude_submodules: Tuple[str, ...] = ()  # PATH regexes, from the pin file
    notes: Tuple[str, ...] = ()  # the caller's notes for the summary line
    origin: Optional[str] = None  # a new clone's origin when not `url` (checkout's push_url)


class EngineOptions(NamedTuple):
    """How the engine works: the fronts build these from their flags and settings."""

    jobs: int = 4
    history: str = "full"
    depth: int = 1  # commits kept by history "shallow"
    cache: Optional[str] = None
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    heartbeat: float = DEFAULT_HEARTBEAT
    dry_run: bool = False
    exclude_submodules: Tuple[Pattern[str], ...] = ()  # NAME:PATH patterns (--exclude-submodule)
    submodules: bool = True  # False: skip every repo's submodules (checkout --no-submodules)
    root: Optional[str] = None  # repos must stay inside it (a symlink may not lead out)
    cache_lock_timeout: float = DEFAULT_CACHE_LOCK_TIMEOUT  # waiting for another run's mirror


class Outcome(NamedTuple):
    name: str
    path: str
    action: str
    old: Optional[str]
    new: Optional[str]
    notes: Tuple[str, ...]
    error: Optional[str]

    @property
    def ok(self) -> bool:
        return self.error is None


def redact(text: str) -> str:
    """Hide credentials in URLs (`user:password@`, `token@`): git itself prints neither."""
    return _SECRET_RE.sub("***@", text)


def is_local_path(url: str) -> bool:
    """A local path as git reads one: no `scheme://`, and no `host:` before the first `/`
    (`git@github.com:org/repo` is ssh, `../repo` and `/srv/repo` are paths)."""
    if "://" in url:
        return False
    colon, slash = url.find(":"), url.find("/")
    return colon < 0 or 0 <= slash < colon


def absolute_url(url: str, base: str) -> str:
    """A relative local path resolved against `base`, the folder of the file that names it
    (never the current directory); any other URL as it is."""
    import os

    return os.path.abspath(os.path.join(base, url)) if is_local_path(url) else url


def outcome_line(
    name: str, action: str, old: Optional[str], new: Optional[str], notes: Sequence[str]
) -> str:
    """`name: action OLD -> NEW (notes)`: the one line per repo both fronts print."""
    text = f"{name}: {action}" if action else f"{name}:"
    old12, new12 = (old or "")[:12], (new or "")[:12]
    if old12 and new12 and old12 != new12:
        text += f" {old12} -> {new12}"
    elif new12 or old12:
        text += f" {new12 or old12}"
    if notes:
        text += f" ({'; '.join(notes)})"
    return redact(text)
