"""The sync engine: put repos on pinned commits safely, in parallel, reporting as it goes.

Standard library only and Python 3.8+: the generated `sync_deps.py` embeds this file
verbatim and `xla-tasks sync`/`checkout` import it, so each per-repo step (clone into a
temp folder, exact-commit fetch with fallbacks, refusing dirty or mid-rebase trees, saving
orphan commits, the pin ref, recursive submodules, history modes, the mirror cache, the
stall watchdog) has exactly one implementation. It is one file, past the house limit of
~400 lines, because the script embeds one file.

Fast by reading the disk: HEAD, refs, packed-refs, object presence (loose objects and pack
indexes) and `shallow` are read without starting git; a repo already on its pin costs no
git process at all. Callers get per-repo `Event`s (start, phase, git's progress, done,
failed) through a callback, which the live display and streamed CI lines are built on.
"""

import bisect
import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import threading
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    NamedTuple,
    Optional,
    Pattern,
    Sequence,
    Set,
    Tuple,
    Union,
)

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

try:  # the mirror cache's per-mirror lock; POSIX only (elsewhere: no cache locking)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class Event(NamedTuple):
    """One thing that happened to one repo, sent to the caller's callback as it happens.

    `repo` is the repo's name (a submodule is `NAME:PATH`). `kind` is one of:
    - "start": work on the repo began (text: its path);
    - "phase": a new step began (text: "clone", "fetch", "checkout", "submodules", ...);
    - "progress": git's own progress line, raw (text: e.g.
      "Receiving objects:  45% (450/1000), 1.20 MiB | 2.00 MiB/s");
    - "done": the repo is finished (text: its one-line summary);
    - "failed": the repo failed (text: the one-line reason).
    Callbacks are called from worker threads and must be thread-safe.
    """

    repo: str
    kind: str
    text: str


EventCallback = Callable[[Event], None]
EVENT_KINDS = ("start", "phase", "progress", "done", "failed")

PIN_REF = "refs/remotes/xla-tasks/pinned"
_UPSTREAM_REFS = "refs/remotes/xla-tasks/upstream"
_TAG_REFS = "refs/remotes/xla-tasks/tags"
_KEEP_REFS = "refs/xla-tasks/keep"  # in cache mirrors: commits fetched by id
SAVED_BRANCH_PREFIX = "xla-tasks/saved-"
SUBMODULE_MEMO = "xla-tasks-submodules.json"  # in a dep's git dir: gitlinks at its pin
HISTORY_MODES = ("full", "blobless", "shallow")
DEFAULT_STALL_TIMEOUT = 120.0

_SHA_RE = re.compile(r"[0-9a-f]{40}\Z")
# User info runs to the last `@` before the host's `/` (a password may hold an `@`).
_SECRET_RE = re.compile(r"(?<=://)[^/\s'\"]+@")
_PROGRESS_RE = re.compile(
    r"^(remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving|Updating|Checking"
    r"|Filtering|Unpacking|Writing)\b[^:]*:"
)
_GIT = ("git", "-c", "protocol.ext.allow=never")
# Inherited from a hook or an alias, these would point git at some other repository.
FOREIGN_GIT_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)
NO_PROMPT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASK_YESNO": "false"}  # never ask
_IN_PROGRESS = (  # (file or folder in the git dir, what the user is in the middle of)
    ("rebase-merge", "rebase"),
    ("rebase-apply/applying", "am"),
    ("rebase-apply", "rebase"),
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
)


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


class Options(NamedTuple):
    jobs: int = 4
    history: str = "full"
    depth: int = 1  # commits kept by history "shallow"
    cache: Optional[str] = None
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    dry_run: bool = False
    exclude_submodules: Tuple[Pattern, ...] = ()  # NAME:PATH patterns (--exclude-submodule)
    submodules: bool = True  # False: skip every repo's submodules (checkout --no-submodules)
    root: Optional[str] = None  # repos must stay inside it (a symlink may not lead out)
    clean_stale_temps: bool = False  # the caller holds a lock: old temp clones are dead runs


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


# --- running git ---------------------------------------------------------------------


class GitResult(NamedTuple):
    code: int
    out: str
    err: str


_LIVE: Set["subprocess.Popen[bytes]"] = set()
_LIVE_LOCK = threading.Lock()


def git_env() -> Dict[str, str]:
    """English messages (we pick git's `fatal:` line), never a prompt, no foreign repo."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_GIT_ENV}
    env.update(NO_PROMPT_ENV, LC_ALL="C", LANGUAGE="C")
    return env


def run_git(args: Sequence[str], cwd: Optional[str]) -> GitResult:
    """One local git call: argv list, no shell, no stdin, text output."""
    proc = subprocess.run(
        [*_GIT, *args],
        cwd=cwd,
        env=git_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
    )
    return GitResult(proc.returncode, proc.stdout, proc.stderr)


def first_error(stderr: str) -> str:
    """git's first `fatal:`/`error:` line: later ones only repeat it less precisely."""
    lines = [line.strip() for line in re.split(r"[\r\n]+", stderr) if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return redact(line)
    return redact(lines[-1]) if lines else "git exited with an error"


def git(args: Sequence[str], cwd: Optional[str], what: str) -> str:
    """Run local git; on failure raise SyncError saying what we tried and git's reason."""
    res = run_git(args, cwd)
    if res.code != 0:
        raise SyncError(f"{what} failed: {first_error(res.err)}")
    return res.out


class Watch(NamedTuple):
    """How a network git call reports and when it is given up (no output for `stall` s)."""

    url: str
    stall: float
    progress: Callable[[str], None]


def run_network(args: Sequence[str], cwd: Optional[str], watch: Watch) -> GitResult:
    """A git call that talks to a server: progress forwarded, ended if it stalls.

    git prints progress (with `--progress`) only as data arrives, so silence on both
    pipes for `watch.stall` seconds means the server stopped answering: the whole process
    group (git and its transport helpers) is killed and the repo fails naming the URL.
    """
    proc = subprocess.Popen(
        [*_GIT, *args],
        cwd=cwd,
        env=git_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: a stall kill reaches git's helpers too
    )
    with _LIVE_LOCK:
        _LIVE.add(proc)
    last = [time.monotonic()]
    out: List[bytes] = []
    err: List[str] = []
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, out.append, last), daemon=True),
        threading.Thread(target=_pump_lines, args=(proc.stderr, err, watch, last), daemon=True),
    ]
    for reader in readers:
        reader.start()
    stalled = _wait_or_stall(proc, last, watch.stall)
    for reader in readers:
        reader.join(timeout=5)
    with _LIVE_LOCK:
        _LIVE.discard(proc)
    if stalled:
        raise SyncError(f"no answer from {redact(watch.url)} for {watch.stall:g} s: stopped")
    text = b"".join(out).decode("utf-8", "replace")
    return GitResult(proc.returncode, text, "\n".join(err))


