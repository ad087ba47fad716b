"""The breadth-first pin walk shared by `sync` and `status` (contract 3.1, rules 1-2).

The root project's pins are level 1; the pin files of level-N deps give level N+1. The
pin closest to the root wins; a different pin of the same dep further down is reported
as a Conflict naming both revs and who asked for each. A dep's own pin file can only be
read once it is on its pinned commit, so the caller does the I/O between levels: it
processes one level and hands back the pins it read (`walk_pins`). The merge of one level
(`merge_level`) is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from xla_tasks.errors import ConfigError
from xla_tasks.pins.model import Dep, Pins
from xla_tasks.workspace.registry import Workspace


@dataclass(frozen=True, slots=True)
class Wanted:
    """A dep the walk settled on: its pin, who pinned it and how far from the root (1 = root)."""

    dep: Dep
    asked_by: str
    level: int

    @property
    def name(self) -> str:
        return self.dep.name


@dataclass(frozen=True, slots=True)
class Conflict:
    """A pin of an already settled dep at another rev; the settled one is kept."""

    kept: Wanted
    ignored_rev: str
    ignored_by: str
    ignored_level: int

    @property
    def name(self) -> str:
        return self.kept.name

    def message(self) -> str:
        why = (
            "closest to the project"
            if self.ignored_level > self.kept.level
            else "same distance from the project; first in pin order"
        )
        return (
            f"{self.name}: {self.ignored_by} pins {self.ignored_rev[:12]}, "
            f"{self.kept.asked_by} pins {self.kept.dep.rev[:12]}; "
            f"using {self.kept.asked_by}'s ({why})"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "dep": self.name,
            "used": {"rev": self.kept.dep.rev, "pinned_by": self.kept.asked_by},
            "ignored": {"rev": self.ignored_rev, "pinned_by": self.ignored_by},
        }


@dataclass(slots=True)
class LevelMerge:
    """What one level adds: deps to process now, deps skipped by --exclude-dep, conflicts."""

    wanted: list[Wanted] = field(default_factory=list)
    excluded: list[Wanted] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def merge_level(
    settled: Mapping[str, Wanted],
    asked: Sequence[tuple[str, Pins]],
    level: int,
    *,
    root: str,
    is_excluded: Callable[[str], bool] = lambda name: False,
) -> LevelMerge:
    """Settle the deps pinned by `asked` (asker, pins) in order; never revisit a settled one.

    `settled` holds every dep settled at a closer level (excluded ones included, so a
    deeper pin cannot bring them back). The root project is never a dep of itself.
    """
    merged = LevelMerge()
    now: dict[str, Wanted] = {}
    for asker, pins in asked:
        for dep in pins.deps.values():
            if dep.name == root:
                continue
            kept = now.get(dep.name) or settled.get(dep.name)
            if kept is not None:
                if kept.dep.rev != dep.rev:
                    merged.conflicts.append(Conflict(kept, dep.rev, asker, level))
                continue
            wanted = Wanted(dep, asker, level)
            now[dep.name] = wanted
            (merged.excluded if is_excluded(dep.name) else merged.wanted).append(wanted)
    return merged


@dataclass(slots=True)
class WalkResult:
    settled: dict[str, Wanted] = field(default_factory=dict)
    excluded: list[Wanted] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def walk_pins(
    root: str,
    root_pins: Pins,
    process_level: Callable[[list[Wanted]], Sequence[tuple[str, Pins]]],
    *,
    is_excluded: Callable[[str], bool] = lambda name: False,
) -> WalkResult:
    """Walk level by level; `process_level` handles one level and returns the pins it read.

    `process_level` returns (dep name, its pins) for each dep whose pin file could be read
    at its pinned commit; deps that failed or have no pin file are simply left out, which
    ends the walk below them.
    """
    result = WalkResult()
    asked: Sequence[tuple[str, Pins]] = [(root, root_pins)]
    level = 1
    while asked:
        merged = merge_level(result.settled, asked, level, root=root, is_excluded=is_excluded)
        for wanted in (*merged.wanted, *merged.excluded):
            result.settled[wanted.name] = wanted
        result.excluded.extend(merged.excluded)
        result.conflicts.extend(merged.conflicts)
        asked = process_level(merged.wanted) if merged.wanted else []
        level += 1
    return result


def dependents_closure(workspace: Workspace, base: str) -> list[str]:
    """`base` plus every registered repo that depends on it, transitively, in dependency order."""
    wanted = {base}
    changed = True
    while changed:
        changed = False
        for spec in workspace.repos.values():
            if spec.name not in wanted and wanted.intersection(spec.deps):
                wanted.add(spec.name)
                changed = True
    return [name for name in dependency_order(workspace) if name in wanted]


def dependency_order(workspace: Workspace) -> list[str]:
    """All registered repos, each after its deps (registry order breaks ties; cycles are errors)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in visiting:
            raise ConfigError(
                workspace.file or workspace.root, f"dependency cycle: {' -> '.join((*chain, name))}"
            )
        visiting.add(name)
        for dep in workspace.repos[name].deps:
            visit(dep, (*chain, name))
        visiting.discard(name)
        order.append(name)

    for name in workspace.repos:
        visit(name, ())
    return order
