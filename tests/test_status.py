"""`status`: a read-only report, one row per repo, exit 0 whatever the repos' state."""

from __future__ import annotations

import shutil
from pathlib import Path

from syncing import PROJECT, clone_project, history, repin
from upstreams import Upstreams, git, head

from xla_tasks.commands.sync import sync
from xla_tasks.demo.upstreams import pin_file_text
from xla_tasks.workspace.settings import TaskOptions


def rows(result) -> dict[str, dict]:
    return {row["name"]: row for row in result.json()["data"]["repos"]}


def line_of(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"{name}: "))


def test_status_reports_at_pin_not_at_pin_dirty_and_missing(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = history(upstreams, "xla")
    git(workspace / "xla", "checkout", "--quiet", "--detach", xla[1])
    (workspace / "jax" / "README.md").write_text("edited\n")

    result = cli("status", cwd=synced)

    assert result.code == 0, result.err
    assert (
        line_of(result.out, "iree")
        == f"iree: detached, at pin {upstreams.head('iree')[:12]} (at iree)"
    )
    assert line_of(result.out, "xla") == (
        f"xla: detached, NOT at pin (pin -> HEAD) {xla[2][:12]} -> {xla[1][:12]} (at xla)"
    )
    assert "dirty: 1 file(s): README.md" in line_of(result.out, "jax")
    assert line_of(result.out, "stablehlo") == "stablehlo: missing (at stablehlo)"
    assert line_of(result.out, PROJECT).startswith(f"{PROJECT}: on main ")
    assert "5 repo(s): 2 at pin, 1 NOT at pin, 1 dirty, 1 missing" in result.out


def test_status_json_has_one_structured_row_per_repo(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    (workspace / "jax" / "README.md").write_text("edited\n")

    result = cli("status", "--json", cwd=synced)

    assert result.code == 0, result.err
    data = result.json()
    assert data["ok"] is True
    found = rows(result)
    assert list(found) == [PROJECT, "xla", "stablehlo", "jax", "iree"]
    assert found["jax"] | {"head": None} == {
        "name": "jax",
        "path": "jax",
        "present": True,
        "branch": None,
        "head": None,
        "pin": upstreams.head("jax"),
        "at_pin": True,
        "dirty": 1,
        "changed": ["README.md"],
        "pinned_by": PROJECT,
        "pin_ref": None,
        "registered": True,
        "project": False,
        "submodule_problems": [],
    }
    assert found["stablehlo"]["present"] is False
    assert found[PROJECT]["branch"] == "main"
    assert found[PROJECT]["project"] is True
    assert found["xla"]["head"] == history(upstreams, "xla")[2]


def test_status_shows_a_missing_pinned_dep_and_exits_zero(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    project = clone_project(upstreams, workspace)

    result = cli("status", cwd=project)

    assert result.code == 0, result.err
    assert line_of(result.out, "xla") == (
        f"xla: missing, pinned at {history(upstreams, 'xla')[2][:12]} (at xla)"
    )


def test_status_outside_a_project_lists_the_registry(workspace: Path, cli) -> None:
    result = cli("status", "--json", cwd=workspace)

    assert result.code == 0, result.err
    found = rows(result)
    assert list(found) == ["xla", "stablehlo", "jax", "iree", PROJECT]
    assert all(not row["present"] and row["pin"] is None for row in found.values())


def test_status_without_workspace_file_reports_the_projects_deps(
    isolated_env: Path, upstreams: Upstreams, cli
) -> None:
    project = clone_project(upstreams, isolated_env / "plain")
    assert sync(project, TaskOptions()).ok

    result = cli("status", "--json", cwd=project)

    assert result.code == 0, result.err
    found = rows(result)
    assert list(found) == [PROJECT, "iree", "jax", "xla"]
    assert all(found[name]["at_pin"] for name in ("iree", "jax", "xla"))
    assert any("xla: jax pins" in w for w in result.json()["warnings"])


def test_status_follows_pins_of_deps_transitively(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    extra_url = upstreams.create("extra")
    jax_pins = {"extra": (upstreams.head("extra"), extra_url, False)}
    jax = upstreams.commit("jax", {"sync_deps.toml": pin_file_text(jax_pins)}, "jax: pin extra")
    repin(synced, upstreams, jax=jax)
    assert sync(synced, TaskOptions()).ok

    result = cli("status", cwd=synced)

    assert result.code == 0, result.err
    assert line_of(result.out, "extra") == (
        f"extra: detached, at pin {upstreams.head('extra')[:12]} (at extra; pinned by jax)"
    )


def test_status_on_a_branch_and_a_non_repo_path(workspace: Path, upstreams: Upstreams, cli) -> None:
    git(workspace, "clone", "--quiet", upstreams.url("stablehlo"), "stablehlo")
    (workspace / "iree").mkdir()
    (workspace / "iree" / "file.txt").write_text("not a repo\n")

    result = cli("status", cwd=workspace)

    assert result.code == 0, result.err
    assert line_of(result.out, "stablehlo") == (
        f"stablehlo: on main {head(workspace / 'stablehlo')[:12]} (at stablehlo)"
    )
    assert line_of(result.out, "iree") == "iree: not a git repository (at iree)"


def test_status_outside_workspace_and_project_is_an_error(isolated_env: Path, cli) -> None:
    result = cli("status", cwd=isolated_env / "cwd")

    assert result.code == 1
    assert "neither in a workspace nor in a project checkout" in result.err


def test_status_check_names_each_missing_off_pin_and_dirty_dep_and_exits_one(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    """Given xla off its pin and dirty, jax dirty and iree gone, --check fails naming each."""
    xla = history(upstreams, "xla")
    git(workspace / "xla", "checkout", "--quiet", "--detach", xla[1])
    (workspace / "xla" / "README.md").write_text("edited\n")
    (workspace / "jax" / "README.md").write_text("edited\n")
    shutil.rmtree(workspace / "iree")

    result = cli("status", "--check", cwd=synced)

    assert result.code == 1
    lines = [line for line in result.err.splitlines() if not line.startswith("warning: ")]
    assert lines[:-1] == [
        f"xla: NOT at pin: HEAD {xla[1][:12]}, pin {xla[2][:12]} (at xla)",
        "xla: dirty: 1 file(s): README.md (at xla)",
        "jax: dirty: 1 file(s): README.md (at jax)",
        f"iree: missing, pinned at {upstreams.head('iree')[:12]} (at iree)",
    ]
    assert lines[-1].startswith(
        "xla-tasks status: check failed: 3 of 3 pinned dep(s) not ready: xla, jax, iree"
    )
    assert "xla: detached, NOT at pin" in result.out  # the usual report is still there


def test_status_check_passes_when_every_pinned_dep_is_ready(
    synced: Path, workspace: Path, cli
) -> None:
    """A dirty project (not a dep) and an unpinned clone do not fail the check."""
    (synced / "notes.txt").write_text("mine\n")
    git(synced, "add", "notes.txt")

    result = cli("status", "--check", cwd=synced)

    assert result.code == 0, result.err
    assert "status --check: ok, 3 pinned dep(s) present, at their pins and clean" in result.out
    assert all(line.startswith("warning: ") for line in result.err.splitlines())


def test_status_check_json_is_one_object_with_ok_false_and_the_problems(
    synced: Path, workspace: Path, cli
) -> None:
    (workspace / "jax" / "README.md").write_text("edited\n")

    result = cli("status", "--check", "--json", cwd=synced)

    assert result.code == 1
    data = result.json()
    assert data["ok"] is False
    assert data["problems"] == ["jax: dirty: 1 file(s): README.md (at jax)"]
    assert data["data"]["problems"] == data["problems"]
    assert "check failed: 1 of 3" in data["failed_check"]


def test_status_check_outside_a_project_is_a_one_line_error(workspace: Path, cli) -> None:
    result = cli("status", "--check", cwd=workspace)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "status --check needs a project" in result.err
