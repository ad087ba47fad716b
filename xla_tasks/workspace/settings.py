"""Run options: defaults in code, then invoke config (`xla_tasks.*`), then flags.

Flags are parsed here, not by invoke: invoke's int cast prints a traceback on `--jobs x`,
and a bad regex must fail before any repo is touched. Nothing here writes back into the
invoke config, which a chain of tasks shares.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xla_tasks import validate
from xla_tasks.engine.model import HISTORY_MODES
from xla_tasks.errors import UsageError

DEFAULT_LOCK_TIMEOUT = 30.0
DEFAULT_LOG_LIMIT = 10  # commit subjects per dep in a roll message (contract 5.5)
# A `.zip` archive downloaded to hash it (a native pin, contract 6.2) stops past this size.
# XLA's is ~30 MiB and LLVM's ~250 MiB; `xla_tasks.archive_max_mb` raises or lowers it.
DEFAULT_ARCHIVE_MAX_MB = 1024


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """What every command may take; the library default is sensible without invoke."""

    jobs: int | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    dry_run: bool = False
    exclude_deps: tuple[re.Pattern[str], ...] = ()
    exclude_submodules: tuple[re.Pattern[str], ...] = ()
    log_limit: int = DEFAULT_LOG_LIMIT  # roll: commit subjects per moved dep
    history: str | None = None  # None: the workspace's setting, else "full"
    cache: Path | None = None  # None: the workspace's setting or XLA_TASKS_CACHE, else none
    stall_timeout: float | None = None  # None: the workspace's setting, else 120 s
    only: tuple[str, ...] = ()  # the NAMES filter of sync, status, foreach, update-repos
    heartbeat: float | None = None  # None: the workspace's setting, else 30 s; 0: none

    def heartbeat_seconds(self, workspace_setting: float | None = None) -> float:
        """Seconds between "still working" lines: config, else the workspace's, else 30."""
        from xla_tasks.engine.model import DEFAULT_HEARTBEAT

        for value in (self.heartbeat, workspace_setting):
            if value is not None:
                return value
        return DEFAULT_HEARTBEAT

    cache_lock_timeout: float | None = None  # None: the workspace's setting, else 600 s
    archive_max_mb: int = DEFAULT_ARCHIVE_MAX_MB  # a downloaded .zip stops past this size

    def stall_seconds(self, workspace_setting: float | None = None) -> float:
        """The stall watchdog's limit: flag/config, else the workspace's, else 120 s."""
        from xla_tasks.engine.model import DEFAULT_STALL_TIMEOUT

        return self.stall_timeout or workspace_setting or DEFAULT_STALL_TIMEOUT

    def jobs_for(self, workspace_setting: int | None = None) -> int:
        """How many repos at once: flag/config, else the workspace's, else `default_jobs`."""
        return self.jobs or workspace_setting or default_jobs()

    def excludes_dep(self, name: str) -> bool:
        return any(pattern.search(name) for pattern in self.exclude_deps)

    def selects(self, name: str) -> bool:
        """In the run: named by the NAMES filter (or no filter given)."""
        return not self.only or name in self.only

    def check_only(self, known: Iterable[str], among: str) -> None:
        """Refuse a NAMES filter naming a repo outside `known`, before anything runs."""
        choices = list(dict.fromkeys(known))
        unknown = [name for name in self.only if name not in choices]
        if unknown:
            listed = ", ".join(repr(name) for name in unknown)
            raise UsageError(
                f"unknown repo {listed} {among}", f"known: {', '.join(choices) or 'none'}"
            )


def split_names(value: str) -> list[str]:
    """`checkout iree,jax` (invoke gives a positional one token): split, drop blanks, dedupe."""
    names: list[str] = []
    for part in re.split(r"[,\s]+", value or ""):
        if part and part not in names:
            try:
                validate.name(part)
            except ValueError as err:
                raise UsageError(str(err)) from None
            names.append(part)
    return names


