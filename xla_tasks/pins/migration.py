"""What a project migrated from the older tools keeps, and what it drops.

Kept: the rolling schedules they had. Dropped: a pin of the project itself (iree's own
old `sync_deps.py` pins "iree"), which sync never applies and each later `pin` would move.

`openxla-workspace` carried a project's rolling schedules in its own registry, not in the
project, so a migrated `sync_deps.py` holds none and `roll nightly` would be "unknown
schedule" the day a team switches. For the projects the openxla preset knows, `pin`
writes the schedules that tool had (its `repos.py`, contract 5.7) into the new
`sync_deps.toml`; a schedule never names a dep the project does not pin.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from xla_tasks.pins.model import PackageRule, Pins, Schedule

# The find-links pages openxla-workspace passed to pip (`-f`). IREE's moved from
# openxla.github.io/iree to iree.dev, which the old address redirects to.
IREE_FIND_LINKS = "https://iree.dev/pip-release-links.html"
JAXLIB_FIND_LINKS = "https://storage.googleapis.com/jax-releases/jaxlib_nightly_releases.html"
REQUIREMENTS = "requirements.txt"

# Both packages as pre-releases: the old tool gave jaxlib `--pre`, and IREE's nightlies,
# plain versions then (20230524.527), are release candidates now (3.1.0rc20250107).
_NIGHTLY_PACKAGES = (
    PackageRule("iree-compiler", (REQUIREMENTS,), find_links=(IREE_FIND_LINKS,), pre=True),
    PackageRule("jaxlib", (REQUIREMENTS,), find_links=(JAXLIB_FIND_LINKS,), pre=True),
)
LEGACY_SCHEDULES: dict[str, tuple[Schedule, ...]] = {
    "openxla-pjrt-plugin": (
        Schedule("continuous", deps=("iree",)),
        Schedule("nightly", deps=("iree", "xla", "jax"), packages=_NIGHTLY_PACKAGES),
    ),
}


def with_legacy_schedules(project: str, project_dir: Path, pins: Pins) -> tuple[Pins, list[str]]:
    """`pins` plus the schedules the old tool had for `project` (ones already set win).

    Returns the names added. Packages are kept only when the project has the requirements
    file they update (roll appends a missing line, but refuses a missing file).
    """
    schedules = dict(pins.schedules)
    added = []
    for schedule in LEGACY_SCHEDULES.get(project, ()):
        if schedule.name in schedules:
            continue
        deps = tuple(name for name in schedule.deps if name in pins.deps)
        packages = tuple(
            rule
            for rule in schedule.packages
            if all((project_dir / path).is_file() for path in rule.requirements)
        )
        if deps or packages:
            schedules[schedule.name] = replace(schedule, deps=deps, packages=packages)
            added.append(schedule.name)
    return Pins(deps=pins.deps, schedules=schedules), added


def without_self(project: str, pins: Pins) -> tuple[Pins, list[str]]:
    """`pins` minus a dep that is the project itself; returns the names dropped."""
    if project not in pins.deps:
        return pins, []
    deps = {name: dep for name, dep in pins.deps.items() if name != project}
    schedules = {
        name: replace(schedule, deps=tuple(d for d in schedule.deps if d != project))
        for name, schedule in pins.schedules.items()
    }
    return Pins(deps=deps, schedules=schedules), [project]
