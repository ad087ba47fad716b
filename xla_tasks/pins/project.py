"""The pair of pin files a project carries: `sync_deps.toml` and its rendering `sync_deps.py`.

The TOML is the source of truth; the script is derived from it byte for byte, so "is the
script current?" is a string comparison (`pin --check`, which CI runs, needs no git).
Writes go TOML first, then the script, each atomically: an interruption between the two
leaves a stale script that `pin --check` reports and `pin` repairs.

Teams migrate one developer at a time, so the script may also have been rewritten by an
older tool (`openxla-workspace pin`, a hand edit) after the TOML was written: then the two
files disagree and neither can silently win (contract 5.7). `script_drift` tells the cases
apart, and `read_root_pins` is the one place sync, roll, pin and status ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from xla_tasks.errors import ConfigError, XlaTasksError
from xla_tasks.fsutil import atomic_write
from xla_tasks.pins.model import Pins
from xla_tasks.pins.native_deps import KnownRepo, read_native_deps
from xla_tasks.pins.sync_deps_script import (
    BEGIN_MARKER,
    END_MARKER,
    HEADER,
    SCRIPT_FILE,
    render_sync_deps_script,
)
from xla_tasks.pins.sync_deps_toml import PIN_FILE, dump_pins, load_pin_file, parse_pin_file
from xla_tasks.tomlfile import (
    FileTooLarge,
    NotRegularFile,
    decode_text,
    read_bounded,
    read_limited_text,
    too_large_error,
)

FROM_SCRIPT = "xla-tasks pin --from-script"
FROM_TOML = "xla-tasks pin --from-toml"


def render_for(pins: Pins) -> str:
    """The `sync_deps.py` text for these pins (deterministic: same pins, same bytes)."""
    deps = pins.deps.values()
    try:
        return render_sync_deps_script(
            pinned={dep.name: dep.rev for dep in deps},
            origins={dep.name: dep.url for dep in deps},
            submodules={dep.name: 1 for dep in deps if dep.submodules},
            branches={dep.name: dep.branch for dep in deps},
            exclude_submodules={dep.name: dep.exclude_submodules for dep in deps},
        )
    except ValueError as err:  # pins are validated on load; this guards hand-built ones
        raise XlaTasksError(f"cannot render {SCRIPT_FILE}: {err}") from None


def save_pin_files(project_dir: Path, pins: Pins) -> None:
    """Write `sync_deps.toml` then `sync_deps.py`, each atomically; both rendered up front."""
    toml_text = dump_pins(pins)
    script_text = render_for(pins)
    atomic_write(project_dir / PIN_FILE, toml_text)
    atomic_write(project_dir / SCRIPT_FILE, script_text)


def pin_files_differ(project_dir: Path, pins: Pins) -> list[str]:
    """Which of the two files would change if `pins` were saved (missing counts as changed)."""
    wanted = {PIN_FILE: dump_pins(pins), SCRIPT_FILE: render_for(pins)}
    return [name for name, text in wanted.items() if not _holds(project_dir / name, text)]


def check_pin_files(project_dir: Path, start_hint: str = "") -> str | None:
    """None when `sync_deps.py` is exactly the rendering of `sync_deps.toml`, else why not.

    Runs no git. A malformed `sync_deps.toml` raises its ConfigError (file:line: key).
    """
    toml_path = project_dir / PIN_FILE
    script_path = project_dir / SCRIPT_FILE
    if not toml_path.is_file():
        text = _read(script_path)
        if text is None:
            return f"no {PIN_FILE} or {SCRIPT_FILE} in {project_dir}" + (
                f" ({start_hint})" if start_hint else ""
            )
        if is_generated_script(text):
            return (
                f"{toml_path} is missing ({SCRIPT_FILE} was generated from it; "
                f"restore it, e.g. `git checkout -- {PIN_FILE}`, or rebuild it with "
                f"`{FROM_SCRIPT}`)"
            )
        return (
            f"{script_path} is a legacy file with no {PIN_FILE} (run `xla-tasks pin` to migrate "
            f"it at the deps' HEADs, or `{FROM_SCRIPT}` to keep its pins)"
        )
    pins = load_pin_file(toml_path)
    if not script_path.is_file():
        return f"{script_path} is missing (run `{FROM_TOML}` to generate it)"
    drift = script_drift(project_dir, pins)
    if drift is None:
        return None
    if drift.refuses:
        return f"{script_path} is stale: {drift.message(project_dir)}"
    return (
        f"{script_path} is stale: not the rendering of {PIN_FILE} "
        f"(hand-edited, or the toml changed; run `{FROM_TOML}` to regenerate it)"
    )


@dataclass(frozen=True, slots=True)
class ScriptDrift:
    """How a `sync_deps.py` differs from the rendering of the `sync_deps.toml` beside it.

    `rewritten`: not our rendering of any pins (another tool or a hand edit wrote it) and
    its pins differ, or cannot be read: sync, roll and pin refuse. Otherwise it is merely
    stale (the TOML was edited, or a newer xla-tasks renders differently): the TOML wins.
    """

    rewritten: bool
    differing: tuple[str, ...] = ()  # "NAME (sync_deps.py X, sync_deps.toml Y)"
    unreadable: str = ""  # why the script cannot be read as data, when it cannot

    @property
    def refuses(self) -> bool:
        return self.rewritten and bool(self.differing or self.unreadable)

    def message(self, project_dir: Path) -> str:
        script, toml = project_dir / SCRIPT_FILE, project_dir / PIN_FILE
        if self.refuses and self.unreadable:
            return (
                f"{script} was rewritten by another tool and cannot be read as data "
                f"({self.unreadable}), so it may disagree with {toml}; "
                f"keep the TOML's pins and regenerate it with `{FROM_TOML}`"
            )
        if self.refuses:
            return (
                f"{script} was rewritten by another tool and its pins differ from {toml}: "
                f"{'; '.join(self.differing)}; take the script's pins with `{FROM_SCRIPT}`, "
                f"or keep the TOML's and regenerate the script with `{FROM_TOML}`"
            )
        moved = f" (pins differ: {'; '.join(self.differing)})" if self.differing else ""
        return (
            f"{script} is stale: not the rendering of {toml}{moved}; "
            f"used {PIN_FILE}; run `{FROM_TOML}` to regenerate the script"
        )


def script_drift(project_dir: Path, pins: Pins) -> ScriptDrift | None:
    """None when the script is missing or is exactly the rendering of `pins`; else how not."""
    from xla_tasks.pins.legacy_script import legacy_pins_from_text

    script = project_dir / SCRIPT_FILE
    try:
        text = _read(script)
    except ConfigError as err:  # over the bound: not our rendering, and not data either
        return ScriptDrift(rewritten=True, unreadable=err.reason)
    if text is None or text == render_for(pins):
        return None
    ours = is_generated_script(text)
    try:  # undecodable bytes (kept for the comparison above) make it unreadable as data
        strict = decode_text(script, text.encode("utf-8", errors="surrogateescape"))
        script_pins = legacy_pins_from_text(strict, script)
    except ConfigError as err:
        return ScriptDrift(rewritten=not ours, unreadable=err.message)
    differing = tuple(_differing(script_pins, pins))
    ours = ours and _pins_block(text) == _pins_block(render_for(_merged(pins, script_pins)))
    return ScriptDrift(rewritten=not ours, differing=differing)


def _differing(script: Pins, toml: Pins) -> list[str]:
    """Each dep whose commit or URL differs between the two files, with both values."""
    out = []
    for name in sorted(set(script.deps) | set(toml.deps)):
        left, right = script.deps.get(name), toml.deps.get(name)
        if left is None or right is None:
            out.append(f"{name} (only in {SCRIPT_FILE if left else PIN_FILE})")
        elif left.rev != right.rev:
            out.append(f"{name} ({SCRIPT_FILE} {left.rev[:12]}, {PIN_FILE} {right.rev[:12]})")
        elif left.url != right.url:
            out.append(f"{name} ({SCRIPT_FILE} {left.url}, {PIN_FILE} {right.url})")
    return out


def _pins_block(text: str) -> str | None:
    """The text between the generated-pins markers, None when they are not both there."""
    _, begin, rest = text.partition(BEGIN_MARKER)
    block, end, _ = rest.partition(END_MARKER)
    return block if begin and end else None


def _merged(toml: Pins, script: Pins) -> Pins:
    """The script's pins, keeping what only the TOML records (branches the old format
    lacks, submodule exclusions, schedules whose deps are still pinned)."""
    deps = {}
    for name, dep in script.deps.items():
        known = toml.deps.get(name)
        if known is not None:
            branch = dep.branch if dep.branch != "main" else known.branch
            excludes = dep.exclude_submodules or known.exclude_submodules
            dep = replace(dep, branch=branch, exclude_submodules=excludes)
        deps[name] = dep
    schedules = {
        name: replace(schedule, deps=tuple(d for d in schedule.deps if d in deps))
        for name, schedule in toml.schedules.items()
    }
    return Pins(deps=deps, schedules=schedules)


def pins_from_script(project_dir: Path) -> Pins:
    """`pin --from-script`: the script's pins, merged into the TOML's other settings."""
    from xla_tasks.pins.legacy_script import load_legacy_script

    script = load_legacy_script(project_dir / SCRIPT_FILE)
    toml_path = project_dir / PIN_FILE
    return _merged(load_pin_file(toml_path), script) if toml_path.is_file() else script


def read_root_pins(
    project_dir: Path,
    *,
    strict: bool = True,
    repos: Mapping[str, KnownRepo] | None = None,
    project: str | None = None,
    agree: bool = True,
) -> tuple[Pins | None, list[str]]:
    """A project's own pins for sync, roll, pin and status, and warnings about its script.

    A script another tool rewrote with other pins is an error when `strict` (sync, roll,
    pin), a warning otherwise (status); a merely stale script is a warning. `repos`,
    `project` and `agree`: as for `read_project_pins` (native pins).
    """
    pins = read_project_pins(project_dir, repos, project, agree=agree)
    if pins is None or not (project_dir / PIN_FILE).is_file():
        return pins, []
    drift = script_drift(project_dir, pins)
    if drift is None:
        return pins, []
    if drift.refuses and strict:
        raise XlaTasksError(drift.message(project_dir))
    return pins, [drift.message(project_dir)]


def _read(path: Path) -> str | None:
    """The file's text, None when there is none (absent, a folder, a FIFO: never waited on);
    undecodable bytes count as a difference. Over MAX_FILE_BYTES: ConfigError."""
    try:
        data = read_bounded(path)
    except (FileNotFoundError, IsADirectoryError, NotRegularFile):
        return None
    except FileTooLarge:
        raise too_large_error(path) from None
    return data.decode("utf-8", errors="surrogateescape")


def _holds(path: Path, text: str) -> bool:
    """Does the file hold exactly `text`? (One too large to read does not.)"""
    try:
        return _read(path) == text
    except ConfigError:
        return False


def read_project_pins(
    project_dir: Path,
    repos: Mapping[str, KnownRepo] | None = None,
    project: str | None = None,
    *,
    agree: bool = True,
) -> Pins | None:
    """A project's pins: its `sync_deps.toml`, else a legacy `sync_deps.py`, else the native
    pin files it keeps (when the registry, `repos`, is given), else None.

    A legacy script is parsed, never run (`legacy.py`). A `sync_deps.py` that we generated
    is not a source of pins: without its `sync_deps.toml` the project is broken, not legacy.
    `project` is the project's registry name: its `pin_files`, and never its own dep.
    `agree=False`: native pin files that disagree are read anyway (`pin` rewrites them all).
    """
    path = project_dir / PIN_FILE
    if path.is_file():
        return load_pin_file(path)
    script = project_dir / SCRIPT_FILE
    if script.is_file():
        return pins_from_texts(project_dir, None, read_limited_text(script))
    if repos is None:
        return None
    return read_native_deps(project_dir, repos, project=project, agree=agree)


def pins_from_texts(
    project_dir: Path, toml: str | None, script: str | None, at: str = ""
) -> Pins | None:
    """A project's own pins from the texts of its `sync_deps.toml` and `sync_deps.py` (None
    where it has no such file), as `read_project_pins` takes them. `at` is where the texts
    come from when not the work tree (`@<sha12>`): errors name `FILE@<sha12>:LINE`.
    """
    toml_path = Path(f"{project_dir / PIN_FILE}{at}")
    if toml is not None:
        return parse_pin_file(toml, toml_path)
    if script is None:
        return None
    if is_generated_script(script):
        raise missing_pin_file_error(toml_path)
    from xla_tasks.pins.legacy_script import legacy_pins_from_text

    return legacy_pins_from_text(script, Path(f"{project_dir / SCRIPT_FILE}{at}"))


def is_legacy_project(project_dir: Path) -> bool:
    """True when the project's pins come from an old-format `sync_deps.py` (pin migrates it)."""
    if (project_dir / PIN_FILE).is_file():
        return False
    text = _read(project_dir / SCRIPT_FILE)
    return text is not None and not is_generated_script(text)


def is_generated_script(text: str) -> bool:
    """True when a script's `text` opens with the header `render.py` writes (so it is ours,
    not legacy)."""
    return any(line.rstrip("\r") == HEADER for line in text.split("\n", 3)[:3])


def missing_pin_file_error(toml_path: Path) -> ConfigError:
    return ConfigError(
        toml_path,
        f"file not found, but {SCRIPT_FILE} beside it was generated from it",
        hint=f"restore it (e.g. `git checkout -- {PIN_FILE}`), or rebuild its deps from "
        f"{SCRIPT_FILE} with `xla-tasks pin --from-script` (schedules are not in the script)",
    )