def compile_patterns(values: Iterable[str], flag: str) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for value in values or ():
        try:
            patterns.append(validate.regex(value))
        except ValueError as err:
            raise UsageError(f"{flag}: {err}") from None
    return tuple(patterns)


def options_from(
    config: Mapping[str, Any] | None,
    *,
    jobs: str | None = None,
    dry_run: bool = False,
    exclude_dep: Iterable[str] = (),
    exclude_submodule: Iterable[str] = (),
    log_limit: str | None = None,
    history: str = "",
    cache: str = "",
    only: str = "",
) -> TaskOptions:
    """Merge invoke config (`xla_tasks` mapping) and flag values into TaskOptions."""
    section: Mapping[str, Any] = {}
    if config is not None:
        found = config.get("xla_tasks", {}) if hasattr(config, "get") else {}
        section = found if isinstance(found, Mapping) or hasattr(found, "get") else {}
    return TaskOptions(
        jobs=_jobs(jobs, section.get("jobs", 0)),
        lock_timeout=_lock_timeout(section.get("lock_timeout", "")),
        dry_run=bool(dry_run),
        exclude_deps=compile_patterns(exclude_dep, "--exclude-dep"),
        exclude_submodules=compile_patterns(exclude_submodule, "--exclude-submodule"),
        log_limit=_log_limit(log_limit),
        history=_history(history, section.get("history", "")),
        cache=_cache(cache, section.get("cache", "")),
        stall_timeout=_optional_seconds(section, "stall_timeout"),
        cache_lock_timeout=_optional_seconds(section, "cache_lock_timeout"),
        only=tuple(split_names(only)),
        heartbeat=_heartbeat(section.get("heartbeat", "")),
        archive_max_mb=_archive_max_mb(section.get("archive_max_mb", "")),
    )


def _jobs(flag: str | None, configured: object) -> int | None:
    if flag not in (None, ""):
        try:
            return validate.positive_int(flag, "--jobs")
        except ValueError as err:
            raise UsageError(str(err)) from None
    if configured in (None, "", 0, "0"):
        return None
    try:
        return validate.positive_int(configured, "xla_tasks.jobs")
    except ValueError:
        raise setting_error("jobs", configured, "a positive integer") from None


def _lock_timeout(value: object) -> float:
    """`xla_tasks.lock_timeout`: 0 fails at once on a busy workspace; unset: the default."""
    seconds = _config_seconds(value, "lock_timeout")
    return DEFAULT_LOCK_TIMEOUT if seconds is None else seconds


def _config_seconds(value: object, key: str) -> float | None:
    """`xla_tasks.KEY` as seconds >= 0 (infinity allowed: wait forever); unset: None."""
    if value in (None, ""):
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        raise setting_error(key, value, "seconds") from None
    if not seconds >= 0:
        raise setting_error(key, value, "seconds >= 0")
    return seconds


def setting_error(key: str, value: object, expects: str) -> UsageError:
    """A bad `xla_tasks.KEY`, naming where it came from: the INVOKE_XLA_TASKS_KEY variable
    when that holds it (invoke keeps env values as strings, see cli/config.py), else the
    config files."""
    variable = f"INVOKE_XLA_TASKS_{key.upper()}"
    text = os.environ.get(variable)
    if text is not None and text == str(value):
        return UsageError(
            f"{variable}={text!r}: xla_tasks.{key} expects {expects}, got {text}",
            f"fix or unset {variable}",
        )
    return UsageError(
        f"xla_tasks.{key} expects {expects}, got {value!r}", "fix invoke.yaml or -f FILE"
    )


def _log_limit(flag: str | None) -> int:
    """`roll --log-limit N`: how many commit subjects per dep; 0 keeps only the count."""
    if flag in (None, ""):
        return DEFAULT_LOG_LIMIT
    text = str(flag).strip()
    if not text.isdigit():
        raise UsageError(f"--log-limit expects a number >= 0, got {flag!r}")
    return int(text)


