"""`roll` on projects that keep their pins in their own files (contract 6.2, 5.6, 6.4).

JAX's real revision.bzl and MODULE.bazel on local commits (tests/native_world.py): the
built-in schedule `heads`, schedules from the registry entry, the gated roll (bisecting a
culprit to the commit before it, with that commit's hash) and its journal.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from native_project import REVISION, texts
from native_world import GITHUB, NativeWorld, jax_world, pinned_jax_files, xla_tree
from upstreams import git, head

from xla_tasks.demo.upstreams import Gitlink

XLA_OK = "test ! -e ../xla/BROKEN"


def test_roll_heads_moves_jaxs_xla_pin_in_both_files_with_the_new_hash(jax_at_xla, cli) -> None:
    world, shas, project, xla = jax_at_xla

    result = cli("roll", "heads", cwd=project)

    assert result.code == 0, result.err
    assert texts(project) == pinned_jax_files(world, shas[2])
    lines = result.out.splitlines()
    assert lines[:6] == [
        "Roll heads: xla",
        "",
        f"- xla: {shas[0][:12]}..{shas[2][:12]} (2 commits)",
        f"  {shas[2][:12]} xla: change 3",
        f"  {shas[1][:12]} xla: change 2",
        f"  https://github.com/openxla/xla/compare/{shas[0]}...{shas[2]}",
    ]
    assert "  pinned in MODULE.bazel, third_party/xla/revision.bzl" in lines
    assert head(xla) == shas[0]  # the new commit was fetched there, nothing checked out
    assert cli("pin", "--check", cwd=project).code == 0
    again = cli("roll", "heads", cwd=project)
    assert "nothing to change" in again.out


def test_roll_heads_dry_run_and_json_write_nothing(jax_at_xla, cli) -> None:
    _, shas, project, _ = jax_at_xla
    before = texts(project)

    result = cli("roll", "heads", "--dry-run", "--json", cwd=project)

    assert result.code == 0, result.err
    [move] = result.json()["data"]["deps"]
    assert (move["name"], move["old"], move["new"]) == ("xla", shas[0], shas[2])
    assert move["files"] == ["MODULE.bazel", REVISION]
    assert move["commits"] == 2
    assert texts(project) == before


def test_roll_alone_lists_heads_and_the_registry_entrys_schedules(jax_at_xla, cli) -> None:
    world, shas, project, _ = jax_at_xla
    world.registry("jax", "xla", extra={"jax": {"schedules": {"nightly": {"deps": ["xla"]}}}})

    listed = cli("roll", cwd=project)

    assert listed.code == 1
    assert listed.err.count("\n") == 1, listed.err
    assert "known: heads (built in), nightly" in listed.err
    rolled = cli("roll", "nightly", cwd=project)
    assert rolled.code == 0, rolled.err
    assert "Roll nightly: xla" in rolled.out
    assert texts(project) == pinned_jax_files(world, shas[2])


def test_a_registry_schedule_naming_a_dep_the_files_do_not_pin_is_one_line(jax_at_xla, cli) -> None:
    world, _, project, _ = jax_at_xla
    world.registry(
        "jax", "xla", "stablehlo", extra={"jax": {"schedules": {"weekly": {"deps": ["stablehlo"]}}}}
    )
    before = texts(project)

    result = cli("roll", "weekly", cwd=project)

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    assert "xla-workspace.toml: repos.jax.schedules.weekly.deps: names stablehlo" in result.err
    assert texts(project) == before


def test_roll_heads_without_the_deps_clone_names_the_file_and_line_and_writes_nothing(
    jax_at_xla, cli
) -> None:
    world, _, project, _ = jax_at_xla
    (world.ws / "xla").rename(world.ws / "elsewhere")
    before = texts(project)

    result = cli("roll", "heads", cwd=project)

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith(
        f"xla-tasks: {project / 'MODULE.bazel'}:33: xla: the .tar.gz hash is computed from its "
        f"clone, and {world.ws / 'xla'} is not one"
    )
    assert texts(project) == before


def test_heads_leaves_the_projects_submodules_alone(jax_at_xla, cli) -> None:
    world, _shas, project, _ = jax_at_xla
    old = world.commit("iree-llvm", {"README.md": "LLVM\n"}, "llvm: start")
    world.commit("iree-llvm", {"README.md": "LLVM 2\n"}, "llvm: next")
    (project / ".gitmodules").write_text(
        '[submodule "third_party/llvm"]\n\tpath = third_party/llvm\n'
        f"\turl = {GITHUB['iree-llvm']}\n"
    )
    git(project, "update-index", "--add", "--cacheinfo", f"160000,{old},third_party/llvm")
    world.registry("jax", "xla", "iree-llvm")

    result = cli("roll", "heads", "--dry-run", "--json", cwd=project)

    assert result.code == 0, result.err
    assert [move["name"] for move in result.json()["data"]["deps"]] == ["xla"]
    assert Gitlink(old).sha in git(project, "ls-files", "-s", "third_party/llvm")


# -- the gated roll --------------------------------------------------------------------------


def _break_second_commit(world: NativeWorld) -> list[str]:
    """XLA after the pin: good, BROKEN (the culprit), still broken."""
    good = world.commit("xla", xla_tree(10), "xla: good")
    bad = world.commit("xla", {"BROKEN": "x"}, "xla: break the build")
    worse = world.commit("xla", xla_tree(11), "xla: more on top")
    return [good, bad, worse]


def test_gated_roll_bisects_and_pins_the_commit_before_the_culprit_with_its_hash(
    isolated_env: Path, cli
) -> None:
    world, _shas, project, xla = jax_world(isolated_env, xla_commits=1)
    good, bad, _ = _break_second_commit(world)

    result = cli("roll", "heads", "--verify", XLA_OK, "--bisect", "--json", cwd=project)

    assert result.code == 0, result.err
    [held] = result.json()["data"]["held_back"]
    assert held["first_bad"] == bad
    assert held["rolled_to"] == good
    assert texts(project) == pinned_jax_files(world, good)
    assert head(xla) == good  # synced to what was written
    assert list((world.ws / ".xla-tasks" / "roll-journal").iterdir()) == []
    assert cli("pin", "--check", cwd=project).code == 0


def test_gated_roll_that_holds_everything_back_leaves_the_files_as_they_were(
    isolated_env: Path, cli
) -> None:
    world, shas, project, xla = jax_world(isolated_env, xla_commits=1)
    _break_second_commit(world)
    before = texts(project)

    result = cli("roll", "heads", "--verify", XLA_OK, cwd=project)

    assert result.code == 0, result.err
    assert "roll heads: nothing rolled, every move was held back" in result.out
    assert texts(project) == before
    assert head(xla) == shas[0]


def test_a_killed_gated_roll_of_native_pins_is_undone_by_the_next_roll(jax_at_xla) -> None:
    """The journal restores the native pin files a try wrote (then syncs back)."""
    from xla_tasks.roll.journal import TrialFiles, journal_path, recover_gate
    from xla_tasks.workspace.settings import TaskOptions

    world, shas, project, xla = jax_at_xla
    before = texts(project)
    paths = [project / "MODULE.bazel", project / REVISION]
    trial = TrialFiles(world.ws, project, paths)
    moved = pinned_jax_files(world, shas[2])
    trial.write({path: moved[path.relative_to(project).as_posix()] for path in paths})
    git(xla, "checkout", "-q", shas[2])  # the try's sync; then SIGKILL

    notes = recover_gate(world.ws, project, TaskOptions())

    assert notes == [
        "restored MODULE.bazel, revision.bzl as they were before a killed `roll --verify`"
    ]
    assert texts(project) == before
    assert head(xla) == shas[0]
    assert not journal_path(world.ws, project).exists()


def test_a_journal_naming_a_file_that_holds_no_pin_is_ignored(jax_at_xla) -> None:
    """workspace.bzl only uses revision.bzl's constants: no gated roll writes it."""
    from xla_tasks.roll.journal import TrialFiles, recover_gate
    from xla_tasks.workspace.settings import TaskOptions

    world, _, project, _ = jax_at_xla
    path = project / "third_party/xla/workspace.bzl"
    trial = TrialFiles(world.ws, project, [path])
    trial.write({path: "# planted\n"})

    notes = recover_gate(world.ws, project, TaskOptions())

    assert len(notes) == 1
    assert "which is not a file a gated roll of" in notes[0]
    assert path.read_text() == "# planted\n"


