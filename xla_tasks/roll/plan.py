"""What a roll moves: each dep to its branch head, each package to its newest version.

Git deps go to the head of their branch (one `ls-remote` per dep, in parallel); Python
packages go to the newest acceptable version on their index, and the `NAME==VERSION` lines
of the listed requirements files follow. Everything is decided first; if any lookup
fails, nothing is written (a bot re-running later converges). The summary is written to
be pasted as a commit message: a title naming the schedule, one bullet per move.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from xla_tasks.errors import ConfigError, UsageError, XlaTasksError
from xla_tasks.fsutil import atomic_write, file_in_repo
from xla_tasks.gitrepo import ls_remote_branch
from xla_tasks.parallel import run_each
from xla_tasks.pins.model import Dep, PackageRule, Pins, Schedule
from xla_tasks.pins.project import read_root_pins, save_pin_files
from xla_tasks.pins.sync_deps_toml import PIN_FILE
from xla_tasks.roll.message import add_histories, move_lines
from xla_tasks.roll.moves import DepMove, PackageMove
from xla_tasks.roll.packages import find_latest_version
from xla_tasks.roll.requirements import set_requirement_version
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.registry import Workspace, start_pinning_hint
from xla_tasks.workspace.settings import GateOptions, TaskOptions, default_jobs


@dataclass(slots=True)
class RollPlan:
    """What the schedule would change: new pins and new requirements texts."""

    pins: Pins
    dep_moves: list[DepMove] = field(default_factory=list)
    package_moves: list[PackageMove] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)  # requirements path -> new text

    @property
    def changed(self) -> bool:
        return bool(self.dep_moves or self.package_moves or self.files)


def plan_roll(
    project_dir: Path, workspace: Workspace, schedule: str, options: TaskOptions, gate: GateOptions
) -> tuple[CommandResult, RollPlan | None, str | None]:
    """Decide every move (lookups in parallel): the result so far, the plan and the verify
    command; no plan when a lookup failed (the result names each failure)."""
    pins = read_root_pins(project_dir)[0]  # refuses a script another tool rewrote
    if pins is None:
        raise XlaTasksError(f"{project_dir}: no {PIN_FILE}", start_pinning_hint(project_dir))
    chosen = _schedule(pins, schedule, project_dir)
    verify = gate.command_for(chosen.verify, schedule)
    requirement_texts = _read_requirements(project_dir, chosen)
    jobs = options.jobs or workspace.jobs or default_jobs()
    result = CommandResult(command="roll")
    head_of = functools.partial(_head_of, stall=options.stall_seconds(workspace.stall_timeout))
    heads = run_each([pins.deps[name] for name in chosen.deps], head_of, lambda dep: dep.name, jobs)
    versions = run_each(list(chosen.packages), _latest_of, lambda rule: rule.name, jobs)
    failures = [o for o in heads + versions if o.failed]
    if failures:
        result.outcomes.extend(failures)
        result.messages.append(f"roll {schedule}: nothing written")
        return result, None, verify
    plan = RollPlan(pins=pins)
    _plan_deps(plan, heads)
    result.warnings += add_histories(plan.dep_moves, workspace, pins, options, jobs)
    _plan_packages(plan, chosen, versions, requirement_texts, project_dir)
    result.messages.extend(summary_lines(schedule, plan, options.dry_run))
    result.data.update(
        schedule=schedule,
        changed=plan.changed,
        dry_run=options.dry_run,
        deps=[move.to_dict() for move in plan.dep_moves],
        packages=[move.to_dict() for move in plan.package_moves],
    )
    return result, plan, verify


def write_plan(project_dir: Path, plan: RollPlan) -> None:
    """The requirements files, then both pin files (each written atomically)."""
    for path, text in plan.files.items():
        atomic_write(path, text)
    save_pin_files(project_dir, plan.pins)


def schedule_names(project_dir: Path) -> list[str]:
    """The schedules of the project's pin file (none when it has no pin file)."""
    pins = read_root_pins(project_dir, strict=False)[0]
    return sorted(pins.schedules) if pins is not None else []


