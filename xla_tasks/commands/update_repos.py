"""`update-repos`: bring local clones' tracking branches, and the user's forks, up to upstream.

Selection: a base repo plus every registered repo depending on it, transitively (`-b NAME`,
or the repo holding the current directory), or every registered repo (`-a`); dependencies
first; repos not cloned are skipped with a note. Per repo: refuse uncommitted or untracked
work and clones owned by another user; fetch the official remote (`upstream` when the
clone has one, else `origin`); fast-forward the tracking branch, never merge or reset; push
it to `origin` (the fork) when it came from `upstream`.

The user's branch is never switched. The tracking branch is fast-forwarded in place when it
is the one checked out (`merge --ff-only`), else its ref alone is moved with a
compare-and-swap `update-ref`. That is the end state of "check out main, merge --ff-only,
go back", without rewriting work-tree files twice (a PyTorch build would recompile every
touched file) and without any failure that could strand the user on another branch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.engine.model import Event, EventCallback
from xla_tasks.engine.worktree import Status
from xla_tasks.errors import DirtyRepoError, GitError, UsageError, XlaTasksError
from xla_tasks.fsutil import foreign_owner
from xla_tasks.gitrepo import GitRepo, is_repo_top, redact
from xla_tasks.parallel import run_each
from xla_tasks.pins.native.urls import normalize_repo_url
from xla_tasks.ui.events import events_to, in_order
from xla_tasks.ui.results import CommandResult, RepoOutcome
from xla_tasks.workspace.graph import dependency_order, dependents_closure
from xla_tasks.workspace.lock import workspace_lock
from xla_tasks.workspace.registry import (
    RepoSpec,
    Workspace,
    open_workspace,
    pytorch_layout_note,
)
from xla_tasks.workspace.settings import TaskOptions

UPSTREAM = "upstream"
ORIGIN = "origin"
DRY_RUN_NOTE = (
    "dry run: nothing fetched, nothing changed; "
    "compared with the remote-tracking refs of the last fetch"
)
# How a local tracking branch relates to the remote's head.
CREATE, SAME, BEHIND, AHEAD, DIVERGED = "create", "same", "behind", "ahead", "diverged"


@dataclass(slots=True)
class _Plan:
    """One cloned, clean repo about to be updated."""

    spec: RepoSpec
    repo: GitRepo
    remote: str  # the official remote: upstream if present, else origin
    url: str
    origin_url: str | None
    outcome: RepoOutcome

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def branch(self) -> str:
        return self.spec.branch

    @property
    def source(self) -> str:
        return f"{self.remote}/{self.branch}"

    @property
    def remote_ref(self) -> str:
        return f"refs/remotes/{self.remote}/{self.branch}"


def update_repos(
    start: Path,
    options: TaskOptions,
    *,
    base: str | None = None,
    every: bool = False,
    push: bool = True,
    on_event: EventCallback | None = None,
) -> CommandResult:
    """Fast-forward the selected clones' tracking branches; never move or lose the user's work.

    `on_event` hears each repo start and finish as it happens (progress.py prints them)."""
    if base and every:
        raise UsageError("-b/--base and -a/--all exclude each other", "give one of them")
    workspace = open_workspace(start, layout_ok=True)
    if options.only and not (base or every):  # the named repos, wherever you stand
        names = _only_named(workspace, None, options)
    else:
        names = select_repos(workspace, start, base=base, every=every)
        if options.only:
            names = _only_named(workspace, names, options)
    result = CommandResult(
        command="update-repos",
        data={"selected": names, "dry_run": options.dry_run, "push": push},
    )
    if workspace.file is None:
        result.messages.append(pytorch_layout_note(workspace.root))
    if options.dry_run:
        result.messages.append(DRY_RUN_NOTE)
    timeout = options.lock_timeout
    with workspace_lock(workspace.root, "update-repos", timeout, dry_run=options.dry_run):
        result.outcomes = _update_all(workspace, names, options, push, events_to(on_event))
    return result


def select_repos(
    workspace: Workspace, start: Path, *, base: str | None = None, every: bool = False
) -> list[str]:
    """The repos to update, dependencies first: `-a`, `-b NAME`, else the repo at `start`."""
    if every:
        return dependency_order(workspace)
    if base:
        workspace.require(base)
        return dependents_closure(workspace, base)
    here = repo_at(workspace, start)
    if here is None:
        raise UsageError(
            f"{start.resolve()} is not inside a cloned repo of the workspace {workspace.root}",
            "use -b NAME for a repo and the repos depending on it, or -a for all",
        )
    return dependents_closure(workspace, here)


def _only_named(
    workspace: Workspace, selected: list[str] | None, options: TaskOptions
) -> list[str]:
    """The NAMES filter: of the repos -b or -a select, only those; without them (None),
    the named registered repos themselves (wherever you stand), dependencies first."""
    options.check_only(workspace.repos, "in the registry")
    if selected is None:
        return [name for name in dependency_order(workspace) if options.selects(name)]
    outside = [name for name in options.only if name not in selected]
    if outside:
        raise UsageError(
            f"{', '.join(outside)}: not among the repos -b/-a select ({', '.join(selected)})",
            "drop -b/-a to update the named repos alone",
        )
    return [name for name in selected if options.selects(name)]


def repo_at(workspace: Workspace, start: Path) -> str | None:
    """The registered repo whose clone holds `start`; the innermost one for nested clones."""
    here = start.resolve()
    best: tuple[int, str] | None = None
    for name in workspace.repos:
        path = workspace.path_of(name).resolve()
        deeper = best is None or len(path.parts) > best[0]
        if deeper and (path / ".git").exists() and here.is_relative_to(path):
            best = (len(path.parts), name)
    return best[1] if best else None


def check_ownership(path: Path, name: str) -> None:
    """Refuse a clone owned by another user (the dev-container case) before git touches it."""
    found = foreign_owner([path, path / ".git"])
    if found is None:
        return
    where, uid = found
    me = os.geteuid()
    raise XlaTasksError(
        f"{name}: {where} belongs to {_user(uid)} but xla-tasks runs as {_user(me)}; "
        "git refuses such repos ('dubious ownership') and files written there would belong "
        "to the wrong user; not touched",
        f"run xla-tasks as {_user(uid)}, or make the clone yours: "
        f"chown -R {_user_name(me) or me} {path}",
    )


def check_clean(workspace: Workspace, name: str, repo: GitRepo) -> Status:
    """Refuse uncommitted changes and untracked files; a registered repo nested inside is fine."""
    state = repo.state(untracked=True)
    if state.changed:
        raise DirtyRepoError(name, state.changed)
    nested = [
        path
        for other in workspace.repos
        if other != name
        and (path := workspace.path_of(other)) != repo.path
        and path.is_relative_to(repo.path)
    ]
    untracked = [
        entry
        for entry in state.untracked
        if not any(_is_at_or_below(repo.path / entry.rstrip("/"), inner) for inner in nested)
    ]
    if untracked:
        raise DirtyRepoError(name, untracked, what="untracked files")
    return state


# -- the run --------------------------------------------------------------------------------


def _update_all(
    workspace: Workspace, names: list[str], options: TaskOptions, push: bool, events: EventCallback
) -> list[RepoOutcome]:
    """Check every repo, then fetch and advance the good ones in parallel; each repo is
    reported (`events`) once it and the repos before it are done (dependency order, 5.7)."""
    outcomes = [RepoOutcome(name=name, path=workspace.repos[name].rel_path) for name in names]
    finished = in_order(outcomes, events)
    plans: list[_Plan] = []
    for outcome in outcomes:
        try:
            plan = _prepare(workspace, outcome)
        except XlaTasksError as err:
            outcome.error = str(err)
            plan = None
        if plan is None:
            finished(outcome)
        else:
            plans.append(plan)

    def update(plan: _Plan) -> RepoOutcome:
        events(Event(plan.name, "start", plan.spec.rel_path))
        try:
            if not options.dry_run:
                events(Event(plan.name, "phase", "fetch"))
                _fetch(plan)
            events(Event(plan.name, "phase", "update"))
            _advance(workspace, plan, push, options.dry_run)
        except XlaTasksError as err:
            plan.outcome.error = str(err)
        return plan.outcome

    jobs = options.jobs_for(workspace.jobs)
    run_each(plans, update, lambda p: p.name, jobs, on_done=finished)
    return outcomes


def _prepare(workspace: Workspace, outcome: RepoOutcome) -> _Plan | None:
    """Refusals first (owner, dirty, no remote); None when the repo is not cloned."""
    spec = workspace.repos[outcome.name]
    path = workspace.path_of(spec.name)
    if not (path / ".git").exists():
        outcome.action = "skipped: not cloned"
        outcome.notes.append(f"no clone at {spec.rel_path}")
        return None
    check_ownership(path, spec.name)
    if not is_repo_top(path):
        raise XlaTasksError(
            f"{spec.name}: {path} has a .git but git sees no work tree there", "fix or re-clone it"
        )
    repo = GitRepo(path, spec.name)
    check_clean(workspace, spec.name, repo)
    remotes = repo.remotes()
    remote = UPSTREAM if UPSTREAM in remotes else ORIGIN if ORIGIN in remotes else None
    if remote is None:
        raise XlaTasksError(
            f"{spec.name}: has no remote named {UPSTREAM} or {ORIGIN}",
            f"add the official repo: git -C {path} remote add {UPSTREAM} {spec.url}",
        )
    if remote == ORIGIN and not _same_repo(remotes[ORIGIN], spec):
        outcome.notes.append(
            f"origin is {redact(remotes[ORIGIN])}, not the registry's {redact(spec.url)}; "
            f"add the official repo as remote '{UPSTREAM}' to update from it"
        )
    return _Plan(spec, repo, remote, remotes[remote], remotes.get(ORIGIN), outcome)


def _fetch(plan: _Plan) -> None:
    """Fetch the repo's tracking branch from its official remote."""
    refspec = f"+refs/heads/{plan.branch}:{plan.remote_ref}"
    plan.repo.fetch(plan.remote, refspec, url_for_errors=plan.url)


