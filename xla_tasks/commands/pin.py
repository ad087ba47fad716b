"""`pin`: record each dep's current HEAD in `sync_deps.toml` and regenerate `sync_deps.py`.

Everything is decided before anything is written: every dep's HEAD is read (and, with
`--require-upstream`, checked against a fresh `origin/<branch>`) first; if any dep fails,
neither file is touched. A project with only a legacy `sync_deps.py` is migrated: its
pins are parsed (never run), moved to the deps' HEADs, and both files are written.
`--check` is the CI gate: it compares text only, runs no git and writes nothing.
`--from-script`, `--from-toml` and `--import FILE` take the pins from a file instead of
the deps' HEADs (no git either): the two ways out when another tool rewrote `sync_deps.py`
(contract 5.7), and the way in from a west or vcstool manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xla_tasks.errors import UsageError, XlaTasksError
from xla_tasks.gitobjects import object_reader
from xla_tasks.gitrepo import GitRepo, is_repo_top
from xla_tasks.parallel import run_each
from xla_tasks.pins.migration import with_legacy_schedules, without_self
from xla_tasks.pins.model import NATIVE, Dep, Pins, Schedule
from xla_tasks.pins.native.edit import NativeEdit
from xla_tasks.pins.native.model import NativePin
from xla_tasks.pins.project import (
    check_pin_files,
    is_legacy_project,
    pin_files_differ,
    pins_from_script,
    read_root_pins,
    save_pin_files,
)
from xla_tasks.pins.sync_deps_script import SCRIPT_FILE
from xla_tasks.pins.sync_deps_toml import PIN_FILE, load_pin_file
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.lock import workspace_lock
from xla_tasks.workspace.project import find_project_dir, project_name
from xla_tasks.workspace.registry import Workspace, start_pinning_hint, workspace_for_project
from xla_tasks.workspace.settings import TaskOptions


@dataclass(frozen=True, slots=True)
class _Target:
    """A dep whose HEAD is to be recorded; `added` when `--add` starts pinning it."""

    dep: Dep
    path: Path
    added: bool = False
    fetch_hint: str = ""  # the command that puts a missing dep there, where the user stands


def pin(
    start: Path,
    options: TaskOptions,
    *,
    add: Sequence[str] = (),
    require_upstream: bool = False,
    check: bool = False,
    from_script: bool = False,
    from_toml: bool = False,
    import_file: str | None = None,
) -> CommandResult:
    """Pin the deps of the project around `start` at their HEADs (or only check, with --check)."""
    mode = _mode(check, from_script, from_toml, import_file)
    if mode and (add or require_upstream):
        what = "writes nothing" if mode == "--check" else "reads the pins from a file"
        raise UsageError(f"{mode} {what}; it cannot be combined with --add or --require-upstream")
    if check:
        return check_project(start)
    project_dir = find_project_dir(start)
    workspace = workspace_for_project(project_dir)
    with workspace_lock(workspace.root, "pin", options.lock_timeout, dry_run=options.dry_run):
        if mode:
            return _pin_from_file(project_dir, workspace, options, mode, import_file)
        return _pin(project_dir, workspace, options, list(add), require_upstream)


def _mode(check: bool, from_script: bool, from_toml: bool, import_file: str | None) -> str:
    """The one file-based mode asked for ("" for none); two at once is a usage error."""
    modes = [
        flag
        for flag, on in (
            ("--check", check),
            ("--from-script", from_script),
            ("--from-toml", from_toml),
            ("--import", bool(import_file)),
        )
        if on
    ]
    if len(modes) > 1:
        raise UsageError(f"{modes[0]} and {modes[1]} exclude each other", "give one of them")
    return modes[0] if modes else ""


def check_project(start: Path) -> CommandResult:
    """`pin --check`, for CI: no network, no write.

    With `sync_deps.toml` (or a script): is `sync_deps.py` exactly its rendering (no git),
    and do the project's native pin files agree? Without, native pins only: do the files
    agree, and is each `.tar.gz` hash that of its commit (built from a clone that has it)?
    """
    project_dir = find_project_dir_without_git(start)
    result = CommandResult(command="pin", data={"project": str(project_dir), "check": True})
    has_ours = (project_dir / PIN_FILE).is_file() or (project_dir / SCRIPT_FILE).is_file()
    workspace = workspace_for_project(project_dir)
    native = _native_sites(project_dir, workspace)
    reason = None
    if has_ours or not native:
        reason = check_pin_files(project_dir, start_pinning_hint(project_dir))
        if reason is None:
            result.messages.append(f"{project_dir / SCRIPT_FILE} is up to date with {PIN_FILE}")
    if native:
        _check_native(result, project_dir, workspace, native, hashes=not has_ours)
    if result.problems:
        result.problems[:0] = [reason] if reason else []
        result.failed_check = f"check failed: {len(result.problems)} problem(s), listed above"
    elif reason:
        result.failed_check = reason
    return result


def _native_sites(project_dir: Path, workspace: Workspace) -> dict[str, tuple[NativePin, ...]]:
    """The project's native pins of registered repos, by dep, even where files disagree."""
    from xla_tasks.pins.native_deps import read_native_deps

    name = project_name(workspace, project_dir)
    found = read_native_deps(project_dir, workspace.catalog(), project=name, agree=False)
    return dict(found.sites) if found is not None else {}