def no_schedule_given(project_dir: Path) -> UsageError:
    """`roll` without a SCHEDULE: the one line names the ones there are."""
    known = ", ".join(schedule_names(project_dir)) or "none: add [schedules.NAME] tables"
    return UsageError(f"roll needs a SCHEDULE of {project_dir / PIN_FILE}", f"known: {known}")


def _schedule(pins: Pins, name: str, project_dir: Path) -> Schedule:
    if name not in pins.schedules:
        known = ", ".join(sorted(pins.schedules)) or "none: add [schedules.NAME] tables"
        raise UsageError(
            f"unknown schedule {name!r} in {project_dir / PIN_FILE}", f"known: {known}"
        )
    return pins.schedules[name]


def _read_requirements(project_dir: Path, schedule: Schedule) -> dict[Path, str]:
    """Every listed requirements file, read up front: a missing one fails before any lookup.

    Keys are the real files (`_requirements_path`), so writing them writes through links.
    """
    texts: dict[Path, str] = {}
    for rule in schedule.packages:
        for rel in rule.requirements:
            path = _requirements_path(project_dir, schedule, rel)
            if path not in texts:
                try:
                    texts[path] = path.read_bytes().decode("utf-8")
                except FileNotFoundError:
                    raise ConfigError(
                        project_dir / PIN_FILE,
                        f"requirements file not found: {rel}",
                        key=f"schedules.{schedule.name}.packages",
                        hint="create it or fix the path (relative to the project root)",
                    ) from None
    return texts


def _requirements_path(project_dir: Path, schedule: Schedule, rel: str) -> Path:
    """Refuse a file (or a link) that leads out of the repo or into .git: bad input."""
    try:
        return file_in_repo(project_dir, rel)
    except ValueError as err:
        raise ConfigError(
            project_dir / PIN_FILE,
            f"requirements file {err}",
            key=f"schedules.{schedule.name}.packages",
            hint="name a file of this repo, outside .git",
        ) from None


def _head_of(dep: Dep, stall: float) -> RepoOutcome:
    head = ls_remote_branch(dep.url, dep.branch, repo=dep.name, stall_timeout=stall)
    return RepoOutcome(name=dep.name, action="head", old=dep.rev, new=head)


def _latest_of(rule: PackageRule) -> RepoOutcome:
    choice = find_latest_version(rule.name, rule.index_url, rule.find_links, rule.pre)
    return RepoOutcome(name=rule.name, action="latest", new=choice.version, notes=[choice.source])


def _plan_deps(plan: RollPlan, heads: list[RepoOutcome]) -> None:
    for head in heads:
        if head.new == head.old or head.new is None or head.old is None:
            continue
        plan.pins = plan.pins.with_rev(head.name, head.new)
        plan.dep_moves.append(DepMove(head.name, head.old, head.new))


def _plan_packages(
    plan: RollPlan,
    schedule: Schedule,
    versions: list[RepoOutcome],
    texts: dict[Path, str],
    project_dir: Path,
) -> None:
    chosen = {o.name: o for o in versions}
    for rule in schedule.packages:
        version = chosen[rule.name].new or ""
        for rel in rule.requirements:
            path = _requirements_path(project_dir, schedule, rel)
            current = plan.files.get(path, texts[path])
            new_text, change = set_requirement_version(current, rule.name, version, str(path))
            if new_text == current:
                continue
            plan.files[path] = new_text
            plan.package_moves.append(
                PackageMove(rule.name, change.old, version, rel, change.appended)
            )


def summary_lines(schedule: str, plan: RollPlan, dry_run: bool) -> list[str]:
    """A commit message: title, blank line, one bullet per move."""
    if not plan.changed:
        return [f"roll {schedule}: nothing to change, every pin is current"]
    names = [move.name for move in plan.dep_moves]
    names += [move.name for move in plan.package_moves if move.name not in names]
    title = f"Roll {schedule}: {', '.join(names)}"
    lines = [f"(dry run: nothing written) {title}" if dry_run else title, ""]
    for move in plan.dep_moves:
        lines.extend(move_lines(move))
    for package in plan.package_moves:
        old = package.old or "(not pinned)"
        lines.append(f"- {package.name}: {old} -> {package.new} in {package.file}")
    return lines