def _history(flag: str, configured: object) -> str | None:
    value = flag or str(configured or "")
    if not value:
        return None
    if value not in HISTORY_MODES:
        if not flag:
            raise setting_error("history", value, f"one of {', '.join(HISTORY_MODES)}")
        raise UsageError(f"--history expects one of {', '.join(HISTORY_MODES)}, got {value!r}")
    return value


def _cache(flag: str, configured: object) -> Path | None:
    """--cache, else invoke config, else XLA_TASKS_CACHE; None leaves it to the workspace."""
    value = flag or str(configured or "") or os.environ.get("XLA_TASKS_CACHE", "")
    if not value:
        return None
    if value.startswith("-") or "\0" in value:
        raise UsageError(f"--cache expects a directory, got {value!r}")
    return Path(value).expanduser().absolute()


def _optional_seconds(section: Mapping[str, Any], key: str) -> float | None:
    """A number of seconds from invoke config; 0 or unset: None (the workspace's, else ours)."""
    return _config_seconds(section.get(key) or "", key) or None


def _archive_max_mb(value: object) -> int:
    """`xla_tasks.archive_max_mb`: a positive whole number of MiB; unset: the default."""
    if value in (None, ""):
        return DEFAULT_ARCHIVE_MAX_MB
    try:
        return validate.positive_int(str(value), "xla_tasks.archive_max_mb")
    except ValueError:
        raise setting_error("archive_max_mb", value, "a positive number of MiB") from None


def _heartbeat(value: object) -> float | None:
    """`xla_tasks.heartbeat`: seconds between "still working" lines, 0 for none; unset: None."""
    if value in (None, ""):
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf") or isinstance(value, bool):
        raise UsageError(
            f"xla_tasks.heartbeat expects seconds >= 0, got {value!r}",
            "fix invoke.yaml or INVOKE_XLA_TASKS_HEARTBEAT; 0 turns the heartbeat off",
        )
    return seconds


# -- bad settings are bad input: one line naming the variable or file ---------------------


@dataclass(frozen=True, slots=True)
class GateOptions:
    """`roll --verify CMD` and its limits (contract 5.6); unset means "no gate from flags"."""

    verify: str | None = None
    bisect: bool = False
    max_tries: int | None = None
    verify_timeout: float | None = None

    def command_for(self, schedule_verify: str | None, schedule: str) -> str | None:
        """The verify command: the flag wins over the schedule's `verify`; limits need one."""
        command = self.verify or schedule_verify
        if command is None and (self.bisect or self.max_tries or self.verify_timeout):
            raise UsageError(
                "--bisect, --max-tries and --verify-timeout need a verify command",
                f'pass --verify CMD, or set verify = "CMD" in [schedules.{schedule}]',
            )
        return command


def gate_options_from(
    verify: str = "", bisect: bool = False, max_tries: str = "", verify_timeout: str = ""
) -> GateOptions:
    """Parse the gate's flags ourselves (invoke's casts show tracebacks on bad numbers)."""
    if verify and not verify.strip():
        raise UsageError("--verify expects a shell command, got only spaces")
    try:
        tries = validate.positive_int(max_tries, "--max-tries") if max_tries else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    return GateOptions(
        verify=verify or None,
        bisect=bool(bisect),
        max_tries=tries,
        verify_timeout=_seconds(verify_timeout, "--verify-timeout") if verify_timeout else None,
    )


def _seconds(value: str, flag: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(f"{flag} expects seconds, got {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(f"{flag} expects seconds > 0, got {value!r}")
    return seconds


def default_jobs() -> int:
    """Git is mostly waiting on I/O: twice the cores, capped at 8 (west and repo use ~8)."""
    return max(1, min(8, 2 * (os.cpu_count() or 1)))
