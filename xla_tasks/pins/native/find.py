"""Where a project's native pins are, and reading them all (contract 6.1).

Looked for: `MODULE.bazel` and `WORKSPACE` (or `WORKSPACE.bazel`) at the root,
`third_party/*/revision.bzl` and `third_party/*/workspace.bzl`, `.torch_commit` and
`.torch_pin`, `build_tools/llvm_version.txt`, `.github/ci_commit_pins/*.txt`, the
submodules of `.gitmodules`, and the registry entry's `pin_files`. A project with none of
them costs a handful of failed `open`s; a Bazel file is tokenized only when its text could
hold a pin at all. The files come from a `PinTree`: the work tree on disk (`DiskTree`), or
one of the project's commits (`at_commit.CommitTree`), read the same way.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from xla_tasks.errors import ConfigError
from xla_tasks.pins.native import blocks, constants, gitlinks, sha_file, torch
from xla_tasks.pins.native.bazel import Unit, is_bazel_file, unit_key
from xla_tasks.pins.native.files import project_relative, read_pin_file
from xla_tasks.pins.native.model import BadPin, Found, NativePin
from xla_tasks.pins.native.sites import Site
from xla_tasks.pins.native.starlark import BzlFile

ROOT_BAZEL = ("MODULE.bazel", "WORKSPACE", "WORKSPACE.bazel")
THIRD_PARTY = "third_party"
BZL_NAMES = ("revision.bzl", "workspace.bzl")
# A Bazel file without any of these holds no pin: skip tokenizing it.
_MAY_PIN = re.compile(r"(?i:commit)|_hash|_override|(?<![0-9a-fA-F])[0-9a-fA-F]{40}(?![0-9a-fA-F])")

Keep = Callable[[str | None, str | None], bool]


def find_native_pins(
    project_dir: Path, extra_files: Sequence[str] = (), keep: Keep | None = None
) -> list[NativePin]:
    """The native pins of a project; a bad one is a ConfigError naming its file and line.

    `keep(url, repo_hint)` chooses the repositories the caller cares about *before* bad
    values become errors: XLA pins some hundred archives, and an odd one among those the
    workspace does not list must not stop a sync.
    """
    pins = []
    for found in read_native_pins(project_dir, extra_files):
        if keep is not None and not keep(found.url, found.repo_hint):
            continue
        if isinstance(found, BadPin):
            raise found.error(project_dir)
        pins.append(found)
    return pins


class PinTree(Protocol):
    """Where the files are read from: the work tree on disk (`DiskTree`), or a commit."""

    def read(self, rel: str) -> tuple[str, str] | None:
        """(real project-relative posix path, text) of a file; None when there is none.

        A link is followed inside the project (one leading out is a ConfigError); a file
        over tomlfile.MAX_FILE_BYTES or not UTF-8 is a ConfigError too."""

    def folders(self, rel: str) -> Iterable[str]:
        """The names of the folders in folder `rel`, sorted."""

    def files(self, rel: str, suffix: str) -> Iterable[str]:
        """The names of the files in folder `rel` ending with `suffix`, sorted."""

    def gitlinks(self, paths: list[str]) -> Mapping[str, str]:
        """Submodule path -> the commit recorded for it (only paths that are gitlinks)."""


class DiskTree:
    """The project's work tree: files from disk, gitlinks from its index (no git process)."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir

    def read(self, rel: str) -> tuple[str, str] | None:
        text = read_pin_file(self.project_dir / rel)
        if text is None:
            return None
        real = project_relative(self.project_dir, rel)
        if real is None:
            raise ConfigError(self.project_dir / rel, "is a link to outside the project")
        return real, text

    def folders(self, rel: str) -> Iterable[str]:
        return _subfolders(self.project_dir / rel)

    def files(self, rel: str, suffix: str) -> Iterable[str]:
        return _subfiles(self.project_dir / rel, suffix)

    def gitlinks(self, paths: list[str]) -> Mapping[str, str]:
        return gitlinks.index_gitlinks(self.project_dir, paths)