def _advance(workspace: Workspace, plan: _Plan, push: bool, dry_run: bool) -> None:
    """Fast-forward one repo's tracking branch (or say what would happen), then push."""
    # Check again: the user may have edited files while a long fetch ran.
    state = None if dry_run else check_clean(workspace, plan.name, plan.repo)
    target = plan.repo.rev_parse(plan.remote_ref)
    if target is None:
        if not dry_run:
            raise XlaTasksError(f"{plan.name}: {plan.source} is missing after the fetch")
        plan.outcome.action = f"would fetch {plan.remote} and update {plan.branch}"
        plan.outcome.notes.append(f"no {plan.source} from an earlier fetch to compare with")
        return
    kind, local = _compare(plan, target)
    if kind == DIVERGED:
        raise _diverged(plan, local, target)
    if state is not None:
        _move(plan, state, kind, local, target)
    _describe(plan, kind, local, target, dry_run)
    if kind != AHEAD:
        _push_to_fork(plan, push, dry_run)


def _compare(plan: _Plan, target: str) -> tuple[str, str | None]:
    local = plan.repo.rev_parse(f"refs/heads/{plan.branch}")
    if local is None:
        return CREATE, None
    if local == target:
        return SAME, local
    if plan.repo.is_ancestor(local, target):
        return BEHIND, local
    if plan.repo.is_ancestor(target, local):
        return AHEAD, local
    return DIVERGED, local


