"""What a project pins: its deps (commit, URL, branch, submodules) and its roll schedules.

Every pin source reads into this model: `sync_deps.toml`, a legacy `sync_deps.py`, west and
vcstool manifests, and the native files the projects keep (Bazel files, `.torch_commit`,
one-line files, submodule gitlinks: `pins.native_deps`). `source` says which one; for native
pins, `sites` keeps each dep's places in its files, which `pin` and `roll` rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type here: importing the readers would slow every start-up
    from xla_tasks.pins.native.model import NativePin


@dataclass(frozen=True, slots=True)
class Dep:
    name: str
    rev: str
    url: str
    branch: str = "main"
    submodules: bool = False
    # Submodule path regexes (`re.search`, path relative to the dep's top) nobody syncs:
    # the project-wide form of `--exclude-submodule NAME:PATH-RE` (contract 5.1).
    exclude_submodules: tuple[str, ...] = ()
    # The project's files that pin it, for `status` and `pinned_by` (native pins only).
    pinned_in: tuple[str, ...] = ()
    # A ref that wins over `rev` (PyTorch/XLA's `.torch_pin`: a branch, or
    # refs/pull/N/head for `#N`); sync resolves it on the dep's URL.
    ref: str | None = None
    # Which file's pin wins over the others', as the output says it
    # (`.torch_pin, over .torch_commit`).
    override: str | None = None


@dataclass(frozen=True, slots=True)
class PackageRule:
    """A Python package that a schedule moves to the newest version on an index."""

    name: str
    requirements: tuple[str, ...]
    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    pre: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    deps: tuple[str, ...] = ()
    packages: tuple[PackageRule, ...] = ()
    verify: str | None = None  # a shell line that gates the roll (`roll --verify`, contract 5.6)


SYNC_DEPS_TOML = "sync_deps.toml"  # the pin file's name (`sync_deps_toml.PIN_FILE`)
NATIVE = "native"


@dataclass(frozen=True, slots=True)
class Pins:
    deps: dict[str, Dep] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    source: str = SYNC_DEPS_TOML  # SYNC_DEPS_TOML, "sync_deps.py" (legacy) or NATIVE
    # Native pins: each dep's places in the project's files (what pin and roll rewrite) ...
    sites: dict[str, tuple[NativePin, ...]] = field(default_factory=dict)
    # ... and the repos those files pin that the registry does not list (left alone), with
    # the URL each is fetched from when a file names one (what a registry entry would need).
    left_alone: tuple[str, ...] = ()
    left_alone_urls: dict[str, str] = field(default_factory=dict)

    def with_rev(self, name: str, rev: str) -> Pins:
        deps = dict(self.deps)
        deps[name] = replace(deps[name], rev=rev)
        return replace(self, deps=deps)

    def with_dep(self, dep: Dep) -> Pins:
        return replace(self, deps={**self.deps, dep.name: dep})
