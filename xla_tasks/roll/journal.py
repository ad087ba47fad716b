"""The project files a gated roll rewrites for each try, and the journal that undoes them.

Each try puts its moves in the work tree (requirements files, `sync_deps.toml` and
`sync_deps.py`, or the project's native pin files), because CMD builds from them. Ctrl-C
and errors are handled by the caller's `finally` (restore the old files, re-sync). A
SIGKILL or a power cut cannot be caught, so before the first write the old texts go to a
journal under the workspace; the next `roll` finds it and puts the old files back, then
syncs. It restores only when every file still holds a text some try wrote: a file the user
changed since is never overwritten.

The journal is a file anyone can edit or copy, so it is not trusted: it is used only when
it belongs to this project, and only when every file it names is one a gated roll of this
project writes (its pin files, or its native pin files, and the requirements files its
schedules list, all inside the project and outside `.git`). Anything else is ignored,
whole, with a warning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from xla_tasks.fsutil import atomic_write, file_in_repo
from xla_tasks.pins.model import Schedule
from xla_tasks.pins.sync_deps_script import SCRIPT_FILE
from xla_tasks.pins.sync_deps_toml import PIN_FILE
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
        project = Path(str(record["project"]))
        old = {Path(path): _text_or_none(text) for path, text in record["old"].items()}
        seen = {
            _where(Path(path)): set(map(str, digests)) for path, digests in record["seen"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        journal.unlink(missing_ok=True)
        return [f"ignored an unreadable journal of a killed `roll --verify` ({journal}: {err})"]
    refused = _foreign(project, project_dir, old)
    if refused:
        journal.unlink(missing_ok=True)
        return [f"ignored {journal}: {refused}; nothing restored"]
    old = {_where(path): text for path, text in old.items()}
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


def _text_or_none(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"a file's text is a {type(value).__name__}")
    return value


def _foreign(project: Path, project_dir: Path, old: dict[Path, str | None]) -> str | None:
    """Why the journal must not be applied here (None: it is this project's, and names only
    files a gated roll of it writes)."""
    if project.resolve() != project_dir.resolve():
        return f"it belongs to another project ({project}), not {project_dir}"
    allowed = {_where(path) for path in _rolled_files(project_dir)}
    for path in old:
        if not path.is_absolute() or _where(path) not in allowed:
            return f"it names {path}, which is not a file a gated roll of {project_dir} writes"
    return None


def _where(path: Path) -> Path:
    """A file's place with its folder's links resolved (the name itself is not followed:
    writing replaces a link there, it never writes through it)."""
    return path.parent.resolve() / path.name


def _rolled_files(project_dir: Path) -> set[Path]:
    """The files a gated roll of this project may write, as `TrialFiles` names them: both
    pin files, and each requirements file of its schedules (links resolved, inside the
    project and outside .git). Schedules come from the pin file on disk, which a try
    rewrites with new revs only: its schedules are the roll's. A project without pin files
    of ours: its native pin files instead, and the requirements of its registry entry's
    schedules."""
    from xla_tasks.errors import XlaTasksError
    from xla_tasks.pins.sync_deps_toml import load_pin_file

    if not (project_dir / PIN_FILE).is_file() and not (project_dir / SCRIPT_FILE).is_file():
        return _native_rolled_files(project_dir)
    files = {project_dir / PIN_FILE, project_dir / SCRIPT_FILE}
    try:
        pins = load_pin_file(project_dir / PIN_FILE)
    except XlaTasksError:
        return files
    return files | _requirements(project_dir, pins.schedules.values())


def _native_rolled_files(project_dir: Path) -> set[Path]:
    """The text files holding the native pins of registered repos (as read now: a try
    rewrites commits, hashes and dates only), and the registry schedules' requirements."""
    from xla_tasks.errors import XlaTasksError
    from xla_tasks.pins.native.edit import written_files
    from xla_tasks.pins.native_deps import read_native_deps
    from xla_tasks.workspace.project import project_name
    from xla_tasks.workspace.registry import workspace_for_project

    try:
        workspace = workspace_for_project(project_dir)
        name = project_name(workspace, project_dir)
        catalog = workspace.catalog()
        entry = catalog.get(name)  # its schedules' requirements are rolled files too
        pins = read_native_deps(project_dir, catalog, project=name, agree=False)
    except XlaTasksError:
        return set()
    if pins is None:
        return set()
    files = {project_dir / rel for sites in pins.sites.values() for rel in written_files(sites)}
    return files | _requirements(project_dir, entry.schedules.values() if entry else ())


def _requirements(project_dir: Path, schedules: Iterable[Schedule]) -> set[Path]:
    files: set[Path] = set()
    for schedule in schedules:
        for rule in schedule.packages:
            for rel in rule.requirements:
                try:
                    files.add(file_in_repo(project_dir, rel))
                except ValueError:
                    continue
    return files