def _wait_or_stall(proc: "subprocess.Popen[bytes]", last: List[float], stall: float) -> bool:
    while True:
        try:
            proc.wait(timeout=min(0.5, max(stall / 4, 0.05)))
            return False
        except subprocess.TimeoutExpired:
            if time.monotonic() - last[0] > stall:
                _kill_group(proc)
                proc.wait()
                return True


def _kill_group(proc: "subprocess.Popen[bytes]") -> None:
    with contextlib.suppress(OSError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)


def kill_running_git() -> None:
    """End every network git call in flight (Ctrl-C): their repos then fail and clean up."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        _kill_group(proc)


def _pump(pipe: Optional["object"], sink: Callable[[bytes], None], last: List[float]) -> None:
    fd = pipe.fileno()  # type: ignore[union-attr]
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        last[0] = time.monotonic()
        sink(chunk)


def _pump_lines(
    pipe: Optional["object"], lines: List[str], watch: Watch, last: List[float]
) -> None:
    """Split git's stderr on \\r and \\n: progress lines go to the callback, the rest is kept."""
    buffer = ""

    def take(chunk: bytes) -> None:
        nonlocal buffer
        buffer += chunk.decode("utf-8", "replace")
        parts = re.split(r"[\r\n]", buffer)
        buffer = parts.pop()
        for part in parts:
            _one_line(part.strip(), lines, watch)

    _pump(pipe, take, last)
    _one_line(buffer.strip(), lines, watch)


def _one_line(line: str, lines: List[str], watch: Watch) -> None:
    if not line:
        return
    if _PROGRESS_RE.match(line):
        watch.progress(redact(line))
    else:
        lines.append(line)


# --- reading a repository on disk (no process) ---------------------------------------


def git_dir_of(path: str) -> Optional[str]:
    """The git directory of a work tree top, found the way git finds it (no process).

    `.git` is a directory, or a file `gitdir: <path>` (submodules, linked worktrees).
    """
    marker = os.path.join(path, ".git")
    if os.path.isdir(marker):
        return marker if os.path.isfile(os.path.join(marker, "HEAD")) else None
    if not os.path.isfile(marker):
        return None
    try:
        with open(marker, encoding="utf-8", errors="replace") as handle:
            text = handle.read(4096).strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    found = os.path.normpath(os.path.join(path, text[len("gitdir:") :].strip()))
    return found if os.path.isfile(os.path.join(found, "HEAD")) else None


def common_dir_of(git_dir: str) -> str:
    """Where refs, objects and `shallow` live: the git dir, or a linked worktree's main one."""
    pointer = os.path.join(git_dir, "commondir")
    if os.path.isfile(pointer):
        with open(pointer, encoding="utf-8") as handle:
            return os.path.normpath(os.path.join(git_dir, handle.read().strip()))
    return git_dir


def is_repo_top(path: "Union[str, os.PathLike[str]]") -> bool:
    """True when `path` is the top of its own work tree (holds a valid `.git`)."""
    return git_dir_of(os.fspath(path)) is not None


def read_ref(common: str, ref: str) -> Optional[str]:
    """A ref's commit from its loose file or `packed-refs`; None when absent or unsure."""
    try:
        with open(os.path.join(common, ref), encoding="utf-8") as handle:
            value = handle.read(200).strip()
        if value.startswith("ref: "):
            return read_ref(common, value[5:])
        return value if _SHA_RE.match(value) else None
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(common, "packed-refs"), encoding="utf-8") as handle:
            for line in handle:
                sha, _, name = line.rstrip("\n").partition(" ")
                if name == ref and _SHA_RE.match(sha):
                    return sha
    except OSError:
        pass
    return None


class Head(NamedTuple):
    sha: Optional[str]  # None: no commit yet, or unreadable
    branch: Optional[str]  # None: detached


def read_head(git_dir: str) -> Head:
    """HEAD as files say it: detached commit, or a branch resolved through loose/packed refs."""
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as handle:
            value = handle.read(300).strip()
    except OSError:
        return Head(None, None)
    if value.startswith("ref: "):
        ref = value[5:]
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
        return Head(read_ref(common_dir_of(git_dir), ref), branch)
    return Head(value if _SHA_RE.match(value) else None, None)


def write_ref(git_dir: str, ref: str, sha: str) -> None:
    """Point one of our own refs at `sha` as git stores it (a loose ref file), atomically."""
    common = common_dir_of(git_dir)
    if read_ref(common, ref) == sha:
        return
    path = os.path.join(common, ref)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(sha + "\n")
    os.replace(tmp, path)