def _check_native(
    result: CommandResult,
    project_dir: Path,
    workspace: Workspace,
    sites: dict[str, tuple[NativePin, ...]],
    *,
    hashes: bool,
) -> None:
    """Agreement (and, with `hashes`, the .tar.gz hashes): problems, and what was checked."""
    from xla_tasks.pins.native.check import check_native_pins

    report = check_native_pins(project_dir, sites, workspace.path_of, hashes=hashes)
    result.problems.extend(report.problems)
    result.messages.extend([*report.checked, *report.not_checked])
    result.data.update(
        native_deps=sorted(sites), hashes_checked=report.checked, not_checked=report.not_checked
    )
    if not report.problems:
        files = sorted({pin.file for found in sites.values() for pin in found})
        result.messages.append(f"native pins agree: {len(sites)} dep(s) in {', '.join(files)}")


def find_project_dir_without_git(start: Path) -> Path:
    """The nearest folder at or above `start` with `.git` or a pin file (for --check: no git)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if any((folder / name).exists() for name in (".git", PIN_FILE, SCRIPT_FILE)):
            return folder
    raise XlaTasksError(
        f"{start} is not inside a project",
        f"run this in the project checkout that holds {PIN_FILE}",
    )


def _pin(
    project_dir: Path,
    workspace: Workspace,
    options: TaskOptions,
    add: list[str],
    require_upstream: bool,
) -> CommandResult:
    name = project_name(workspace, project_dir)
    found = read_root_pins(project_dir, repos=workspace.catalog(), project=name, agree=False)[0]
    if found is not None and found.source == NATIVE and found.deps:
        return _pin_native(project_dir, workspace, options, found, add, require_upstream)
    result = CommandResult(command="pin", data={"project": str(project_dir)})
    migrated = is_legacy_project(project_dir)
    pins = found if found is not None and found.source != NATIVE else Pins()
    if migrated:
        pins = _drop_self(result, workspace, project_dir, pins)
    targets = _targets(project_dir, workspace, pins, add)
    jobs = options.jobs_for(workspace.jobs)
    outcomes = _read_heads(result, targets, require_upstream, jobs, f"{PIN_FILE} and {SCRIPT_FILE}")
    if outcomes is None:
        return result
    new_pins = _with_heads(pins, targets, outcomes)
    if migrated:
        new_pins = _add_legacy_schedules(result, workspace, project_dir, new_pins)
    changes = [o for o in outcomes if o.old != o.new]
    result.outcomes = changes
    _describe(result, project_dir, new_pins, changes, migrated, options.dry_run)
    return result


def _pin_native(
    project_dir: Path,
    workspace: Workspace,
    options: TaskOptions,
    pins: Pins,
    add: list[str],
    require_upstream: bool,
) -> CommandResult:
    """Each dep's HEAD into every file that pins it (commit, hash, date), files that
    disagreed included; all values computed first, then each file written atomically."""
    from xla_tasks.pins.native.edit import apply_edit, written_commit, written_sites
    from xla_tasks.roll.native_values import NativeValues, native_edit

    refused = [name for name in add if name not in pins.deps]
    if refused:
        raise _add_refused(project_dir, workspace, pins, refused[0])
    result = CommandResult(command="pin", data={"project": str(project_dir), "source": NATIVE})
    targets = [
        _Target(
            replace(dep, rev=written_commit(pins.sites.get(name, ())) or dep.rev),
            workspace.path_of(name),
            fetch_hint=_fetch_hint(workspace, name),
        )
        for name, dep in sorted(pins.deps.items())
    ]
    files = sorted({pin.file for sites in pins.sites.values() for pin in written_sites(sites)})
    jobs = options.jobs_for(workspace.jobs)
    outcomes = _read_heads(result, targets, require_upstream, jobs, ", ".join(files))
    if outcomes is None:
        return result
    resolver = NativeValues(project_dir, workspace, pins, options, fetch=False)
    heads = {outcome.name: outcome.new or "" for outcome in outcomes}
    edit, values = native_edit(resolver, heads, jobs)
    changes = [outcome for outcome in outcomes if outcome.old != outcome.new]
    result.outcomes = changes
    for name in sorted(pins.deps):
        result.messages.extend(_native_notes(pins, name, values[name].downloaded))
    result.messages.append(_native_summary(edit, len(changes), len(pins.deps), files, options))
    if edit.changed and not options.dry_run:
        apply_edit(project_dir, edit)
    result.data.update(
        changes=[
            {**_change_data(outcome), "files": _files_of(pins, outcome.name, edit.shown())}
            for outcome in changes
        ],
        migrated=False,
        dry_run=options.dry_run,
        files=edit.files,
        submodules=sorted(edit.gitlinks),
        written=edit.changed and not options.dry_run,
        downloaded=[
            {"name": name, "url": url} for name in sorted(values) for url in values[name].downloaded
        ],
    )
    return result


def _native_summary(
    edit: NativeEdit, moved: int, deps: int, files: list[str], options: TaskOptions
) -> str:
    """`N pin(s) moved; wrote FILES; staged PATH (submodule) ...`, or why nothing moved."""
    verb, staged = ("would write", "would stage") if options.dry_run else ("wrote", "staged")
    done = [f"{verb} {', '.join(edit.files)}"] if edit.texts else []
    if edit.gitlinks:
        links = ", ".join(f"{path} (submodule)" for path in sorted(edit.gitlinks))
        done.append(f"{staged} {links} in the index, not committed")
    if not edit.changed:
        return f"nothing changed: {deps} dep(s) already pinned at HEAD in {', '.join(files)}"
    if moved:
        return f"{moved} pin(s) moved; {'; '.join(done)}"
    return f"no pin moved; {'; '.join(done)}: a hash or date there did not match the commit"


def _files_of(pins: Pins, name: str, shown: list[str]) -> list[str]:
    """The files (and submodules) of `shown` that pin `name`."""
    mine = {pin.file for pin in pins.sites.get(name, ())}
    return [entry for entry in shown if entry.removesuffix(" (submodule)") in mine]


def _native_notes(pins: Pins, name: str, downloaded: Sequence[str]) -> list[str]:
    """What the user must know about one dep's files beyond its move."""
    from xla_tasks.pins.native.edit import override_note, written_sites

    sites = pins.sites.get(name, ())
    notes = [
        f"{name}: the .zip hash was downloaded from {url} (it cannot be rebuilt locally)"
        for url in downloaded
    ]
    commits = {pin.commit for pin in written_sites(sites) if pin.commit}
    if len(commits) > 1:
        shown = ", ".join(f"{pin.file} {(pin.commit or '')[:12]}" for pin in written_sites(sites))
        notes.append(f"{name}: its files disagreed ({shown}); they now agree")
    override = override_note(name, sites)
    return [*notes, override] if override else notes


