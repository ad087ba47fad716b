"""`bazelrc`: the flags that make Bazel build a project against the workspace's checkouts.

A project pins some deps in Bazel files (JAX: XLA in `third_party/xla/*.bzl` and
`MODULE.bazel`; XLA: LLVM, StableHLO, Shardy, Triton). For each such dep that is present in
the workspace, two lines point Bazel at the checkout in both of its modes (contract 6.3):
`common --override_repository=NAME=PATH` (WORKSPACE) and `common --override_module=NAME=PATH`
(bzlmod, which silently ignores the first). NAME is the repository or module name the pin
file gives, else the registry's `bazel_name` (XLA's LLVM is `name = name`: `llvm-raw`).

`--write` keeps the lines in a marked block of the project's `.bazelrc.user`, the file JAX's
and XLA's `.bazelrc` try-import: every byte outside the block stays as it was, and writing
the same lines again gives the same file. `--clear` removes the block. Nothing else in the
project is written, and nothing runs git.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.engine.disk import is_repo_top
from xla_tasks.errors import ConfigError, UsageError
from xla_tasks.fsutil import atomic_write, file_in_repo
from xla_tasks.pins.model import Pins
from xla_tasks.pins.native_deps import read_native_deps
from xla_tasks.ui.results import CommandResult
from xla_tasks.workspace.project import find_project_dir, project_name
from xla_tasks.workspace.registry import Workspace, workspace_for_project
from xla_tasks.workspace.settings import TaskOptions

USER_RC = ".bazelrc.user"
BEGIN = "# >>> xla-tasks bazelrc >>>"
END = "# <<< xla-tasks bazelrc <<<"
HEADER = (
    "# The workspace's checkouts, written by `xla-tasks bazelrc --write` (`--clear` removes them)."
)
BAZEL_FORMATS = ("starlark", "module_bazel", "git_repository", "http_archive", "workspace_hash")


@dataclass(frozen=True, slots=True)
class Override:
    dep: str
    name: str  # the Bazel repository or module name
    path: Path  # the checkout, absolute
    pinned_in: tuple[str, ...]

    def lines(self) -> list[str]:
        where = f"{self.name}={self.path}"
        return [
            f"common {shlex.quote('--override_repository=' + where)}",
            f"common {shlex.quote('--override_module=' + where)}",
        ]


def bazelrc(
    start: Path, options: TaskOptions, *, write: bool = False, clear: bool = False
) -> CommandResult:
    """Print the override lines, or keep them in `.bazelrc.user` (`write`), or remove them
    from it (`clear`). With `options.dry_run`, say what would change and write nothing."""
    if write and clear:
        raise UsageError("bazelrc: --write and --clear exclude each other", "give one of them")
    project_dir = find_project_dir(start)
    workspace = workspace_for_project(project_dir)
    root = project_name(workspace, project_dir)
    result = CommandResult(command="bazelrc")
    overrides: list[Override] = []
    if not clear:
        overrides = _overrides(project_dir, workspace, root, result)
    lines = [line for override in overrides for line in override.lines()]
    result.data.update(
        project=str(project_dir),
        workspace=str(workspace.root),
        lines=lines,
        overrides=[
            {"dep": o.dep, "name": o.name, "path": str(o.path), "pinned_in": list(o.pinned_in)}
            for o in overrides
        ],
    )
    if not write and not clear:
        result.messages.extend(lines)
        if not lines:
            result.warnings.append(
                f"no dep that {root}'s Bazel files pin is present in {workspace.root}: "
                "nothing to override (xla-tasks sync clones them)"
            )
        return result
    names = list(dict.fromkeys(o.name for o in overrides))
    _keep_in_file(project_dir, lines, names, options.dry_run, result)
    return result


def _overrides(
    project_dir: Path, workspace: Workspace, root: str, result: CommandResult
) -> list[Override]:
    """One override per Bazel name of each dep the project pins in a Bazel file and the
    workspace has; the deps it cannot name, or that are not there, become warnings."""
    catalog = workspace.catalog()
    pins = read_native_deps(project_dir, catalog, project=root) or Pins()
    found: list[Override] = []
    for dep, sites in pins.sites.items():
        bazel = [site for site in sites if site.format in BAZEL_FORMATS]
        if not bazel:
            continue
        files = tuple(dict.fromkeys(site.file for site in bazel))
        names = [site.bazel_name for site in bazel if site.bazel_name]
        spec = catalog.get(dep)
        if not names and spec is not None and spec.bazel_name:
            names = [spec.bazel_name]
        path = workspace.path_of(dep)
        if not names:
            result.warnings.append(
                f"{dep}: {', '.join(files)} pins it without naming its Bazel repository; "
                f'set bazel_name = "NAME" in its registry entry to override it'
            )
        elif not is_repo_top(path):
            result.warnings.append(
                f"{dep}: not in the workspace (no checkout at {path}), so Bazel keeps the "
                f"archive {', '.join(files)} pins; xla-tasks sync clones it"
            )
        else:
            real = path.resolve()
            found.extend(Override(dep, name, real, files) for name in dict.fromkeys(names))
    return found


def _keep_in_file(
    project_dir: Path, lines: list[str], names: list[str], dry_run: bool, result: CommandResult
) -> None:
    """Put `lines` in the block of `.bazelrc.user` (none: no block), changing nothing else."""
    path = _user_rc(project_dir)
    old = _read(path)
    new = _with_block(old or "", lines, path)
    changed = new != (old or "")
    if changed and old is None and not new:
        changed = False  # no file, and no block to write: nothing to create
    verb = "would " if dry_run else ""
    if not changed:
        what = "holds these overrides already" if lines else "has no xla-tasks block"
        result.messages.append(f"{path} {what}: unchanged")
    elif lines:
        result.messages.append(
            f"{verb}{'write' if dry_run else 'wrote'} {len(lines)} line(s) to the xla-tasks "
            f"block of {path} (overrides: {', '.join(names)})"
        )
    else:
        result.messages.append(
            f"{verb}{'remove' if dry_run else 'removed'} the xla-tasks block of {path}"
        )
    result.data.update(file=str(path), changed=changed, dry_run=dry_run)
    if changed and not dry_run:
        atomic_write(path, new.encode("utf-8", "surrogateescape"))


def _user_rc(project_dir: Path) -> Path:
    """The project's `.bazelrc.user`, links followed inside the project only."""
    try:
        path = file_in_repo(project_dir, USER_RC)
    except ValueError as err:
        raise ConfigError(
            project_dir / USER_RC,
            f"is a link out of the project ({err})",
            hint="point it inside, or remove it",
        ) from None
    if path.exists() and not path.is_file():
        raise ConfigError(
            path, "is not a file", hint=f"move it away; {USER_RC} is a file Bazel reads"
        )
    return path


