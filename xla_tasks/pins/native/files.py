"""Reading a pin file: as text, bounded in size, and only from inside the project.

Each missing file costs one failed `open`, so a project without native pins pays a few
system calls on every noop sync. Files are decoded from bytes (no newline translation),
so a writer that splices the decoded text gives back every other byte unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from xla_tasks.errors import ConfigError
from xla_tasks.tomlfile import FileTooLarge, NotRegularFile, read_bounded


def read_pin_file(path: Path) -> str | None:
    """The file's text, or None when it does not exist (or is not a regular file: a FIFO
    named like a pin file is passed over, never waited on). At most `tomlfile.MAX_FILE_BYTES`
    (contract 6.4)."""
    try:
        data = read_bounded(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, NotRegularFile):
        return None
    except FileTooLarge as err:
        size = "over 4 MiB" if err.size is None else f"{err.size} bytes"  # None: it grew
        raise ConfigError(path, f"is {size}; a pin file may hold 4 MiB at most") from None
    except OSError as err:
        raise ConfigError(path, f"cannot read: {err.strerror}") from None
    return decode_pin_text(path, data)


def decode_pin_text(path: Path, data: bytes) -> str:
    """UTF-8, strictly: a byte we could not give back unchanged is an error, not a guess."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ConfigError(path, "is not UTF-8 text", line=line) from None


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