def has_object(git_dir: str, sha: str) -> Optional[bool]:
    """Is object `sha` in the repo? Read from loose objects and pack indexes (v2).

    None when unsure (an index we cannot read): ask git then.
    """
    pending = [os.path.join(common_dir_of(git_dir), "objects")]
    seen: Set[str] = set()
    unsure = False
    while pending:
        objects = os.path.normpath(pending.pop())
        if objects in seen:
            continue
        seen.add(objects)
        if os.path.isfile(os.path.join(objects, sha[:2], sha[2:])):
            return True
        found = _in_packs(os.path.join(objects, "pack"), bytes.fromhex(sha))
        if found is None:
            unsure = True
        elif found:
            return True
        pending.extend(_alternates(objects))
    return None if unsure else False


def _in_packs(pack_dir: str, want: bytes) -> Optional[bool]:
    try:
        names = [n for n in os.listdir(pack_dir) if n.endswith(".idx")]
    except OSError:
        return False
    unsure = False
    for name in names:
        found = _in_index(os.path.join(pack_dir, name), want)
        if found:
            return True
        unsure = unsure or found is None
    return None if unsure else False


def _in_index(path: str, want: bytes) -> Optional[bool]:
    """Binary search of a pack index v2: fan-out table, then sorted 20-byte ids."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8 + 256 * 4)
            if head[:8] != b"\377tOc\0\0\0\2":
                return None
            fanout = [int.from_bytes(head[8 + 4 * i : 12 + 4 * i], "big") for i in range(256)]
            lo = fanout[want[0] - 1] if want[0] else 0
            hi = fanout[want[0]]
            handle.seek(8 + 256 * 4 + 20 * lo)
            ids = handle.read(20 * (hi - lo))
    except OSError:
        return None
    keys = [ids[i : i + 20] for i in range(0, len(ids), 20)]
    at = bisect.bisect_left(keys, want)
    return at < len(keys) and keys[at] == want


def _alternates(objects: str) -> List[str]:
    try:
        with open(os.path.join(objects, "info", "alternates"), encoding="utf-8") as handle:
            lines = [line.strip() for line in handle]
    except OSError:
        return []
    return [os.path.join(objects, line) for line in lines if line and not line.startswith("#")]


def has_commit(path: str, git_dir: str, sha: str) -> bool:
    found = has_object(git_dir, sha)
    if found is None:
        return run_git(["cat-file", "-e", sha + "^{commit}"], path).code == 0
    return found


def in_progress(git_dir: str) -> Optional[str]:
    """The operation the user is in the middle of (rebase, merge, bisect...), if any."""
    for marker, what in _IN_PROGRESS:
        if os.path.exists(os.path.join(git_dir, marker)):
            return what
    return None


def is_shallow(git_dir: str) -> bool:
    return os.path.isfile(os.path.join(common_dir_of(git_dir), "shallow"))


# --- one repo ------------------------------------------------------------------------


class Status(NamedTuple):
    changed: Tuple[str, ...]  # tracked files with staged or unstaged changes
    submodules: Tuple[str, ...]  # submodules moved or edited by the user


def read_status(path: str) -> Status:
    """One `git status --porcelain=v2`: the user's changes, files and submodules apart."""
    out = git(
        ["status", "--porcelain=v2", "-z", "--untracked-files=no"], path, "reading git status"
    )
    changed: List[str] = []
    subs: List[str] = []
    records = iter(out.split("\0"))
    for record in records:
        if record[:2] in ("1 ", "2 ", "u "):
            fields = record.split(" ", {"1": 8, "2": 9, "u": 10}[record[0]])
            (subs if fields[2].startswith("S") else changed).append(fields[-1])
            if record[0] == "2":
                next(records, None)  # a rename's original path
    return Status(tuple(changed), tuple(subs))


class Job:
    """One repo's run: what it is, what happened so far, and how to report it."""

    def __init__(self, repo: Repo, opts: Options, emit: EventCallback) -> None:
        self.repo = repo
        self.opts = opts
        self.emit = emit
        self.action = ""
        self.old: Optional[str] = None
        self.notes: List[str] = list(repo.notes)
        self.error: Optional[str] = None
        self.new: Optional[str] = repo.rev
        self.pending = 0
        self.sub_counts = {"updated": 0, "there": 0, "excluded": 0}
        self.kept_subs: List[str] = []
        self.gitlinks: Dict[str, str] = {}
        self.memo_dir: Optional[str] = None  # set when the submodules were walked in full
        self.lock = threading.Lock()

    def count(self, key: str, links: Optional[Dict[str, str]] = None) -> None:
        """Tally a submodule (from worker threads), recording the gitlinks walked."""
        with self.lock:
            if key:
                self.sub_counts[key] += 1
            self.gitlinks.update(links or {})

    def phase(self, text: str, who: Optional[str] = None) -> None:
        self.emit(Event(who or self.repo.name, "phase", text))

    def watch(self, url: str, who: Optional[str] = None) -> Watch:
        name = who or self.repo.name
        return Watch(url, self.opts.stall_timeout, lambda t: self.emit(Event(name, "progress", t)))

    def outcome(self) -> Outcome:
        notes = list(self.notes) + self._submodule_notes()
        return Outcome(
            self.repo.name, self.repo.path, self.action, self.old, self.new, tuple(notes),
            self.error,
        )  # fmt: skip

    def _submodule_notes(self) -> List[str]:
        counts = self.sub_counts
        if not any(counts.values()) and not self.kept_subs:
            return []
        text = f"submodules: {counts['updated']} updated, {counts['there']} already there"
        text += f", {counts['excluded']} excluded" if counts["excluded"] else ""
        notes = [text]
        if self.kept_subs:
            kept = ", ".join(sorted(self.kept_subs))
            notes.append(f"left submodule(s) with local changes as they are: {kept}")
        return notes


Task = Callable[[], List[Any]]  # a unit of pool work; returns more Tasks