def _read(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ConfigError(path, f"cannot read: {err.strerror}") from None
    return data.decode("utf-8", "surrogateescape")


def _with_block(text: str, lines: list[str], path: Path) -> str:
    """`text` with its block replaced by one holding `lines` (removed when there are none;
    put first when there was none, so `--clear` gives back the file's exact bytes even when
    its last line has no newline). Every byte outside the block is kept."""
    kept = text.splitlines(keepends=True)
    begins = [n for n, line in enumerate(kept) if line.rstrip("\r\n") == BEGIN]
    ends = [n for n, line in enumerate(kept) if line.rstrip("\r\n") == END]
    if (
        len(begins) > 1
        or len(ends) > 1
        or len(begins) != len(ends)
        or (begins and ends[0] < begins[0])
    ):
        line = (begins or ends)[0] + 1
        raise ConfigError(
            path,
            "holds a broken xla-tasks block (one begin line and one end line expected)",
            line=line,
            hint=f"remove the lines from {BEGIN!r} to {END!r} by hand, then run again",
        )
    block = (
        [f"{BEGIN}\n", f"{HEADER}\n", *(f"{line}\n" for line in lines), f"{END}\n"] if lines else []
    )
    if begins:
        return "".join(kept[: begins[0]] + block + kept[ends[0] + 1 :])
    return "".join(block) + text  # first: no newline to add after a last line without one
