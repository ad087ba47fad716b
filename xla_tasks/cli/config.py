"""The settings invoke reads (`xla_tasks.*` in invoke.yaml, `INVOKE_XLA_TASKS_*`): their
declared defaults, and checks that turn a bad settings file into one line.

Values are checked by `workspace.settings.options_from` at the start of every task, so
plain `invoke` gets the same one-line errors as `xla-tasks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xla_tasks.errors import UsageError

# Declared in the collection so INVOKE_XLA_TASKS_* env vars can override them (invoke only
# overrides keys that exist). Every default is a string on purpose: invoke casts an env value
# to the type of the default (`int("abc")` for jobs) and lets the ValueError escape as a
# traceback before any task runs, under plain `invoke` too, where no hook of ours can catch
# it. A string is never cast, so the value reaches `options_from`, which checks it at the
# start of every task and names the variable. Empty means "the workspace's [settings], else
# the default in code".
# cache_lock_timeout likewise (seconds to wait for another run using a cache mirror).
CONFIG_DEFAULTS: dict[str, Any] = {
    "jobs": "",
    "lock_timeout": "",
    "history": "",
    "cache": "",
    "stall_timeout": "",
    "heartbeat": "",  # seconds as text: 0 means no heartbeat, so empty means unset
    "cache_lock_timeout": "",
    "archive_max_mb": "",  # MiB a downloaded .zip archive may have (pin/roll of a native pin)
}


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
