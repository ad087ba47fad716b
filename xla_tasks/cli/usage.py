"""What `xla-tasks --help [TASK]` prints, and the one-line answer to a mistyped task or flag.

invoke's own help lists its core options (`--dry`, `--pty`, ...) and shows every value as
STRING, because our numeric flags are declared as strings (invoke's int cast shows a
traceback on `--jobs x`). Here each value gets the placeholder a user types (`--jobs=INT`,
`--history=MODE`), positionals are listed as such, and a typo gets the closest real name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

DESCRIPTION = """\
Keep a workspace of OpenXLA (iree, jax, xla, stablehlo, openxla-pjrt-plugin) or
PyTorch/XLA (pytorch, vision, torch_xla) git repositories on the right commits: clone
them, pin each project's deps in sync_deps.toml, sync every dep to its pin, roll the pins
forward on a schedule, and bring clones and forks up to upstream. Run it in a workspace
(a folder with xla-workspace.toml, made by `xla-tasks init`) or in a project inside one.
Several tasks can be chained on one line; the chain stops at the first failure."""

EXAMPLE = """\
  mkdir ~/openxla && cd ~/openxla
  xla-tasks init && xla-tasks checkout --sync openxla-pjrt-plugin && xla-tasks status"""

# The value a flag takes, as a user types it (parameter name -> placeholder).
METAVARS = {
    "jobs": "INT",
    "log_limit": "INT",
    "max_tries": "INT",
    "verify_timeout": "SECONDS",
    "history": "MODE",
    "cache": "DIR",
    "exclude_dep": "RE",
    "exclude_submodule": "NAME:PATH-RE",
    "base": "NAME",
    "add": "NAME",
    "import": "FILE",
    "verify": "CMD",
    "preset": "NAME",
    "names": "NAMES",
    "schedule": "SCHEDULE",
    "cmd": "CMD",
    "directory": "DIR",
    "config": "FILE",
    "print-completion-script": "SHELL",
    "help": "TASK",
}

# Flags users reach for that a task does not take, and why (one line each).
NOT_OFFERED = {
    ("checkout", "--dry-run"): (
        "checkout has no --dry-run: the deps it clones come from each clone's own "
        "sync_deps.toml, unknown until it is cloned; `xla-tasks status` shows what is missing"
    ),
    ("status", "--dry-run"): "status changes nothing: it needs no --dry-run",
    ("init", "--jobs"): "init runs no git: it takes no --jobs",
    ("pin", "--jobs"): "pin reads each dep's HEAD from disk, one git call each: it takes no --jobs",
}


def metavar(arg: Any) -> str:
    return METAVARS.get(arg.name.strip("_"), "INT" if arg.kind is int else "STRING")


def flag_spec(arg: Any, inverse: bool) -> str:
    """`-b NAME, --base=NAME`, `--[no-]deps`, `--json`, `--exclude-dep=RE`."""
    parts = []
    for name in sorted(arg.names, key=len):
        flag = f"-{name}" if len(name) == 1 else f"--{name}"
        if arg.takes_value:
            value = metavar(arg)
            if arg.optional:
                flag += f" [{value}]" if len(name) == 1 else f"[={value}]"
            else:
                flag += f" {value}" if len(name) == 1 else f"={value}"
        elif inverse and len(name) > 1:
            flag = f"--[no-]{name}"
        parts.append(flag)
    return ", ".join(parts)


def columns(rows: Sequence[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max((len(left) for left, _ in rows), default=0) + 3
    return [f"{indent}{left.ljust(width)}{right}".rstrip() for left, right in rows]


def task_help(
    binary: str, name: str, context: Any, doc: str | None, optional: str | None
) -> list[str]:
    """The lines of `xla-tasks --help TASK`: usage with positionals, docstring, options."""
    positional = list(context.positional_args)
    inverse = set(context.inverse_flags.values())
    by_name = {arg.name: arg for arg in context.args.values()}
    words = [metavar(arg) for arg in positional]
    if optional and optional in by_name:
        words.append(f"[{metavar(by_name[optional])}]")
    lines = [
        f"Usage: {binary} [--core-opts] {name} [--options] {' '.join(words)}".rstrip(),
        "",
        *(f"  {line}".rstrip() for line in (doc or "").strip().splitlines()),
        "",
    ]
    shown = [*positional, by_name[optional]] if optional in by_name else positional
    if shown:
        lines.append("Positional arguments:")
        lines += columns([(metavar(arg), arg.help or "") for arg in shown])
        lines.append("")
    rows = [
        (flag_spec(arg, f"--{arg.name}" in inverse), arg.help or "")
        for arg in sorted(context.args.values(), key=lambda a: a.name.strip("_"))
        if arg not in shown
    ]
    lines.append("Options:")
    lines += columns(rows) if rows else ["  none"]
    if optional in by_name:
        word = metavar(by_name[optional])
        lines += ["", f"  [{word}] is also --{optional}={word} (the form plain `invoke` takes)."]
    return lines


def closest(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return found[0] if found else None


def no_task(binary: str, word: str, tasks: Iterable[str]) -> str:
    match = closest(word, tasks)
    guess = f" (did you mean {match}?)" if match else ""
    return f"{binary}: no task {word!r}{guess}; the tasks: {binary} --list"


def no_flag(binary: str, task: str | None, flag: str, flags: Iterable[str]) -> str:
    """An unknown flag of `task` (None: before any task), with the closest real one."""
    if task is not None and (task, flag) in NOT_OFFERED:
        return f"{binary}: {NOT_OFFERED[task, flag]}"
    match = closest(flag, flags)
    guess = f" (did you mean {match}?)" if match else ""
    if task is None:
        return f"{binary}: no option {flag}{guess}; see {binary} --help"
    return f"{binary}: {task} has no flag {flag}{guess}; see {binary} --help {task}"


def task_flag_owner(flag: str, task_flags: dict[str, Sequence[str]]) -> list[str]:
    """The tasks that take `flag` (for a task flag given before the task name)."""
    return [task for task, flags in task_flags.items() if flag in flags]
