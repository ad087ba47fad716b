"""How the engine runs git: a clean environment (no foreign repo, no prompt, English), and
for calls that talk to a server, a stall watchdog that ends git's whole process group when
it goes quiet for too long. git's progress lines are forwarded as they come.
"""

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from typing import IO, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Union

from xla_tasks.engine.model import SyncError, redact

_PROGRESS_RE = re.compile(
    r"^(remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving|Updating|Checking"
    r"|Filtering|Unpacking|Writing)\b[^:]*:"
)


GIT_COMMAND = ("git", "-c", "protocol.ext.allow=never")


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


class GitResult(NamedTuple):
    code: int
    out: str
    err: str


_LIVE: Set["subprocess.Popen[bytes]"] = set()


_LIVE_LOCK = threading.Lock()


STOPPING = threading.Event()  # set on Ctrl-C: waits (a cache lock) give up, no new git starts


def git_env() -> Dict[str, str]:
    """English messages (we pick git's `fatal:` line), never a prompt, no foreign repo."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_GIT_ENV}
    env.update(NO_PROMPT_ENV, LC_ALL="C", LANGUAGE="C")
    return env


def run_git(args: Sequence[str], cwd: Optional[str]) -> GitResult:
    """One local git call: argv list, no shell, no stdin, text output."""
    proc = subprocess.run(
        [*GIT_COMMAND, *args],
        cwd=cwd,
        env=git_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
    )
    return GitResult(proc.returncode, proc.stdout, proc.stderr)


def first_error(stderr: str) -> str:
    """git's telling lines as one line: the cause, then what failed here.

    The server's own reason (`remote: fatal: ...`, `remote: error: ...`, `... aborting due
    to possible repository corruption ...`) comes first, then git's first local
    `fatal:`/`error:` line (`fatal: early EOF`); later local lines only repeat it less
    precisely. Redacted, and bounded: one line, never a log.
    """
    lines = [line.strip() for line in re.split(r"[\r\n]+", stderr) if line.strip()]
    chosen = [line for line in lines if _REMOTE_CAUSE.search(line)][:2]
    chosen += [line for line in lines if line.startswith(("fatal:", "error:"))][:1]
    if not chosen:
        chosen = lines[-1:] or ["git exited with an error"]
    if len(chosen) > 1:
        chosen = [line.rstrip(" .") for line in chosen]
    text = "; ".join(dict.fromkeys(chosen))
    return redact(text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "...")


_REMOTE_CAUSE = re.compile(r"^remote: (fatal|error):|aborting due to")


_MAX_ERROR = 600


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
    said: Optional[Callable[[str], None]] = None  # git's other lines, stdout's too, as they come


def run_network(
    args: Sequence[str], cwd: Optional[str], watch: Watch, feed: Optional[bytes] = None
) -> GitResult:
    """A git call that talks to a server: progress forwarded, ended if it stalls.

    git prints progress (with `--progress`) only as data arrives, so silence on both
    pipes for `watch.stall` seconds means the server stopped answering: the whole process
    group (git and its transport helpers) is killed and the repo fails naming the URL.
    `feed` is git's stdin (`fetch --stdin`), else it reads nothing.
    """
    if STOPPING.is_set():
        raise SyncError("interrupted")
    with contextlib.ExitStack() as stack:
        stdin: Union[int, IO[bytes]] = subprocess.DEVNULL
        if feed is not None:
            import tempfile

            stdin = stack.enter_context(tempfile.TemporaryFile())
            stdin.write(feed)
            stdin.seek(0)
        proc = subprocess.Popen(
            [*GIT_COMMAND, *args],
            cwd=cwd,
            env=git_env(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own group: a stall kill reaches git's helpers too
        )
    with _LIVE_LOCK:  # kill_running_git sets STOPPING first: a git started meanwhile is ended
        _LIVE.add(proc)
        stopping = STOPPING.is_set()
    if stopping:
        _kill_group(proc)
    last = [time.monotonic()]
    out: List[bytes] = []
    err: List[str] = []
    readers = [
        threading.Thread(target=_pump_out, args=(proc.stdout, out, watch, last), daemon=True),
        threading.Thread(target=_pump_lines, args=(proc.stderr, err, watch, last), daemon=True),
    ]
    for reader in readers:
        reader.start()
    stalled = _wait_or_stall(proc, last, watch.stall)
    for reader in readers:
        reader.join(timeout=5)
    with _LIVE_LOCK:
        _LIVE.discard(proc)
    if stopping:
        raise SyncError("interrupted")
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
    """End every network git call in flight (Ctrl-C): their repos then fail and clean up.

    Until the next run starts (`STOPPING` is cleared there), no network git call starts and
    waits for a lock give up.
    """
    STOPPING.set()
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


def _pump_out(pipe: Optional["object"], out: List[bytes], watch: Watch, last: List[float]) -> None:
    """Keep git's stdout; with `watch.said`, also hand it over line by line as it comes."""
    said = watch.said
    if said is None:
        return _pump(pipe, out.append, last)
    buffer = b""

    def take(chunk: bytes) -> None:
        nonlocal buffer
        out.append(chunk)
        *lines, buffer = (buffer + chunk).split(b"\n")
        for line in lines:
            said(redact(line.decode("utf-8", "replace").strip()))

    _pump(pipe, take, last)


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
        if watch.said is not None:
            watch.said(redact(line))
