"""Which repos a workspace has, in `status` order: the project, the registry, then deps
only pin files know. `status` reports them and `foreach` runs in them, so the two never
disagree. No network: a dep's own pins are read at its pinned commit when it is on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xla_tasks.engine.disk import is_repo_top
from xla_tasks.errors import XlaTasksError
from xla_tasks.gitrepo import GitRepo, toplevel
from xla_tasks.parallel import run_each
from xla_tasks.pins.model import Dep, Pins
from xla_tasks.pins.project import read_root_pins
from xla_tasks.ui.results import RepoOutcome
from xla_tasks.workspace.graph import Wanted, walk_pins
from xla_tasks.workspace.project import last_resolved, project_name, read_pins_at
from xla_tasks.workspace.registry import Workspace, find_workspace, workspace_for_project
from xla_tasks.workspace.settings import TaskOptions


@dataclass(frozen=True, slots=True)
class Row:
    """A repo to report: where it should be and what pins it, if anything does."""

    name: str
    path: Path
    pin: str | None = None
    pinned_by: str | None = None
    transitive: bool = False  # pinned by a dep, not by the project itself
    native: bool = False  # pinned in a project's own files (pinned_by names them)
    registered: bool = False
    project: bool = False
    submodules: bool = False  # the pin asks for its submodules, recursively
    exclude_submodules: tuple[str, ...] = ()  # the pin's own exclusions (regexes on paths)
    # A ref pinned instead of a commit (`.torch_pin`): `pin` is then what it named at the
    # last sync, None before any.
    ref: str | None = None


@dataclass(slots=True)
class Listing:
    """The repos `status` lists, in its order; `foreach` walks the same list."""

    workspace: Workspace
    project_dir: Path | None
    rows: list[Row]
    jobs: int
    strict: bool = False  # as sync reads pins (status --check), not as a report does
    warnings: list[str] = field(default_factory=list)
    # The repos the project's native pin files pin that the registry does not list, and
    # the URLs of those a file names one for.
    left_alone: tuple[str, ...] = ()
    left_alone_urls: dict[str, str] = field(default_factory=dict)
    # Pin files that could not be read (file:line: why). `status` warns about them;
    # `status --check` fails on them: a CI gate that cannot read the pins fails closed.
    pin_errors: list[str] = field(default_factory=list)


def list_repos(start: Path, options: TaskOptions, *, strict: bool = False) -> Listing:
    """The project first, then the registry, then deps only pin files know (no network).

    `strict`: read the project's pins as `sync` does (a rewritten script is a pin error).
    """
    project_dir = toplevel(start)
    workspace = find_workspace(start)
    if workspace is None and project_dir is not None:
        workspace = workspace_for_project(project_dir)
    if workspace is None:
        raise XlaTasksError(
            f"{start} is neither in a workspace nor in a project checkout",
            "run status inside a workspace, under xla-workspace.toml, or a git repository",
        )
    return listing_of(workspace, project_dir, options, strict=strict)


def listing_of(
    workspace: Workspace,
    project_dir: Path | None,
    options: TaskOptions,
    *,
    strict: bool = False,
    root_pins: Pins | None = None,
) -> Listing:
    """`list_repos` once the workspace is known; `root_pins`: the project's pins when the
    caller has already read them (`sync NAMES`), so they are not read a second time."""
    jobs = options.jobs_for(workspace.jobs)
    listing = Listing(workspace, project_dir, [], jobs, strict)
    listing.rows = _rows(listing, root_pins)
    return listing


def row_pin(workspace: Workspace, dep: Dep) -> str | None:
    """The commit a row shows as the dep's pin: a ref's is what it named at the last sync
    (None before any)."""
    return last_resolved(workspace.path_of(dep.name), dep.ref) if dep.ref else dep.rev


def selected_rows(listing: Listing, options: TaskOptions) -> list[Row]:
    """The rows the NAMES filter keeps (every row without one); an unknown name is refused."""
    options.check_only([row.name for row in listing.rows], "among the repos status lists")
    return [row for row in listing.rows if options.selects(row.name)]


def _rows(listing: Listing, root_pins: Pins | None) -> list[Row]:
    """The project first, then registered repos, then deps only pin files know, in walk order.
    `root_pins`: the project's pins when the caller has read them, else read here."""
    workspace, project_dir = listing.workspace, listing.project_dir
    pinned: dict[str, Wanted] = {}
    rows: list[Row] = []
    root = None
    if project_dir is not None:
        root = project_name(workspace, project_dir)
        rows.append(Row(root, project_dir, registered=root in workspace.repos, project=True))
        pinned = _pinned_deps(listing, root, project_dir, root_pins)
    for name in workspace.repos:
        if name != root:
            rows.append(_row(workspace, name, pinned.get(name)))
    rows.extend(
        _row(workspace, name, pinned[name]) for name in pinned if name not in workspace.repos
    )
    return rows


