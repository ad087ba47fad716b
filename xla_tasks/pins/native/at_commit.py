"""A project's pin files as one of its commits has them, not as its work tree does.

`status` lists a dep's own deps at the dep's pinned commit, and `sync --dry-run` reads them
before moving anything: that commit is often not the one checked out. Files, folders and
gitlinks come from the commit's trees through one `cat-file` (`gitobjects`): offline, and
in a partial clone only from objects already on disk (a missing one is `NotOnDisk`).
"""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from xla_tasks.errors import ConfigError
from xla_tasks.gitobjects import ObjectReader, TooLarge
from xla_tasks.pins.native.files import decode_pin_text
from xla_tasks.tomlfile import MAX_FILE_BYTES

_LINK_MODE = 0o120000
_MAX_LINKS = 8  # links followed in a row, as a bound against a loop
_MAX_LINK_BYTES = 4096  # PATH_MAX: no link a checkout can make holds a longer target


class CommitTree:
    """The files of `commit` in the repo `objects` reads (a `find.PinTree`).

    `project_dir` is where the repo's work tree is: errors name files under it, with
    `@<commit>` after the path so nobody looks for them on disk as they are.
    """

    def __init__(self, objects: ObjectReader, commit: str, project_dir: Path) -> None:
        self.objects = objects
        self.commit = commit
        self.project_dir = project_dir

    def where(self, rel: str) -> str:
        return f"{self.project_dir / rel}@{self.commit[:12]}"

    def read(self, rel: str) -> tuple[str, str] | None:
        real = posixpath.normpath(rel)
        for _ in range(_MAX_LINKS):
            entry = self.objects.entry_at(self.commit, real)
            if entry is None:
                return None
            mode, sha = entry
            if mode == _LINK_MODE:
                limit = f"a link may hold {_MAX_LINK_BYTES} bytes at most"
                link = self._blob(sha, real, _MAX_LINK_BYTES, limit)
                target = link.decode("utf-8", "surrogateescape")
                real = posixpath.normpath(posixpath.join(posixpath.dirname(real), target))
                if target.startswith("/") or real == ".." or real.startswith("../"):
                    raise ConfigError(self.where(rel), "is a link to outside the project")
                continue
            if not stat.S_ISREG(mode):
                return None  # a folder or a gitlink
            data = self._blob(sha, real, MAX_FILE_BYTES, "a pin file may hold 4 MiB at most")
            return real, decode_pin_text(Path(self.where(real)), data)
        raise ConfigError(self.where(rel), f"is a link followed by {_MAX_LINKS} more links")

    def _blob(self, sha: str, real: str, max_size: int, limit: str) -> bytes:
        """The blob of file `real`; over `max_size`, a ConfigError saying `limit` (its bytes
        are never read)."""
        try:
            return self.objects.blob(sha, f"{real} at {self.commit[:12]}", max_size)
        except TooLarge as err:
            raise ConfigError(self.where(real), f"is {err.size} bytes; {limit}") from None

    def folders(self, rel: str) -> Iterable[str]:
        entries = self.objects.folder_at(self.commit, rel) or []
        return sorted(name for name, mode in entries if stat.S_ISDIR(mode))

    def files(self, rel: str, suffix: str) -> Iterable[str]:
        entries = self.objects.folder_at(self.commit, rel) or []
        return sorted(
            name
            for name, mode in entries
            if name.endswith(suffix) and (stat.S_ISREG(mode) or mode == _LINK_MODE)
        )

    def gitlinks(self, paths: list[str]) -> Mapping[str, str]:
        return self.objects.gitlinks_at(self.commit, paths)
