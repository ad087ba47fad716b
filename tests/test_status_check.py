"""`status --check` fails closed: what it cannot read, or a submodule tree that is not
complete, fails the check the way `sync` would fail on the same tree (issue 18, 5 and 6)."""

from __future__ import annotations

import shutil
from pathlib import Path

from syncing import clone_project, demo_pins, repin, write_pins
from upstreams import Upstreams, git

from xla_tasks.commands.sync import sync
from xla_tasks.demo.upstreams import Gitlink, pin_file_text
from xla_tasks.engine.model import SUBMODULE_MEMO
from xla_tasks.workspace.settings import TaskOptions

SUB = "third_party/stablehlo"


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith("warning: ")]


# -- 5: what it cannot read ------------------------------------------------------------


def test_a_merge_conflict_in_the_projects_pin_file_fails_the_check_naming_file_and_line(
    synced: Path, cli
) -> None:
    pin_file = synced / "sync_deps.toml"
    text = pin_file.read_text()
    pin_file.write_text("<<<<<<< HEAD\n" + text + "=======\n>>>>>>> theirs\n")

    assert cli("sync", cwd=synced).code == 1  # sync refuses the same tree
    result = cli("status", "--check", cwd=synced)

    assert result.code == 1
    assert "Traceback" not in result.err
    assert "ok, 0 pinned dep(s)" not in result.out
    errors = _errors(result.err)
    assert errors[0].startswith(f"{pin_file}:1: invalid TOML")
    assert errors[-1].startswith(
        "xla-tasks status: check failed: 1 pin file(s) cannot be read, so the pins are unknown"
    )
    assert pin_file.read_text().startswith("<<<<<<< HEAD\n")  # nothing changed on disk


def test_a_merge_conflict_in_the_pin_file_is_one_json_object_with_ok_false(
    synced: Path, cli
) -> None:
    pin_file = synced / "sync_deps.toml"
    pin_file.write_text("<<<<<<< HEAD\n" + pin_file.read_text())

    result = cli("status", "--check", "--json", cwd=synced)

    assert result.code == 1
    data = result.json()
    assert data["ok"] is False
    assert data["problems"][0].startswith(f"{pin_file}:1: invalid TOML")
    assert "pin file(s) cannot be read" in data["failed_check"]


def test_plain_status_still_reports_an_unreadable_pin_file_as_a_warning(synced: Path, cli) -> None:
    """The report is not a gate: it lists what it can and exits 0."""
    pin_file = synced / "sync_deps.toml"
    pin_file.write_text("<<<<<<< HEAD\n" + pin_file.read_text())

    result = cli("status", cwd=synced)

    assert result.code == 0
    assert f"warning: {pin_file}:1: invalid TOML" in result.err