def place_repo(job: Job) -> List[Task]:
    """Put one repo in place; returns follow-up tasks (its submodules) for the pool."""
    repo = job.repo
    _check_place(repo, job.opts.root)
    git_dir = git_dir_of(repo.path)
    if git_dir is None:
        if job.opts.dry_run:
            job.action = "would clone"
            job.notes.append(f"from {redact(repo.url)}")
            return []
        git_dir = clone_repo(job)
        keep: Tuple[str, ...] = ()
    elif repo.rev is None:
        job.action = "present, left as it is"
        return []
    else:
        moved = move_repo(job, git_dir)
        if moved is None:
            return []
        keep = moved
    if not (repo.submodules and job.opts.submodules) or job.opts.dry_run:
        return []
    return submodule_tasks(job, repo.path, "", keep, git_dir)


def _check_place(repo: Repo, root: Optional[str]) -> None:
    """The path must stay inside the workspace and be free or hold a git repo top."""
    if root is not None:
        real, top = os.path.realpath(repo.path), os.path.realpath(root)
        if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
            raise SyncError(f"path {repo.path} leads outside the workspace {root}")
    if not os.path.lexists(repo.path) or is_repo_top(repo.path):
        return
    if os.path.isdir(repo.path) and not os.path.islink(repo.path) and not os.listdir(repo.path):
        return
    raise SyncError(f"{repo.path} exists and is not a git repository; move it away")


def move_repo(job: Job, git_dir: str) -> Optional[Tuple[str, ...]]:
    """Check out the pin detached; never over the user's work. Returns the user's submodules.

    None means nothing more to do (already on the pin with its submodules, or a dry run).
    """
    repo, rev = job.repo, job.repo.rev or ""
    head = read_head(git_dir)
    job.old = head.sha
    if head.sha == rev:
        return _at_pin(job, git_dir, head)
    busy = in_progress(git_dir)
    if busy:
        raise SyncError(
            f"{repo.path}: a {busy} is in progress; not moved: finish it "
            f"(git {busy} --continue) or abort it (git {busy} --abort), then run again"
        )
    status = read_status(repo.path)
    if status.changed:
        shown = ", ".join(status.changed[:5]) + (
            f" and {len(status.changed) - 5} more" if status.changed[5:] else ""
        )
        raise SyncError(f"has uncommitted changes ({shown}); not touched: commit or stash them")
    present = has_commit(repo.path, git_dir, rev)
    if job.opts.dry_run:
        _plan(job, git_dir, head, present)
        return None
    job.action = "checked out"
    if not present:
        job.phase("fetch")
        fetch_into(job, repo.path, git_dir, _fetch_source(repo))
        job.action = "fetched"
    _save_orphan_head(job, git_dir, head)
    checkout_pin(job, repo.path, git_dir)
    return status.submodules


def _at_pin(job: Job, git_dir: str, head: Head) -> Optional[Tuple[str, ...]]:
    rev = job.repo.rev or ""
    job.action = "up to date" if job.opts.dry_run else "already at pin"
    if head.branch:
        if job.opts.dry_run:
            job.notes.append(f"would detach from branch {head.branch}")
            return None
        git(["checkout", "-q", "--detach", rev, "--"], job.repo.path, "detaching HEAD")
        job.notes.append(f"detached from branch {head.branch}, which is unchanged")
    if job.opts.dry_run:
        return None
    write_ref(git_dir, PIN_REF, rev)
    if not (job.repo.submodules and job.opts.submodules):
        return None
    if _submodules_match_memo(job, git_dir):
        return None
    return read_status(job.repo.path).submodules


def _plan(job: Job, git_dir: str, head: Head, present: bool) -> None:
    """What a move would do, touching nothing."""
    job.action = "would check out" if present else "would fetch and check out"
    if head.branch is None and head.sha and not _held_by_refs(job.repo.path, git_dir, head.sha):
        job.notes.append(f"would first save HEAD {head.sha[:12]} on a branch")
    if job.repo.submodules and job.opts.submodules:
        job.notes.append("then its submodules")


def _held_by_refs(path: str, git_dir: str, sha: str) -> bool:
    """True when a branch, tag or remote ref holds `sha` (ours first, read on disk)."""
    if read_ref(common_dir_of(git_dir), PIN_REF) == sha:
        return True
    refs = ["refs/heads", "refs/tags", "refs/remotes"]
    args = ["for-each-ref", "--count=1", "--format=%(refname)", "--contains", sha]
    return bool(git(args + refs, path, "looking for refs holding HEAD").strip())


def _save_orphan_head(job: Job, git_dir: str, head: Head) -> None:
    """Keep commits that only a detached HEAD holds: put a branch on them before moving."""
    if head.branch or not head.sha or _held_by_refs(job.repo.path, git_dir, head.sha):
        return
    branch = SAVED_BRANCH_PREFIX + head.sha[:12]
    if read_ref(common_dir_of(git_dir), "refs/heads/" + branch) is None:
        git(["branch", "--no-track", branch, head.sha], job.repo.path, "saving HEAD on " + branch)
    job.notes.append(f"saved the previous HEAD {head.sha[:12]} on branch {branch}")


def checkout_pin(job: Job, path: str, git_dir: str) -> None:
    """Detach at the pin and record it in the pin ref (which also keeps it from gc).

    In a blobless clone the checkout fetches blobs, so it runs under the watchdog.
    """
    rev = job.repo.rev or ""
    job.phase("checkout")
    args = ["checkout", "-q", "--detach", rev, "--"]
    if _is_partial(git_dir):
        res = run_network(["-c", "checkout.workers=0", *args], path, job.watch(job.repo.url))
        if res.code != 0:
            raise SyncError(f"checkout of {rev[:12]} failed: {first_error(res.err)}")
    else:
        git(args, path, f"checkout of {rev[:12]}")
    write_ref(git_dir, PIN_REF, rev)


def _is_partial(git_dir: str) -> bool:
    """A partial (blobless) clone: its config names a promisor remote."""
    try:
        with open(os.path.join(common_dir_of(git_dir), "config"), encoding="utf-8") as handle:
            return "promisor = true" in handle.read()
    except OSError:
        return False