def _row(workspace: Workspace, name: str, wanted: Wanted | None) -> Row:
    return Row(
        name,
        workspace.path_of(name),
        pin=row_pin(workspace, wanted.dep) if wanted else None,
        ref=wanted.dep.ref if wanted else None,
        pinned_by=_pinned_by(wanted) if wanted else None,
        transitive=bool(wanted and wanted.level > 1),
        native=bool(wanted and wanted.dep.pinned_in),
        registered=name in workspace.repos,
        submodules=bool(wanted and wanted.dep.submodules),
        exclude_submodules=wanted.dep.exclude_submodules if wanted else (),
    )


def _pinned_by(wanted: Wanted) -> str:
    """Who pins it, and where when its pin lives in native files: `jax: MODULE.bazel`."""
    files = wanted.dep.pinned_in
    return f"{wanted.asked_by}: {', '.join(files)}" if files else wanted.asked_by


def _pinned_deps(
    listing: Listing, root: str, project_dir: Path, root_pins: Pins | None
) -> dict[str, Wanted]:
    """The transitive pins, read without network; unreadable pin files are `pin_errors`.

    When `strict`, a project script that another tool rewrote with other pins is one too
    (`sync` refuses it); otherwise it is a warning, and the TOML's pins are listed.
    """
    workspace = listing.workspace
    if root_pins is None:
        try:
            root_pins, script_warnings = read_root_pins(
                project_dir, strict=listing.strict, repos=workspace.catalog(), project=root
            )
        except XlaTasksError as err:
            listing.pin_errors.append(str(err))
            return {}
        listing.warnings.extend(script_warnings)
    if root_pins is None:
        return {}
    listing.left_alone = root_pins.left_alone
    listing.left_alone_urls = root_pins.left_alone_urls
    read: dict[str, Pins] = {}

    def read_level(level: list[Wanted]) -> list[tuple[str, Pins]]:
        work = lambda w: _read_dep_pins(workspace, w, read)  # noqa: E731
        for outcome in run_each(level, work, _wname, listing.jobs):
            if outcome.error:
                listing.pin_errors.append(f"{outcome.name}: {outcome.error}")
        return [(w.name, read[w.name]) for w in level if w.name in read]

    walk = walk_pins(root, root_pins, read_level)
    listing.warnings.extend(conflict.message() for conflict in walk.conflicts)
    return walk.settled


def _wname(wanted: Wanted) -> str:
    return wanted.name


def _read_dep_pins(workspace: Workspace, wanted: Wanted, read: dict[str, Pins]) -> RepoOutcome:
    path = workspace.path_of(wanted.name)
    if is_repo_top(path):
        ref = wanted.dep.ref
        rev = last_resolved(path, ref) if ref else wanted.dep.rev
        pins = read_pins_at(GitRepo(path, wanted.name), rev, workspace) if rev else None
        if pins is not None:
            read[wanted.name] = pins
    return RepoOutcome(name=wanted.name)
