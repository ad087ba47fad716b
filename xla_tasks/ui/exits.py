"""How a run ends: interrupts, exit codes, and the one JSON object of a failure.

Light on purpose (the program's early signal handler in `entry` and every task use it).
An interrupt prints `xla-tasks: interrupted` (exit 130), never Python's KeyboardInterrupt
traceback. SIGTERM (what CI runners and `timeout` send) is raised as
`Terminated`, a KeyboardInterrupt, so every cleanup that handles Ctrl-C handles it too;
it ends with `xla-tasks: terminated` and exit 143 (128 + 15, what a shell reports).

With `--json`, stdout must hold exactly one object whatever happens (contract 5.8): the
report layer notes each object it prints, and a failure that printed none (bad input,
a busy workspace, an internal error, an interrupt, even before the task body ran) prints
`{"ok": false, "command": ..., "error": ..., "exit_code": ...}` here.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path

INTERRUPTED = 130
TERMINATED = 143
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left
_printed: list[bool] = [False]  # a JSON object went to stdout during this run


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread stands, like Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


Handlers = tuple[object, object]


def install_signal_handlers() -> Handlers | None:
    """Ctrl-C raises KeyboardInterrupt (also when a parent ignored it), SIGTERM Terminated.
    Returns the handlers replaced, for `restore_signal_handlers`."""
    try:
        previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (a library caller): leave its handlers alone
        return None
    return previous


def restore_signal_handlers(previous: Handlers | None) -> None:
    """Put back what `install_signal_handlers` replaced (in-process callers, tests)."""
    if previous is not None:
        signal.signal(signal.SIGINT, previous[0])  # type: ignore[arg-type]
        signal.signal(signal.SIGTERM, previous[1])  # type: ignore[arg-type]


def interruption(err: BaseException) -> tuple[str, int]:
    """The one line and exit code for an interrupt."""
    if isinstance(err, Terminated):
        return "xla-tasks: terminated", TERMINATED
    return "xla-tasks: interrupted", INTERRUPTED


def wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def start_run() -> None:
    _printed[0] = False


def note_json_printed() -> None:
    _printed[0] = True


def print_failure_json(command: str | None, message: str, code: int) -> None:
    """The failure as one JSON object on stdout, unless this run already printed one."""
    if _printed[0]:
        return
    import json

    error = message.removeprefix("xla-tasks: ")
    document = {"ok": False, "command": command, "error": error, "exit_code": code}
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()
    note_json_printed()


def ending_of(err: BaseException) -> tuple[str, int]:
    """The one line and exit code for an exception that ends a run; under
    XLA_TASKS_DEBUG=1 an error (not an interrupt) is re-raised to show its traceback."""
    import os

    from xla_tasks.engine.model import redact
    from xla_tasks.errors import XlaTasksError

    if isinstance(err, KeyboardInterrupt):
        return interruption(err)
    if isinstance(err, BrokenPipeError):  # `xla-tasks status | head`: the reader is gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return "", BROKEN_PIPE
    if os.environ.get("XLA_TASKS_DEBUG", "") not in ("", "0") or not isinstance(err, Exception):
        raise err
    if isinstance(err, XlaTasksError):
        return f"xla-tasks: {redact(str(err))}", err.exit_code
    log = write_crash_log(err)
    where = f"details in {log}" if log else "set XLA_TASKS_DEBUG=1 for the traceback"
    text = f"internal error: {type(err).__name__}: {err} ({where}; please report it)"
    return f"xla-tasks: {redact(text)}", 3


def crash_log_path() -> Path:
    """`$XDG_CACHE_HOME/xla-tasks/crash.log`, else `~/.cache/xla-tasks/crash.log`."""
    import os

    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "xla-tasks" / "crash.log"


def write_crash_log(err: BaseException) -> Path | None:
    """Keep a bug's traceback and the versions around it in a file a user can attach to an
    issue, as pre-commit does; None when the file cannot be written."""
    import platform
    import subprocess
    import traceback

    from xla_tasks import __version__
    from xla_tasks.engine.model import redact

    try:
        git = subprocess.run(
            ["git", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        git = "git: not found"
    lines = [
        f"xla-tasks {__version__}",
        git,
        f"Python {platform.python_version()} ({sys.executable})",
        platform.platform(),
        "argv: " + " ".join(sys.argv),
        "",
        *traceback.format_exception(type(err), err, err.__traceback__),
    ]
    path = crash_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(redact("\n".join(line.rstrip("\n") for line in lines)) + "\n")
    except OSError:
        return None
    return path