def _fetch_source(repo: Repo) -> Tuple[str, str]:
    """Where to fetch from, and where branches go on the fallback.

    A remote already pointing at the URL is used by name (its remote-tracking refs stay a
    normal mirror); otherwise (origin is the user's fork, say) the URL itself, with branches
    under refs/remotes/xla-tasks/upstream, away from the user's refs.
    """
    res = run_git(["config", "-z", "--get-regexp", r"^remote\..*\.url$"], repo.path)
    for item in res.out.split("\0"):
        key, _, value = item.partition("\n")
        if value.rstrip("/") == repo.url.rstrip("/"):
            remote = key[len("remote.") : -len(".url")]
            return remote, "refs/remotes/" + remote
    return repo.url, _UPSTREAM_REFS


# --- fetching ------------------------------------------------------------------------


class Fetch(NamedTuple):
    source: str  # remote name, URL or mirror path
    refs: str  # where branches go on the fallback
    url: str  # for messages and the watchdog
    extra: Tuple[str, ...] = ()  # --depth / --filter
    keep: bool = False  # store a commit fetched by id under refs/xla-tasks/keep (mirrors)


def fetch_into(job: Job, path: str, git_dir: str, source: Tuple[str, str]) -> None:
    """Fetch the pin into an existing clone: through the cache when there is one."""
    rev = job.repo.rev or ""
    if job.opts.cache:
        mirror = ensure_mirror(job, rev)
        with mirror_lock(mirror, shared=True):
            fetch_commit(job, path, git_dir, Fetch(mirror, _UPSTREAM_REFS, mirror))
        return
    extra = ("--depth", str(job.opts.depth)) if is_shallow(git_dir) else ()
    fetch_commit(job, path, git_dir, Fetch(source[0], source[1], job.repo.url, extra))


def fetch_commit(job: Job, path: str, git_dir: str, how: Fetch) -> None:
    """Fetch the pinned commit by id first; by branches and tags when the server refuses.

    Servers speaking protocol v0 refuse ids that are not a ref tip ("Server does not allow
    request for unadvertised object"), so fall back to the branch, every branch, tags; a
    shallow clone whose pin lies deeper than the fetched tips is then deepened in full.
    """
    rev = job.repo.rev or ""
    target = f"+{rev}:{_KEEP_REFS}/{rev}" if how.keep else rev
    by_id = _fetch(job, path, how, [target])
    if by_id.code == 0 and has_commit(path, git_dir, rev):
        return
    refspecs = [f"+refs/heads/*:{how.refs}/*", f"+refs/tags/*:{_TAG_REFS}/*"]
    if job.repo.branch:
        refspecs.insert(0, f"+refs/heads/{job.repo.branch}:{how.refs}/{job.repo.branch}")
    reached = False
    for refspec in refspecs:
        if _fetch(job, path, how, [refspec]).code == 0:
            reached = True
            if has_commit(path, git_dir, rev):
                return
    if reached and is_shallow(git_dir):
        _fetch(job, path, how._replace(extra=("--unshallow",)), [refspecs[-2]])
        if has_commit(path, git_dir, rev):
            return
    reason = first_error(by_id.err) if by_id.code else "no such commit"
    if reached:
        raise SyncError(f"{rev[:12]} is on no branch of {redact(how.url)} (fetch by id: {reason})")
    raise SyncError(f"fetch of {rev[:12]} from {redact(how.url)} failed: {reason}")


def _fetch(job: Job, path: str, how: Fetch, refspecs: List[str]) -> GitResult:
    args = ["fetch", "--progress", "--no-tags", "--no-write-fetch-head", *how.extra]
    return run_network([*args, "--", how.source, *refspecs], path, job.watch(how.url))


# --- cloning -------------------------------------------------------------------------


