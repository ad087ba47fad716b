"""Read TOML with errors that point at a line, and write canonical TOML atomically.

`tomllib` reports syntax errors with "(at line N, column M)" in the text but knows nothing
of our schema; `KeyLocator` finds the line of `[table]` / `key =` in the raw text so that a
semantic error (unknown key, bad rev) can say `file:line: key: message` too.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from xla_tasks.errors import ConfigError

_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+?)\s*=")


class KeyLocator:
    """Maps dotted keys like `repos.iree.url` to the line that defines them (best effort)."""

    def __init__(self, text: str) -> None:
        self._lines: dict[str, int] = {}
        table = ""
        for number, raw in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(raw)
            if header:
                table = _unquote(header.group(1))
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(raw)
            if key:
                full = f"{table}.{_unquote(key.group(1))}" if table else _unquote(key.group(1))
                self._lines.setdefault(full, number)

    def line(self, dotted: str) -> int | None:
        """The defining line of `dotted`, else of its nearest enclosing table."""
        parts = dotted.split(".")
        while parts:
            found = self._lines.get(".".join(parts))
            if found:
                return found
            parts.pop()
        return None


def _unquote(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


class TomlDoc:
    """A parsed TOML file that can raise located errors about its own keys."""

    def __init__(self, path: Path, data: dict[str, Any], text: str) -> None:
        self.path = path
        self.data = data
        self._locator = KeyLocator(text)

    def error(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(self.path, message, key=key, line=self._locator.line(key), hint=hint)


# Real pin files and registries are a few KB; a 1.5M-table file took 53 s and 3.4 GB. Native
# pin files have the same bound (contract 6.4).
MAX_FILE_BYTES = 4 * 1024 * 1024

# Opened without blocking (a FIFO opens at once instead of waiting for a writer), never as a
# controlling terminal.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class NotRegularFile(OSError):
    """A FIFO, socket or device where a file was looked for by name: refused, never read."""


class FileTooLarge(Exception):
    """A file over MAX_FILE_BYTES; `size` as fstat saw it, None when it was read past it."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


def read_bounded(path: Path, *, any_kind: bool = False) -> bytes:
    """The bytes of the file at `path` (a pin file, a registry, a script we parse), checked
    with fstat before any read: a folder is IsADirectoryError, a regular file over
    MAX_FILE_BYTES FileTooLarge. A FIFO, socket or device is NotRegularFile (a FIFO named
    like a pin file would block a read forever), unless `any_kind` (a file the user named,
    such as `--import <(...)`): then it is read like a pipe, up to the bound, and a FIFO
    nobody writes to reads as empty. Anything else `open` raises goes through.
    """
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if stat.S_ISREG(info.st_mode):
            if info.st_size > MAX_FILE_BYTES:
                raise FileTooLarge(info.st_size)
        elif any_kind:
            os.set_blocking(fd, True)
        else:
            raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # grew while we read it, or endless (`/dev/zero`)
        raise FileTooLarge(None)
    return data


def read_limited_text(path: Path) -> str:
    """The UTF-8 text of a file we parse (pin files, registries), refusing one over
    MAX_FILE_BYTES before reading it all: ConfigError naming the file otherwise. Any kind
    of file is read (`pin --import <(...)`); opening one never waits."""
    try:
        data = read_bounded(path, any_kind=True)
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except FileTooLarge:
        raise too_large_error(path) from None
    except OSError as err:
        raise ConfigError(path, f"cannot read: {err.strerror or err}") from None
    return decode_text(path, data)


def too_large_error(path: Path) -> ConfigError:
    return ConfigError(
        path,
        f"larger than {MAX_FILE_BYTES // 2**20} MiB, too large for a pin file or registry",
        hint="is this the right file?",
    )


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8, strictly: ConfigError naming `path` otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise not_text_error(path, err) from None


def not_text_error(path: Path, err: UnicodeDecodeError) -> ConfigError:
    """A file we parse is not UTF-8 (`path`: on disk, or `path@commit` when read from one)."""
    return ConfigError(path, f"cannot read: {err}")


def read_toml(path: Path) -> TomlDoc:
    """Parse `path`; a syntax error becomes a ConfigError naming file and line."""
    return parse_toml(read_limited_text(path), path)


def parse_toml(text: str, path: Path) -> TomlDoc:
    """Parse TOML `text` (read from `path`, or shipped data labelled by it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = _AT_LINE.search(str(err))
        message = _AT_LINE.sub("", str(err)).strip()
        line = int(match.group(1)) if match else None
        raise ConfigError(path, f"invalid TOML: {message}", line=line) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(path, "invalid TOML: arrays or tables nested too deeply") from None
    return TomlDoc(path, data, text)


def dump_toml(data: Mapping[str, Any]) -> str:
    """Render with tomli-w; the caller builds `data` in canonical key order."""
    return tomli_w.dumps(data)


_MISSING: Any = object()


def table_of(doc: TomlDoc, key: str, value: object) -> dict[str, Any]:
    """`value` must be a TOML table; `key` names it in the error."""
    if not isinstance(value, dict):
        raise doc.error(key, f"expected a table, got {type(value).__name__}")
    return value


def check_keys(doc: TomlDoc, key: str, table: dict[str, Any], allowed: set[str]) -> None:
    """Unknown keys are errors: a typo like `submodule = true` must not be ignored silently."""
    for name in table:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise doc.error(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def field_of(
    doc: TomlDoc,
    key: str,
    table: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    default: Any = _MISSING,
    check: Any = None,
) -> Any:
    """Read `table[name]`, check its type and run `check` on it; errors name `key.name` and line."""
    where = f"{key}.{name}" if key else name
    if name not in table:
        if default is _MISSING:
            raise doc.error(where, "required key is missing")
        return default
    value = table[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise doc.error(where, f"expected {wanted}, got {type(value).__name__} {value!r}")
    if check is not None:
        try:
            return check(value)
        except ValueError as err:
            raise doc.error(where, str(err)) from None
    return value


def schema_of(doc: TomlDoc, supported: int = 1) -> None:
    version = field_of(doc, "", doc.data, "schema", int, default=supported)
    if version != supported:
        raise doc.error(
            "schema",
            f"unsupported schema {version} (this version reads {supported})",
            hint="upgrade xla-tasks",
        )
