"""The settings invoke reads (`xla_tasks.*` in invoke.yaml, `INVOKE_XLA_TASKS_*`): their
declared defaults, and checks that turn a bad value into one line before any task runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xla_tasks.errors import UsageError
from xla_tasks.workspace.settings import DEFAULT_LOCK_TIMEOUT

# Declared in the collection so INVOKE_XLA_TASKS_* env vars can override them (invoke only
# overrides keys that exist). jobs = 0 means "the workspace's setting, else the machine's".
# Empty/0 for history, cache, stall_timeout and cache_lock_timeout mean "the workspace's
# [settings], else the default".
CONFIG_DEFAULTS: dict[str, Any] = {
    "jobs": 0,
    "lock_timeout": DEFAULT_LOCK_TIMEOUT,
    "history": "",
    "cache": "",
    "stall_timeout": 0.0,
    "cache_lock_timeout": 0.0,
}


ENV_PREFIX = "INVOKE_XLA_TASKS_"


def check_env_settings(section: object) -> None:
    """Refuse an `INVOKE_XLA_TASKS_*` value invoke cannot cast, naming the variable.

    invoke casts an env value to the type of the setting it overrides (`int("abc")` for
    jobs) and lets the ValueError escape; we try the same cast first, for every setting
    declared (whatever keys CONFIG_DEFAULTS grows).
    """
    import os

    keys = section.keys() if _is_table(section) else ()  # type: ignore[attr-defined]
    for key in keys:
        variable = ENV_PREFIX + str(key).upper()
        if variable not in os.environ:
            continue
        current = section[key]  # type: ignore[index]
        value = os.environ[variable]
        if isinstance(current, (bool, str)) or current is None:
            continue
        try:
            if isinstance(current, (list, tuple)) or _is_table(current):
                raise TypeError("a list or table cannot come from an environment variable")
            current.__class__(value)
        except (TypeError, ValueError):
            kind = type(current).__name__
            raise UsageError(
                f"{variable}={value!r}: xla_tasks.{key} expects {_KINDS.get(kind, kind)}",
                f"fix or unset {variable}",
            ) from None


_KINDS = {"int": "a whole number", "float": "a number of seconds", "dict": "a table"}


def check_file_settings(section: object, where: object) -> None:
    """Refuse an `xla_tasks` entry of an invoke.yaml that invoke cannot merge with ours.

    invoke merges config files key by key and raises AmbiguousMergeError (a traceback, at
    task time) when a table meets a plain value: `xla_tasks: 5`, or `jobs: {a: 1}`.
    """
    if section is None:
        return
    if not _is_table(section):
        raise UsageError(
            f"{where}: xla_tasks: expects a table of settings, got {section!r}",
            "write `xla_tasks:` then indented `jobs: 4`-style lines",
        )
    for key, value in section.items():  # type: ignore[attr-defined]
        if _is_table(value) != _is_table(CONFIG_DEFAULTS.get(key)):
            raise UsageError(f"{where}: xla_tasks.{key}: expects a plain value, got {value!r}")


def _is_table(value: object) -> bool:
    return isinstance(value, Mapping) or hasattr(value, "keys")


def settings_error(where: object, err: BaseException) -> UsageError:
    """A settings file invoke could not read or merge, as one line (yaml's are 4 lines)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if mark is not None and problem:
        text = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    else:
        text = " ".join(f"{type(err).__name__}: {err}".split())
    return UsageError(f"{where}: {text}", "fix the file, or move it away")
