"""What a roll moves, as records: a dep from one commit to another, a package from one
version to another in one requirements file. `--json` shows them through `to_dict`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class DepMove:
    """A dep rolled from `old` to `new`, with what the roll message says about the range."""

    name: str
    old: str
    new: str
    commits: int | None = None  # None: the history could not be read
    log: list[tuple[str, str]] = field(default_factory=list)  # (sha, subject), newest first
    compare: str | None = None  # GitHub's compare page, for a github.com URL
    files: list[str] = field(default_factory=list)  # native pins: the files that pin it
    downloaded: list[str] = field(default_factory=list)  # .zip URLs its new hash came from

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "log": [{"sha": sha, "subject": s} for sha, s in self.log]}


@dataclass(frozen=True, slots=True)
class PackageMove:
    """A package's `NAME==VERSION` line rewritten (or appended) in one requirements file."""

    name: str
    old: str | None  # None: the file had no line for it
    new: str
    file: str  # relative to the project
    appended: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