def _add_refused(project_dir: Path, workspace: Workspace, pins: Pins, name: str) -> UsageError:
    """`pin --add` where the pins live in the project's own files: say which file takes it."""
    sites = [pin for found in pins.sites.values() for pin in found]
    spec = workspace.catalog().get(name)
    url = spec.url if spec else "URL"
    if sites and all(pin.format == "gitlink" for pin in sites):
        where = f"a submodule: `git submodule add {url} third_party/{name}`"
    elif any(pin.file.startswith("third_party/") or pin.file == "MODULE.bazel" for pin in sites):
        where = (
            f"third_party/{name}/workspace.bzl (a {name.upper().replace('-', '_')}_COMMIT "
            f"constant and the archive of {url} that uses it)"
        )
        if any(pin.file == "MODULE.bazel" for pin in sites):
            where += " and MODULE.bazel (an archive_override)"
    else:
        where = ", ".join(sorted({pin.file for pin in sites}))
    return UsageError(
        f"{project_dir.name} pins its deps in its own files, not in {PIN_FILE}: "
        f"add the pin of {name} to {where}",
        "then run `xla-tasks pin` to record its HEAD there",
    )


def _drop_self(result: CommandResult, workspace: Workspace, project_dir: Path, pins: Pins) -> Pins:
    """Old files may pin the project itself (iree's did): sync never applies that pin."""
    name = project_name(workspace, project_dir)
    new_pins, dropped = without_self(name, pins)
    if dropped:
        result.messages.append(
            f"dropped the pin of {name} itself from {SCRIPT_FILE}: a project is never its own dep"
        )
    return new_pins


