"""Run options: defaults in code, then invoke config (`xla_tasks.*`), then flags.

Flags are parsed here, not by invoke: invoke's int cast prints a traceback on `--jobs x`,
and a bad regex must fail before any repo is touched. Nothing here writes back into the
invoke config, which a chain of tasks shares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import validate
from .errors import UsageError

DEFAULT_LOCK_TIMEOUT = 30.0
# Declared in the collection so INVOKE_XLA_TASKS_* env vars can override them (invoke only
# overrides keys that exist). jobs = 0 means "the workspace's setting, else the machine's".
CONFIG_DEFAULTS: dict[str, Any] = {"jobs": 0, "lock_timeout": DEFAULT_LOCK_TIMEOUT}


@dataclass(frozen=True, slots=True)
class Options:
    """What every command may take; the library default is sensible without invoke."""

    jobs: int | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    dry_run: bool = False
    exclude_deps: tuple[re.Pattern[str], ...] = ()
    exclude_submodules: tuple[re.Pattern[str], ...] = ()

    def excludes_dep(self, name: str) -> bool:
        return any(pattern.search(name) for pattern in self.exclude_deps)

    def excludes_submodule(self, dep: str, path: str) -> bool:
        """`--exclude-submodule` matches `NAME:PATH` (contract 2.3)."""
        return any(pattern.search(f"{dep}:{path}") for pattern in self.exclude_submodules)


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
) -> Options:
    """Merge invoke config (`xla_tasks` mapping) and flag values into Options."""
    section: Mapping[str, Any] = {}
    if config is not None:
        found = config.get("xla_tasks", {}) if hasattr(config, "get") else {}
        section = found if isinstance(found, Mapping) or hasattr(found, "get") else {}
    return Options(
        jobs=_jobs(jobs, section.get("jobs", 0)),
        lock_timeout=_lock_timeout(section.get("lock_timeout", DEFAULT_LOCK_TIMEOUT)),
        dry_run=bool(dry_run),
        exclude_deps=compile_patterns(exclude_dep, "--exclude-dep"),
        exclude_submodules=compile_patterns(exclude_submodule, "--exclude-submodule"),
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
    except ValueError as err:
        raise UsageError(str(err), "fix invoke.yaml or INVOKE_XLA_TASKS_JOBS") from None


def _lock_timeout(value: object) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        raise UsageError(f"xla_tasks.lock_timeout expects seconds, got {value!r}") from None
    if seconds < 0:
        raise UsageError(f"xla_tasks.lock_timeout expects seconds >= 0, got {value!r}")
    return seconds


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