def read_native_pins(
    project_dir: Path, extra_files: Sequence[str] = (), tree: PinTree | None = None
) -> list[Found]:
    """Every pin and every bad pin, in a stable order; file-level errors are raised.

    `tree`: where the files are read (default: `project_dir` on disk)."""
    files = tree if tree is not None else DiskTree(project_dir)
    reader = _Reader(project_dir, files)
    for name in ROOT_BAZEL:
        reader.bazel(name)
    for folder in files.folders(THIRD_PARTY):
        for name in BZL_NAMES:
            reader.bazel(f"{THIRD_PARTY}/{folder}/{name}")
    reader.torch()
    reader.sha_file(sha_file.LLVM_VERSION)
    for name in files.files(sha_file.CI_COMMIT_PINS, ".txt"):
        reader.sha_file(f"{sha_file.CI_COMMIT_PINS}/{name}")
    for extra in extra_files:
        reader.extra(extra)
    reader.submodules()
    return reader.results()


class _Reader:
    """Reads each file once (by its real path) and groups Bazel files into units."""

    def __init__(self, project_dir: Path, tree: PinTree) -> None:
        self.project_dir = project_dir
        self.tree = tree
        self.seen: set[str] = set()
        self.units: dict[str, list[BzlFile]] = {}
        self.found: list[Found] = []

    def read(self, rel: str) -> tuple[str, str] | None:
        """(real project-relative path, text) the first time a file is met; else None."""
        got = self.tree.read(rel)
        if got is None or got[0] in self.seen:
            return None
        self.seen.add(got[0])
        return got

    def bazel(self, rel: str) -> None:
        got = self.read(rel)
        if got is None:
            return
        real, text = got
        unit = self.units.setdefault(unit_key(real), [])
        if _MAY_PIN.search(text):
            unit.append(BzlFile.parse(real, text))

    def torch(self) -> None:
        got = self.read(torch.TORCH_COMMIT)
        if got is not None:
            self._add(torch.read_commit(*got))
        got = self.read(torch.TORCH_PIN)
        if got is not None:
            self._add(torch.read_pin(*got))

    def sha_file(self, rel: str) -> None:
        got = self.read(rel)
        if got is not None:
            self._add(sha_file.read(got[0], got[1], sha_file.hint_for(rel)))

    def extra(self, rel: str) -> None:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise ConfigError(rel, "a pin file must be a path inside the project")
        rel = Path(rel).as_posix()
        base = posixpath.basename(rel)
        if base == torch.TORCH_COMMIT:
            got = self.read(rel)
            if got is not None:
                self._add(torch.read_commit(*got))
        elif is_bazel_file(rel):
            self.bazel(rel)
            if base.endswith(".bzl"):  # its revision.bzl/workspace.bzl partner
                for name in BZL_NAMES:
                    self.bazel(posixpath.join(posixpath.dirname(rel), name))
        else:
            self.sha_file(rel)

    def submodules(self) -> None:
        got = self.read(gitlinks.GITMODULES)
        if got is not None:
            self.found.extend(gitlinks.read(got[1], self.tree.gitlinks))

    def _add(self, found: Site | Found | None) -> None:
        if isinstance(found, Site):
            self.found.append(found.pin)
        elif found is not None:
            self.found.append(found)

    def results(self) -> list[Found]:
        bazel: list[Found] = []
        for files in self.units.values():
            if not files:
                continue
            unit = Unit(files)
            for found in [*constants.read(unit), *blocks.read(unit)]:
                bazel.append(found.pin if isinstance(found, Site) else found)
        return bazel + self.found


def _subfolders(path: Path) -> Iterable[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(entry.name for entry in entries if entry.is_dir())
    except OSError:
        return []


def _subfiles(path: Path, suffix: str) -> Iterable[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(e.name for e in entries if e.name.endswith(suffix) and not e.is_dir())
    except OSError:
        return []