def test_a_dep_whose_own_pin_file_is_broken_fails_the_check_naming_its_file_and_line(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """jax's pins (line 3 bad) cannot be read, so the deps it pins are unknown: not ready."""
    project = clone_project(upstreams, workspace)
    broken = "schema = 1\n[deps.xla]\nrev = 'not-a-commit'\nurl = 'x'\n"
    jax = upstreams.commit("jax", {"sync_deps.toml": broken}, "jax: a broken pin file")
    repin(project, upstreams, jax=jax)
    assert not sync(project, TaskOptions()).ok  # sync fails on it, naming jax's file

    result = cli("status", "--check", cwd=project)

    assert result.code == 1
    errors = _errors(result.err)
    assert errors[0].startswith(f"jax: {workspace / 'jax' / 'sync_deps.toml'}:3: deps.xla.rev")
    assert "check failed: 1 pin file(s) cannot be read" in errors[-1]


def test_a_dep_pin_file_read_from_a_commit_is_named_in_the_repo_not_a_temp_dir(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """jax is off its pin; its pins are read from the pinned commit, and named so."""
    project = clone_project(upstreams, workspace)
    jax = upstreams.commit("jax", {"sync_deps.toml": "schema = 1\n<<<<<<< HEAD\n"}, "jax: broken")
    repin(project, upstreams, jax=jax)
    sync(project, TaskOptions())
    git(workspace / "jax", "checkout", "-q", "--detach", "HEAD~1")

    result = cli("status", "--check", cwd=project)

    assert result.code == 1
    assert f"jax: {workspace / 'jax' / 'sync_deps.toml'}@{jax[:12]}:2: invalid TOML" in result.err


# -- 6: submodules ---------------------------------------------------------------------


def test_a_deinitialised_submodule_fails_the_check(synced: Path, workspace: Path, cli) -> None:
    iree = workspace / "iree"
    assert (iree / ".git" / SUBMODULE_MEMO).is_file()  # read from the memo, no git per sub
    git(iree, "submodule", "deinit", "-q", "-f", SUB)

    result = cli("status", "--check", cwd=synced)

    assert result.code == 1
    errors = _errors(result.err)
    assert errors[0].startswith(f"iree: submodule {SUB} missing, recorded at ")
    assert errors[0].endswith("(at iree)")
    assert errors[-1].startswith("xla-tasks status: check failed: 1 of 3 pinned dep(s)")
    assert "iree" in errors[-1]


def test_a_dep_left_without_its_submodules_by_an_interrupted_sync_fails_the_check(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    """No memo for this pin (the sync never finished): git is asked for the gitlinks."""
    iree = workspace / "iree"
    pin = git(iree, "rev-parse", "HEAD")
    shutil.rmtree(iree)
    git(workspace, "clone", "-q", upstreams.url("iree"), "iree")
    git(iree, "checkout", "-q", "--detach", pin)

    result = cli("status", "--check", "--json", cwd=synced)

    assert result.code == 1
    problems = result.json()["problems"]
    assert len(problems) == 1
    assert problems[0].startswith(f"iree: submodule {SUB} missing")
    rows = {row["name"]: row for row in result.json()["data"]["repos"]}
    assert rows["iree"]["submodule_problems"] == [problems[0][len("iree: ") : -len(" (at iree)")]]


def test_a_submodule_moved_off_its_recorded_commit_fails_the_check(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    other = upstreams.commit("iree-stablehlo", {"new.txt": "x"}, "stablehlo: later")
    sub = workspace / "iree" / SUB
    git(sub, "fetch", "-q", "origin", "main")
    git(sub, "checkout", "-q", "--detach", other)

    result = cli("status", "--check", cwd=synced)

    assert result.code == 1
    assert f"iree: submodule {SUB} at {other[:12]}, recorded at " in result.err


def test_nested_submodules_are_checked_and_excluded_ones_are_not(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """iree > stablehlo > llvm: a missing nested one fails; an excluded one passes."""
    upstreams.create("llvm")
    llvm = upstreams.head("llvm")
    modules = '[submodule "third_party/llvm"]\n\tpath = third_party/llvm\n'
    modules += f"\turl = {upstreams.url('llvm')}\n"
    hlo = upstreams.commit(
        "iree-stablehlo", {".gitmodules": modules, "third_party/llvm": Gitlink(llvm)}, "hlo: llvm"
    )
    iree = upstreams.commit("iree", {SUB: Gitlink(hlo)}, "iree: newer stablehlo")
    project = clone_project(upstreams, workspace)
    repin(project, upstreams, iree=iree)
    assert sync(project, TaskOptions()).ok
    nested = workspace / "iree" / SUB / "third_party" / "llvm"
    assert (nested / "README.md").is_file()
    assert cli("status", "--check", cwd=project).code == 0

    git(workspace / "iree" / SUB, "submodule", "deinit", "-q", "-f", "third_party/llvm")
    result = cli("status", "--check", cwd=project)
    assert result.code == 1
    assert f"iree: submodule {SUB}/third_party/llvm missing" in result.err

    pins = demo_pins(upstreams)
    pins["iree"] = (iree, upstreams.url("iree"), True)
    text = pin_file_text(pins).replace(
        "submodules = true", 'submodules = true\nexclude_submodules = [ "llvm$" ]', 1
    )
    (project / "sync_deps.toml").write_text(text)
    assert "exclude_submodules" in (project / "sync_deps.toml").read_text()
    result = cli("status", "--check", cwd=project)
    assert result.code == 0, result.err


def test_a_dep_without_submodules_flag_is_not_checked_for_them(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    pins = demo_pins(upstreams)
    pins["iree"] = (pins["iree"][0], pins["iree"][1], False)
    write_pins(synced, pins)
    git(workspace / "iree", "submodule", "deinit", "-q", "-f", SUB)

    assert cli("status", "--check", cwd=synced).code == 0