def _diverged(plan: _Plan, local: str | None, target: str) -> XlaTasksError:
    mine = plan.repo.count_commits(target, local or target)
    theirs = plan.repo.count_commits(local or target, target)
    return XlaTasksError(
        f"{plan.name}: {plan.branch} has diverged from {plan.source} "
        f"({mine} local and {theirs} upstream commit(s)); not merged, nothing changed",
        f"rebase or reset {plan.branch} yourself, then run again",
    )


def _move(plan: _Plan, state: Status, kind: str, local: str | None, target: str) -> None:
    """Create or fast-forward the tracking branch; the user's HEAD stays where it is."""
    if kind == CREATE:
        plan.repo.create_tracking_branch(plan.branch, plan.remote)
    elif kind == BEHIND and state.branch == plan.branch:
        plan.repo.merge_ff_only(plan.remote_ref)
        stale = plan.repo.state().submodules  # still at their old commits
        if stale:
            plan.outcome.notes.append(
                f"submodules not updated ({', '.join(stale[:3])}): "
                "run `git submodule update --init --recursive`"
            )
    elif kind == BEHIND and local is not None:
        elsewhere = plan.repo.worktree_of_branch(plan.branch)
        if elsewhere is not None:
            raise XlaTasksError(
                f"{plan.name}: {plan.branch} is checked out in the work tree {elsewhere}; "
                "not moved",
                "run update-repos there, or switch that work tree to another branch",
            )
        plan.repo.fast_forward_branch(plan.branch, target, local)


