"""Turn a CommandResult into what the user sees: lines on stdout, problems on stderr.

With `--json`, stdout holds exactly one JSON object and nothing else (warnings and
failures are inside it). Failures always come last, so the end of a long CI log says
what went wrong. Every line and the JSON text pass through `redact` on the way out: the
last line of defence for a URL secret that some message kept (contract 5.8).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from typing import TextIO

from xla_tasks.engine.model import redact
from xla_tasks.ui.exits import note_json_printed
from xla_tasks.ui.results import CommandResult, RepoOutcome


def outcome_line(outcome: RepoOutcome) -> str:
    """The one line per repo; the engine's format, so the generated script prints the same."""
    from xla_tasks.engine.model import outcome_line as line

    return line(outcome.name, outcome.action, outcome.old, outcome.new, outcome.notes)


def failure_line(name: str, error: str) -> str:
    """`FAILED NAME: reason`, without naming the repo twice when the reason already does."""
    return f"FAILED {error}" if error.startswith(name) else f"FAILED {name}: {error}"


def failure_lines(result: CommandResult) -> list[str]:
    failed = [o for o in result.outcomes if o.failed]
    lines = [failure_line(o.name, o.error or "") for o in failed]
    if failed:
        names = ", ".join(o.name for o in failed)
        lines.append(f"xla-tasks {result.command}: {len(failed)} repo(s) failed: {names}")
    lines.extend(result.problems)
    if result.failed_check:
        lines.append(f"xla-tasks {result.command}: {result.failed_check}")
    return lines


def block_heading(name: str, path: str) -> str:
    """The `== NAME (PATH) ==` line over one repo's output in foreach (streamed after it)."""
    return f"== {name} ({path}) ==\n"


def print_result(
    result: CommandResult,
    as_json: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    streamed: Collection[str] = (),
) -> None:
    """Print the result. `streamed`: the repos whose line was printed as they finished
    (progress.py); what remains is the other repos' lines, the headline, the warnings,
    and the failures, last."""
    out = out or sys.stdout
    err = err or sys.stderr
    if as_json:
        out.write(redact(json.dumps(result.to_json(), indent=2, sort_keys=True)) + "\n")
        note_json_printed()
        return
    rest = [outcome_line(o) for o in result.outcomes if not (o.failed or o.name in streamed)]
    for line in rest + result.messages if streamed else result.messages + rest:
        out.write(redact(line) + "\n")
    out.flush()  # before stderr: with both on one pipe (CI), failures must stay last
    for warning in result.warnings:
        err.write(redact(f"warning: {warning}") + "\n")
    for line in failure_lines(result):
        err.write(redact(line) + "\n")
    err.flush()