def _add_legacy_schedules(
    result: CommandResult, workspace: Workspace, project_dir: Path, pins: Pins
) -> Pins:
    """On migration, the rolling schedules openxla-workspace had for this project."""
    name = project_name(workspace, project_dir)
    new_pins, added = with_legacy_schedules(name, project_dir, pins)
    if added:
        result.messages.append(
            f"added schedule(s) {', '.join(added)}: what openxla-workspace rolled for {name}"
        )
    result.data["schedules_added"] = added
    return new_pins


def _pin_from_file(
    project_dir: Path,
    workspace: Workspace,
    options: TaskOptions,
    mode: str,
    import_file: str | None,
) -> CommandResult:
    """`--from-script`, `--from-toml`, `--import FILE`: new pins from a file, no git run."""
    result = CommandResult(command="pin", data={"project": str(project_dir), "source": mode})
    toml_path = project_dir / PIN_FILE
    old = load_pin_file(toml_path) if toml_path.is_file() else None
    if mode == "--from-toml":
        if old is None:
            script_there = (project_dir / SCRIPT_FILE).is_file()
            raise XlaTasksError(
                f"{toml_path}: file not found; --from-toml has nothing to regenerate from",
                f"take {SCRIPT_FILE}'s pins with `xla-tasks pin --from-script`"
                if script_there
                else start_pinning_hint(project_dir),
            )
        new_pins = old
    elif mode == "--from-script":
        if not (project_dir / SCRIPT_FILE).is_file():
            raise XlaTasksError(
                f"{project_dir / SCRIPT_FILE}: file not found; --from-script has nothing to read",
                "regenerate it from the TOML with `xla-tasks pin --from-toml`"
                if old is not None
                else start_pinning_hint(project_dir),
            )
        new_pins = pins_from_script(project_dir)
    else:
        from xla_tasks.pins.manifests import import_manifest

        manifest = Path(import_file or "")
        imported = import_manifest(manifest if manifest.is_absolute() else Path.cwd() / manifest)
        new_pins = Pins(deps={**(old or Pins()).deps, **imported.deps}, schedules=_schedules(old))
        result.messages.append(f"imported {len(imported.deps)} dep(s) from {import_file}")
    if mode != "--from-toml":
        new_pins = _drop_self(result, workspace, project_dir, new_pins)
    migrated = old is None and mode == "--from-script"
    if old is None:
        new_pins = _add_legacy_schedules(result, workspace, project_dir, new_pins)
    result.outcomes = _moves(old or Pins(), new_pins)
    _describe(result, project_dir, new_pins, result.outcomes, migrated, options.dry_run)
    return result


