"""The git index (`.git/index`) read in pure Python: versions 2, 3 and 4.

Reading gitlinks this way keeps a noop sync free of git processes. Anything this reader
does not fully understand (another version, a split or sparse index, a bad checksum, a
truncated entry) gives None, and the caller asks git instead. Format:
git/Documentation/gitformat-index.txt (read-cache.c: `create_from_disk`, varint.c).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.engine.disk import common_dir_of, git_dir_of
from xla_tasks.gitobjects import GITLINK_MODE

_ENTRY_FIXED = 62  # ten 32-bit stat fields, a 20-byte id, 16-bit flags (SHA-1)
# Extensions whose entries we cannot see through: the split index keeps its entries in a
# shared file, the sparse index folds whole directories into one entry.
_UNREADABLE_EXTENSIONS = (b"link", b"sdir")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    mode: int
    oid: str
    stage: int
    path: str


def _hash_name(git_dir: str) -> str | None:
    """sha1 or sha256, from the config `extensions.objectFormat`; None if unreadable."""
    try:
        common = common_dir_of(git_dir)
    except (OSError, UnicodeDecodeError):
        return None  # a `commondir` we cannot read: git knows better
    try:
        with open(os.path.join(common, "config"), encoding="utf-8", errors="replace") as handle:
            config = handle.read()
    except OSError:
        return "sha1"
    found = re.search(r"(?im)^\s*objectformat\s*=\s*(\S+)", config)
    if not found:
        return "sha1"
    value = found.group(1).strip('"').lower()
    return value if value in ("sha1", "sha256") else None


def read_index(work_tree: Path, only_mode: int | None = None) -> list[IndexEntry] | None:
    """The index entries of `work_tree` (only those of one mode if asked); None: ask git."""
    git_dir = git_dir_of(str(work_tree))
    return None if git_dir is None else index_entries(git_dir, only_mode)


def index_entries(git_dir: str, only_mode: int | None = None) -> list[IndexEntry] | None:
    """`read_index`, for a git dir already found."""
    hash_name = _hash_name(git_dir)
    if hash_name is None:
        return None
    try:
        with open(os.path.join(git_dir, "index"), "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return parse_index(data, hash_name, only_mode)


def parse_index(
    data: bytes, hash_name: str = "sha1", only_mode: int | None = None
) -> list[IndexEntry] | None:
    """Entries of an index file's bytes; None for anything not fully understood."""
    width = 32 if hash_name == "sha256" else 20
    if len(data) < 12 + width or data[:4] != b"DIRC":
        return None
    version = int.from_bytes(data[4:8], "big")
    count = int.from_bytes(data[8:12], "big")
    if version not in (2, 3, 4):
        return None
    end = len(data) - width
    checksum = data[end:]
    if any(checksum) and hashlib.new(hash_name, data[:end]).digest() != checksum:
        return None
    try:
        entries, offset = _entries(data, version, count, width, end, only_mode)
    except (ValueError, IndexError):
        return None
    if entries is None or not _extensions_readable(data, offset, end):
        return None
    return entries


def _entries(
    data: bytes, version: int, count: int, width: int, end: int, only_mode: int | None
) -> tuple[list[IndexEntry] | None, int]:
    """Walk `count` entries (the v4 walk: `_entries_v4`).

    Tuned for the noop sync, which asks for the gitlinks of a 35,000-entry index: bytes are
    read by indexing (no int conversion), the name's length comes from the flags, and only
    kept entries are decoded.
    """
    if version == 4:
        return _entries_v4(data, count, width, end, only_mode)
    entries: list[IndexEntry] = []
    offset = 12
    fixed = _ENTRY_FIXED - 20 + width
    wanted = None if only_mode is None else only_mode.to_bytes(4, "big")
    for _ in range(count):
        start = offset
        if start + fixed > end:
            return None, offset
        high = data[start + fixed - 2]
        name_at = start + fixed
        if high & 0x40:  # the extended flag: two more bytes of flags (v3)
            if version < 3:
                return None, offset
            name_at += 2
        length = ((high & 0x0F) << 8) | data[start + fixed - 1]
        if length == 0xFFF:  # longer names: up to their NUL
            length = data.index(b"\0", name_at, end) - name_at
        if name_at + length >= end or data[name_at + length] != 0:
            return None, offset
        offset = start + ((name_at - start + length + 8) & ~7)
        if wanted is None or data[start + 24 : start + 28] == wanted:
            entries.append(_entry(data, start, width, high, data[name_at : name_at + length]))
    return entries, offset


