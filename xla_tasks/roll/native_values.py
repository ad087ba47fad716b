"""The values a native pin needs at a new commit: archive hashes and the committer's date.

`pin` and `roll` compute these for every dep before they write anything (contract 6.2):
- a `.tar.gz` hash is built from the dep's clone, as GitHub builds the file
  (`pins.native.archive_sha256`); the clone must hold the commit (`roll` fetches it there
  first, into `refs/remotes/xla-tasks/BRANCH`, as `roll --bisect` does);
- a date (`WORKSPACE`'s `# Committed on`, `.torch_commit`) is the commit's committer day
  (`%cs`), read from the clone;
- a `.zip` hash cannot be rebuilt locally, so it is downloaded from the pin's URLs in turn,
  streamed into SHA-256: each read waits at most the stall timeout, the whole download at
  most ARCHIVE_DEADLINE seconds, and it stops past `xla_tasks.archive_max_mb` MiB.
A value that cannot be computed is a ConfigError naming the file and line that needs it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path

from xla_tasks.errors import ConfigError, GitError, XlaTasksError
from xla_tasks.gitobjects import object_reader
from xla_tasks.gitrepo import GitRepo, is_repo_top
from xla_tasks.parallel import run_each
from xla_tasks.pins.model import Pins
from xla_tasks.pins.native.archive_hash import archive_sha256
from xla_tasks.pins.native.edit import (
    TAR_GZ,
    ZIP,
    DepValues,
    HashNeed,
    NativeEdit,
    Needs,
    edit_pins,
    needs_of,
)
from xla_tasks.pins.native.model import NativePin
from xla_tasks.ui.results import RepoOutcome
from xla_tasks.workspace.registry import Workspace
from xla_tasks.workspace.settings import TaskOptions

ARCHIVE_DEADLINE = 600.0  # seconds for one .zip download in all (each read: stall_timeout)
_USER_AGENT = "xla-tasks (urllib3)"


class NativeValues:
    """Computes (once per dep and commit) what a project's native pins need at a commit.

    `fetch`: a clone lacking the commit fetches it from the dep's URL (roll); otherwise
    that is an error (pin records HEAD, which the clone has by definition).
    """

    def __init__(
        self,
        project_dir: Path,
        workspace: Workspace,
        pins: Pins,
        options: TaskOptions,
        *,
        fetch: bool,
    ) -> None:
        self.project_dir = project_dir
        self.workspace = workspace
        self.pins = pins
        self.options = options
        self.fetch = fetch
        self._done: dict[tuple[str, str], DepValues] = {}
        self._lock = threading.Lock()

    def needs(self, name: str, commit: str) -> Needs:
        return needs_of(self.project_dir, self.pins.sites.get(name, ()), commit)

    def values(self, name: str, commit: str) -> DepValues:
        """The dep's values at `commit`: every hash its files need, and the date."""
        key = (name, commit)
        with self._lock:
            if key in self._done:
                return self._done[key]
        found = self._compute(name, commit)
        with self._lock:
            self._done[key] = found
        return found

    def _compute(self, name: str, commit: str) -> DepValues:
        needs = self.needs(name, commit)
        hashes: dict[HashNeed, str] = {}
        downloaded: list[str] = []
        for need, where in needs.hashes.items():
            if need.archive == ZIP:
                kept = self._unchanged_zip(name, need, commit)
                if kept is None:
                    kept, url = self._download(name, need, where)
                    downloaded.append(url)
                hashes[need] = kept
        date = None
        place = needs.clone_needed
        if place is not None:
            clone = self._clone_with(name, commit, place)
            for need, where in needs.hashes.items():
                if need.archive == TAR_GZ:
                    hashes[need] = self._tar_gz(name, clone, commit, need, where)
            if needs.date is not None:
                with object_reader(clone, name) as objects:
                    date = objects.commit(commit).date
        return DepValues(commit, hashes, date, tuple(downloaded))

    def _unchanged_zip(self, name: str, need: HashNeed, commit: str) -> str | None:
        """A .zip pin already at `commit` keeps its hash: no download to learn it again."""
        for pin in self.pins.sites.get(name, ()):
            if pin.archive == ZIP and pin.commit == commit and pin.sha256 is not None:
                return pin.sha256
        return None

    def _clone_with(self, name: str, commit: str, place: NativePin) -> Path:
        """The dep's clone, holding `commit` (fetched there when `fetch`)."""
        path = self.workspace.path_of(name)
        what = _what(place)
        if not is_repo_top(path):
            raise self._error(
                place,
                f"{name}: {what} is computed from its clone, and {path} is not one",
                f"run `xla-tasks sync` to clone {name} there",
            )
        repo = GitRepo(path, name)
        if not repo.has_commit(commit) and self.fetch:
            dep = self.pins.deps[name]
            stall = self.options.stall_seconds(self.workspace.stall_timeout)
            try:
                repo.fetch(
                    dep.url,
                    f"+refs/heads/{dep.branch}:refs/remotes/xla-tasks/{dep.branch}",
                    stall_timeout=stall,
                )
            except XlaTasksError as err:
                why = (
                    f"fetch from {err.url} failed: {err.detail}"
                    if isinstance(err, GitError)
                    else err
                )
                raise self._error(
                    place,
                    f"{name}: {what} needs {commit[:12]}, which {path} lacks, and {why}",
                    "check the network and the URL, then run again",
                ) from None
        if not repo.has_commit(commit):
            raise self._error(
                place,
                f"{name}: {what} is computed from its clone, and {path} lacks {commit[:12]}",
                f"fetch it there (`git -C {path} fetch`), or run `xla-tasks sync`",
            )
        return path

    def _tar_gz(self, name: str, clone: Path, commit: str, need: HashNeed, where: NativePin) -> str:
        try:
            return archive_sha256(clone, commit, need.prefix)
        except XlaTasksError as err:
            message = f"{name}: cannot build the .tar.gz of {commit[:12]}: {err}"
            raise self._error(where, message) from None

    def _download(self, name: str, need: HashNeed, where: NativePin) -> tuple[str, str]:
        """(hex SHA-256, URL) of the first of the pin's .zip URLs that downloads in bounds."""
        from xla_tasks.engine.model import redact
        from xla_tasks.roll.httpget import Bounds, GetError, PageReader

        timeout = self.options.stall_seconds(self.workspace.stall_timeout)
        limit = self.options.archive_max_mb * 2**20
        reasons = []
        for url in need.urls:
            digest = hashlib.sha256()
            bounds = Bounds(timeout, ARCHIVE_DEADLINE, limit, what="archive")
            try:
                with PageReader(bounds, _USER_AGENT) as reader:
                    reader.stream(url, "*/*", digest.update)
            except GetError as err:
                reasons.append(f"{redact(url)}: {err}")
                continue
            return digest.hexdigest(), url
        raise self._error(
            where,
            f"{name}: the .zip hash must be downloaded, and no URL gave it: {'; '.join(reasons)}",
            "check the URL and the network, or raise xla_tasks.archive_max_mb",
        )

    def _error(self, place: NativePin, message: str, hint: str | None = None) -> ConfigError:
        line = place.sha256_line if place.sha256 is not None else place.line
        return ConfigError(self.project_dir / place.file, message, line=line or None, hint=hint)


def _what(place: NativePin) -> str:
    if place.sha256 is not None and place.archive == TAR_GZ:
        return "the .tar.gz hash"
    return "the commit date"


def native_edit(
    resolver: NativeValues,
    commits: Mapping[str, str],
    jobs: int,
    base: Mapping[str, str] | None = None,
) -> tuple[NativeEdit, dict[str, DepValues]]:
    """Every dep's values at its new commit (deps in parallel), then the new file texts.

    Nothing is written: a value that cannot be computed raises (the first dep's, by name),
    so either every file can be written or none is. `base`: as for `edit_pins`.
    """
    found: dict[str, DepValues] = {}
    errors: dict[str, XlaTasksError] = {}

    def work(name: str) -> RepoOutcome:
        try:
            found[name] = resolver.values(name, commits[name])
        except XlaTasksError as err:
            errors[name] = err
        return RepoOutcome(name=name)

    names = sorted(commits)
    outcomes = run_each(names, work, lambda name: name, jobs)
    for name in names:
        if name in errors:
            raise errors[name]
    for outcome in outcomes:
        if outcome.failed:
            raise XlaTasksError(outcome.error or f"{outcome.name}: failed")
    return edit_pins(resolver.project_dir, resolver.pins.sites, found, base), found
