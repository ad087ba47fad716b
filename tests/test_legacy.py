"""Legacy `sync_deps.py` (the older OpenXLA format): read as data with ast, migrated by `pin`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pin_setup import PLUGIN_DEPS, commit_local, file_bytes, plugin_workspace
from upstreams import git, head

from xla_tasks.errors import ConfigError
from xla_tasks.pins.legacy_script import legacy_pins_from_text, load_legacy_script
from xla_tasks.pins.project import (
    check_pin_files,
    is_generated_script,
    read_project_pins,
    render_for,
)
from xla_tasks.pins.sync_deps_toml import load_pin_file

SHA_A = "a" * 40
SHA_B = "b" * 40


def legacy_text(pins: dict[str, str], origins: dict[str, str], tail: str = "") -> str:
    """A file shaped like openxla-pjrt-plugin's old sync_deps.py (dicts, then code)."""
    pinned = "".join(f'  "{name}": "{rev}",\n' for name, rev in pins.items())
    origin = "".join(f'  "{name}": "{url}",\n' for name, url in origins.items())
    return (
        "### Update with: shark-workspace pin\n\n"
        f"PINNED_VERSIONS = {{\n{pinned}}}\n\n"
        f"ORIGINS = {{\n{origin}"
        '  "tensorflow": "https://github.com/tensorflow/tensorflow.git",\n}\n\n'
        'SUBMODULES = {\n  "iree": 1,\n}\n\n\n'
        "### Update support:\n\nimport argparse\nfrom pathlib import Path\n"
        f"{tail}\n"
        'def main():\n    parser = argparse.ArgumentParser()\n\n\nif __name__ == "__main__":\n'
        "    main()\n"
    )


def parse(text: str) -> object:
    return legacy_pins_from_text(text, Path("sync_deps.py"))


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value


# -- pin migrates a legacy project ----------------------------------------------------------


@pytest.fixture
def legacy_project(workspace: Path, upstreams, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """The plugin with its sync_deps.toml replaced by a legacy sync_deps.py full of traps."""
    project = plugin_workspace(workspace, upstreams)
    git(project, "rm", "--quiet", "sync_deps.toml")
    marker = tmp_path / "EXECUTED"
    tail = (
        f"open({str(marker)!r}, 'w').write('ran')\n"
        f"import os; os.system('touch {marker}')\n"
        f"Path({str(marker)!r}).touch()\n"
    )
    pins = {name: head(workspace / name) for name in PLUGIN_DEPS}
    (project / "sync_deps.py").write_text(
        legacy_text(pins, {name: upstreams.url(name) for name in PLUGIN_DEPS}, tail)
    )
    return project


def test_pin_migrates_legacy_file_without_running_it(legacy_project, workspace, tmp_path, cli):
    old = head(workspace / "xla")
    new = commit_local(workspace / "xla", "xla: after migration")

    result = cli("pin", cwd=legacy_project)

    assert result.code == 0, result.err
    assert "migrated legacy sync_deps.py to sync_deps.toml" in result.out
    assert f"xla: {old[:12]} -> {new[:12]}" in result.out
    pins = load_pin_file(legacy_project / "sync_deps.toml")
    assert sorted(pins.deps) == ["iree", "jax", "xla"]  # tensorflow had no pin: dropped
    assert pins.deps["xla"].rev == new
    assert pins.deps["iree"].submodules is True
    assert pins.deps["jax"].submodules is False
    assert is_generated_script((legacy_project / "sync_deps.py").read_text())
    assert check_pin_files(legacy_project) is None
    assert not (tmp_path / "EXECUTED").exists()


def test_migration_dry_run_writes_nothing_and_runs_nothing(legacy_project, tmp_path, cli):
    before = file_bytes(legacy_project)

    result = cli("pin", "--dry-run", cwd=legacy_project)

    assert result.code == 0, result.err
    assert "migrated legacy sync_deps.py" in result.out
    assert "dry run" in result.out
    assert file_bytes(legacy_project) == before
    assert not (tmp_path / "EXECUTED").exists()


def test_check_on_legacy_project_says_to_migrate(legacy_project, tmp_path, cli):
    result = cli("pin", "--check", cwd=legacy_project)

    assert result.code == 1
    assert "legacy" in result.err
    assert "xla-tasks pin" in result.err
    assert not (tmp_path / "EXECUTED").exists()


def test_legacy_with_non_literal_dict_fails_naming_line(legacy_project, tmp_path, cli):
    script = legacy_project / "sync_deps.py"
    text = script.read_text().replace("SUBMODULES = {", "SUBMODULES = make_submodules() or {", 1)
    script.write_text(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("SUBMODULES")))
    before = file_bytes(legacy_project)

    result = cli("pin", cwd=legacy_project)

    assert result.code == 1
    assert f"sync_deps.py:{line + 1}: SUBMODULES: not a literal dict" in result.err
    assert "Traceback" not in result.err
    assert file_bytes(legacy_project) == before
    assert not (tmp_path / "EXECUTED").exists()