def _entries_v4(
    data: bytes, count: int, width: int, end: int, only_mode: int | None
) -> tuple[list[IndexEntry] | None, int]:
    """v4: no padding; each path is the previous one less N bytes, plus a NUL-ended suffix."""
    entries: list[IndexEntry] = []
    offset = 12
    previous = b""
    fixed = _ENTRY_FIXED - 20 + width
    wanted = None if only_mode is None else only_mode.to_bytes(4, "big")
    for _ in range(count):
        start = offset
        if start + fixed > end:
            return None, offset
        high = data[start + fixed - 2]
        name_at = start + fixed + (2 if high & 0x40 else 0)
        strip, name_at = _varint(data, name_at, end)
        nul = data.index(b"\0", name_at, end)
        if strip > len(previous):
            return None, offset
        previous = previous[: len(previous) - strip] + data[name_at:nul]
        offset = nul + 1
        if wanted is None or data[start + 24 : start + 28] == wanted:
            entries.append(_entry(data, start, width, high, previous))
    return entries, offset


def _entry(data: bytes, start: int, width: int, high: int, path: bytes) -> IndexEntry:
    return IndexEntry(
        int.from_bytes(data[start + 24 : start + 28], "big"),
        data[start + 40 : start + 40 + width].hex(),
        (high >> 4) & 3,
        path.decode("utf-8", "surrogateescape"),
    )


def _varint(data: bytes, at: int, end: int) -> tuple[int, int]:
    """git's offset varint (varint.c: decode_varint): 7 bits a byte, +1 per continuation."""
    if at >= end:
        raise ValueError("truncated")
    byte = data[at]
    at += 1
    value = byte & 0x7F
    while byte & 0x80:
        if at >= end or value > (1 << 56):
            raise ValueError("bad varint")
        byte = data[at]
        at += 1
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, at


def _extensions_readable(data: bytes, offset: int, end: int) -> bool:
    """Extensions follow the entries up to the checksum; refuse those that hide entries."""
    while offset + 8 <= end:
        signature = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "big")
        if signature in _UNREADABLE_EXTENSIONS:
            return False
        if not signature[:1].isupper():  # a required extension we do not know
            return False
        offset += 8 + size
    return offset == end


def read_gitlinks(git_dir: str) -> dict[str, str] | None:
    """Submodule path -> commit the index records (stage 0); None when git must be asked."""
    entries = index_entries(git_dir, GITLINK_MODE)
    if entries is None:
        return None
    if any(entry.stage for entry in entries):
        return None  # a conflicted submodule: let git say what it is
    return {entry.path: entry.oid for entry in entries}


# In the git dir: the gitlinks of the index as it was when last read, keyed on its stat.
GITLINKS_MEMO = "xla-tasks-index-gitlinks.json"


def memo_gitlinks(git_dir: str) -> dict[str, str] | None:
    """`read_gitlinks`, remembered in the git dir until the index changes.

    A noop sync asks for a project's gitlinks every run; parsing a 35,000-entry index
    costs ~20 ms, a stat and a small JSON read well under 1 ms. git replaces the index by
    renaming a new file over it, so its inode, size and times change whenever its content
    does. Writing the memo is best effort (a read-only `.git` just goes without).
    """
    try:
        info = os.stat(os.path.join(git_dir, "index"))
    except OSError:
        return None
    key = [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
    memo = Path(git_dir, GITLINKS_MEMO)
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
        if known["index"] == key:
            return {str(path): str(sha) for path, sha in dict(known["gitlinks"]).items()}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    links = read_gitlinks(git_dir)
    if links is not None:
        tmp = memo.with_name(f"{GITLINKS_MEMO}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"index": key, "gitlinks": links}), encoding="utf-8")
            os.replace(tmp, memo)
        except OSError:
            tmp.unlink(missing_ok=True)
    return links
