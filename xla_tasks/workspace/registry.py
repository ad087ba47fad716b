"""The workspace registry, `xla-workspace.toml`: which repos exist, where and from where.

A workspace is the directory holding that file; commands find it by walking up from where
they run, like git finds `.git`. Loading validates everything a user could get wrong
(unknown keys, names with separators, paths escaping the root, `ext::` URLs) and reports
it as `file:line: key: message` before any git runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from xla_tasks import validate
from xla_tasks.engine.model import HISTORY_MODES
from xla_tasks.errors import ConfigError, UsageError
from xla_tasks.pins.model import Schedule
from xla_tasks.pins.sync_deps_toml import read_schedule
from xla_tasks.tomlfile import (
    TomlDoc,
    check_keys,
    field_of,
    parse_toml,
    read_toml,
    schema_of,
    table_of,
)

WORKSPACE_FILE = "xla-workspace.toml"
# openxla-workspace marks its workspace root with this file (its registry was built in: the
# openxla preset's repos). Recognised so a team can switch one developer at a time.
LEGACY_WORKSPACE_FILE = ".openxla_workspace.json"
PRESETS = ("openxla", "pytorch-xla", "none")
DEFAULT_PRESET = "openxla"
_REPO_KEYS = {
    "url",
    "push_url",
    "branch",
    "path",
    "submodules",
    "deps",
    "pin_files",
    "schedules",
    "bazel_name",
}
_SETTINGS = {"jobs", "history", "cache", "stall_timeout", "heartbeat", "cache_lock_timeout"}


@dataclass(frozen=True, slots=True)
class RepoSpec:
    """One registered repository."""

    name: str
    url: str
    push_url: str | None = None
    branch: str = "main"
    path: str = ""
    submodules: bool = False
    deps: tuple[str, ...] = ()
    # For a project that pins natively (no sync_deps.toml): more files holding its pins,
    # beyond the usual places (rocm-jax: jax_rocm_plugin/third_party/xla/workspace.bzl) ...
    pin_files: tuple[str, ...] = ()
    # ... and its roll schedules (the same tables as sync_deps.toml's [schedules.NAME]).
    schedules: dict[str, Schedule] = field(default_factory=dict)
    # The Bazel repository name other projects' pins give this repo when their pin file
    # does not say it (XLA's LLVM: `name = name`, called as "llvm-raw").
    bazel_name: str | None = None

    @property
    def rel_path(self) -> str:
        return self.path or self.name

    def clone_url(self, read_only: bool) -> str:
        return self.url if read_only or not self.push_url else self.push_url


@dataclass(frozen=True, slots=True)
class Workspace:
    """A loaded registry; `file` is None for the implicit workspace of a bare project."""

    root: Path
    repos: dict[str, RepoSpec]
    jobs: int | None = None
    file: Path | None = None
    history: str | None = None
    cache: Path | None = None
    stall_timeout: float | None = None
    heartbeat: float | None = None
    # Repos known without being registered here: with no xla-workspace.toml, the presets'
    # repos stand in for a registry when native pin files are matched (contract 6.1).
    known: dict[str, RepoSpec] | None = None

    def catalog(self) -> dict[str, RepoSpec]:
        """The repos a project's native pins may name as deps: the registry, else presets."""
        return self.repos if self.known is None else {**self.known, **self.repos}

    cache_lock_timeout: float | None = None

    def path_of(self, name: str) -> Path:
        """Where a dep lives: its registry `path`, else `<root>/<name>` (contract 3.1.3)."""
        spec = self.repos.get(name)
        return self.root / (spec.rel_path if spec else name)

    def relative(self, path: Path) -> str:
        """A repo's path as the output shows it: relative to the root when inside it
        (symlinks followed when the plain path says nothing), else as given."""
        for here, root in ((path, self.root), (path.resolve(), self.root.resolve())):
            try:
                return str(here.relative_to(root))
            except ValueError:
                pass
        return str(path)

    def require(self, name: str) -> RepoSpec:
        if name not in self.repos:
            raise UsageError(f"unknown repo {name!r}", f"known: {', '.join(self.repos) or 'none'}")
        return self.repos[name]


