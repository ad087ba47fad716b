"""File-system helpers that keep the safety promises: atomic writes and contained paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write via a temp file in the same directory, fsync, then rename: old or new, never torn."""
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_in_repo(repo: Path, rel: str) -> Path:
    """The real file `repo/rel` names, links followed: it must stay inside the repo and
    outside its `.git`. Writing to the returned path writes through an in-repo link
    (the link is kept, its target updated). ValueError says why otherwise."""
    top = repo.resolve()
    target = (repo / rel).resolve()
    try:
        inside = target.relative_to(top)
    except ValueError:
        raise ValueError(f"{rel} leads outside the repo (to {target})") from None
    if inside.parts and inside.parts[0].lower() == ".git":
        raise ValueError(f"{rel} leads into .git (to {target})")
    return target


# -- helpers for update-repos ---------------------------------------------------------------


def foreign_owner(paths: list[Path]) -> tuple[Path, int] | None:
    """The first existing path not owned by the effective user, with its owner's uid.

    A dev container that bind-mounts a host checkout runs as another uid than the files'
    owner; git then refuses the repo ("dubious ownership"), and anything written there
    would leave files the owner cannot change.
    """
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:  # Windows: no uids, and git checks ownership differently there
        return None
    me = geteuid()
    for path in paths:
        try:
            uid = path.lstat().st_uid
        except FileNotFoundError:
            continue
        if uid != me:
            return path, uid
    return None
