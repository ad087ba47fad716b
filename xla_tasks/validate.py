"""Field checks shared by every file we read and every flag we take.

Each check returns the cleaned value or raises ValueError with a short reason; the caller
wraps it into a ConfigError (file, key, line) or a UsageError (flag). Running these before
any git call is what keeps option injection (`-` prefixes) and transports like `ext::`
out of git's argument lists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# GitHub's limit for repo names; a clone's temp folder adds ~16 characters to it, and file
# systems stop at 255 bytes per path component ("File name too long").
MAX_NAME = 100
MAX_PATH_PART = 200
# A whole relative path (a repo's `path`, a requirements file): far deeper than any real
# checkout, well inside every OS's limit on a whole path (PATH_MAX: 4096 on Linux, 1024 on
# macOS), which a longer one meets as "File name too long" half way through a command.
MAX_PATH = 1024
# Room kept below PATH_MAX for what lives inside a repo: git's own files (`.git/objects/
# pack/pack-<sha>.idx`), a clone's temp name beside it, and the project's own deep paths.
PATH_ROOM = 512
_REV_RE = re.compile(r"^[0-9a-f]{40}$")
_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_SCP_RE = re.compile(r"^[A-Za-z0-9._~-]+@?[A-Za-z0-9._~-]*:[^/\\].*$|^[A-Za-z0-9._~-]+@[^:]+:.+$")
_TRANSPORT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")


def name(value: object) -> str:
    """A repo, dep or schedule name: one path component, no dots-only, no leading dash."""
    if not isinstance(value, str) or not _NAME_RE.match(value) or value in {".", ".."}:
        raise ValueError(
            f"invalid name {value!r}: use letters, digits, '.', '_', '+', '-' "
            "(no separators, no leading '-' or '.')"
        )
    if ".." in value:
        raise ValueError(f"invalid name {value!r}: must not contain '..'")
    if len(value) > MAX_NAME:
        raise ValueError(
            f"invalid name {value[:24]!r}... ({len(value)} characters): at most {MAX_NAME}"
        )
    return value


def relative_path(value: object) -> str:
    """A path inside the workspace: relative, forward slashes, no `..` parts."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"invalid path {value!r}: expected a non-empty relative path")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise ValueError(f"invalid path {value!r}: contains a control character")
    if "\\" in value or value.startswith(("/", "-", "~")) or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"invalid path {value!r}: must be relative and inside the workspace")
    parts = PurePosixPath(value).parts
    if any(part in {"..", "."} for part in parts) or not parts:
        raise ValueError(f"invalid path {value!r}: must not contain '.' or '..' parts")
    if any(len(part.encode()) > MAX_PATH_PART for part in parts):
        raise ValueError(
            f"invalid path {value[:24]!r}...: a part is longer than {MAX_PATH_PART} bytes"
        )
    if len(value.encode()) > MAX_PATH:
        raise ValueError(
            f"invalid path {value[:24]!r}... ({len(value.encode())} bytes): "
            f"at most {MAX_PATH} bytes; use a shorter path"
        )
    return str(PurePosixPath(*parts))


def fits_under(root: Path, rel: str) -> str:
    """`rel` (already a valid relative path) placed under `root` stays PATH_ROOM bytes
    below the OS's limit on a whole path, so nothing inside it is "File name too long"."""
    limit = _path_max(root) - PATH_ROOM
    size = len(os.fsencode(root / rel))
    if size > limit:
        raise ValueError(
            f"path too long: {root}/{rel[:24]}... is {size} bytes; this system allows "
            f"{limit} for a repo's folder ({PATH_ROOM} less than its PATH_MAX, for the files "
            "inside it); use a shorter path"
        )
    return rel


def _path_max(root: Path) -> int:
    """The OS's limit on a whole path (4096 on Linux), asked of the nearest existing folder."""
    for folder in (root, *root.parents):
        try:
            return int(os.pathconf(folder, "PC_PATH_MAX"))
        except (OSError, ValueError, AttributeError):  # absent, or no pathconf (Windows)
            continue
    return 4096


def repo_file(value: object) -> str:
    """A file of the project named by its pin file (requirements): a relative path that
    never goes into `.git` (`.git/HEAD` would break the repo; any case, for macOS)."""
    cleaned = relative_path(value)
    if any(part.lower() == ".git" for part in PurePosixPath(cleaned).parts):
        raise ValueError(f"invalid path {value!r}: must not be inside .git")
    return cleaned


def url(value: object) -> str:
    """A git URL: a known scheme, scp-like `host:path`, or a local path; never `-x` or `ext::`."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"invalid URL {value!r}: expected a non-empty string")
    if value.startswith("-"):
        raise ValueError(f"invalid URL {value!r}: must not start with '-'")
    if _TRANSPORT_RE.match(value):
        raise ValueError(f"invalid URL {value!r}: '<transport>::' URLs (like ext::) are refused")
    if any(ch in value for ch in "\n\r\0"):
        raise ValueError(f"invalid URL {value!r}: contains a control character")
    if value.startswith(_SCHEMES) or _SCP_RE.match(value):
        return value
    if "://" in value:
        raise ValueError(f"invalid URL {value!r}: scheme must be https, http, ssh, git or file")
    return value  # a plain local path, which git treats as a local repository


def rev(value: object) -> str:
    """A pinned commit: exactly 40 lowercase hex digits."""
    if not isinstance(value, str) or not _REV_RE.match(value):
        raise ValueError(f"invalid rev {value!r}: expected a full 40-hex commit id")
    return value


def branch(value: object) -> str:
    """A branch name git would accept (`git check-ref-format` rules), never starting with `-`."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"invalid branch {value!r}: expected a non-empty string")
    bad = (
        value.startswith(("-", "/", "."))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "//" in value
        or "@{" in value
        or value == "@"
        or any(ch in value for ch in " ~^:?*[\\\x7f")
        or any(ord(ch) < 32 for ch in value)
    )
    if bad:
        raise ValueError(f"invalid branch {value!r}: not a valid git branch name")
    return value


def regex(value: object) -> re.Pattern[str]:
    """A user regex (`--exclude-dep`), compiled up front so a typo fails before any work."""
    if not isinstance(value, str):
        raise ValueError(f"invalid regex {value!r}: expected a string")
    try:
        return re.compile(value)
    except re.error as err:
        raise ValueError(f"invalid regex {value!r}: {err}") from None
    except RecursionError:
        raise ValueError(f"invalid regex {value[:24]!r}...: groups nested too deeply") from None


def path_regex(value: object) -> str:
    """A regex a pin file gives (`exclude_submodules`): read from a repo, not typed by the
    user, so it must run in time linear in the path (`engine.pathregex`), never hang."""
    from xla_tasks.engine.pathregex import unsupported

    if not isinstance(value, str):
        raise ValueError(f"invalid regex {value!r}: expected a string")
    problem = unsupported(value)
    if problem:
        raise ValueError(problem)
    return value


def positive_int(value: object, flag: str) -> int:
    """Parse a count flag ourselves: invoke's int cast shows a traceback on `--jobs x`."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{flag} expects a positive integer, got {value!r}")
    return int(text)