def test_read_project_pins_reads_legacy_file(legacy_project, workspace):
    pins = read_project_pins(legacy_project)

    assert pins is not None
    assert pins.deps["jax"].rev == head(workspace / "jax")
    assert pins.deps["jax"].branch == "main"


def test_read_project_pins_refuses_our_script_without_its_toml(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    pins = parse(legacy_text({"xla": SHA_A}, {"xla": "https://example.com/xla.git"}))
    (project / "sync_deps.py").write_text(render_for(pins))  # type: ignore[arg-type]

    with pytest.raises(ConfigError, match=r"sync_deps\.toml: file not found"):
        read_project_pins(project)


# -- the parser ----------------------------------------------------------------------------


def test_parser_reads_the_three_dicts():
    pins = parse(
        legacy_text(
            {"iree": SHA_A, "xla": SHA_B},
            {
                "iree": "https://github.com/openxla/iree.git",
                "xla": "https://github.com/openxla/xla.git",
            },
        )
    )

    assert {name: dep.rev for name, dep in pins.deps.items()} == {"iree": SHA_A, "xla": SHA_B}  # type: ignore[attr-defined]
    assert pins.deps["iree"].submodules is True  # type: ignore[attr-defined]
    assert pins.deps["xla"].url == "https://github.com/openxla/xla.git"  # type: ignore[attr-defined]


def test_parser_accepts_dict_keyword_form_and_annotations():
    pins = parse(
        f'PINNED_VERSIONS: dict = dict(xla="{SHA_A}")\n'
        'ORIGINS = dict(xla="https://github.com/openxla/xla.git")\n'
        "SUBMODULES = dict(xla=True)\n"
    )

    assert pins.deps["xla"].rev == SHA_A  # type: ignore[attr-defined]
    assert pins.deps["xla"].submodules is True  # type: ignore[attr-defined]


def test_parser_reads_our_own_rendering_back():
    pins = parse(legacy_text({"xla": SHA_A}, {"xla": "https://example.com/xla.git"}))

    assert parse(render_for(pins)) == pins  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("PINNED_VERSIONS = compute()\n", ":1: PINNED_VERSIONS", "not a literal dict"),
        (
            f'X = "{SHA_A}"\nPINNED_VERSIONS = {{\n  "xla": X,\n}}\n',
            ":3: PINNED_VERSIONS.xla",
            "not a literal",
        ),
        (
            f'PINNED_VERSIONS = {{"xla": "{SHA_A}"}}\nORIGINS = {{"xla": "u"}}\n'
            'PINNED_VERSIONS["jax"] = "x"\n',
            ":3: PINNED_VERSIONS",
            "changed by code",
        ),
        (
            f'PINNED_VERSIONS = {{"xla": "{SHA_A}"}}\nPINNED_VERSIONS.update(jax="x")\n',
            ":2: PINNED_VERSIONS",
            "changed by code",
        ),
        (
            'PINNED_VERSIONS = {\n  "xla": "1234abc",\n}\nORIGINS = {"xla": "u"}\n',
            ":2: PINNED_VERSIONS.xla",
            "40-hex",
        ),
        (f'PINNED_VERSIONS = {{"xla": "{SHA_A}"}}\n', ":1: PINNED_VERSIONS.xla", "no ORIGINS"),
        (
            f'PINNED_VERSIONS = {{"xla": "{SHA_A}"}}\nORIGINS = {{\n  "xla": "ext::sh -c x",\n}}\n',
            ":3: ORIGINS.xla",
            "ext::",
        ),
        (
            f'PINNED_VERSIONS = {{"../x": "{SHA_A}"}}\nORIGINS = {{"../x": "u"}}\n',
            ":1: PINNED_VERSIONS.../x",
            "invalid name",
        ),
        (
            f'PINNED_VERSIONS = {{"xla": "{SHA_A}"}}\nORIGINS = {{"xla": "u"}}\n'
            'SUBMODULES = {"xla": "yes"}\n',
            ":3: SUBMODULES.xla",
            "expected 1 or 0",
        ),
        ("PINNED_VERSIONS = {\n", ":", "invalid Python"),
        ("import os\n", "sync_deps.py:", "no top-level PINNED_VERSIONS"),
    ],
)
def test_parser_errors_name_file_key_and_line(text, where, words):
    message = str(error_of(text))

    assert message.startswith("sync_deps.py")
    assert where in message
    assert words in message


def test_load_legacy_script_never_executes_it(tmp_path):
    marker = tmp_path / "EXECUTED"
    script = tmp_path / "sync_deps.py"
    script.write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
        f'PINNED_VERSIONS = {{"xla": "{SHA_A}"}}\nORIGINS = {{"xla": "https://e.com/x.git"}}\n'
        f"raise SystemExit(pathlib.Path({str(marker)!r}).touch())\n"
    )

    pins = load_legacy_script(script)

    assert pins.deps["xla"].rev == SHA_A
    assert not marker.exists()
