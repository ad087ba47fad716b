"""What a roll moves: each dep to its branch head, each package to its newest version.

Git deps go to the head of their branch (one `ls-remote` per dep, in parallel); Python
packages go to the newest acceptable version on their index, and the `NAME==VERSION` lines
of the listed requirements files follow. Everything is decided first; if any lookup
fails, nothing is written (a bot re-running later converges). The summary is written to
be pasted as a commit message: a title naming the schedule, one bullet per move.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from xla_tasks.errors import ConfigError, UsageError, XlaTasksError
from xla_tasks.fsutil import atomic_write, file_in_repo
from xla_tasks.gitrepo import ls_remote_branch
from xla_tasks.parallel import run_each
from xla_tasks.pins.model import NATIVE, Dep, PackageRule, Pins, Schedule
from xla_tasks.pins.native.edit import (
    DepValues,
    NativeEdit,
    apply_edit,
    new_texts,
    override_note,
    written_commit,
    written_files,
)
from xla_tasks.pins.native.model import NativePin
from xla_tasks.pins.project import read_root_pins, save_pin_files
from xla_tasks.pins.sync_deps_toml import PIN_FILE
from xla_tasks.roll.message import add_histories, move_lines
from xla_tasks.roll.moves import DepMove, PackageMove
from xla_tasks.roll.native_values import NativeValues, native_edit
from xla_tasks.roll.packages import find_latest_version
from xla_tasks.roll.requirements import set_requirement_version
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.project import project_name
from xla_tasks.workspace.registry import Workspace, start_pinning_hint, workspace_for_project
from xla_tasks.workspace.settings import GateOptions, TaskOptions

HEADS = "heads"  # the built-in schedule of a project without sync_deps.toml (contract 6.2)


@dataclass(slots=True)
class NativeRoll:
    """A roll of native pins: what computes their values, and the edit of the whole roll.

    The gated roll asks for the texts of subsets of the moves (`texts_for`), always from
    the texts the files held before the roll, whatever a try left on disk.
    """

    values: NativeValues
    edit: NativeEdit
    paths: list[Path]  # every text file a subset of the moves may write
    jobs: int

    def texts_for(
        self, commits: Mapping[str, str], old: Mapping[Path, str | None]
    ) -> dict[Path, str | None]:
        """The native files with only these deps at these commits (the rest as `old`)."""
        project_dir = self.values.project_dir
        texts: dict[Path, str | None] = {path: old[path] for path in self.paths}
        if not commits:
            return texts
        base = {
            path.relative_to(project_dir).as_posix(): text
            for path, text in old.items()
            if text is not None and path in texts
        }
        edit = native_edit(self.values, commits, self.jobs, base)[0]
        if edit.gitlinks:
            raise XlaTasksError("a gated roll cannot move submodules")  # refused before
        texts.update(new_texts(project_dir, edit))
        return texts


@dataclass(slots=True)
class RollPlan:
    """What the schedule would change: new pins and new requirements texts."""

    pins: Pins
    dep_moves: list[DepMove] = field(default_factory=list)
    package_moves: list[PackageMove] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)  # requirements path -> new text
    native: NativeRoll | None = None  # native pins: their edit (None for sync_deps.toml)

    @property
    def changed(self) -> bool:
        return bool(self.dep_moves or self.package_moves or self.files)


@dataclass(frozen=True, slots=True)
class ScheduleSource:
    """Where a project's schedules are written: its sync_deps.toml, or its registry entry."""

    path: Path
    key: str  # the table holding them: "schedules" or "repos.NAME.schedules"
    built_in: tuple[str, ...] = ()
    label: str = ""  # how messages name them, when not by the file alone

    def known(self, pins: Pins) -> str:
        names = [f"{n} (built in)" if n in self.built_in else n for n in sorted(pins.schedules)]
        return ", ".join(names) or f"none: add [{self.key}.NAME] tables to {self.path}"


def plan_roll(
    project_dir: Path, workspace: Workspace, schedule: str, options: TaskOptions, gate: GateOptions
) -> tuple[CommandResult, RollPlan | None, str | None]:
    """Decide every move (lookups in parallel): the result so far, the plan and the verify
    command; no plan when a lookup failed (the result names each failure)."""
    pins, source = project_pins(project_dir, workspace)
    chosen = _schedule(pins, schedule, source)
    verify = gate.command_for(chosen.verify, schedule)
    requirement_texts = _read_requirements(project_dir, chosen, source)
    jobs = options.jobs_for(workspace.jobs)
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
    if pins.source == NATIVE:
        _plan_native(plan, project_dir, workspace, options, jobs)
        notes = [override_note(move.name, pins.sites[move.name]) for move in plan.dep_moves]
        result.warnings += [note for note in notes if note]
    result.warnings += add_histories(plan.dep_moves, workspace, pins, options, jobs)
    _plan_packages(plan, chosen, versions, requirement_texts, project_dir, source)
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
    """The requirements files, then the pin files (each written atomically): both of ours,
    or the native files (and gitlinks staged)."""
    for path, text in plan.files.items():
        atomic_write(path, text)
    if plan.native is not None:
        apply_edit(project_dir, plan.native.edit)
    else:
        save_pin_files(project_dir, plan.pins)


