"""`roll SCHEDULE --verify CMD`: roll only what the build and tests pass with (contract 5.6).

A try puts a set of moves in the work tree (requirements, both pin files), syncs the deps
to them in-process (`roll` holds the workspace lock throughout and lends it to that sync:
`lock.lock_lent_to_nested`) and runs CMD with `sh -c` in the project directory.
`roll.search` decides which sets to try; this module makes each try real, logs it, and
settles the end state: the set found is written and synced, or, on Ctrl-C, SIGTERM or a
crash, the old files are put back and the deps re-synced to them (`finally`; SIGTERM
arrives as `ui.exits.Terminated`, a KeyboardInterrupt, from the handlers every task
installs, and so ends with exit 143). A SIGKILL is undone by the next `roll` (`roll.journal`).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xla_tasks.errors import XlaTasksError
from xla_tasks.fsutil import file_in_repo
from xla_tasks.gitobjects import object_reader
from xla_tasks.gitrepo import GitRepo, is_repo_top
from xla_tasks.pins.model import Dep, Pins
from xla_tasks.pins.project import render_for
from xla_tasks.pins.sync_deps_script import SCRIPT_FILE
from xla_tasks.pins.sync_deps_toml import PIN_FILE, dump_pins
from xla_tasks.roll.journal import TrialFiles
from xla_tasks.roll.message import compare_url
from xla_tasks.roll.moves import DepMove, PackageMove
from xla_tasks.roll.plan import RollPlan, summary_lines
from xla_tasks.roll.requirements import set_requirement_version
from xla_tasks.roll.search import Culprit, Item, Moves, SearchResult, find_passing_set
from xla_tasks.shell import cap_in_place, run_shell, tail_lines
from xla_tasks.ui.report import failure_lines, outcome_line
from xla_tasks.ui.results import CommandResult
from xla_tasks.workspace.lock import lock_lent_to_nested
from xla_tasks.workspace.registry import Workspace
from xla_tasks.workspace.settings import GateOptions, TaskOptions
from xla_tasks.workspace.syncing import sync_project as sync

LOG_DIR = Path(".xla-tasks") / "roll-logs"
TAIL_LINES = 20
# Bounded disk: each try's CMD output is kept to its first and last 2 MiB, and only the
# last KEEP_LOG_RUNS gated rolls' log folders are kept (older ones are removed at the start
# of a new one). A nightly bot rolling for a year stays at a few hundred MB at most.
TRY_LOG_LIMIT = 4 * 1024 * 1024
KEEP_LOG_RUNS = 10
_LOG_RUN = re.compile(r".+-\d{8}T\d{6}Z(-\d+)?")
_TRY_LOG = re.compile(r"try-\d+\.log")


@dataclass(slots=True)
class TryRecord:
    """One try: the moves it made, whether CMD passed, why not, and where its log is."""

    number: int
    moves: Moves
    passed: bool
    reason: str
    log: Path
    tail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "moves": dict(self.moves),
            "passed": self.passed,
            "reason": self.reason,
            "log": str(self.log),
        }


@dataclass(slots=True)
class GateRun:
    """Everything one gated roll needs; `current` is what the files and deps hold now."""

    project_dir: Path
    workspace: Workspace
    schedule: str
    command: str
    gate: GateOptions
    options: TaskOptions
    plan: RollPlan
    log_dir: Path = Path()
    files: TrialFiles = field(init=False)
    tries: list[TryRecord] = field(default_factory=list)
    current: Moves | None = None  # None: unknown (before the first try, or mid-write)
    bisect_notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """The files a try may rewrite, with their texts now (the old state to come back to)."""
        paths = sorted(self.plan.files)
        if self.plan.native is not None:
            paths += self.plan.native.paths
        else:
            paths += [self.project_dir / PIN_FILE, self.project_dir / SCRIPT_FILE]
        self.files = TrialFiles(self.workspace.root, self.project_dir, paths)

    def old_of(self, name: str) -> str:
        moves: list[DepMove | PackageMove] = [*self.plan.dep_moves, *self.plan.package_moves]
        for move in moves:
            if move.name == name:
                return move.old or "(not pinned)"
        return ""


def gated_roll(run: GateRun, result: CommandResult) -> CommandResult:
    """Search for the largest passing set of moves, write it (or nothing), report it."""
    run.log_dir = _new_log_dir(run.workspace.root, run.schedule)
    settled = False
    with lock_lent_to_nested(run.workspace.root):  # roll holds it; each try's sync runs inside
        try:
            search = find_passing_set(
                _items(run.plan),
                lambda moves: _try(run, moves),
                max_tries=run.gate.max_tries,
                steps=(lambda name: _steps(run, name)) if run.gate.bisect else None,
            )
            _settle(run, {} if search.base_broken else search.kept, result)
            settled = True
        finally:
            if not settled:
                _settle(run, {}, CommandResult(command="roll"))  # old files, deps re-synced
            run.files.close()
    return _report(run, search, result)


def _items(plan: RollPlan) -> list[Item]:
    """Deps in schedule order, then packages (one item per package, whatever its files)."""
    items = [Item(move.name, move.new) for move in plan.dep_moves]
    for package in plan.package_moves:
        if all(item.name != package.name for item in items):
            items.append(Item(package.name, package.new))
    return items


def _pins_for(plan: RollPlan, moves: Mapping[str, str]) -> Pins:
    pins = plan.pins
    for move in plan.dep_moves:
        pins = pins.with_rev(move.name, moves.get(move.name, move.old))
    return pins


def _texts_for(run: GateRun, moves: Mapping[str, str]) -> dict[Path, str | None]:
    """Requirements with only these packages moved, then `sync_deps.toml` and `sync_deps.py`
    (or the native pin files, with only these deps moved: hashes and dates computed anew for
    a bisected commit).

    Nothing moved is the files exactly as they were (a missing `sync_deps.py` stays missing).
    """
    if not moves:
        return dict(run.files.old)
    texts: dict[Path, str | None] = {}
    for path in sorted(run.plan.files):
        text = run.files.old[path] or ""
        for package in run.plan.package_moves:
            name = package.name
            if name in moves and file_in_repo(run.project_dir, package.file) == path:
                text = set_requirement_version(text, name, moves[name], str(path))[0]
        texts[path] = text
    if run.plan.native is not None:
        deps = {move.name for move in run.plan.dep_moves}
        commits = {name: sha for name, sha in moves.items() if name in deps}
        texts.update(run.plan.native.texts_for(commits, run.files.old))
        return texts
    pins = _pins_for(run.plan, moves)
    texts[run.project_dir / PIN_FILE] = dump_pins(pins)
    texts[run.project_dir / SCRIPT_FILE] = render_for(pins)
    return texts


def _put_in_place(run: GateRun, moves: Mapping[str, str]) -> CommandResult:
    """Write the files for `moves` and sync the deps to them."""
    run.current = None
    run.files.write(_texts_for(run, moves))
    synced = sync(run.project_dir, run.options, workspace=run.workspace)
    run.current = dict(moves)
    return synced


def _settle(run: GateRun, moves: Moves, result: CommandResult) -> None:
    """End on `moves`: written and synced (skipped when the last try left exactly that)."""
    if moves == run.current:
        return
    synced = _put_in_place(run, moves)
    result.outcomes.extend(o for o in synced.outcomes if o.failed)


def _try(run: GateRun, moves: Mapping[str, str]) -> bool:
    """One try: put the moves in place, sync, run CMD; log everything to try-N.log."""
    number = len(run.tries) + 1
    log = run.log_dir / f"try-{number}.log"
    with log.open("a+b") as out:  # O_APPEND: our lines and CMD's interleave, never overwrite
        out.write(_log_header(run, number, moves).encode())
        synced = _put_in_place(run, moves)
        out.write(_sync_lines(synced).encode())
        if not synced.ok:
            reason = "sync failed: " + "; ".join(o.error or "" for o in synced.outcomes if o.failed)
            run.tries.append(
                TryRecord(number, dict(moves), False, reason, log, failure_lines(synced))
            )
            return False
        out.write(f"$ sh -c {run.command!r}  (in {run.project_dir})\n".encode())
        start = out.seek(0, os.SEEK_END)
        shell = run_shell(run.command, run.project_dir, out, run.gate.verify_timeout)
        cap_in_place(out, start, TRY_LOG_LIMIT)
        out.flush()
        tail = [] if shell.passed else tail_lines(log, start, TAIL_LINES)
        reason = _shell_reason(shell.code, shell.timed_out, run.gate.verify_timeout)
        out.write(f"\n# {reason}\n".encode())
    run.tries.append(TryRecord(number, dict(moves), shell.passed, reason, log, tail))
    return shell.passed


def _log_header(run: GateRun, number: int, moves: Mapping[str, str]) -> str:
    moved = "; ".join(
        f"{name} {run.old_of(name)[:12]} -> {value[:12]}" for name, value in moves.items()
    )
    return (
        f"# xla-tasks roll {run.schedule} --verify: try {number}\n"
        f"# moves: {moved or 'nothing moved (the old pins)'}\n"
    )


def _sync_lines(synced: CommandResult) -> str:
    lines = [*synced.messages, *(outcome_line(o) for o in synced.outcomes if not o.failed)]
    return "".join(f"# sync: {line}\n" for line in lines + failure_lines(synced))


def _shell_reason(code: int | None, timed_out: bool, timeout: float | None) -> str:
    if timed_out:
        return f"verify timed out after {timeout:g} s"
    if code == 0:
        return "verify passed"
    if code is not None and code < 0:
        return f"verify killed by signal {-code}"
    return f"verify exited {code}"


def _steps(run: GateRun, name: str) -> list[str]:
    """A culprit dep's first-parent commits old..new, oldest first (fetched when absent)."""
    move = next((m for m in run.plan.dep_moves if m.name == name), None)
    path = run.workspace.path_of(name)
    if move is None or not is_repo_top(path):
        return []
    old, new = move.old, move.new
    repo = GitRepo(path, name)
    why = None
    try:
        why = _unbisectable(repo, run.plan.pins.deps[name], old, new)
        if why is None:
            return repo.first_parent_commits(old, new)
    except XlaTasksError as err:
        why = str(err)
    run.bisect_notes[name] = f"not bisected: {why}"
    return []


