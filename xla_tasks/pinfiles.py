"""The pair of pin files a project carries: `sync_deps.toml` and its rendering `sync_deps.py`.

The TOML is the source of truth; the script is derived from it byte for byte, so "is the
script current?" is a string comparison (`pin --check`, which CI runs, needs no git).
Writes go TOML first, then the script, each atomically: an interruption between the two
leaves a stale script that `pin --check` reports and `pin` repairs.
"""

from __future__ import annotations

from pathlib import Path

from .errors import XlaTasksError
from .fsutil import atomic_write
from .pins import (
    PIN_FILE,
    SCRIPT_FILE,
    Pins,
    dump_pins,
    is_generated_script,
    load_pin_file,
)
from .render import render_sync_deps_script


def render_for(pins: Pins) -> str:
    """The `sync_deps.py` text for these pins (deterministic: same pins, same bytes)."""
    deps = pins.deps.values()
    try:
        return render_sync_deps_script(
            pinned={dep.name: dep.rev for dep in deps},
            origins={dep.name: dep.url for dep in deps},
            submodules={dep.name: 1 for dep in deps if dep.submodules},
            branches={dep.name: dep.branch for dep in deps},
            exclude_submodules={
                dep.name: tuple(getattr(dep, "exclude_submodules", ())) for dep in deps
            },
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
    return [name for name, text in wanted.items() if _read(project_dir / name) != text]


def check_pin_files(project_dir: Path) -> str | None:
    """None when `sync_deps.py` is exactly the rendering of `sync_deps.toml`, else why not.

    Runs no git. A malformed `sync_deps.toml` raises its ConfigError (file:line: key).
    """
    toml_path = project_dir / PIN_FILE
    script_path = project_dir / SCRIPT_FILE
    if not toml_path.is_file():
        if not script_path.is_file():
            return (
                f"no {PIN_FILE} or {SCRIPT_FILE} in {project_dir} "
                "(start pinning with `xla-tasks pin --add NAME`)"
            )
        if is_generated_script(script_path):
            return (
                f"{toml_path} is missing ({SCRIPT_FILE} was generated from it; "
                f"restore it, e.g. `git checkout -- {PIN_FILE}`)"
            )
        return (
            f"{script_path} is a legacy file with no {PIN_FILE} (run `xla-tasks pin` to migrate it)"
        )
    expected = render_for(load_pin_file(toml_path))
    existing = _read(script_path)
    if existing is None:
        return f"{script_path} is missing (run `xla-tasks pin` to generate it)"
    if existing != expected:
        return (
            f"{script_path} is stale: not the rendering of {PIN_FILE} "
            "(hand-edited, or the toml changed; run `xla-tasks pin` to regenerate it)"
        )
    return None


def _read(path: Path) -> str | None:
    """The file's text, None when absent; undecodable bytes count as a difference."""
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None
