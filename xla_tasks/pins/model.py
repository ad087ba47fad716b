"""What a project pins: its deps (commit, URL, branch, submodules) and its roll schedules.
Every pin source (sync_deps.toml, the generated or legacy script, manifests) reads into
this model and every writer writes from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


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


@dataclass(frozen=True, slots=True)
class Pins:
    deps: dict[str, Dep] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def with_rev(self, name: str, rev: str) -> Pins:
        deps = dict(self.deps)
        deps[name] = replace(deps[name], rev=rev)
        return Pins(deps=deps, schedules=self.schedules)

    def with_dep(self, dep: Dep) -> Pins:
        return Pins(deps={**self.deps, dep.name: dep}, schedules=self.schedules)
