"""`pin`: record deps' HEADs in sync_deps.toml, regenerate sync_deps.py, and `--check` them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pin_setup import clone_into, commit_local, file_bytes, plugin_workspace
from upstreams import git, head

from xla_tasks.pins.project import check_pin_files, render_for
from xla_tasks.pins.sync_deps_toml import dump_pins, load_pin_file

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(workspace: Path, upstreams, cli) -> Path:  # type: ignore[no-untyped-def]
    """The plugin and its deps cloned, pinned once (so both pin files exist and match)."""
    project = plugin_workspace(workspace, upstreams)
    result = cli("pin", cwd=project)
    assert result.code == 0, result.err
    return project


def test_first_pin_generates_missing_script_from_existing_toml(workspace, upstreams, cli):
    project = plugin_workspace(workspace, upstreams)
    toml_before = (project / "sync_deps.toml").read_bytes()

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "no pin moved; wrote sync_deps.py" in result.out
    assert (project / "sync_deps.toml").read_bytes() == toml_before  # already canonical
    assert (project / "sync_deps.py").read_text() == render_for(
        load_pin_file(project / "sync_deps.toml")
    )


def test_pin_records_moved_head_and_regenerates_script(project, workspace, cli):
    old = head(workspace / "xla")
    new = commit_local(workspace / "xla", "xla: local fix")

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert f"xla: {old[:12]} -> {new[:12]} (2026-01-01 xla: local fix)" in result.out
    pins = load_pin_file(project / "sync_deps.toml")
    assert pins.deps["xla"].rev == new
    assert pins.deps["jax"].rev == head(workspace / "jax")
    assert f"'xla': '{new}'" in (project / "sync_deps.py").read_text()
    check = cli("pin", "--check", cwd=project)
    assert check.code == 0, check.err
    assert "up to date" in check.out


def test_pin_output_lists_only_moved_deps(project, workspace, cli):
    commit_local(workspace / "xla")

    result = cli("pin", cwd=project)

    assert "xla:" in result.out
    assert "iree:" not in result.out
    assert "jax:" not in result.out


def test_pin_twice_gives_identical_canonical_bytes(project, workspace, cli):
    commit_local(workspace / "jax")
    assert cli("pin", cwd=project).code == 0
    first = file_bytes(project)

    again = cli("pin", cwd=project)

    assert again.code == 0, again.err
    assert file_bytes(project) == first
    toml = (project / "sync_deps.toml").read_text()
    assert toml == dump_pins(load_pin_file(project / "sync_deps.toml"))


def test_pin_with_nothing_moved_says_so_and_exits_zero(project, cli):
    before = file_bytes(project)

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "nothing changed" in result.out
    assert file_bytes(project) == before


def test_pin_keeps_schedules_and_dep_settings(project, workspace, cli):
    commit_local(workspace / "iree")

    assert cli("pin", cwd=project).code == 0

    pins = load_pin_file(project / "sync_deps.toml")
    assert pins.schedules["nightly"].deps == ("iree", "jax", "xla")
    assert pins.deps["iree"].submodules is True
    assert "'iree': 1" in (project / "sync_deps.py").read_text()


def test_pin_of_dirty_dep_pins_head_and_warns(project, workspace, cli):
    new = commit_local(workspace / "xla")
    (workspace / "xla" / "README.md").write_text("edited, not committed\n")

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "xla: has uncommitted changes (README.md); they are not pinned" in result.err
    assert load_pin_file(project / "sync_deps.toml").deps["xla"].rev == new


def test_pin_fails_on_missing_dep_and_writes_nothing(project, workspace, cli):
    commit_local(workspace / "xla")
    (workspace / "jax").rename(workspace / "jax-gone")
    before = file_bytes(project)

    result = cli("pin", cwd=project)

    assert result.code == 1
    assert "jax: not checked out at" in result.err
    assert "xla-tasks checkout jax" in result.err
    assert file_bytes(project) == before


def test_pin_fails_on_dep_without_commits(project, workspace, cli):
    (workspace / "jax").rename(workspace / "jax-gone")
    git(workspace, "init", "--quiet", "jax")
    before = file_bytes(project)

    result = cli("pin", cwd=project)

    assert result.code == 1
    assert "jax: has no commit to pin" in result.err
    assert file_bytes(project) == before


# -- --check ------------------------------------------------------------------------------


def test_check_fails_on_hand_edited_script_and_writes_nothing(project, cli):
    script = project / "sync_deps.py"
    script.write_text(script.read_text().replace("'xla': '", "'xla': '0", 1))
    before = file_bytes(project)

    result = cli("pin", "--check", cwd=project)

    assert result.code == 1
    assert "sync_deps.py is stale" in result.err
    assert "xla-tasks pin" in result.err
    assert file_bytes(project) == before


def test_check_fails_when_toml_changed_but_script_not(project, cli):
    toml = project / "sync_deps.toml"
    toml.write_text(toml.read_text().replace('branch = "main"', 'branch = "dev"', 1))

    result = cli("pin", "--check", cwd=project)

    assert result.code == 1
    assert "sync_deps.py is stale" in result.err


def test_check_fails_when_script_missing(project, cli):
    (project / "sync_deps.py").unlink()
    before = file_bytes(project)

    result = cli("pin", "--check", cwd=project)

    assert result.code == 1
    assert "sync_deps.py is missing" in result.err
    assert file_bytes(project) == before


def test_pin_repairs_what_check_reported(project, cli):
    script = project / "sync_deps.py"
    script.write_text(script.read_text() + "\n# local tweak\n")

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "no pin moved; wrote sync_deps.py" in result.out
    assert cli("pin", "--check", cwd=project).code == 0


def test_check_json_reports_failure(project, cli):
    (project / "sync_deps.py").unlink()

    result = cli("pin", "--check", "--json", cwd=project)

    assert result.code == 1
    data = result.json()
    assert data["ok"] is False
    assert "sync_deps.py is missing" in data["failed_check"]


def test_check_needs_no_git_and_no_repository(project, tmp_path):
    """CI can run `pin --check` on an exported tree with no git on PATH."""
    exported = tmp_path / "exported"
    exported.mkdir()
    for name in ("sync_deps.toml", "sync_deps.py"):
        (exported / name).write_bytes((project / name).read_bytes())
    empty_bin = tmp_path / "no-git-bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin), "PYTHONPATH": str(REPO_ROOT)}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xla_tasks", "pin", "--check"],
            cwd=exported,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    ok = check()
    assert ok.returncode == 0, ok.stderr
    (exported / "sync_deps.py").write_text("# edited\n")
    stale = check()
    assert stale.returncode == 1
    assert "sync_deps.py is stale" in stale.stderr
    assert "git not found" not in stale.stderr


def test_check_cannot_be_combined_with_add(project, cli):
    result = cli("pin", "--check", "--add", "jax", cwd=project)

    assert result.code == 1
    assert "--check" in result.err


# -- --require-upstream ----------------------------------------------------------------------


def test_require_upstream_refuses_local_only_commit(project, workspace, cli):
    commit_local(workspace / "xla", "xla: not pushed")
    before = file_bytes(project)

    result = cli("pin", "--require-upstream", cwd=project)

    assert result.code == 1
    assert "xla: HEAD" in result.err
    assert "is not on origin/main" in result.err
    assert "nothing written" in result.out
    assert file_bytes(project) == before


def test_require_upstream_accepts_pushed_commit(project, workspace, upstreams, cli):
    new = commit_local(workspace / "xla", "xla: pushed")
    git(workspace / "xla", "push", "--quiet", "origin", "HEAD:main")

    result = cli("pin", "--require-upstream", cwd=project)

    assert result.code == 0, result.err
    assert upstreams.head("xla") == new
    assert load_pin_file(project / "sync_deps.toml").deps["xla"].rev == new


def test_require_upstream_sees_commits_pushed_by_others(project, workspace, upstreams, cli):
    """The check fetches: a commit that reached upstream after our clone still counts."""
    pushed = upstreams.commit("jax", {"NEW.md": "x\n"}, "jax: upstream moved")
    git(workspace / "jax", "fetch", "--quiet", upstreams.url("jax"), pushed)
    git(workspace / "jax", "checkout", "--quiet", "--detach", pushed)

    result = cli("pin", "--require-upstream", cwd=project)

    assert result.code == 0, result.err
    assert load_pin_file(project / "sync_deps.toml").deps["jax"].rev == pushed


# -- --add ------------------------------------------------------------------------------------


def test_add_starts_pinning_registered_repo_and_creates_pin_files(workspace, upstreams, cli):
    clone_into(workspace, upstreams, "stablehlo", "jax")
    project = workspace / "stablehlo"

    result = cli("pin", "--add", "jax", cwd=project)

    assert result.code == 0, result.err
    assert f"jax: added {upstreams.head('jax')[:12]}" in result.out
    dep = load_pin_file(project / "sync_deps.toml").deps["jax"]
    assert (dep.rev, dep.url, dep.branch) == (upstreams.head("jax"), upstreams.url("jax"), "main")
    assert check_pin_files(project) is None


def test_add_takes_registry_submodules_and_comma_lists(workspace, upstreams, cli):
    clone_into(workspace, upstreams, "stablehlo", "iree", "xla")
    project = workspace / "stablehlo"

    result = cli("pin", "--add", "iree,xla", cwd=project)

    assert result.code == 0, result.err
    pins = load_pin_file(project / "sync_deps.toml")
    assert sorted(pins.deps) == ["iree", "xla"]
    assert pins.deps["iree"].submodules is True


def test_add_unknown_name_lists_known_and_writes_nothing(project, cli):
    before = file_bytes(project)

    result = cli("pin", "--add", "nope", cwd=project)

    assert result.code == 1
    assert "unknown repo 'nope'" in result.err
    assert "stablehlo" in result.err
    assert file_bytes(project) == before


def test_add_of_repo_not_cloned_fails(workspace, upstreams, cli):
    clone_into(workspace, upstreams, "stablehlo")
    project = workspace / "stablehlo"

    result = cli("pin", "--add", "jax", cwd=project)

    assert result.code == 1
    assert "jax: not checked out" in result.err
    assert file_bytes(project) == {"sync_deps.toml": None, "sync_deps.py": None}


def test_pin_without_pin_file_or_add_says_how_to_start(workspace, upstreams, cli):
    clone_into(workspace, upstreams, "xla")

    result = cli("pin", cwd=workspace / "xla")

    assert result.code == 1
    assert "nothing to pin" in result.err
    assert "--add" in result.err


# -- dry run, JSON, bad input -------------------------------------------------------------


def test_dry_run_reports_change_and_leaves_bytes(project, workspace, cli):
    new = commit_local(workspace / "xla")
    before = file_bytes(project)

    result = cli("pin", "--dry-run", cwd=project)

    assert result.code == 0, result.err
    assert f"-> {new[:12]}" in result.out
    assert "would write sync_deps.toml and sync_deps.py" in result.out
    assert file_bytes(project) == before


def test_json_output_is_one_object_with_changes(project, workspace, cli):
    new = commit_local(workspace / "xla", "xla: json")

    result = cli("pin", "--json", cwd=project)

    assert result.code == 0, result.err
    data = result.json()
    assert data["ok"] is True
    assert [change["name"] for change in data["data"]["changes"]] == ["xla"]
    assert data["data"]["changes"][0]["new"] == new
    assert data["data"]["changes"][0]["subject"] == "xla: json"


BAD_TOML = {
    "short_rev": (('rev = "', 'rev = "abc123"  # '), "deps.iree.rev", "40-hex"),
    "unknown_key": (
        ("[deps.jax]\n", "[deps.jax]\nsubmodule = true\n"),
        "deps.jax.submodule",
        "unknown key",
    ),
    "malformed": (("[deps.jax]", "[deps.jax"), None, "invalid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOML))
@pytest.mark.parametrize("flags", [(), ("--check",)])
def test_bad_toml_is_one_line_error_naming_file_and_line(project, cli, case, flags):
    (old, new), key, words = BAD_TOML[case]
    toml = project / "sync_deps.toml"
    toml.write_text(toml.read_text().replace(old, new, 1))
    before = file_bytes(project)

    result = cli("pin", *flags, cwd=project)

    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"xla-tasks: {toml}:")
    assert lines[0].split(":")[2].strip().isdigit()  # the line number
    assert words in lines[0]
    if key:
        assert key in lines[0]
    assert "Traceback" not in result.err
    assert file_bytes(project) == before


def test_generated_script_without_toml_is_an_error_not_legacy(project, cli):
    (project / "sync_deps.toml").unlink()
    before = file_bytes(project)

    result = cli("pin", cwd=project)

    assert result.code == 1
    assert "sync_deps.toml: file not found" in result.err
    assert file_bytes(project) == before
    check = cli("pin", "--check", cwd=project)
    assert check.code == 1
    assert "sync_deps.toml is missing" in check.err


def test_pin_holds_the_workspace_lock(project, workspace, cli, monkeypatch):
    from xla_tasks.workspace.lock import workspace_lock

    monkeypatch.setenv("INVOKE_XLA_TASKS_LOCK_TIMEOUT", "0")
    commit_local(workspace / "xla")
    before = file_bytes(project)
    with workspace_lock(workspace, "sync", 0):
        result = cli("pin", cwd=project)
    assert result.code == 1
    assert "workspace is busy" in result.err
    assert file_bytes(project) == before
