"""`foreach CMD`: run one shell command in every present repo that `status` lists.

The repo list is status's own (`list_repos`), so the two never disagree about which repos
a project has or in which order. Each command's stdout and stderr go into one temp file,
so a repo's output is kept whole and in the order it was written; blocks are handed to the
caller in status order, each as soon as it and every block before it are done, so output
streams under `--jobs N` without two repos' lines ever mixing. A block is read from its
file a chunk at a time and the file is dropped once shown: `foreach 'git log -p'` over
PyTorch costs disk for the outputs still waiting their turn, never memory. The result's
data (what `--json` prints) keeps each output capped at JSON_OUTPUT_LIMIT bytes: its head
and its tail.
"""

from __future__ import annotations

import codecs
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from xla_tasks.errors import UsageError
from xla_tasks.gitrepo import is_repo_top
from xla_tasks.parallel import run_each
from xla_tasks.shell import CHUNK, copy_capped, run_shell
from xla_tasks.ui.events import InOrder
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.listing import Row, list_repos, selected_rows
from xla_tasks.workspace.registry import Workspace
from xla_tasks.workspace.settings import TaskOptions

# Per repo, in `--json` (and the result's data): its first and last 512 KiB past 1 MiB.
JSON_OUTPUT_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Block:
    """One repo's finished command: where it ran, its exit code and everything it printed
    (in a temp file, open until the block has been shown)."""

    name: str
    path: str  # as status shows it, relative to the workspace root
    pin: str | None
    exit_code: int
    output: BinaryIO

    def text(self) -> Iterator[str]:
        """The output as text, a chunk at a time, ending in a newline when not empty."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.output.seek(0)
        last = ""
        while data := self.output.read(CHUNK):
            if piece := decoder.decode(data):
                last = piece
                yield piece
        if tail := decoder.decode(b"", final=True):
            last = tail
            yield tail
        if last and not last.endswith("\n"):
            yield "\n"

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields: `output` capped (`output_cut` bytes cut from its middle)."""
        kept = io.BytesIO()
        cut = copy_capped(self.output, kept, JSON_OUTPUT_LIMIT)
        return {
            "name": self.name,
            "path": self.path,
            "pin": self.pin,
            "exit_code": self.exit_code,
            "output": kept.getvalue().decode("utf-8", errors="replace"),
            "output_cut": cut,
        }


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
    ran: dict[str, dict[str, Any]] = {}

    def show(block: Block) -> None:
        """Its turn in status order: record it (capped), show it, drop its file."""
        with block.output:
            ran[block.name] = block.to_dict()
            if on_block is not None:
                on_block(block)

    order: InOrder[Block] = InOrder(show)

    def work(item: tuple[int, Row]) -> RepoOutcome:
        index, row = item
        block = _run_in(row, command, listing.workspace.relative(row.path))
        order.done(index, block)
        return RepoOutcome(name=row.name, path=block.path, action=f"exit {block.exit_code}")

    outcomes = run_each(list(enumerate(present)), work, lambda item: item[1].name, listing.jobs)
    result = CommandResult(command="foreach", warnings=[*listing.warnings, *listing.pin_errors])
    _report(result, command, [ran[row.name] for row in present if row.name in ran], absent)
    result.outcomes += [outcome for outcome in outcomes if outcome.failed]  # ours, not CMD's
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


def _report(
    result: CommandResult, command: str, ran: list[dict[str, Any]], absent: list[str]
) -> None:
    """Only failures are outcomes: the blocks already said everything about the others."""
    failed = [b for b in ran if b["exit_code"] != 0]
    result.outcomes = [
        RepoOutcome(b["name"], b["path"], error=f"{_verdict(b['exit_code'])} (at {b['path']})")
        for b in failed
    ]
    line = f"foreach: ran in {len(ran)} repo(s), {len(failed)} failed"
    if absent:
        line += f"; skipped {len(absent)} not present: {', '.join(absent)}"
    result.messages.append(line)
    result.data.update(command=command, repos=ran, skipped=absent)


def _run_in(row: Row, command: str, rel: str) -> Block:
    """One repo's run, its output captured whole in a temp file (stdout and stderr both)."""
    env = {
        **os.environ,
        "XLA_TASKS_REPO_NAME": row.name,
        "XLA_TASKS_REPO_PATH": str(row.path.resolve()),
        "XLA_TASKS_REPO_PIN": row.pin or "",
    }
    out = tempfile.TemporaryFile()  # noqa: SIM115 (closed once the block is shown)
    try:
        ran = run_shell(command, row.path, out, env=env)
    except OSError as err:  # the repo vanished meanwhile, or no `sh`: 127 as a shell says
        out.write(f"xla-tasks: cannot run sh: {err}\n".encode())
        return Block(row.name, rel, row.pin, 127, out)
    except BaseException:
        out.close()
        raise
    return Block(row.name, rel, row.pin, ran.code if ran.code is not None else 1, out)


def _verdict(code: int) -> str:
    """`exit 3`, or `killed by signal 9` (subprocess gives a signal as a negative code)."""
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"
