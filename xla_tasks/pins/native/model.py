"""What a native pin is: one place in one project file that pins one repository at one commit.

Readers return `NativePin`s (valid) or `BadPin`s (clearly a pin, but its values are not);
the caller decides which repositories it cares about before a `BadPin` becomes an error,
so one odd archive among XLA's hundred does not block the deps the workspace lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.errors import ConfigError

COMMIT_RE = re.compile(r"[0-9a-fA-F]{40}")
SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Every format a reader reports (contract 6.1), plus `http_archive`: a commit written
# literally in an archive URL of a Bazel file (JAX's WORKSPACE pins rules_ml_toolchain so).
FORMATS = (
    "starlark",
    "module_bazel",
    "git_repository",
    "http_archive",
    "workspace_hash",
    "torch_commit",
    "torch_pin",
    "sha_file",
    "gitlink",
)


@dataclass(frozen=True, slots=True)
class NativePin:
    """One place in one project file that pins one repository at one commit."""

    file: str  # project-relative posix path; for a gitlink, the submodule's path
    line: int  # 1-based line of the commit (its first occurrence); 0 for a gitlink
    format: str  # one of FORMATS
    url: str | None  # the repository it names, normalised; None when the file names none
    repo_hint: str | None  # what names the repo when no URL does ("pytorch", "llvm-project")
    commit: str | None  # 40 lowercase hex; None only for a `.torch_pin` holding a ref
    sha256: str | None = None  # 64 lowercase hex when the site pins an archive hash
    sha256_line: int | None = None  # where that hash is written
    sha256_form: str | None = None  # "hex" (`sha256 = "..."`) or "sri" (`integrity = "..."`)
    archive: str | None = None  # "tar.gz" | "zip": what the hash is of
    archive_urls: tuple[str, ...] = ()  # the archive URLs with the commit filled in
    archive_prefix: str | None = None  # "xla-<sha>/": the top folder inside the archive
    date: str | None = None  # YYYY-MM-DD written next to the commit (WORKSPACE, .torch_commit)
    bazel_name: str | None = None  # Bazel repository or module name, when the file says it
    ref: str | None = None  # `.torch_pin`: a ref to follow instead ("refs/pull/N/head" for #N)


@dataclass(frozen=True, slots=True)
class BadPin:
    """A place that clearly pins a repository but whose values are unusable (contract 6.4)."""

    file: str
    line: int
    url: str | None
    repo_hint: str | None
    message: str

    def error(self, project_dir: Path) -> ConfigError:
        return ConfigError(project_dir / self.file, self.message, line=self.line or None)


Found = NativePin | BadPin


@dataclass(frozen=True, slots=True)
class PinUpdate:
    """The new values a writer puts in place of one pin's."""

    commit: str
    sha256: str | None = None
    date: str | None = None

    def __post_init__(self) -> None:
        if not COMMIT_RE.fullmatch(self.commit):
            raise ValueError(f"not a 40-hex commit: {self.commit!r}")
        if self.sha256 is not None and not SHA256_RE.fullmatch(self.sha256):
            raise ValueError(f"not a 64-hex SHA-256: {self.sha256!r}")
        if self.date is not None and not DATE_RE.fullmatch(self.date):
            raise ValueError(f"not a YYYY-MM-DD date: {self.date!r}")


def is_commit(value: str) -> bool:
    return COMMIT_RE.fullmatch(value) is not None


def bad_commit(value: str, what: str) -> str:
    """The message for a value that should be a commit and is not."""
    shown = value if len(value) <= 60 else value[:57] + "..."
    return f"{what} is {shown!r}, not a 40-hex commit"


def bad_hash(value: str, what: str) -> str:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return f"{what} is {shown!r}, not a 64-hex SHA-256"
