"""`xla-tasks bazelrc` (contract 6.3): Bazel flags that build against the checkouts.

Each dep a project pins in a Bazel file and the workspace has gets both
`common --override_repository=NAME=PATH` and `common --override_module=NAME=PATH` (bzlmod
ignores the first), NAME as the pin file says it (else the registry's `bazel_name`).
`--write` keeps them in a marked block of `.bazelrc.user`; every other byte stays.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from native_world import NativeWorld, pytorch_layout, registry

from xla_tasks.commands.bazelrc import BEGIN, END, HEADER


@pytest.fixture
def jax(world: NativeWorld, ws: Path, cli) -> Path:
    """JAX beside a synced XLA, with no xla-workspace.toml."""
    project = world.clone("jax", ws / "jax")
    assert cli("sync", cwd=project).code == 0
    return project


def flags(name: str, path: Path) -> list[str]:
    return [
        f"common --override_repository={name}={path}",
        f"common --override_module={name}={path}",
    ]


def block(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in [BEGIN, HEADER, *lines, END])


def test_jax_gets_both_flags_for_its_xla(jax: Path, ws: Path, cli) -> None:
    result = cli("bazelrc", cwd=jax)

    assert result.code == 0, result.err
    assert result.out.splitlines() == flags("xla", ws / "xla")
    assert result.err == ""
    assert not (jax / ".bazelrc.user").exists()  # printing writes nothing


def test_xla_names_llvm_raw_from_the_registry_and_its_other_deps_from_its_files(
    world: NativeWorld, ws: Path, cli
) -> None:
    """XLA's LLVM file says `name = name` (XLA calls it as llvm-raw): the registry's
    bazel_name; stablehlo and shardy by the names their files give; triton's file names
    no repository rule the reader knows (`triton_archive`): the preset's bazel_name."""
    registry(ws, llvm=True)
    xla = world.clone("xla", ws / "xla")
    assert cli("sync", cwd=xla).code == 0

    result = cli("bazelrc", cwd=xla)

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        *flags("llvm-raw", ws / "llvm-project"),
        *flags("shardy", ws / "shardy"),
        *flags("stablehlo", ws / "stablehlo"),
        *flags("triton", ws / "triton"),
    ]


def test_torch_xla_gets_the_name_its_workspace_gives_xla(world: NativeWorld, ws: Path, cli) -> None:
    """pytorch is pinned in .torch_commit, which is no Bazel pin: no flag for it."""
    torch_xla = pytorch_layout(world, ws)
    assert cli("sync", cwd=torch_xla).code == 0

    result = cli("bazelrc", cwd=torch_xla)

    assert result.out.splitlines() == flags("xla", ws / "xla")


def test_a_dep_not_in_the_workspace_gets_no_flag_and_a_warning(
    world: NativeWorld, ws: Path, cli
) -> None:
    jax = world.clone("jax", ws / "jax")

    result = cli("bazelrc", cwd=jax)

    assert result.code == 0
    assert result.out == ""
    assert (
        f"warning: xla: not in the workspace (no checkout at {ws / 'xla'}), so Bazel keeps "
        "the archive MODULE.bazel, third_party/xla/revision.bzl pins; xla-tasks sync clones it"
    ) in result.err


def test_a_dep_whose_bazel_name_nobody_says_is_a_warning(world: NativeWorld, ws: Path, cli) -> None:
    """Without the preset's bazel_name, triton cannot be named."""
    text = (Path(__file__).parent.parent / "xla_tasks/data/presets/openxla.toml").read_text()
    (ws / "xla-workspace.toml").write_text(text.replace('bazel_name = "triton"\n', ""))
    xla = world.clone("xla", ws / "xla")
    assert cli("sync", cwd=xla).code == 0

    result = cli("bazelrc", cwd=xla)

    assert "override_repository=triton" not in result.out
    assert (
        "warning: triton: third_party/triton/workspace.bzl pins it without naming its Bazel "
        'repository; set bazel_name = "NAME" in its registry entry to override it'
    ) in result.err


def test_write_keeps_every_other_byte_twice_is_the_same_file_and_clear_gives_it_back(
    jax: Path, ws: Path, cli
) -> None:
    """The user's lines (CRLF, a last line without newline) stay byte for byte."""
    mine = b"build --config=cuda\r\n# my own flags\r\nbuild -c opt"
    rc = jax / ".bazelrc.user"
    rc.write_bytes(mine)

    first = cli("bazelrc", "--write", cwd=jax)
    written = rc.read_bytes()
    second = cli("bazelrc", "--write", cwd=jax)
    again = rc.read_bytes()
    cleared = cli("bazelrc", "--clear", cwd=jax)

    assert first.code == 0, first.err
    assert written == block(flags("xla", ws / "xla")).encode() + mine
    assert first.out.strip() == (f"wrote 2 line(s) to the xla-tasks block of {rc} (overrides: xla)")
    assert again == written
    assert second.out.strip() == f"{rc} holds these overrides already: unchanged"
    assert cleared.code == 0
    assert rc.read_bytes() == mine
    assert cleared.out.strip() == f"removed the xla-tasks block of {rc}"


