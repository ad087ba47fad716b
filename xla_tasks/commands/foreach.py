"""`foreach CMD`: run one shell command in every present repo that `status` lists.

The repo list is status's own (`list_repos`), so the two never disagree about which repos
a project has or in which order. Each command's stdout and stderr go into one pipe, so a
repo's output is kept whole and in the order it was written; blocks are handed to the
caller in status order, each as soon as it and every block before it are done, so output
streams under `--jobs N` without two repos' lines ever mixing.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.errors import UsageError
from xla_tasks.gitrepo import is_repo_top
from xla_tasks.parallel import run_each
from xla_tasks.shell import run_shell
from xla_tasks.ui.events import InOrder
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.listing import Row, list_repos, selected_rows
from xla_tasks.workspace.registry import Workspace
from xla_tasks.workspace.settings import TaskOptions


@dataclass(frozen=True, slots=True)
class Block:
    """One repo's finished command: where it ran, its exit code and everything it printed."""

    name: str
    path: str  # as status shows it, relative to the workspace root
    pin: str | None
    exit_code: int
    output: str


BlockCallback = Callable[[Block], None]


def foreach(
    start: Path, command: str, options: TaskOptions, on_block: BlockCallback | None = None
) -> CommandResult:
    """Run `sh -c COMMAND` in each present repo; the result fails if any command did."""
    if not command.strip():
        raise UsageError(
            "foreach needs a command", "quote it as one word: xla-tasks foreach 'git status -s'"
        )
    listing = list_repos(start, options)
    chosen = [row for row in selected_rows(listing, options) if not options.excludes_dep(row.name)]
    present = [row for row in chosen if is_repo_top(row.path)]
    absent = [row.name for row in chosen if not is_repo_top(row.path)]
    if options.dry_run:
        return _would_run(command, listing.workspace, present, absent, listing.warnings)
    blocks: dict[str, Block] = {}
    order: InOrder[Block] = InOrder(on_block)

    def work(item: tuple[int, Row]) -> RepoOutcome:
        index, row = item
        block = _run_in(row, command, listing.workspace.relative(row.path))
        blocks[row.name] = block
        order.done(index, block)
        return RepoOutcome(name=row.name, path=block.path, action=f"exit {block.exit_code}")

    run_each(list(enumerate(present)), work, lambda item: item[1].name, listing.jobs)
    result = CommandResult(command="foreach", warnings=listing.warnings)
    _report(result, command, [blocks[row.name] for row in present], absent)
    return result


def _would_run(
    command: str, workspace: Workspace, present: list[Row], absent: list[str], warnings: list[str]
) -> CommandResult:
    """`--dry-run`: where COMMAND would run (status order), running nothing."""
    result = CommandResult(command="foreach", warnings=warnings)
    result.outcomes = [
        RepoOutcome(
            name=row.name,
            path=workspace.relative(row.path),
            action="would run here",
            notes=[f"at {workspace.relative(row.path)}"],
        )
        for row in present
    ]
    line = f"dry run, nothing run: would run in {len(present)} repo(s)"
    if absent:
        line += f"; would skip {len(absent)} not present: {', '.join(absent)}"
    result.messages.append(line)
    names = [row.name for row in present]
    result.data.update(command=command, dry_run=True, repos=[], would_run=names, skipped=absent)
    return result


def _report(result: CommandResult, command: str, ran: list[Block], absent: list[str]) -> None:
    """Only failures are outcomes: the blocks already said everything about the others."""
    failed = [b for b in ran if b.exit_code != 0]
    result.outcomes = [
        RepoOutcome(name=b.name, path=b.path, error=f"{_verdict(b.exit_code)} (at {b.path})")
        for b in failed
    ]
    line = f"foreach: ran in {len(ran)} repo(s), {len(failed)} failed"
    if absent:
        line += f"; skipped {len(absent)} not present: {', '.join(absent)}"
    result.messages.append(line)
    result.data.update(
        command=command,
        repos=[dataclasses.asdict(block) for block in ran],
        skipped=absent,
    )


def _run_in(row: Row, command: str, rel: str) -> Block:
    """One repo's run, its output captured whole (stdout and stderr through one pipe)."""
    env = {
        **os.environ,
        "XLA_TASKS_REPO_NAME": row.name,
        "XLA_TASKS_REPO_PATH": str(row.path.resolve()),
        "XLA_TASKS_REPO_PIN": row.pin or "",
    }
    with tempfile.TemporaryFile() as out:
        try:
            ran = run_shell(command, row.path, out, env=env)
        except OSError as err:  # the repo vanished meanwhile, or no `sh`: 127 as a shell says
            return Block(row.name, rel, row.pin, 127, f"xla-tasks: cannot run sh: {err}\n")
        out.seek(0)
        output = out.read().decode("utf-8", errors="replace")
    return Block(row.name, rel, row.pin, ran.code if ran.code is not None else 1, output)


def _verdict(code: int) -> str:
    """`exit 3`, or `killed by signal 9` (subprocess gives a signal as a negative code)."""
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"