def _unbisectable(repo: GitRepo, dep: Dep, old: str, new: str) -> str | None:
    """Why the history old..new cannot be walked here, after fetching what is missing."""
    if repo.try_git("rev-parse", "--is-shallow-repository")[1].strip() == "true":
        return "its clone is shallow (use history = full or blobless)"
    for sha in (old, new):
        if not repo.has_commit(sha):
            repo.fetch(dep.url, f"+refs/heads/{dep.branch}:refs/remotes/xla-tasks/{dep.branch}")
    if not (repo.has_commit(old) and repo.has_commit(new)):
        return f"{old[:12]} or {new[:12]} is not on {dep.branch}"
    if not repo.is_ancestor(old, new):
        return "the old pin is not an ancestor of the new one"
    return None


def _new_log_dir(root: Path, schedule: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = root / LOG_DIR
    base.mkdir(parents=True, exist_ok=True)
    _prune_logs(base, KEEP_LOG_RUNS - 1)
    for suffix in ["", *(f"-{n}" for n in range(2, 1000))]:
        path = base / f"{schedule}-{stamp}{suffix}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise XlaTasksError(f"{base}: cannot make a new log folder", "remove old roll logs")


def _prune_logs(base: Path, keep: int) -> None:
    """Remove all but the newest `keep` log folders of earlier gated rolls. Only folders
    that are ours are touched (a run's name, real folders holding nothing but try logs):
    anything a user put there stays."""
    runs = []
    for entry in base.iterdir():
        if entry.is_symlink() or not entry.is_dir() or not _LOG_RUN.fullmatch(entry.name):
            continue
        try:
            if all(_TRY_LOG.fullmatch(f.name) and f.is_file() for f in entry.iterdir()):
                runs.append((entry.stat().st_mtime, entry.name, entry))
        except OSError:
            continue
    for _, _, entry in sorted(runs, reverse=True)[keep:]:
        shutil.rmtree(entry, ignore_errors=True)


# -- the report ---------------------------------------------------------------------------


def _report(run: GateRun, search: SearchResult, result: CommandResult) -> CommandResult:
    tries = f"{len(run.tries)} tr{'y' if len(run.tries) == 1 else 'ies'}"
    footer = f"Verified with `{run.command}`: {tries}, logs in {run.log_dir}"
    held = [_held_dict(run, culprit, search.kept) for culprit in search.held_back]
    result.data.update(
        verify=run.command,
        log_dir=str(run.log_dir),
        tries=[record.to_dict() for record in run.tries],
        held_back=held,
        base_broken=search.base_broken,
    )
    if search.base_broken:
        return _base_broken(run, result, footer)
    kept = _kept_plan(run, search.kept)
    result.data.update(
        changed=kept.changed,
        deps=[move.to_dict() for move in kept.dep_moves],
        packages=[move.to_dict() for move in kept.package_moves],
    )
    if kept.changed:
        result.messages = summary_lines(run.schedule, kept, False)
    else:
        result.messages = [f"roll {run.schedule}: nothing rolled, every move was held back"]
    if held:
        result.messages += ["", "Held back (the verify command failed with them):"]
        for entry in held:
            result.messages += _held_lines(entry)
    result.messages += ["", footer]
    return result


def _base_broken(run: GateRun, result: CommandResult, footer: str) -> CommandResult:
    base = run.tries[-1]
    result.messages = [
        f"roll {run.schedule}: base is broken: `{run.command}` fails with nothing moved "
        f"({base.reason}, {base.log}); nothing written",
        *(f"    {line}" for line in base.tail),
        "",
        footer,
    ]
    result.failed_check = f"base is broken: {base.reason} with nothing moved; nothing written"
    return result


def _kept_plan(run: GateRun, kept: Moves) -> RollPlan:
    """The roll's plan cut down to the kept moves (a bisected dep at the commit it kept)."""
    deps = [
        _dep_move_at(run, move, kept[move.name]) for move in run.plan.dep_moves if move.name in kept
    ]
    packages = [move for move in run.plan.package_moves if move.name in kept]
    old = run.files.old
    texts = _texts_for(run, kept)
    files = {p: t or "" for p, t in texts.items() if p in run.plan.files and t != old[p]}
    return RollPlan(
        pins=_pins_for(run.plan, kept), dep_moves=deps, package_moves=packages, files=files
    )


def _dep_move_at(run: GateRun, move: DepMove, rev: str) -> DepMove:
    """The move cut at `rev` (bisected): its count, log and compare link end there too."""
    if rev == move.new:
        return move
    repo = GitRepo(run.workspace.path_of(move.name), move.name)
    native = run.plan.native
    return DepMove(
        move.name,
        move.old,
        rev,
        commits=repo.count_commits(move.old, rev),
        log=[(sha, subject) for sha, subject in move.log if repo.is_ancestor(sha, rev)],
        compare=compare_url(run.plan.pins.deps[move.name].url, move.old, rev)
        if move.compare
        else None,
        files=move.files,
        downloaded=list(native.values.values(move.name, rev).downloaded) if native else [],
    )


def _held_dict(run: GateRun, culprit: Culprit, kept: Moves) -> dict[str, Any]:
    record = run.tries[culprit.try_number - 1] if culprit.try_number else None
    is_dep = any(move.name == culprit.name for move in run.plan.dep_moves)
    return {
        "name": culprit.name,
        "kind": "dep" if is_dep else "package",
        "old": run.old_of(culprit.name),
        "new": next(i.new for i in _items(run.plan) if i.name == culprit.name),
        "reason": record.reason if record else culprit.note or "not tried",
        "failed_with": culprit.failed_with if record else None,
        "first_bad": culprit.first_bad,
        "subject": _subject(run, culprit.name, culprit.first_bad) if is_dep else None,
        "rolled_to": kept.get(culprit.name),
        "note": run.bisect_notes.get(culprit.name, culprit.note),
        "log": str(record.log) if record else None,
        "tail": record.tail if record else [],
    }


def _subject(run: GateRun, name: str, sha: str | None) -> str | None:
    if sha is None:
        return None
    with object_reader(run.workspace.path_of(name), name) as objects:
        return objects.commit(sha).subject


def _held_lines(entry: Mapping[str, Any]) -> list[str]:
    """`- NAME: OLD..NEW: why [try-N.log]`, then the tail of CMD's output, indented."""
    if entry["kind"] == "dep":
        line = f"- {entry['name']}: {_short(entry['old'])}..{_short(entry['new'])}: "
        if entry["first_bad"]:
            line += f"first bad commit {_short(entry['first_bad'])} ({entry['subject']}), "
        elif entry["failed_with"] and entry["failed_with"] != entry["new"]:
            line += f"at {_short(entry['failed_with'])}, "
    else:
        line = f"- {entry['name']}: {entry['old']} -> {entry['new']}: "
    line += str(entry["reason"])
    if entry["log"]:
        line += f" [{Path(entry['log']).name}]"
    if entry["rolled_to"]:
        line += f"; rolled to {_short(entry['rolled_to'])}, the commit before it"
    if entry["note"]:
        line += f" ({entry['note']})"
    return [line, *(f"    {text}" for text in entry["tail"])]


def _short(sha: object) -> str:
    return str(sha)[:12]