def _schedules(pins: Pins | None) -> dict[str, Schedule]:
    return dict(pins.schedules) if pins else {}


def _moves(old: Pins, new: Pins) -> list[RepoOutcome]:
    """One outcome per dep whose commit the new pins change, add or drop."""
    outcomes = []
    for name in sorted(set(old.deps) | set(new.deps)):
        before, after = old.deps.get(name), new.deps.get(name)
        if before is None or after is None or before.rev != after.rev:
            outcome = RepoOutcome(name, old=before.rev if before else None)
            outcome.new = after.rev if after else None
            outcome.action = "added" if before is None else ("dropped" if after is None else "")
            outcomes.append(outcome)
    return outcomes


def _targets(project_dir: Path, workspace: Workspace, pins: Pins, add: list[str]) -> list[_Target]:
    """The pinned deps plus the `--add`ed ones (registered, not the project itself)."""
    targets = {
        name: _Target(dep, workspace.path_of(name), fetch_hint=_fetch_hint(workspace, name))
        for name, dep in sorted(pins.deps.items())
    }
    for name in add:
        spec = workspace.require(name)
        path = workspace.path_of(name)
        if path.resolve() == project_dir.resolve():
            raise UsageError(f"{name} is this project; a project cannot pin itself")
        if name not in targets:
            dep = Dep(name, rev="", url=spec.url, branch=spec.branch, submodules=spec.submodules)
            targets[name] = _Target(dep, path, True, _fetch_hint(workspace, name))
    if not targets:
        raise XlaTasksError(
            f"nothing to pin: {project_dir} has no {PIN_FILE}", start_pinning_hint(project_dir)
        )
    return [targets[name] for name in sorted(targets)]


def _fetch_hint(workspace: Workspace, name: str) -> str:
    """`checkout NAME` needs a registry that knows NAME; `sync` clones any pinned dep."""
    if workspace.file is not None and name in workspace.repos:
        return f"xla-tasks checkout {name}"
    return "xla-tasks sync"


def _read_heads(
    result: CommandResult, targets: list[_Target], require_upstream: bool, jobs: int, files: str
) -> list[RepoOutcome] | None:
    """Every target's HEAD, in parallel (`_record`), its warnings in name order on `result`;
    None when one failed: then `result` lists the failures and says `files` were left."""
    warnings: dict[str, str] = {}
    outcomes = run_each(
        targets,
        lambda target: _record(target, require_upstream, warnings),
        lambda target: target.dep.name,
        jobs,
    )
    result.warnings.extend(warnings[name] for name in sorted(warnings))
    failed = [outcome for outcome in outcomes if outcome.failed]
    if failed:
        result.outcomes = failed
        result.messages.append(f"nothing written: {files} left as they were")
        return None
    return outcomes


