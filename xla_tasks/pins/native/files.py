"""Reading a pin file: as text, bounded in size, and only from inside the project.

Each missing file costs one failed `open`, so a project without native pins pays a few
system calls on every noop sync. Files are decoded from bytes (no newline translation),
so a writer that splices the decoded text gives back every other byte unchanged.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from xla_tasks.errors import ConfigError

MAX_PIN_FILE_BYTES = 4 * 1024 * 1024  # contract 6.4


def read_pin_file(path: Path) -> str | None:
    """The file's text, or None when it does not exist (or is not a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
            return None
        raise ConfigError(path, f"cannot read: {err.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not _is_regular(info.st_mode):
            return None
        if info.st_size > MAX_PIN_FILE_BYTES:
            raise ConfigError(path, f"is {info.st_size} bytes; a pin file may hold 4 MiB at most")
        data = handle.read(MAX_PIN_FILE_BYTES + 1)
    if len(data) > MAX_PIN_FILE_BYTES:  # grew while we read it
        raise ConfigError(path, "is over 4 MiB; a pin file may hold 4 MiB at most")
    return decode_pin_text(path, data)


def decode_pin_text(path: Path, data: bytes) -> str:
    """UTF-8, strictly: a byte we could not give back unchanged is an error, not a guess."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ConfigError(path, "is not UTF-8 text", line=line) from None


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


def project_relative(project_dir: Path, rel: str) -> str | None:
    """`rel` with symlinks resolved, as a posix path inside the project; None if it leaves it.

    A pin reached through a symlink (pytorch's `ci_commit_pins/timm.txt`) is written where
    the link points, so the link stays a link.
    """
    path = project_dir / rel
    if not os.path.islink(path) and ".." not in Path(rel).parts:
        return Path(rel).as_posix()
    root = project_dir.resolve()
    real = path.resolve()
    if real != root and root in real.parents:
        return real.relative_to(root).as_posix()
    return None
