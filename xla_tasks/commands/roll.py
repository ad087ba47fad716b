"""`roll SCHEDULE`: advance a project's pins on a named schedule, ready for a pull request.

Git deps go to the head of their branch (one `ls-remote` per dep, in parallel); Python
packages go to the newest acceptable version on their index, and the `NAME==VERSION` lines
of the listed requirements files follow. Everything is decided first; if any lookup
fails, nothing is written (a bot re-running later converges). The summary is written to
be pasted as a commit message: a title naming the schedule, one bullet per move.
"""

from __future__ import annotations

from pathlib import Path

from xla_tasks.roll.gate import GateRun, gated_roll
from xla_tasks.roll.journal import recover_gate
from xla_tasks.roll.plan import no_schedule_given, plan_roll, refuse_gated_submodules, write_plan
from xla_tasks.ui.results import CommandResult
from xla_tasks.workspace.lock import workspace_lock
from xla_tasks.workspace.project import find_project_dir
from xla_tasks.workspace.registry import workspace_for_project
from xla_tasks.workspace.settings import GateOptions, TaskOptions


def roll(
    start: Path, schedule: str, options: TaskOptions, gate: GateOptions | None = None
) -> CommandResult:
    """Apply `schedule`; with `options.dry_run`, only say what would move.

    With a verify command (`gate.verify` or the schedule's `verify`), only the moves it
    passes with are written (`roll.gate`). First, files a killed gated roll left are undone.
    """
    project_dir = find_project_dir(start)
    workspace = workspace_for_project(project_dir)
    if not schedule:  # `xla-tasks roll` alone: name the schedules, before any lock or recovery
        raise no_schedule_given(project_dir, workspace)
    with workspace_lock(workspace.root, "roll", options.lock_timeout, dry_run=options.dry_run):
        recovered = [] if options.dry_run else recover_gate(workspace.root, project_dir, options)
        result, plan, verify = plan_roll(
            project_dir, workspace, schedule, options, gate or GateOptions()
        )
        result.warnings[:0] = recovered
        if plan is None or not plan.changed:
            return result
        if verify:
            refuse_gated_submodules(plan)
            result.data["verify"] = verify
            if options.dry_run:
                result.messages.append(f"(dry run: `{verify}` would gate these moves)")
                return result
            run = GateRun(
                project_dir, workspace, schedule, verify, gate or GateOptions(), options, plan
            )
            return gated_roll(run, result)
        if not options.dry_run:
            write_plan(project_dir, plan)
        return result