def clone_repo(job: Job) -> str:
    """Clone beside the target, then rename into place: never a half clone at the path."""
    import shutil
    import tempfile

    repo = job.repo
    parent = os.path.dirname(os.path.abspath(repo.path))
    os.makedirs(parent, exist_ok=True)
    base = os.path.basename(repo.path)
    if job.opts.clean_stale_temps:
        for name in os.listdir(parent):
            if name.startswith(f".{base}.clone-"):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix=f".{base}.clone-", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_UMASK[0])  # mkdtemp is private; a clone is not
        job.phase("clone")
        _clone_into(job, tmp)
        if os.path.isdir(repo.path):
            os.rmdir(repo.path)  # an empty folder made for us; anything else fails here
        os.replace(tmp, repo.path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    job.action = "cloned"
    return git_dir_of(repo.path) or os.path.join(repo.path, ".git")


def _clone_into(job: Job, tmp: str) -> None:
    repo, opts = job.repo, job.opts
    if opts.cache:
        mirror = ensure_mirror(job, repo.rev)
        with mirror_lock(mirror, shared=True):
            _clone_from(job, mirror, tmp, ())
        git(["remote", "set-url", "origin", repo.url], tmp, "setting origin")
        job.notes.append("objects from the cache")
    elif opts.history == "shallow" and repo.rev:
        git(["init", "-q"], tmp, "git init")
        git(["remote", "add", "origin", repo.url], tmp, "adding remote origin")
        how = Fetch("origin", "refs/remotes/origin", repo.url, ("--depth", str(opts.depth)))
        _shallow_or_full(job, tmp, how)
    else:
        _clone_from(job, repo.url, tmp, _history_args(opts))
    if repo.rev:
        git_dir = os.path.join(tmp, ".git")
        if not has_commit(tmp, git_dir, repo.rev):
            job.phase("fetch")
            fetch_commit(job, tmp, git_dir, Fetch("origin", "refs/remotes/origin", repo.url))
        checkout_pin(job, tmp, git_dir)
    else:
        job.new = read_head(os.path.join(tmp, ".git")).sha
        job.notes.append(f"{repo.branch or 'default branch'} from {redact(repo.url)}")


def _history_args(opts: Options) -> Tuple[str, ...]:
    if opts.history == "blobless":
        return ("--filter=blob:none",)
    if opts.history == "shallow":
        return ("--depth", str(opts.depth))
    return ()


def _clone_from(job: Job, source: str, tmp: str, extra: Tuple[str, ...]) -> None:
    repo = job.repo
    args = ["clone", "--progress", *extra]
    args += ["--no-checkout"] if repo.rev else []
    args += ["--branch", repo.branch] if repo.branch else []
    res = run_network([*args, "--", source, tmp], None, job.watch(repo.url))
    if res.code != 0 and extra and re.search(r"shallow|deepen|filter", res.err, re.I):
        import shutil

        job.notes.append(f"the server refused a {job.opts.history} clone: full history")
        shutil.rmtree(tmp, ignore_errors=True)
        os.mkdir(tmp, 0o777 & ~_UMASK[0])
        args = [*args[:2], *args[2 + len(extra) :]]
        res = run_network([*args, "--", source, tmp], None, job.watch(repo.url))
    if res.code != 0:
        raise SyncError(f"clone from {redact(repo.url)} failed: {first_error(res.err)}")
    if "filtering not recognized by server" in res.err:
        job.notes.append("the server refused a blobless clone: full history")


def _shallow_or_full(job: Job, tmp: str, how: Fetch) -> None:
    """A shallow fetch of the pin; a server that refuses shallow fetches gets a full one."""
    git_dir = os.path.join(tmp, ".git")
    rev = job.repo.rev or ""
    res = _fetch(job, tmp, how, [rev])
    if res.code == 0 and has_commit(tmp, git_dir, rev):
        return
    if res.code != 0 and "shallow" in res.err.lower():
        job.notes.append("the server refused a shallow fetch: full history")
        how = how._replace(extra=())
    fetch_commit(job, tmp, git_dir, how)


# --- the mirror cache ----------------------------------------------------------------


def mirror_path(cache: str, url: str) -> str:
    """One bare mirror per normalized URL: no credentials, no trailing `/` or `.git`."""
    norm = redact(url).replace("***@", "").rstrip("/")
    norm = norm[:-4] if norm.endswith(".git") else norm
    if "://" in norm:
        scheme, _, rest = norm.partition("://")
        host, _, tail = rest.partition("/")
        norm = f"{scheme.lower()}://{host.lower()}/{tail}"
    else:
        norm = os.path.abspath(norm)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", norm.split("://")[-1]).strip("._")[-80:]
    import hashlib

    digest = hashlib.sha1(norm.encode("utf-8")).hexdigest()[:10]
    return os.path.join(cache, f"{slug}-{digest}.git")


class FileLock:
    """An flock on one file: one writer, or many readers, across processes and threads.

    The kernel drops it when the holder dies, so a killed run never leaves a stale lock.
    Used for each cache mirror and, through `xla_tasks.lock`, for the workspace.
    """

    def __init__(self, path: str, shared: bool = False) -> None:
        self.path = path
        self.mode = 0 if fcntl is None else (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        self.handle: Optional[int] = None

    def acquire(self, timeout: Optional[float] = None) -> bool:
        """Take the lock, waiting up to `timeout` seconds (None: as long as it takes)."""
        self.handle = os.open(
            self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666
        )
        if fcntl is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.handle, self.mode | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    self.release()
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        if self.handle is not None:
            os.close(self.handle)  # closing drops the flock
            self.handle = None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def mirror_lock(mirror: str, shared: bool = False) -> FileLock:
    """The lock of one cache mirror, `<mirror>.lock` beside it."""
    os.makedirs(os.path.dirname(mirror), exist_ok=True)
    return FileLock(mirror + ".lock", shared)


def ensure_mirror(job: Job, rev: Optional[str]) -> str:
    """The mirror of the repo's URL, holding `rev` (or its branch when `rev` is None).

    The upstream is contacted only when the mirror lacks what is needed.
    """
    url = job.repo.url
    mirror = mirror_path(job.opts.cache or "", url)
    if rev is not None and _mirror_has(mirror, rev):
        return mirror
    with mirror_lock(mirror):
        if not os.path.isdir(mirror):
            import shutil
            import tempfile

            job.phase("cache")
            tmp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(mirror))
            try:
                res = run_network(
                    ["clone", "--progress", "--bare", "--", url, tmp], None, job.watch(url)
                )
                if res.code != 0:
                    raise SyncError(f"clone from {redact(url)} failed: {first_error(res.err)}")
                os.replace(tmp, mirror)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        elif rev is None:  # a branch checkout: its head now, not the mirror's last one
            job.phase("cache")
            _fetch(job, mirror, Fetch(url, "refs/heads", url), ["+refs/heads/*:refs/heads/*"])
        if rev and not has_commit(mirror, mirror, rev):
            job.phase("cache")
            fetch_commit(job, mirror, mirror, Fetch(url, "refs/heads", url, keep=True))
    return mirror


def _mirror_has(mirror: str, rev: str) -> bool:
    return os.path.isfile(os.path.join(mirror, "HEAD")) and bool(has_object(mirror, rev))


# --- submodules ----------------------------------------------------------------------


class Submodule(NamedTuple):
    name: str
    path: str  # relative to its superproject
    full: str  # relative to the dep's top, for excludes and messages
    sha: str  # the commit the superproject records


def submodule_tasks(
    job: Job, sup: str, prefix: str, keep: Sequence[str], git_dir: str
) -> List[Task]:
    """Tasks for the submodules of `sup` not on their recorded commit; recursive.

    A submodule already on its commit costs no network; one the user moved or edited
    (`keep`, from the status before the move) is left as it is; excluded ones are skipped
    with everything inside them.
    """
    subs = read_submodules(sup, prefix)
    job.count("", {s.full: s.sha for s in subs})
    if not prefix:
        job.memo_dir = git_dir
    stale: List[Submodule] = []
    tasks: List[Task] = []
    for sub in subs:
        if _excluded(job, sub.full):
            job.count("excluded")
            continue
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and read_head(sub_git).sha == sub.sha:
            job.count("there")
            tasks.extend(submodule_tasks(job, where, sub.full + "/", (), sub_git))
        elif sub.path in keep:
            with job.lock:
                job.kept_subs.append(sub.full)
        else:
            stale.append(sub)
    if stale:
        paths = [s.path for s in stale]
        git(["submodule", "sync", "--quiet", "--", *paths], sup, "git submodule sync")
        git(["submodule", "init", "--quiet", "--", *paths], sup, "git submodule init")
        if job.opts.cache:  # each from its mirror: local, hard-linked clones
            urls = _submodule_urls(sup)
            tasks.extend(_update_task(job, sup, sub, urls.get(sub.name)) for sub in stale)
        else:
            tasks.append(functools.partial(_update_batch, job, sup, stale))
    return tasks


def _update_batch(job: Job, sup: str, stale: List[Submodule]) -> List[Task]:
    """One `git submodule update --jobs` for a superproject's stale submodules, shallow.

    git's own parallel clones beat one process per path (measured: 30 submodules).
    Those that a shallow fetch cannot reach (a gitlink that is no tip, on a server that
    refuses commit ids) are retried one by one with full history.
    """
    who = f"{job.repo.name}:{stale[0].full}" if len(stale) == 1 else job.repo.name
    job.phase("submodules")
    args = ["submodule", "update", "--progress", "--checkout", "--depth", "1"]
    args += ["--jobs", str(max(1, job.opts.jobs)), "--", *[s.path for s in stale]]
    run_network(args, sup, job.watch(sup, who))
    tasks: List[Task] = []
    for sub in stale:
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and read_head(sub_git).sha == sub.sha:
            job.count("updated")
            tasks.extend(submodule_tasks(job, where, sub.full + "/", (), sub_git))
        else:
            tasks.append(_update_task(job, sup, sub, None))
    return tasks


def _excluded(job: Job, full: str) -> bool:
    if any(re.search(p, full) for p in job.repo.exclude_submodules):
        return True
    return any(p.search(f"{job.repo.name}:{full}") for p in job.opts.exclude_submodules)


def read_submodules(sup: str, prefix: str) -> List[Submodule]:
    """The submodules `.gitmodules` declares, with the commits the index records."""
    if not os.path.isfile(os.path.join(sup, ".gitmodules")):
        return []
    res = run_git(
        ["config", "-z", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*\.path$"], sup
    )
    if res.code not in (0, 1):  # 1: no entries
        raise SyncError("reading .gitmodules failed: " + first_error(res.err))
    names: Dict[str, str] = {}
    for item in res.out.split("\0"):
        key, _, path = item.partition("\n")
        if path and not path.startswith("-") and ".." not in path.split("/"):
            names[path] = key[len("submodule.") : -len(".path")]
    if not names:
        return []
    staged = git(["ls-files", "--stage", "-z", "--", *names], sup, "reading submodule commits")
    subs = []
    for entry in staged.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[0] == "160000" and path in names:
            subs.append(Submodule(names[path], path, prefix + path, fields[1]))
    return subs


def _submodule_urls(sup: str) -> Dict[str, str]:
    """The absolute URLs `git submodule init` resolved (relative ones included)."""
    res = run_git(["config", "-z", "--get-regexp", r"^submodule\..*\.url$"], sup)
    urls = {}
    for item in res.out.split("\0"):
        key, _, value = item.partition("\n")
        if value:
            urls[key[len("submodule.") : -len(".url")]] = value
    return urls


def _update_task(job: Job, sup: str, sub: Submodule, url: Optional[str]) -> Task:
    def task() -> List[Task]:
        who = f"{job.repo.name}:{sub.full}"
        job.emit(Event(who, "start", os.path.join(sup, sub.path)))
        try:
            update_submodule(job, sup, sub, url, who)
        except SyncError as err:
            job.emit(Event(who, "failed", str(err)))
            raise SyncError(f"submodule {sub.full}: {err}") from None
        job.emit(Event(who, "done", f"{who}: checked out {sub.sha[:12]}"))
        job.count("updated")
        where = os.path.join(sup, sub.path)
        return submodule_tasks(job, where, sub.full + "/", (), git_dir_of(where) or where)

    return task


def update_submodule(job: Job, sup: str, sub: Submodule, url: Optional[str], who: str) -> None:
    """`git submodule update` of one path: shallow first, full when the server refuses.

    With a cache the clone comes from the mirror (`-c submodule.NAME.url=MIRROR`: the
    superproject's config is not rewritten), then origin is pointed back at the real URL.
    """
    config: List[str] = []
    watch_url = url or sub.path
    if url and job.opts.cache:
        mirror = ensure_mirror(_sub_job(job, sub, url), sub.sha)
        config = ["-c", f"submodule.{sub.name}.url={mirror}"]
    base = [*config, "submodule", "update", "--progress", "--checkout"]
    watch = job.watch(watch_url, who)
    res = run_network([*base, "--depth", "1", "--", sub.path], sup, watch)
    if res.code != 0:
        where = os.path.join(sup, sub.path)
        sub_git = git_dir_of(where)
        if sub_git is not None and is_shallow(sub_git):
            run_network(["fetch", "--progress", "--unshallow"], where, watch)
        res = run_network([*base, "--", sub.path], sup, watch)
        if res.code != 0:
            raise SyncError(f"update failed: {first_error(res.err)}")
    if config and url:
        git(["remote", "set-url", "origin", url], os.path.join(sup, sub.path), "setting origin")


def _sub_job(job: Job, sub: Submodule, url: str) -> Job:
    """A Job standing for a submodule when its mirror is filled (same options, its URL)."""
    return Job(Repo(f"{job.repo.name}:{sub.full}", sub.path, url, sub.sha), job.opts, job.emit)


def write_memo(job: Job) -> None:
    """Remember the pin's gitlinks, so a later sync checks submodules with no git process."""
    if job.memo_dir is None or job.error is not None or job.kept_subs:
        return
    memo = {"pin": job.repo.rev, "gitlinks": job.gitlinks}
    path = os.path.join(job.memo_dir, SUBMODULE_MEMO)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(memo, handle, sort_keys=True)
    os.replace(tmp, path)


def _submodules_match_memo(job: Job, git_dir: str) -> bool:
    """True when every wanted submodule is on the commit the memo of this pin records."""
    try:
        with open(os.path.join(git_dir, SUBMODULE_MEMO), encoding="utf-8") as handle:
            memo = json.load(handle)
        if memo.get("pin") != job.repo.rev:
            return False
        links = dict(memo["gitlinks"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for full, sha in links.items():
        if any(_excluded(job, part) for part in _ancestors(full)):
            job.sub_counts["excluded"] += 0 if _excluded_parent(job, full) else 1
            continue
        sub_git = git_dir_of(os.path.join(job.repo.path, full))
        if sub_git is None or read_head(sub_git).sha != sha:
            job.sub_counts = {"updated": 0, "there": 0, "excluded": 0}
            return False
        job.sub_counts["there"] += 1
    return True


def _ancestors(full: str) -> List[str]:
    parts = full.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _excluded_parent(job: Job, full: str) -> bool:
    return any(_excluded(job, part) for part in _ancestors(full)[:-1])


# --- running many repos ----------------------------------------------------------------

_UMASK = [0o022]


def sync_repos(
    repos: Sequence[Repo], opts: Options, on_event: Optional[EventCallback] = None
) -> List[Outcome]:
    """Put every repo in place, `opts.jobs` git operations at a time; outcomes in input order.

    Repos the disk shows already in place are settled right here, with no thread and no
    git process. A repo nested inside another's path (torch_xla at pytorch/xla) starts once
    its container is done. Ctrl-C ends the git processes in flight and re-raises.
    """
    umask = os.umask(0o022)  # read once, in the caller's thread, before any worker starts
    os.umask(umask)
    _UMASK[0] = umask
    emit = on_event or (lambda event: None)
    jobs = [Job(repo, opts, emit) for repo in repos]
    todo = [job for job in jobs if not _settled_on_disk(job)]
    if todo:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=max(1, opts.jobs), thread_name_prefix="xla-git")
        try:
            _Scheduler(pool, todo).run()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            kill_running_git()
            raise
        finally:
            pool.shutdown(wait=True)
    return [job.outcome() for job in jobs]


def _settled_on_disk(job: Job) -> bool:
    """Finish a repo the files show on its pin (submodules included), else leave it."""
    repo = job.repo
    git_dir = git_dir_of(repo.path) if repo.rev and not job.opts.dry_run else None
    if git_dir is None or read_head(git_dir) != Head(repo.rev, None):
        return False
    wants_subs = repo.submodules and job.opts.submodules
    if wants_subs and not _submodules_match_memo(job, git_dir):
        return False
    job.emit(Event(repo.name, "start", repo.path))
    job.old = repo.rev
    job.action = "already at pin"
    write_ref(git_dir, PIN_REF, repo.rev or "")
    _finish(job)
    return True


class _Scheduler:
    """Feeds the pool: repos when their container is done, then the tasks they spawn.

    A repo is finished when its own task and every task it spawned (its submodules) are.
    """

    def __init__(self, pool: "ThreadPoolExecutor", jobs: List[Job]) -> None:
        self.pool = pool
        self.jobs = jobs
        self.waiting = {id(job): _containers(job, jobs) for job in jobs}
        self.running: Dict[Future[List[Task]], Job] = {}

    def submit(self, job: Job, task: Task) -> None:
        job.pending += 1
        self.running[self.pool.submit(task)] = job

    def start_ready(self) -> None:
        for job in self.jobs:
            if self.waiting.get(id(job)) == set():
                del self.waiting[id(job)]
                job.emit(Event(job.repo.name, "start", job.repo.path))
                self.submit(job, functools.partial(place_repo, job))

    def run(self) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        self.start_ready()
        while self.running:
            done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
            for future in done:
                job = self.running.pop(future)
                job.pending -= 1
                for task in _follow_ups(job, future):
                    self.submit(job, task)
                if job.pending == 0:
                    _finish(job)
                    for other in self.waiting.values():
                        other.discard(id(job))
            self.start_ready()


def _containers(job: Job, jobs: Sequence[Job]) -> Set[int]:
    here = os.path.abspath(job.repo.path) + os.sep
    return {
        id(other)
        for other in jobs
        if other is not job and here.startswith(os.path.abspath(other.repo.path) + os.sep)
    }


def _follow_ups(job: Job, future: "Future[List[Task]]") -> List[Task]:
    """The tasks a finished task asked for; its failure lands on the repo (first one wins)."""
    try:
        return list(future.result())
    except SyncError as err:
        reason = str(err)
    except OSError as err:
        reason = f"{err.strerror or err}: {err.filename or job.repo.path}"
    except Exception as err:  # a bug: still one line, and the other repos finish
        reason = f"unexpected {type(err).__name__}: {err}"
    if job.error is None:
        job.error = redact(reason)
    return []


def _finish(job: Job) -> None:
    try:
        write_memo(job)
    except OSError as err:
        job.error = job.error or f"writing {SUBMODULE_MEMO}: {err}"
    out = job.outcome()
    if out.error is None:
        line = outcome_line(out.name, out.action, out.old, out.new, out.notes)
        job.emit(Event(job.repo.name, "done", line))
    else:
        job.emit(Event(job.repo.name, "failed", out.error))
