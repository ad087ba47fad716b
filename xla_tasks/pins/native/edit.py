"""Moving a project's native pins to new commits: the new texts of its files, all at once.

`pin` and `roll` decide each dep's new commit, then ask here what else the files need for
it (an archive hash, a date: `needs_of`), compute those values, and only then build every
new text (`edit_pins`), so nothing is written unless everything could be computed. The
texts are the files as read with only the pins' bytes replaced (`rewrite_pin`); gitlinks
are staged in the project's index, never committed (`apply_edit`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xla_tasks.errors import ConfigError, XlaTasksError
from xla_tasks.fsutil import atomic_write
from xla_tasks.gitrepo import run_git
from xla_tasks.pins.native.files import read_pin_file
from xla_tasks.pins.native.model import NativePin
from xla_tasks.pins.native.rewrite import rewrite_pin

TAR_GZ, ZIP = "tar.gz", "zip"
# Formats whose commit is written elsewhere than in a text file, or never written.
_NOT_TEXT = ("gitlink", "torch_pin")


@dataclass(frozen=True, slots=True)
class HashNeed:
    """An archive hash the files need for one dep at its new commit.

    `.tar.gz`: built locally from the dep's clone with `prefix` (`xla-<sha>/`); `.zip`:
    downloaded from `urls` (the pin's URLs with the new commit filled in)."""

    archive: str
    prefix: str = ""
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Needs:
    """What one dep's files need besides the commit: hashes, and whether a date is written.

    `where` keeps, for each hash, the first place that pins it (for messages naming it)."""

    hashes: dict[HashNeed, NativePin] = field(default_factory=dict)
    date: NativePin | None = None  # the first place that writes a date next to the commit

    @property
    def clone_needed(self) -> NativePin | None:
        """The first place whose value comes from the dep's clone (a .tar.gz hash, a date)."""
        local = [pin for need, pin in self.hashes.items() if need.archive == TAR_GZ]
        return local[0] if local else self.date


@dataclass(frozen=True, slots=True)
class DepValues:
    """A dep's new values: the commit, each hash it needs (hex), the committer's date."""

    commit: str
    hashes: Mapping[HashNeed, str] = field(default_factory=dict)
    date: str | None = None
    downloaded: tuple[str, ...] = ()  # the .zip URLs whose download gave a hash


@dataclass(slots=True)
class NativeEdit:
    """Changed files (project-relative path -> old and new text) and gitlinks to stage."""

    texts: dict[str, tuple[str, str]] = field(default_factory=dict)
    gitlinks: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> old, new

    @property
    def files(self) -> list[str]:
        return sorted(self.texts)

    @property
    def changed(self) -> bool:
        return bool(self.texts or self.gitlinks)

    def shown(self) -> list[str]:
        """The files and submodules it changes, as the output names them."""
        return [*self.files, *(f"{path} (submodule)" for path in sorted(self.gitlinks))]


def written_sites(sites: Iterable[NativePin]) -> list[NativePin]:
    """The places `pin` and `roll` write (`.torch_pin` is read, never written)."""
    return [pin for pin in sites if pin.format != "torch_pin"]


def written_commit(sites: Iterable[NativePin]) -> str | None:
    """The commit the written files hold (`.torch_commit`'s, not `.torch_pin`'s), the first
    file's when they disagree: what `pin` and `roll` move a dep from."""
    return next((pin.commit for pin in written_sites(sites) if pin.commit), None)


def written_files(sites: Iterable[NativePin]) -> list[str]:
    """The text files among the places (not gitlinks, not `.torch_pin`), sorted."""
    return sorted({pin.file for pin in sites if pin.format not in _NOT_TEXT})


def override_note(name: str, sites: Iterable[NativePin]) -> str | None:
    """What to say when `.torch_pin` overrides the commit `pin` and `roll` write."""
    override = next((pin for pin in sites if pin.format == "torch_pin"), None)
    if override is None:
        return None
    value = override.ref or (override.commit or "")[:12]
    return (
        f"{name}: {override.file} ({value}) still overrides the commit the other files pin; "
        "it is read, never written: remove it to build at the pinned commit"
    )


def needs_of(project_dir: Path, sites: Sequence[NativePin], commit: str) -> Needs:
    """The hashes and date the files need for `commit`; a hash of an archive we cannot
    build or download is a ConfigError naming its file and line."""
    hashes: dict[HashNeed, NativePin] = {}
    date = None
    for pin in written_sites(sites):
        if pin.date is not None and date is None:
            date = pin
        if pin.sha256 is None:
            continue
        need = _hash_need(project_dir, pin, commit)
        hashes.setdefault(need, pin)
    return Needs(hashes, date)


def _hash_need(project_dir: Path, pin: NativePin, commit: str) -> HashNeed:
    old = pin.commit or ""
    if pin.archive == TAR_GZ and pin.archive_prefix and old:
        return HashNeed(TAR_GZ, prefix=_with_commit(pin.archive_prefix, old, commit))
    if pin.archive == ZIP and pin.archive_urls and old:
        return HashNeed(ZIP, urls=tuple(_with_commit(u, old, commit) for u in pin.archive_urls))
    raise ConfigError(
        project_dir / pin.file,
        "pins a hash of an archive that is neither GitHub's /archive/<commit>.tar.gz "
        "(built locally) nor a .zip to download, so the new hash cannot be computed",
        line=pin.sha256_line or pin.line or None,
        hint="update this pin by hand",
    )


def _with_commit(text: str, old: str, new: str) -> str:
    return re.sub(re.escape(old), new, text, flags=re.IGNORECASE)


def edit_pins(
    project_dir: Path,
    sites: Mapping[str, Sequence[NativePin]],
    values: Mapping[str, DepValues],
    base: Mapping[str, str] | None = None,
) -> NativeEdit:
    """Each file that pins a dep of `values`, read again and with those pins rewritten.

    Files are rewritten in place, pin by pin (a commit, hash or date keeps its length, so
    the other pins of a file stay on their lines); unchanged files are left out. `base`:
    the texts the pins were read from, by file, when the disk may hold others since (the
    tries of a gated roll).
    """
    edit = NativeEdit()
    by_file: dict[str, list[tuple[NativePin, DepValues]]] = {}
    for name, new in values.items():
        for pin in sites.get(name, ()):
            if pin.format == "gitlink" and pin.commit != new.commit:
                edit.gitlinks[pin.file] = (pin.commit or "", new.commit)
            elif pin.format not in _NOT_TEXT:
                by_file.setdefault(pin.file, []).append((pin, new))
    for rel in sorted(by_file):
        _edit_file(project_dir, rel, by_file[rel], edit, (base or {}).get(rel))
    return edit


def _edit_file(
    project_dir: Path,
    rel: str,
    pins: list[tuple[NativePin, DepValues]],
    edit: NativeEdit,
    base: str | None,
) -> None:
    path = project_dir / rel
    old = base if base is not None else read_pin_file(path)
    if old is None:
        raise XlaTasksError(f"{path}: gone since its pins were read", "run again")
    text = old
    for pin, new in pins:
        try:
            text = rewrite_pin(text, pin, new.commit, _hash_for(project_dir, pin, new), new.date)
        except ValueError as err:
            raise XlaTasksError(
                f"{path}: changed since its pins were read ({err})", "run again"
            ) from None
    if text != old:
        edit.texts[rel] = (old, text)


def _hash_for(project_dir: Path, pin: NativePin, new: DepValues) -> str | None:
    """The new hash of the archive `pin` hashes, as `needs_of` asked for it."""
    if pin.sha256 is None or pin.commit is None:
        return None
    return new.hashes[_hash_need(project_dir, pin, new.commit)]


def new_texts(project_dir: Path, edit: NativeEdit) -> dict[Path, str]:
    """The files an edit writes, by path, with their new texts."""
    return {project_dir / rel: new for rel, (_, new) in edit.texts.items()}


def apply_edit(project_dir: Path, edit: NativeEdit) -> None:
    """Write each changed file atomically, then stage the gitlinks (never committed)."""
    for path, text in new_texts(project_dir, edit).items():
        atomic_write(path, text)
    stage_gitlinks(project_dir, {path: new for path, (_, new) in edit.gitlinks.items()})


def stage_gitlinks(project_dir: Path, gitlinks: Mapping[str, str]) -> None:
    """`git update-index --cacheinfo 160000,SHA,PATH` for each: the submodule's new commit
    in the project's index, as `git add` of a moved submodule would record it."""
    if not gitlinks:
        return
    args = ["update-index"]
    for path, sha in sorted(gitlinks.items()):
        args += ["--cacheinfo", f"160000,{sha},{path}"]
    run_git(project_dir, args, repo=project_dir.name, action="stage the submodule commits")