def project_pins(
    project_dir: Path, workspace: Workspace, *, strict: bool = True
) -> tuple[Pins, ScheduleSource]:
    """The project's pins with their schedules, and where those are written.

    A project without sync_deps.toml takes its schedules from its registry entry, and
    always has `heads` (unless the entry defines one): every dep a file pins (not the
    submodules), to the head of its branch. `strict`: refuse a script another tool rewrote.
    """
    name = project_name(workspace, project_dir)
    pins = read_root_pins(project_dir, strict=strict, repos=workspace.catalog(), project=name)[0]
    if pins is None:
        raise XlaTasksError(
            f"{project_dir}: no {PIN_FILE}, legacy sync_deps.py or native pin file naming a "
            "registered repo",
            start_pinning_hint(project_dir),
        )
    if pins.source != NATIVE:
        return pins, ScheduleSource(project_dir / PIN_FILE, "schedules")
    where = workspace.file or Path(f"{name}'s preset entry")
    label = f"{name} (native pins; [repos.{name}.schedules] of {where})"
    source = ScheduleSource(where, f"repos.{name}.schedules", (HEADS,), label)
    entry = workspace.catalog().get(name)
    schedules = dict(entry.schedules) if entry is not None else {}
    for schedule in schedules.values():
        for dep in schedule.deps:
            if dep not in pins.deps:
                raise ConfigError(
                    where,
                    f"names {dep}, which {name} does not pin in its files",
                    key=f"{source.key}.{schedule.name}.deps",
                    hint=f"{name} pins: {', '.join(sorted(pins.deps)) or 'nothing registered'}",
                )
    in_files = [
        dep for dep, sites in pins.sites.items() if any(p.format != "gitlink" for p in sites)
    ]
    if HEADS in schedules:
        source = replace(source, built_in=())
    schedules.setdefault(HEADS, Schedule(HEADS, deps=tuple(in_files)))
    deps = {
        dep_name: replace(dep, rev=written_commit(pins.sites.get(dep_name, ())) or dep.rev)
        for dep_name, dep in pins.deps.items()
    }
    return replace(pins, deps=deps, schedules=schedules), source


def schedule_names(project_dir: Path) -> list[str]:
    """The project's schedules (none when it has no pins)."""
    try:
        pins = project_pins(project_dir, workspace_for_project(project_dir), strict=False)[0]
    except XlaTasksError:
        return []
    return sorted(pins.schedules)


def no_schedule_given(project_dir: Path, workspace: Workspace) -> UsageError:
    """`roll` without a SCHEDULE: the one line names the ones there are."""
    pins, source = project_pins(project_dir, workspace, strict=False)
    return UsageError(
        f"roll needs a SCHEDULE of {source.label or source.path}", f"known: {source.known(pins)}"
    )


def _schedule(pins: Pins, name: str, source: ScheduleSource) -> Schedule:
    if name not in pins.schedules:
        raise UsageError(
            f"unknown schedule {name!r} of {source.label or source.path}",
            f"known: {source.known(pins)}",
        )
    return pins.schedules[name]


def _plan_native(
    plan: RollPlan, project_dir: Path, workspace: Workspace, options: TaskOptions, jobs: int
) -> None:
    """The new texts of the native files (the new commits fetched into the deps' clones,
    hashes and dates computed); a dry run computes nothing and names the files."""
    values = NativeValues(project_dir, workspace, plan.pins, options, fetch=True)
    sites = plan.pins.sites
    paths = sorted(
        {project_dir / rel for move in plan.dep_moves for rel in written_files(sites[move.name])}
    )
    commits = {move.name: move.new for move in plan.dep_moves}
    if options.dry_run:
        edit = NativeEdit()
        found: dict[str, DepValues] = {}
    else:
        edit, found = native_edit(values, commits, jobs)
    plan.native = NativeRoll(values, edit, paths, jobs)
    for move in plan.dep_moves:
        places = sites[move.name]
        move.files = [*written_files(places), *_submodules(places)]
        move.downloaded = list(found[move.name].downloaded) if move.name in found else []


def refuse_gated_submodules(plan: RollPlan) -> None:
    """A gated roll restores files, not the index: a submodule's move is not gated (yet)."""
    moved = [f for move in plan.dep_moves for f in move.files if f.endswith(" (submodule)")]
    if moved:
        raise UsageError(
            f"roll --verify cannot gate the move of a submodule: {', '.join(moved)}",
            "roll it without --verify, or leave it out of the schedule",
        )


def _submodules(sites: Sequence[NativePin]) -> list[str]:
    return [f"{pin.file} (submodule)" for pin in sites if pin.format == "gitlink"]


def _read_requirements(
    project_dir: Path, schedule: Schedule, source: ScheduleSource
) -> dict[Path, str]:
    """Every listed requirements file, read up front: a missing one fails before any lookup.

    Keys are the real files (`_requirements_path`), so writing them writes through links.
    """
    texts: dict[Path, str] = {}
    for rule in schedule.packages:
        for rel in rule.requirements:
            path = _requirements_path(project_dir, schedule, rel, source)
            if path not in texts:
                try:
                    texts[path] = path.read_bytes().decode("utf-8")
                except FileNotFoundError:
                    raise ConfigError(
                        source.path,
                        f"requirements file not found: {rel}",
                        key=f"{source.key}.{schedule.name}.packages",
                        hint="create it or fix the path (relative to the project root)",
                    ) from None
    return texts


def _requirements_path(
    project_dir: Path, schedule: Schedule, rel: str, source: ScheduleSource
) -> Path:
    """Refuse a file (or a link) that leads out of the repo or into .git: bad input."""
    try:
        return file_in_repo(project_dir, rel)
    except ValueError as err:
        raise ConfigError(
            source.path,
            f"requirements file {err}",
            key=f"{source.key}.{schedule.name}.packages",
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
    source: ScheduleSource,
) -> None:
    chosen = {o.name: o for o in versions}
    for rule in schedule.packages:
        version = chosen[rule.name].new or ""
        for rel in rule.requirements:
            path = _requirements_path(project_dir, schedule, rel, source)
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