def test_write_replaces_its_block_where_it_is_when_the_checkouts_change(
    jax: Path, ws: Path, world: NativeWorld, cli
) -> None:
    rc = jax / ".bazelrc.user"
    rc.write_text(f"build -c opt\n{block(['common --override_module=xla=/old'])}test -k\n")

    assert cli("bazelrc", "--write", cwd=jax).code == 0

    assert rc.read_text() == f"build -c opt\n{block(flags('xla', ws / 'xla'))}test -k\n"


def test_write_creates_the_file_and_dry_run_writes_nothing(jax: Path, ws: Path, cli) -> None:
    rc = jax / ".bazelrc.user"

    dry = cli("bazelrc", "--write", "--dry-run", cwd=jax)
    assert not rc.exists()
    result = cli("bazelrc", "--write", "--json", cwd=jax)

    assert (
        dry.out.strip() == f"would write 2 line(s) to the xla-tasks block of {rc} (overrides: xla)"
    )
    assert rc.read_text() == block(flags("xla", ws / "xla"))
    data = result.json()["data"]
    assert data["changed"] is True
    assert data["file"] == str(rc)
    assert data["overrides"] == [
        {
            "dep": "xla",
            "name": "xla",
            "path": str(ws / "xla"),
            "pinned_in": ["MODULE.bazel", "third_party/xla/revision.bzl"],
        }
    ]


def test_a_link_in_the_project_is_written_through(jax: Path, ws: Path, cli) -> None:
    (jax / "tools").mkdir()
    target = jax / "tools" / "bazelrc.user"
    target.write_text("build -c opt\n")
    (jax / ".bazelrc.user").symlink_to("tools/bazelrc.user")

    assert cli("bazelrc", "--write", cwd=jax).code == 0

    assert (jax / ".bazelrc.user").is_symlink()
    assert target.read_text() == block(flags("xla", ws / "xla")) + "build -c opt\n"


@pytest.mark.parametrize("kind", ["link out of the project", "folder", "broken block"])
def test_bad_bazelrc_user_is_one_line_and_nothing_is_written(
    jax: Path, isolated_env: Path, cli, kind: str
) -> None:
    rc = jax / ".bazelrc.user"
    outside = isolated_env / "elsewhere.rc"
    outside.write_text("build -c dbg\n")
    if kind == "folder":
        rc.mkdir()
    elif kind == "link out of the project":
        rc.symlink_to(outside)
    else:
        rc.write_text(f"build -c opt\n{BEGIN}\ncommon --x=1\n")

    result = cli("bazelrc", "--write", cwd=jax)
    as_json = cli("bazelrc", "--clear", "--json", cwd=jax)

    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"xla-tasks: {rc}"), line
    assert {
        "link out of the project": "is a link out of the project",
        "folder": "is not a file",
        "broken block": ":2: holds a broken xla-tasks block",
    }[kind] in line
    assert as_json.code == 1
    assert as_json.json()["ok"] is False
    assert outside.read_text() == "build -c dbg\n"
    if kind == "broken block":
        assert rc.read_text() == f"build -c opt\n{BEGIN}\ncommon --x=1\n"


def test_write_and_clear_together_are_refused(jax: Path, cli) -> None:
    result = cli("bazelrc", "--write", "--clear", cwd=jax)

    assert result.code == 1
    assert "--write and --clear exclude each other" in result.err
    assert not (jax / ".bazelrc.user").exists()


def test_bazelrc_has_help_and_completes_its_flags(jax: Path) -> None:
    run = [sys.executable, "-m", "xla_tasks"]
    env = {**os.environ, "NO_COLOR": "1"}
    helped = subprocess.run(
        [*run, "help", "bazelrc"], cwd=jax, capture_output=True, text=True, env=env
    )
    words = subprocess.run(
        [*run, "--complete", "--", "xla-tasks", "bazelrc", "--"],
        cwd=jax,
        capture_output=True,
        text=True,
        env=env,
    )

    assert helped.returncode == 0, helped.stderr
    assert "Print Bazel flags that build against the workspace's checkouts." in helped.stdout
    assert "--write" in helped.stdout
    assert {"--write", "--clear", "--dry-run", "--json"} <= set(words.stdout.split())