def _describe(plan: _Plan, kind: str, local: str | None, target: str, dry_run: bool) -> None:
    outcome, branch = plan.outcome, plan.branch
    if kind == CREATE:
        outcome.action = f"{'would create' if dry_run else 'created'} {branch}"
        outcome.new = target
        outcome.notes.append(f"from {plan.source}")
    elif kind == SAME:
        outcome.action = f"{branch} up to date" + (" (as of the last fetch)" if dry_run else "")
        outcome.new = target
    elif kind == BEHIND:
        outcome.action = f"{'would fast-forward' if dry_run else 'fast-forwarded'} {branch}"
        outcome.old, outcome.new = local, target
        count = plan.repo.count_commits(local or target, target)
        outcome.notes.insert(0, f"{count} commit(s) from {plan.source}")
    else:
        outcome.action = f"{branch} is ahead of {plan.source}"
        outcome.new = local
        count = plan.repo.count_commits(target, local or target)
        outcome.notes.append(
            f"{count} local commit(s) not on {plan.source}; left as is, not pushed"
        )


def _push_to_fork(plan: _Plan, push: bool, dry_run: bool) -> None:
    """Mirror the branch to the fork (`origin`) when it came from `upstream`; never force."""
    notes = plan.outcome.notes
    if plan.remote != UPSTREAM:
        return
    if plan.origin_url is None:
        notes.append(f"no {ORIGIN} remote to push to")
    elif not push:
        notes.append("not pushed (--no-push)")
    elif dry_run:
        known = plan.repo.rev_parse(f"refs/remotes/{ORIGIN}/{plan.branch}")
        target = plan.outcome.new
        notes.append(
            f"{ORIGIN} up to date as of the last fetch"
            if known is not None and known == target
            else f"would push {plan.branch} to {ORIGIN}"
        )
    else:
        try:
            verdict = plan.repo.push_branch(ORIGIN, plan.branch, url=plan.origin_url)
        except GitError as err:
            raise XlaTasksError(
                f"{err} (local {plan.branch} is updated; only the fork is behind)",
                f"look with `git log {plan.branch}..{ORIGIN}/{plan.branch}` after "
                f"`git fetch {ORIGIN}`; the fork is never force-pushed",
            ) from None
        notes.append(
            f"{ORIGIN} already up to date" if verdict == "up to date" else f"pushed to {ORIGIN}"
        )


# -- small helpers --------------------------------------------------------------------------


def _is_at_or_below(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _same_repo(url: str, spec: RepoSpec) -> bool:
    """Whether `url` names the registry's repo (or its fork), however spelled: scheme,
    user, `.git`, a trailing `/` and case do not matter."""
    wanted = {_repo_key(other) for other in (spec.url, spec.push_url) if other}
    return _repo_key(url) in wanted


def _repo_key(url: str) -> str:
    return normalize_repo_url(url).lower()


def _user_name(uid: int) -> str | None:
    try:
        import pwd
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _user(uid: int) -> str:
    name = _user_name(uid)
    return f"uid {uid} ({name})" if name else f"uid {uid}"
