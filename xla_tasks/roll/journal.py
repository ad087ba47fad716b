"""The project files a gated roll rewrites for each try, and the journal that undoes them.

Each try puts its moves in the work tree (requirements files, `sync_deps.toml`,
`sync_deps.py`), because CMD builds from them. Ctrl-C and errors are handled by the
caller's `finally` (restore the old files, re-sync). A SIGKILL or a power cut cannot be
caught, so before the first write the old texts go to a journal under the workspace; the
next `roll` finds it and puts the old files back, then syncs. It restores only when every
file still holds a text some try wrote: a file the user changed since is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from xla_tasks.fsutil import atomic_write
from xla_tasks.workspace.lock import lock_lent_to_nested
from xla_tasks.workspace.settings import TaskOptions

JOURNAL_DIR = Path(".xla-tasks") / "roll-journal"


def _digest(text: str | None) -> str:
    return "absent" if text is None else hashlib.sha256(text.encode()).hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def _put(path: Path, text: str | None) -> None:
    if _read(path) == text:
        return
    if text is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write(path, text.encode("utf-8", errors="surrogateescape"))


def journal_path(workspace_root: Path, project_dir: Path) -> Path:
    key = hashlib.sha256(str(project_dir.resolve()).encode()).hexdigest()[:12]
    return workspace_root / JOURNAL_DIR / f"{project_dir.name}-{key}.json"


class TrialFiles:
    """Write a try's texts; remember every text written so recovery can tell ours apart."""

    def __init__(self, workspace_root: Path, project_dir: Path, paths: list[Path]) -> None:
        self.project_dir = project_dir
        self.journal = journal_path(workspace_root, project_dir)
        self.old = {path: _read(path) for path in paths}
        self.seen = {str(path): {_digest(text)} for path, text in self.old.items()}

    def write(self, texts: dict[Path, str | None]) -> None:
        """Journal first (old texts and every text we may leave), then the files, in order."""
        for path, text in texts.items():
            self.seen[str(path)].add(_digest(text))
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "project": str(self.project_dir),
            "old": {str(path): text for path, text in self.old.items()},
            "seen": {path: sorted(digests) for path, digests in self.seen.items()},
        }
        atomic_write(self.journal, json.dumps(record, indent=1, sort_keys=True))
        for path, text in texts.items():
            _put(path, text)

    def close(self) -> None:
        """The files and the deps are settled: nothing to undo any more."""
        self.journal.unlink(missing_ok=True)


def recover_gate(workspace_root: Path, project_dir: Path, options: TaskOptions) -> list[str]:
    """Undo what a killed `roll --verify` left in this project (then sync); say what was done."""
    journal = journal_path(workspace_root, project_dir)
    if not journal.is_file():
        return []
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        old = {Path(path): text for path, text in record["old"].items()}
        seen = {Path(path): set(digests) for path, digests in record["seen"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        journal.unlink(missing_ok=True)
        return [f"ignored an unreadable journal of a killed `roll --verify` ({journal}: {err})"]
    changed = [path.name for path in old if _digest(_read(path)) not in seen.get(path, set())]
    if changed:
        journal.unlink(missing_ok=True)
        return [
            f"a killed `roll --verify` left {journal}, but {', '.join(changed)} changed since: "
            "left as they are"
        ]
    for path, text in old.items():
        _put(path, text)
    from xla_tasks.workspace.syncing import sync_project as sync

    with lock_lent_to_nested(workspace_root):  # called by roll, which holds it
        synced = sync(project_dir, options)
    journal.unlink(missing_ok=True)
    names = ", ".join(sorted(path.name for path in old))
    note = "" if synced.ok else " (the re-sync failed: run `xla-tasks sync`)"
    return [f"restored {names} as they were before a killed `roll --verify`{note}"]