def _record(target: _Target, require_upstream: bool, warnings: dict[str, str]) -> RepoOutcome:
    """Read one dep's HEAD (and check it is upstream); errors stay on this dep's outcome."""
    name, path = target.dep.name, target.path
    outcome = RepoOutcome(name=name, path=str(path), old=target.dep.rev or None)
    if not path.is_dir():
        outcome.error = f"{name}: not checked out at {path} (run `{target.fetch_hint}`)"
        return outcome
    if not is_repo_top(path):
        outcome.error = f"{name}: {path} is not the top of a git repository"
        return outcome
    repo = GitRepo(path, name)
    state = repo.state()
    if state.head is None:
        outcome.error = f"{name}: has no commit to pin at {path}"
        return outcome
    if state.changed:
        shown = ", ".join(state.changed[:5]) + (" ..." if len(state.changed) > 5 else "")
        warnings[name] = f"{name}: has uncommitted changes ({shown}); they are not pinned"
    if require_upstream:
        problem = _not_upstream(repo, state.head, target.dep.branch)
        if problem:
            outcome.error = problem
            return outcome
    outcome.new = state.head
    outcome.action = "added" if target.added else ""
    if outcome.old != outcome.new:
        with object_reader(path, name) as objects:
            commit = objects.commit(state.head)
        outcome.notes.append(f"{commit.date} {commit.subject}")
    return outcome


def _not_upstream(repo: GitRepo, head: str, branch: str) -> str | None:
    """Why `head` is not on a freshly fetched `origin/<branch>`, or None when it is."""
    url = repo.remotes().get("origin")
    if url is None:
        return f"{repo.name}: has no remote 'origin' to check {head[:12]} against"
    tracking = f"refs/remotes/origin/{branch}"
    repo.fetch("origin", f"+refs/heads/{branch}:{tracking}", url_for_errors=url)
    if not repo.is_ancestor(head, tracking):
        return (
            f"{repo.name}: HEAD {head[:12]} is not on origin/{branch} ({url}); "
            "push it first, or pin without --require-upstream"
        )
    return None


def _with_heads(pins: Pins, targets: list[_Target], outcomes: list[RepoOutcome]) -> Pins:
    """`pins` with every target at the HEAD just read (added deps joining with it)."""
    new_pins = pins
    for target, outcome in zip(targets, outcomes, strict=True):
        new_pins = new_pins.with_dep(replace(target.dep, rev=outcome.new or target.dep.rev))
    return new_pins


def _describe(
    result: CommandResult,
    project_dir: Path,
    new_pins: Pins,
    changes: list[RepoOutcome],
    migrated: bool,
    dry_run: bool,
) -> None:
    """Write the files unless dry-running, and say what moved (or that nothing did)."""
    stale = pin_files_differ(project_dir, new_pins)
    result.data.update(
        changes=[_change_data(outcome) for outcome in changes],
        migrated=migrated,
        dry_run=dry_run,
        files=stale,
        written=bool(stale) and not dry_run,
    )
    if not stale:
        result.messages.append(
            f"nothing changed: {len(new_pins.deps)} dep(s) already pinned at HEAD"
        )
        return
    if not dry_run:
        save_pin_files(project_dir, new_pins)
    verb = "would write" if dry_run else "wrote"
    files = " and ".join(stale)
    if migrated:
        result.messages.append(
            f"migrated legacy {SCRIPT_FILE} to {PIN_FILE}"
            + (" (dry run: nothing written)" if dry_run else f"; regenerated {SCRIPT_FILE}")
        )
    elif not changes:
        result.messages.append(f"no pin moved; {verb} {files}")
    else:
        result.messages.append(f"{len(changes)} pin(s) moved; {verb} {files}")


def _change_data(outcome: RepoOutcome) -> dict[str, Any]:
    date, _, subject = (outcome.notes[0] if outcome.notes else "").partition(" ")
    return {
        "name": outcome.name,
        "old": outcome.old,
        "new": outcome.new,
        "added": outcome.action == "added",
        "date": date,
        "subject": subject,
    }
