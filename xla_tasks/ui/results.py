"""Result objects every command returns: data only, rendered by `report`.

A command never prints. It returns a CommandResult whose outcomes say, per repo, what
happened; `ok` is false when any repo failed, and the task layer turns that into exit 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class RepoOutcome:
    """What happened to one repo: `action` is a short verb phrase ("cloned", "skipped")."""

    name: str
    path: str = ""
    action: str = ""
    old: str | None = None
    new: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(slots=True)
class CommandResult:
    """A command's answer: headline lines, per-repo outcomes, warnings and extra data."""

    command: str
    messages: list[str] = field(default_factory=list)
    outcomes: list[RepoOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    failed_check: str | None = None  # a non-repo failure, e.g. `pin --check` found a stale file
    problems: list[str] = field(default_factory=list)  # lines before failed_check (status --check)

    @property
    def ok(self) -> bool:
        return self.failed_check is None and not any(o.failed for o in self.outcomes)

    def outcome(self, name: str) -> RepoOutcome | None:
        return next((o for o in self.outcomes if o.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """`problems` is where every check (`status --check`, `pin --check`) puts why it
        failed, so CI reads one key: a check with no lines of its own gives its verdict."""
        data = {"ok": self.ok, **asdict(self)}
        if self.failed_check and not self.problems:
            data["problems"] = [self.failed_check]
        return data