def _with_submodule(world: NativeWorld, project: Path) -> tuple[str, str]:
    """jax also pins iree-llvm as a submodule (staged); its upstream moves on."""
    old = world.commit("iree-llvm", {"README.md": "LLVM\n"}, "llvm: start")
    (project / ".gitmodules").write_text(
        '[submodule "third_party/llvm"]\n\tpath = third_party/llvm\n'
        f"\turl = {GITHUB['iree-llvm']}\n"
    )
    git(project, "update-index", "--add", "--cacheinfo", f"160000,{old},third_party/llvm")
    new = world.commit("iree-llvm", {"README.md": "LLVM 2\n"}, "llvm: next")
    world.clone("iree-llvm", at=old)
    schedules = {"llvm": {"deps": ["iree-llvm"]}}
    world.registry("jax", "xla", "iree-llvm", extra={"jax": {"schedules": schedules}})
    return old, new


def test_a_registry_schedule_rolls_a_submodule_by_staging_its_gitlink(jax_at_xla, cli) -> None:
    world, _, project, _ = jax_at_xla
    _, new = _with_submodule(world, project)

    result = cli("roll", "llvm", cwd=project)

    assert result.code == 0, result.err
    assert "  pinned in third_party/llvm (submodule)" in result.out.splitlines()
    assert git(project, "ls-files", "-s", "third_party/llvm").split()[1] == new


def test_a_gated_roll_refuses_to_move_a_submodule(jax_at_xla, cli) -> None:
    world, _, project, _ = jax_at_xla
    old, _ = _with_submodule(world, project)

    result = cli("roll", "llvm", "--verify", "true", cwd=project)

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    assert "roll --verify cannot gate the move of a submodule: third_party/llvm" in result.err
    assert git(project, "ls-files", "-s", "third_party/llvm").split()[1] == old


def test_roll_heads_whose_clone_cannot_get_the_new_commit_names_the_file_and_line(
    jax_at_xla, git_http_server, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clone lacks the new commit and its fetch stalls: one line, nothing written."""
    world, _, project, _ = jax_at_xla
    local = world.bare("xla").resolve().as_uri()
    git(world.root, "config", "--global", "--unset", f"url.{local}.insteadOf")
    git(
        world.root,
        "config",
        "--global",
        f"url.{git_http_server.url('xla')}.insteadOf",
        GITHUB["xla"],
    )
    world.commit("xla", {"blob.bin": os.urandom(256 * 1024).hex()}, "xla: a big file")
    git_http_server.set("xla", stall_after_bytes=8192)  # ls-remote's answer fits, a pack not
    monkeypatch.setenv("INVOKE_XLA_TASKS_STALL_TIMEOUT", "1")
    before = texts(project)

    result = cli("roll", "heads", cwd=project)

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith(
        f"xla-tasks: {project / 'MODULE.bazel'}:33: xla: the .tar.gz hash needs"
    )
    assert f"which {world.ws / 'xla'} lacks, and fetch from {GITHUB['xla']} failed" in result.err
    assert texts(project) == before
