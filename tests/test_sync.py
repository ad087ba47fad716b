"""`sync`: deps to their pins, breadth-first, safely, in parallel (contract 3.1 and 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from syncing import PROJECT, clone_project, demo_pins, history, repin, write_pins
from upstreams import Upstreams, git, head, is_detached

from xla_tasks.commands.sync import sync
from xla_tasks.demo.upstreams import Gitlink, pin_file_text
from xla_tasks.errors import LockHeldError
from xla_tasks.workspace.lock import workspace_lock
from xla_tasks.workspace.settings import TaskOptions

DEPS = ("iree", "jax", "xla")


@pytest.fixture
def project(workspace: Path, upstreams: Upstreams) -> Path:
    """The leaf project cloned into the registry workspace; no dep present yet."""
    return clone_project(upstreams, workspace)


@pytest.fixture
def synced(project: Path, upstreams: Upstreams) -> Path:
    """The project with its deps already on their pins (through the library call)."""
    assert sync(project, TaskOptions()).ok
    return project


def assert_at_demo_pins(parent: Path, upstreams: Upstreams) -> None:
    for name, (rev, _, _) in demo_pins(upstreams).items():
        assert head(parent / name) == rev, name
        assert is_detached(parent / name), name


def saved_branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/xla-tasks").split()


# -- the happy paths ------------------------------------------------------------------------


def test_fresh_sync_clones_every_dep_at_its_pin_detached_with_submodules(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert_at_demo_pins(workspace, upstreams)
    submodule = workspace / "iree" / "third_party" / "stablehlo"
    assert (submodule / "README.md").read_text() == "StableHLO\n"
    assert head(submodule) == upstreams.head("iree-stablehlo")
    for name in DEPS:
        assert f"{name}: cloned" in result.out
    assert head(project) == upstreams.head(PROJECT)  # the project itself is not moved


def test_pin_closest_to_the_project_wins_and_the_deeper_pin_is_named(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = history(upstreams, "xla")

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert head(workspace / "xla") == xla[2]
    assert (
        f"warning: xla: jax pins {xla[0][:12]}, {PROJECT} pins {xla[2][:12]}; "
        f"using {PROJECT}'s (closest to the project)"
    ) in result.err


def test_conflict_warning_is_inside_the_json_object(project: Path, upstreams, cli) -> None:
    result = cli("sync", "--json", cwd=project)

    assert result.code == 0, result.err
    data = result.json()  # stdout is exactly one JSON object
    assert data["ok"] is True
    assert any(w.startswith("xla: jax pins") for w in data["warnings"])
    (conflict,) = data["data"]["conflicts"]
    assert conflict["dep"] == "xla"
    assert conflict["ignored"] == {"rev": history(upstreams, "xla")[0], "pinned_by": "jax"}
    assert {o["name"]: o["action"] for o in data["outcomes"]} == dict.fromkeys(DEPS, "cloned")


def test_dep_pinned_only_by_a_dep_is_cloned_transitively(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    extra_url = upstreams.create("extra")
    jax_pins = {
        "xla": (history(upstreams, "xla")[0], upstreams.url("xla"), False),
        "extra": (upstreams.head("extra"), extra_url, False),
    }
    jax = upstreams.commit("jax", {"sync_deps.toml": pin_file_text(jax_pins)}, "jax: pin extra")
    repin(project, upstreams, jax=jax)

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert head(workspace / "extra") == upstreams.head("extra")
    assert is_detached(workspace / "extra")
    assert "extra: cloned" in result.out
    assert "pinned by jax" in result.out


def test_second_sync_needs_no_network(synced: Path, workspace: Path, upstreams, cli) -> None:
    expected = {name: rev for name, (rev, _, _) in demo_pins(upstreams).items()}
    for name in (*DEPS, "stablehlo", PROJECT):
        upstreams.break_url(name)

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    for name in DEPS:
        assert f"{name}: already at pin" in result.out
        assert head(workspace / name) == expected[name]


def test_pin_present_locally_is_checked_out_without_fetching(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    older = history(upstreams, "xla")[1]
    repin(synced, upstreams, xla=older)
    upstreams.break_url("xla")

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    assert head(workspace / "xla") == older
    assert "xla: checked out" in result.out


def test_pin_advanced_upstream_is_fetched_and_no_branch_is_saved(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    third = history(upstreams, "xla")[2]
    newer = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    newest = upstreams.commit("xla", {"xla/new.cc": "// newer\n"}, "xla: fifth")
    repin(synced, upstreams, xla=newer)

    first = cli("sync", cwd=synced)
    repin(synced, upstreams, xla=newest)
    second = cli("sync", cwd=synced)

    assert first.code == 0, first.err
    assert f"xla: fetched {third[:12]} -> {newer[:12]}" in first.out
    assert second.code == 0, second.err
    assert f"xla: fetched {newer[:12]} -> {newest[:12]}" in second.out
    assert head(workspace / "xla") == newest
    assert saved_branches(workspace / "xla") == []  # moving off a pin loses no work


def test_fetch_falls_back_to_branch_when_server_refuses_commit_ids(
    synced: Path, workspace: Path, upstreams: Upstreams, cli, monkeypatch
) -> None:
    not_a_tip = upstreams.commit("xla", {"xla/a.cc": "a\n"}, "xla: fourth")
    upstreams.commit("xla", {"xla/b.cc": "b\n"}, "xla: fifth")
    repin(synced, upstreams, xla=not_a_tip)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")  # protocol v0 refuses unadvertised commits
    monkeypatch.setenv("GIT_CONFIG_KEY_1", "protocol.version")
    monkeypatch.setenv("GIT_CONFIG_VALUE_1", "0")

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    assert head(workspace / "xla") == not_a_tip
    # the exact-id fetch was refused, so the branch was fetched instead
    assert git(workspace / "xla", "rev-parse", "refs/remotes/origin/main") != not_a_tip


def test_fallback_finds_a_pin_only_a_tag_reaches(
    synced: Path, workspace: Path, upstreams: Upstreams, cli, monkeypatch
) -> None:
    """A pin below a tag whose branch is gone, on a server refusing commit ids."""
    pinned = upstreams.commit("xla", {"rel.txt": "rc"}, "xla: release candidate", branch="rel")
    tagged = upstreams.commit("xla", {"rel.txt": "1.0"}, "xla: release", branch="rel")
    git(upstreams.path("xla"), "tag", "v1.0", tagged)
    git(upstreams.path("xla"), "branch", "-D", "rel")
    repin(synced, upstreams, xla=pinned)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
    monkeypatch.setenv("GIT_CONFIG_KEY_1", "protocol.version")
    monkeypatch.setenv("GIT_CONFIG_VALUE_1", "0")
    git(workspace / "xla", "tag", "v1.0", "HEAD")  # a local tag of the same name: kept

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    assert head(workspace / "xla") == pinned
    assert git(workspace / "xla", "rev-parse", "refs/tags/v1.0") != tagged


# -- failures are isolated, named and change nothing ------------------------------------------


def test_broken_url_on_one_dep_fails_it_while_the_others_land(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    url = upstreams.url("jax")
    upstreams.break_url("jax")

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert f"FAILED jax: clone from {url} failed" in result.err
    assert result.err.strip().endswith("1 repo(s) failed: jax")
    assert "synced 2 of 3 dep(s)" in result.out
    assert not (workspace / "jax").exists()
    assert head(workspace / "iree") == upstreams.head("iree")
    assert head(workspace / "xla") == history(upstreams, "xla")[2]
    assert [p.name for p in workspace.iterdir() if p.name.startswith(".jax")] == []


def test_rerun_after_a_network_failure_converges(project: Path, workspace, upstreams, cli) -> None:
    upstreams.break_url("jax")
    assert cli("sync", cwd=project).code == 1
    upstreams.restore_url("jax")

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert_at_demo_pins(workspace, upstreams)


def test_dirty_dep_is_not_touched_and_named_with_its_files(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = workspace / "xla"
    (xla / "xla" / "BUILD").write_text("# my local edit\n")
    before = head(xla)
    repin(synced, upstreams, xla=history(upstreams, "xla")[0])

    result = cli("sync", cwd=synced)

    assert result.code == 1
    assert "FAILED xla: has uncommitted changes (xla/BUILD); not touched" in result.err
    assert head(xla) == before
    assert (xla / "xla" / "BUILD").read_text() == "# my local edit\n"
    assert "iree: already at pin" in result.out


def test_orphan_commit_on_detached_head_is_saved_on_a_named_branch(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = workspace / "xla"
    (xla / "mine.txt").write_text("work\n")
    git(xla, "add", "mine.txt")
    git(xla, "commit", "--quiet", "-m", "my work on a detached HEAD")
    mine = head(xla)
    first = history(upstreams, "xla")[0]
    repin(synced, upstreams, xla=first)

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    branch = f"xla-tasks/saved-{mine[:12]}"
    assert f"saved the previous HEAD {mine[:12]} on branch {branch}" in result.out
    assert git(xla, "rev-parse", f"refs/heads/{branch}") == mine
    assert head(xla) == first


def test_path_that_exists_but_is_not_a_repo_fails_that_dep_only(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    (workspace / "jax").mkdir()
    (workspace / "jax" / "notes.txt").write_text("mine\n")

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert f"FAILED jax: {workspace / 'jax'} exists and is not a git repository" in result.err
    assert (workspace / "jax" / "notes.txt").read_text() == "mine\n"
    assert head(workspace / "iree") == upstreams.head("iree")


def test_project_without_pin_file_is_a_clear_error(workspace: Path, upstreams, cli) -> None:
    bare_project = workspace / "xla"
    git(workspace, "clone", "--quiet", upstreams.url("xla"), "xla")

    result = cli("sync", cwd=bare_project)

    assert result.code == 1
    assert f"{bare_project} has no sync_deps.toml" in result.err
    assert "Traceback" not in result.err
    assert sorted(p.name for p in workspace.iterdir()) == ["xla", "xla-workspace.toml"]


def test_sync_outside_a_repository_says_so(workspace: Path, cli) -> None:
    result = cli("sync", cwd=workspace)

    assert result.code == 1
    assert "is not inside a git repository" in result.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--jobs", "x"], "--jobs expects a positive integer, got 'x'"),
        (["--exclude-dep", "("], "--exclude-dep: invalid regex '('"),
        (["--exclude-submodule", "[a"], "--exclude-submodule: invalid regex '[a'"),
    ],
)
def test_bad_flag_is_one_line_and_changes_nothing(
    project: Path, workspace: Path, cli, flags: list[str], message: str
) -> None:
    result = cli("sync", *flags, cwd=project)

    assert result.code == 1
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert sorted(p.name for p in workspace.iterdir()) == [PROJECT, "xla-workspace.toml"]


# -- flags ------------------------------------------------------------------------------------


def test_exclude_dep_skips_the_dep_and_its_own_pins(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    result = cli("sync", "--exclude-dep", "^ja", cwd=project)

    assert result.code == 0, result.err
    assert not (workspace / "jax").exists()
    assert "jax: skipped (--exclude-dep)" in result.out
    assert "warning" not in result.err  # jax's own pin of xla was never read
    assert head(workspace / "xla") == history(upstreams, "xla")[2]


def test_exclude_submodule_leaves_that_submodule_unchecked_out(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    result = cli("sync", "--exclude-submodule", "iree:third_party/stablehlo", cwd=project)

    assert result.code == 0, result.err
    assert head(workspace / "iree") == upstreams.head("iree")
    assert list((workspace / "iree" / "third_party" / "stablehlo").iterdir()) == []
    assert "iree: cloned" in result.out
    assert "0 updated, 0 already there, 1 excluded" in result.out


def test_dry_run_on_a_fresh_project_clones_nothing(project: Path, workspace: Path, cli) -> None:
    result = cli("sync", "--dry-run", cwd=project)

    assert result.code == 0, result.err
    for name in DEPS:
        assert f"{name}: would clone" in result.out
    assert sorted(p.name for p in workspace.iterdir()) == [PROJECT, "xla-workspace.toml"]


def test_dry_run_says_what_would_move_and_moves_nothing(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    newer = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    older = history(upstreams, "iree")[0]
    repin(synced, upstreams, xla=newer, iree=older)
    before = {name: head(workspace / name) for name in DEPS}

    result = cli("sync", "--dry-run", cwd=synced)

    assert result.code == 0, result.err
    assert "xla: would fetch and check out" in result.out
    assert "iree: would check out" in result.out
    assert "jax: up to date" in result.out
    assert {name: head(workspace / name) for name in DEPS} == before
    assert git(workspace / "xla", "cat-file", "-t", newer, check=False) != "commit"


def test_json_output_is_one_object_with_ok_false_on_failure(
    project: Path, upstreams: Upstreams, cli
) -> None:
    upstreams.break_url("xla")

    result = cli("sync", "--json", cwd=project)

    assert result.code == 1
    data = result.json()
    assert data["ok"] is False
    failed = {o["name"]: o["error"] for o in data["outcomes"] if o["error"]}
    assert list(failed) == ["xla"]
    assert upstreams.url("xla") in failed["xla"]


# -- where deps land ----------------------------------------------------------------------------


def test_without_workspace_file_deps_land_beside_the_project(
    isolated_env: Path, upstreams: Upstreams, cli
) -> None:
    plain = isolated_env / "plain"
    project = clone_project(upstreams, plain)

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert_at_demo_pins(plain, upstreams)
    assert not (plain / "xla-workspace.toml").exists()


def test_sync_from_a_subdirectory_of_the_project(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    (synced / "src").mkdir()
    repin(synced, upstreams, xla=history(upstreams, "xla")[1])

    result = cli("sync", cwd=synced / "src")

    assert result.code == 0, result.err
    assert head(workspace / "xla") == history(upstreams, "xla")[1]


def test_dep_on_a_branch_at_its_pin_is_detached_without_other_change(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    git(workspace, "clone", "--quiet", upstreams.url("xla"), "xla")  # main's tip is the pin

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert is_detached(workspace / "xla")
    assert git(workspace / "xla", "rev-parse", "main") == history(upstreams, "xla")[2]
    assert "detached from branch main" in result.out


def test_checkout_with_sync_puts_the_deps_on_their_pins(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    result = cli("checkout", "--sync", PROJECT, cwd=workspace)

    assert result.code == 0, result.err
    assert_at_demo_pins(workspace, upstreams)


def test_library_call_returns_outcomes_without_printing(
    project: Path, workspace: Path, upstreams: Upstreams, capsys
) -> None:
    write_pins(project, {"xla": (history(upstreams, "xla")[0], upstreams.url("xla"), False)})

    result = sync(project, TaskOptions(jobs=1))

    assert result.ok
    assert [(o.name, o.action, o.path) for o in result.outcomes] == [("xla", "cloned", "xla")]
    assert capsys.readouterr() == ("", "")


def test_submodule_follows_when_the_deps_pin_moves(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    hlo = upstreams.commit("iree-stablehlo", {"README.md": "StableHLO v2\n"}, "stablehlo: second")
    iree = upstreams.commit("iree", {"third_party/stablehlo": Gitlink(hlo)}, "iree: bump hlo")
    repin(synced, upstreams, iree=iree)

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    assert head(workspace / "iree") == iree
    submodule = workspace / "iree" / "third_party" / "stablehlo"
    assert head(submodule) == hlo
    assert (submodule / "README.md").read_text() == "StableHLO v2\n"
    assert "submodules: 1 updated, 0 already there" in result.out


def test_dirty_dep_already_at_its_pin_is_left_with_its_changes(
    synced: Path, workspace: Path, cli
) -> None:
    (workspace / "jax" / "README.md").write_text("mine\n")

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    assert "jax: already at pin" in result.out
    assert git(workspace / "jax", "status", "--porcelain", "--untracked-files=no") != ""
    assert (workspace / "jax" / "README.md").read_text() == "mine\n"


def test_sync_while_another_run_holds_the_workspace_fails_naming_it(
    project: Path, workspace: Path
) -> None:
    with workspace_lock(workspace, "pin", 0), pytest.raises(LockHeldError, match=r"\(pin\)"):
        sync(project, TaskOptions(lock_timeout=0))

    assert sorted(p.name for p in workspace.iterdir() if not p.name.startswith(".")) == [
        PROJECT,
        "xla-workspace.toml",
    ]


def test_dep_lives_at_its_registry_path(workspace: Path, upstreams: Upstreams, cli) -> None:
    registry = workspace / "xla-workspace.toml"
    registry.write_text(
        registry.read_text().replace("[repos.xla]\n", '[repos.xla]\npath = "third_party/xla"\n')
    )
    project = clone_project(upstreams, workspace)

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert head(workspace / "third_party" / "xla") == history(upstreams, "xla")[2]
    assert not (workspace / "xla").exists()


def test_dep_path_leading_outside_the_workspace_is_refused(
    project: Path, workspace: Path, isolated_env: Path, cli
) -> None:
    outside = isolated_env / "outside"
    outside.mkdir()
    (workspace / "jax").symlink_to(outside)

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert "FAILED jax: path" in result.err
    assert "leads outside the workspace" in result.err
    assert list(outside.iterdir()) == []


def test_invalid_project_pin_file_names_file_and_key_and_clones_nothing(
    project: Path, workspace: Path, cli
) -> None:
    pin_file = project / "sync_deps.toml"
    pin_file.write_text(pin_file.read_text().replace('rev = "', 'rev = "zz', 1))

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert f"{pin_file}:" in result.err
    assert ".rev: invalid rev" in result.err
    assert "Traceback" not in result.err
    assert sorted(p.name for p in workspace.iterdir()) == [PROJECT, "xla-workspace.toml"]


def test_invalid_pin_file_in_a_dep_fails_that_dep_only(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    jax = upstreams.commit("jax", {"sync_deps.toml": "schema = 1\nbogus = 2\n"}, "jax: bad")
    repin(project, upstreams, jax=jax)

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert f"FAILED jax: {workspace / 'jax' / 'sync_deps.toml'}" in result.err
    assert "bogus" in result.err
    assert head(workspace / "jax") == jax
    assert head(workspace / "xla") == history(upstreams, "xla")[2]


def test_submodule_the_user_moved_is_left_where_it_is(
    synced: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    submodule = workspace / "iree" / "third_party" / "stablehlo"
    (submodule / "mine.txt").write_text("work\n")
    git(submodule, "add", "mine.txt")
    git(submodule, "commit", "--quiet", "-m", "my work in the submodule")
    mine = head(submodule)

    result = cli("sync", cwd=synced)

    assert result.code == 0, result.err
    assert head(submodule) == mine
    assert "left submodule(s) with local changes as they are: third_party/stablehlo" in result.out


def test_sync_and_the_generated_script_agree_on_what_is_user_work(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """Both tools mark the pin they checked out, so either may move it without "saving" it."""
    import subprocess
    import sys

    from syncing import clone_project, repin

    from xla_tasks.pins.project import save_pin_files
    from xla_tasks.pins.sync_deps_toml import load_pin_file

    project = clone_project(upstreams, workspace)
    assert cli("sync", cwd=project).code == 0
    first = git(workspace / "xla", "rev-parse", "HEAD")
    newer = upstreams.commit("xla", {"more.cc": "//"}, "xla: more")

    def pin_xla(rev: str) -> None:
        repin(project, upstreams, xla=rev)
        save_pin_files(project, load_pin_file(project / "sync_deps.toml"))

    pin_xla(newer)
    done = subprocess.run(
        [sys.executable, "-I", "sync_deps.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert git(workspace / "xla", "rev-parse", "HEAD") == newer
    pin_xla(first)
    result = cli("sync", cwd=project)
    assert result.code == 0, result.err
    assert git(workspace / "xla", "rev-parse", "HEAD") == first
    assert "saved" not in done.stdout + result.out
    assert git(workspace / "xla", "branch", "--list", "xla-tasks/*") == ""