def find_workspace_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` that holds xla-workspace.toml (or, made by
    openxla-workspace, .openxla_workspace.json)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / WORKSPACE_FILE).is_file() or (folder / LEGACY_WORKSPACE_FILE).is_file():
            return folder
    return None


def load_workspace(root: Path) -> Workspace:
    """Read and validate `<root>/xla-workspace.toml`; openxla-workspace's root gets the
    openxla preset's registry, which is what that tool had built in."""
    path = root / WORKSPACE_FILE
    if not path.is_file() and (root / LEGACY_WORKSPACE_FILE).is_file():
        return preset_workspace("openxla", root, file=root / LEGACY_WORKSPACE_FILE)
    return _parse_workspace(read_toml(path), root)


def preset_workspace(preset: str, root: Path, file: Path | None = None) -> Workspace:
    """A workspace at `root` whose registry is the shipped `preset` (no file written)."""
    doc = parse_toml(preset_text(preset), Path(f"<preset {preset}>"))
    return replace(_parse_workspace(doc, root), file=file)


def _parse_workspace(doc: TomlDoc, root: Path) -> Workspace:
    check_keys(doc, "", doc.data, {"schema", "settings", "repos"})
    schema_of(doc)
    settings = table_of(doc, "settings", doc.data.get("settings", {}))
    check_keys(doc, "settings", settings, _SETTINGS)
    jobs = field_of(doc, "settings", settings, "jobs", int, default=None)
    if jobs is not None and jobs < 1:
        raise doc.error("settings.jobs", f"must be a positive integer, got {jobs}")
    history = field_of(doc, "settings", settings, "history", str, default=None)
    if history is not None and history not in HISTORY_MODES:
        modes = f"{', '.join(HISTORY_MODES[:-1])} or {HISTORY_MODES[-1]}"
        raise doc.error("settings.history", f"expects {modes}, got {history!r}")
    cache = field_of(doc, "settings", settings, "cache", str, default=None)
    stall = _seconds_setting(doc, settings, "stall_timeout")
    cache_lock = _seconds_setting(doc, settings, "cache_lock_timeout")
    beat = _seconds_setting(doc, settings, "heartbeat", zero_is_off=True)
    repos_table = table_of(doc, "repos", doc.data.get("repos", {}))
    repos: dict[str, RepoSpec] = {}
    for name, raw in repos_table.items():
        key = f"repos.{name}"
        try:
            validate.name(name)
        except ValueError as err:
            raise doc.error(key, str(err)) from None
        table = table_of(doc, key, raw)
        check_keys(doc, key, table, _REPO_KEYS)
        deps = field_of(doc, key, table, "deps", list, default=[])
        for dep in deps:
            try:
                validate.name(dep)
            except ValueError as err:
                raise doc.error(f"{key}.deps", str(err)) from None
        repos[name] = RepoSpec(
            name=name,
            url=field_of(doc, key, table, "url", str, check=validate.url),
            push_url=field_of(doc, key, table, "push_url", str, default=None, check=validate.url),
            branch=field_of(doc, key, table, "branch", str, default="main", check=validate.branch),
            path=field_of(doc, key, table, "path", str, default=name, check=_placed(root)),
            submodules=field_of(doc, key, table, "submodules", bool, default=False),
            deps=tuple(deps),
            pin_files=_pin_files(
                doc, key, field_of(doc, key, table, "pin_files", list, default=[])
            ),
            bazel_name=field_of(doc, key, table, "bazel_name", str, default=None, check=_bazel),
        )
        schedules_raw = table_of(doc, f"{key}.schedules", table.get("schedules", {}))
        schedules = {
            schedule: read_schedule(
                doc, f"{key}.schedules", schedule, raw_schedule, repos_table, "registered repos"
            )
            for schedule, raw_schedule in schedules_raw.items()
        }
        repos[name] = replace(repos[name], schedules=schedules)
    _check_references(doc, repos)
    return Workspace(
        root=root,
        repos=repos,
        jobs=jobs,
        file=doc.path,
        history=history,
        cache=(root / Path(cache).expanduser()) if cache else None,
        stall_timeout=stall,
        cache_lock_timeout=cache_lock,
        heartbeat=beat,
    )


def _pin_files(doc: TomlDoc, key: str, values: list[object]) -> tuple[str, ...]:
    """Paths inside the project, as strings (checked again, on disk, when read)."""
    for value in values:
        if not isinstance(value, str):
            raise doc.error(f"{key}.pin_files", f"expected a list of paths, got {value!r}")
        try:
            validate.relative_path(value)
        except ValueError as err:
            raise doc.error(f"{key}.pin_files", str(err)) from None
    return tuple(str(value) for value in values)


def _bazel(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.+-]*", value):
        raise ValueError(f"not a Bazel repository name: {value!r}")
    return value


def _placed(root: Path) -> Callable[[object], str]:
    """The check of a repo's `path`: relative, inside the workspace, and short enough that
    the OS can hold the clone and everything in it (not `File name too long` mid-way)."""
    return lambda value: validate.fits_under(root, validate.relative_path(value))


def _seconds_setting(
    doc: TomlDoc, settings: dict[str, Any], key: str, *, zero_is_off: bool = False
) -> float | None:
    """`settings.KEY`: seconds > 0; with `zero_is_off`, a finite number >= 0 (0: none)."""
    value = field_of(doc, "settings", settings, key, (int, float), default=None)
    if value is None:
        return None
    bad = not 0 <= value < float("inf") if zero_is_off else not value > 0  # nan too
    if isinstance(value, bool) or bad:
        expects = "seconds >= 0 (0: none)" if zero_is_off else "seconds > 0"
        raise doc.error(f"settings.{key}", f"must be {expects}, got {value!r}")
    return float(value)


def _check_references(doc, repos: dict[str, RepoSpec]) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, str] = {}
    for spec in repos.values():
        for dep in spec.deps:
            if dep not in repos:
                raise doc.error(
                    f"repos.{spec.name}.deps",
                    f"unknown repo {dep!r}",
                    hint=f"known: {', '.join(repos)}",
                )
        if spec.rel_path in seen:
            raise doc.error(
                f"repos.{spec.name}.path",
                f"same path as repo {seen[spec.rel_path]!r}: {spec.rel_path}",
            )
        seen[spec.rel_path] = spec.name


def find_workspace(start: Path) -> Workspace | None:
    """The one rule for the workspace around `start`, used by every task: the nearest
    xla-workspace.toml (or .openxla_workspace.json) at or above it, else a PyTorch/XLA
    layout around it (`pytorch_layout_workspace`), else None."""
    root = find_workspace_root(start)
    if root is not None:
        return load_workspace(root)
    return pytorch_layout_workspace(start)


def open_workspace(start: Path, *, layout_ok: bool = False) -> Workspace:
    """The workspace around `start` (`find_workspace`), or a clear error saying how to make
    one. A PyTorch/XLA layout without a registry is taken only with `layout_ok`
    (update-repos, like git_sync_main.py); checkout clones into a registry you wrote."""
    found = find_workspace(start)
    if found is not None and (found.file is not None or layout_ok):
        return found
    hint = (
        f"run `xla-tasks init --preset pytorch-xla` in {found.root} first"
        if found is not None
        else "run `xla-tasks init` at the workspace root first"
    )
    raise ConfigError(start, f"no {WORKSPACE_FILE} here or in any parent directory", hint=hint)


def pytorch_layout_workspace(start: Path) -> Workspace | None:
    """Outside any workspace, the PyTorch/XLA layout around `start` as a pytorch-xla workspace.

    PyTorch/XLA's `git_sync_main.py` needs no registry: torch_xla is the clone at
    `pytorch/xla`, pytorch the clone holding it, vision (optional) the folder beside pytorch.
    `update-repos` finds them the same way, so a developer who never ran `init` can use it.
    """
    if find_workspace_root(start) is not None:
        return None
    start = start.resolve()
    for folder in (start, *start.parents):
        pytorch = folder / "pytorch"
        if (pytorch / ".git").exists() and (pytorch / "xla" / ".git").exists():
            return preset_workspace("pytorch-xla", folder)
    return None


def start_pinning_hint(project_dir: Path) -> str:
    """How to start pinning here: `pin --add` needs a registry naming the repo to add."""
    if find_workspace_root(project_dir) is not None:
        return "start pinning a registered repo with `xla-tasks pin --add NAME`"
    return (
        f"no {WORKSPACE_FILE} to name the repos: run `xla-tasks init` in "
        f"{project_dir.resolve().parent}, then `xla-tasks pin --add NAME`"
    )


def pytorch_layout_note(root: Path) -> str:
    return (
        f"no {WORKSPACE_FILE}: found pytorch, vision and torch_xla in {root} the way "
        "PyTorch/XLA's git_sync_main.py does; to make it permanent, run "
        f"`xla-tasks init --preset pytorch-xla` in {root}"
    )


def preset_text(preset: str) -> str:
    """The registry text shipped for `preset` ("none" is an empty registry)."""
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}", f"choose one of: {', '.join(PRESETS)}")
    if preset == "none":
        return "schema = 1\n\n# Add repositories as [repos.NAME] tables; see the README.\n"
    data = resources.files("xla_tasks") / "data" / "presets" / f"{preset}.toml"
    return data.read_text(encoding="utf-8")


def workspace_for_project(project_dir: Path, loaded: Workspace | None = None) -> Workspace:
    """The workspace around a project (`find_workspace`), else an implicit one rooted at the
    project's parent: `sync` works without xla-workspace.toml (contract 3), deps then go
    beside the project, and the presets' repos stand in for a registry (contract 6.1).

    `loaded`: a registry the caller has already read, taken as it is when it is the one
    that rule finds (not read a second time)."""
    if loaded and loaded.file and find_workspace_root(project_dir) == loaded.root:
        return loaded
    found = find_workspace(project_dir)
    if found is not None:
        return found
    return Workspace(root=project_dir.resolve().parent, repos={}, known=preset_catalog())


def preset_catalog() -> dict[str, RepoSpec]:
    """Every repo of the shipped presets (openxla, then pytorch-xla), paths left default:
    what native pins are matched against when there is no registry."""
    found: dict[str, RepoSpec] = {}
    for preset in ("openxla", "pytorch-xla"):
        for name, spec in preset_workspace(preset, Path()).repos.items():
            found.setdefault(name, replace(spec, path=name))
    return found
