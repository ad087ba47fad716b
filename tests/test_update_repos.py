"""`update-repos`: tracking branches and forks brought up to upstream, the user's work untouched.

Starting states are reached with plain `git clone` (the tool's own checkout is not what is
tested here): a "fork setup" is a clone of the user's fork (`origin`) with the official repo
added as `upstream`, the user working on a `feature` branch.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from upstreams import Upstreams, git, head, is_detached

from xla_tasks.commands.update_repos import check_ownership, update_repos
from xla_tasks.demo.upstreams import Gitlink, commit
from xla_tasks.errors import LockHeldError, XlaTasksError
from xla_tasks.workspace.lock import workspace_lock
from xla_tasks.workspace.registry import WORKSPACE_FILE, preset_text
from xla_tasks.workspace.settings import TaskOptions

# -- starting states ------------------------------------------------------------------------


def start_feature(repo: Path) -> str:
    """The user's own work: a commit on a `feature` branch, which stays checked out."""
    git(repo, "switch", "--quiet", "-c", "feature")
    (repo / "feature.txt").write_text("my work\n")
    git(repo, "add", "feature.txt")
    git(repo, "commit", "--quiet", "-m", "my work")
    return head(repo)


def clone_fork_setup(
    upstreams: Upstreams, name: str, dest: Path, branch: str = "main", feature: bool = True
) -> Path:
    """origin = the user's fork (a bare copy of upstream), upstream = the official repo."""
    fork = upstreams.fork(name)
    git(dest.parent, "clone", "--quiet", "--branch", branch, fork, str(dest))
    git(dest, "remote", "add", "upstream", upstreams.url(name))
    if feature:
        start_feature(dest)
    return dest


def clone_plain(upstreams: Upstreams, name: str, dest: Path) -> Path:
    """A clone of the official repo: `origin` only."""
    git(dest.parent, "clone", "--quiet", upstreams.url(name), str(dest))
    return dest


def fork_head(upstreams: Upstreams, name: str, branch: str = "main") -> str:
    return git(upstreams.root / "forks" / f"{name}.git", "rev-parse", f"refs/heads/{branch}")


def branch_of(repo: Path) -> str:
    return git(repo, "symbolic-ref", "--short", "-q", "HEAD", check=False)


def local(repo: Path, branch: str = "main") -> str:
    return git(repo, "rev-parse", f"refs/heads/{branch}")


def snapshot(repo: Path) -> tuple[str, str, str, dict[str, bytes]]:
    """HEAD, branch, every ref (remote-tracking ones too) and every work-tree file."""
    files = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    return head(repo), branch_of(repo), refs, files


def outcome(result, name: str) -> dict:  # type: ignore[no-untyped-def]
    return next(o for o in result.json()["outcomes"] if o["name"] == name)


# -- the fork workflow ----------------------------------------------------------------------


def test_fork_setup_gets_main_and_fork_to_upstream_head_and_user_stays_on_feature(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    mine = head(xla)
    new = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", cwd=xla)

    assert result.code == 0, result.err
    assert local(xla) == new
    assert fork_head(upstreams, "xla") == new
    assert branch_of(xla) == "feature"
    assert head(xla) == mine
    assert not (xla / "xla" / "new.cc").exists()  # the user's work tree was not touched
    assert "xla: fast-forwarded main" in result.out
    assert "1 commit(s) from upstream/main" in result.out
    assert "pushed to origin" in result.out


def test_no_push_updates_local_main_and_leaves_the_fork_behind(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    old = upstreams.head("xla")
    new = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", "--no-push", cwd=xla)

    assert result.code == 0, result.err
    assert local(xla) == new
    assert fork_head(upstreams, "xla") == old
    assert "not pushed (--no-push)" in result.out


def test_origin_only_clone_fast_forwards_checked_out_main_from_origin_without_pushing(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_plain(upstreams, "xla", workspace / "xla")
    new = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", "--json", cwd=xla)

    assert result.code == 0, result.err
    assert branch_of(xla) == "main"
    assert head(xla) == new
    assert (xla / "xla" / "new.cc").read_text() == "// new\n"
    xla_outcome = outcome(result, "xla")
    assert xla_outcome["action"] == "fast-forwarded main"
    assert not any("push" in note for note in xla_outcome["notes"])


def test_up_to_date_repo_still_brings_a_lagging_fork_along(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    new = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    assert cli("update-repos", "--no-push", cwd=xla).code == 0

    result = cli("update-repos", cwd=xla)

    assert result.code == 0, result.err
    assert "xla: main up to date" in result.out
    assert fork_head(upstreams, "xla") == new
    dry = cli("update-repos", "--dry-run", cwd=xla)
    assert "origin up to date as of the last fetch)" in dry.out
    assert "((" not in dry.out
    assert "))" not in dry.out


def test_fast_forward_of_checked_out_branch_says_when_submodules_lag(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    git(workspace, "clone", "--quiet", "--recurse-submodules", upstreams.url("iree"), "iree")
    iree = workspace / "iree"
    hlo = upstreams.commit("iree-stablehlo", {"NEWS": "hlo\n"}, "stablehlo: news")
    new = upstreams.commit("iree", {"third_party/stablehlo": Gitlink(hlo)}, "iree: bump stablehlo")

    result = cli("update-repos", "-b", "iree", cwd=workspace)

    assert result.code == 0, result.err
    assert head(iree) == new
    assert "submodules not updated (third_party/stablehlo)" in result.out
    assert "git submodule update --init --recursive" in result.out


def test_missing_tracking_branch_is_created_from_upstream(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    git(xla, "branch", "-D", "main")
    new = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", cwd=xla)

    assert result.code == 0, result.err
    assert local(xla) == new
    assert git(xla, "config", "branch.main.remote") == "upstream"
    assert branch_of(xla) == "feature"
    assert "xla: created main" in result.out


def test_detached_head_stays_on_its_commit(workspace: Path, upstreams: Upstreams, cli) -> None:
    xla = clone_plain(upstreams, "xla", workspace / "xla")
    git(xla, "checkout", "--quiet", "--detach", "HEAD~1")
    where = head(xla)
    new = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", cwd=xla)

    assert result.code == 0, result.err
    assert local(xla) == new
    assert is_detached(xla)
    assert head(xla) == where


# -- refusals: nothing changes --------------------------------------------------------------


def test_uncommitted_change_is_refused_and_repo_left_untouched(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    (xla / "README.md").write_text("edited\n")
    upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    before = snapshot(xla)

    result = cli("update-repos", cwd=xla)

    assert result.code == 1
    assert "xla: has uncommitted changes (README.md)" in result.err
    assert snapshot(xla) == before  # not even fetched


def test_untracked_file_is_refused_and_repo_left_untouched(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    (xla / "notes.txt").write_text("scratch\n")
    upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    before = snapshot(xla)

    result = cli("update-repos", cwd=xla)

    assert result.code == 1
    assert "xla: has untracked files (notes.txt)" in result.err
    assert snapshot(xla) == before


def test_diverged_main_is_reported_and_not_merged(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla", feature=False)
    (xla / "local.txt").write_text("local\n")
    git(xla, "add", "local.txt")
    git(xla, "commit", "--quiet", "-m", "local commit on main")
    start_feature(xla)
    mine = local(xla)
    fork_before = fork_head(upstreams, "xla")
    upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", cwd=xla)

    assert result.code == 1
    assert "xla: main has diverged from upstream/main (1 local and 1 upstream" in result.err
    assert local(xla) == mine
    assert fork_head(upstreams, "xla") == fork_before
    assert branch_of(xla) == "feature"


def test_branch_checked_out_in_another_worktree_is_not_moved(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_plain(upstreams, "xla", workspace / "xla")
    start_feature(xla)
    git(xla, "worktree", "add", "--quiet", str(workspace / "xla-main"), "main")
    before = local(xla)
    upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", "--json", cwd=xla)

    assert result.code == 1
    assert result.json()["ok"] is False
    assert outcome(result, "xla")["error"].startswith("xla: main is checked out in the work tree")
    assert local(xla) == before


def test_fork_push_rejected_is_a_failure_but_local_main_is_updated(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    commit(upstreams.root / "forks" / "xla.git", {"fork.txt": "x\n"}, "fork-only commit")
    new = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", cwd=xla)

    assert result.code == 1
    assert "xla: push main to origin" in result.err
    assert "[rejected]" in result.err
    assert local(xla) == new
    assert branch_of(xla) == "feature"


def test_failed_fetch_names_repo_and_url_leaves_user_on_branch_and_others_update(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    mine = head(xla)
    jax = clone_plain(upstreams, "jax", workspace / "jax")
    new_jax = upstreams.commit("jax", {"NEWS": "jax news\n"}, "jax: news")
    url = upstreams.url("xla")
    upstreams.break_url("xla")

    result = cli("update-repos", "-b", "xla", cwd=workspace)

    assert result.code == 1
    assert f"FAILED xla: fetch from {url} failed" in result.err
    assert result.err.strip().splitlines()[-1].endswith("1 repo(s) failed: xla")
    assert branch_of(xla) == "feature"
    assert head(xla) == mine
    assert head(jax) == new_jax
    assert "jax: fast-forwarded main" in result.out


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_check_ownership_refuses_a_clone_of_another_user_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    clone = tmp_path / "pytorch"
    (clone / ".git").mkdir(parents=True)
    check_ownership(clone, "pytorch")  # ours: fine
    os.chown(clone, 12345, -1)

    with pytest.raises(XlaTasksError) as info:
        check_ownership(clone, "pytorch")

    message = str(info.value)
    assert message.startswith(f"pytorch: {clone} belongs to uid 12345")
    assert "dubious ownership" in message
    assert "run xla-tasks as uid 12345" in message
    assert f"chown -R root {clone}" in message


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_clone_owned_by_another_user_is_refused_before_git_runs(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_plain(upstreams, "xla", workspace / "xla")
    before = head(xla)
    upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    os.chown(xla / ".git", 12345, -1)
    try:
        result = cli("update-repos", "-b", "xla", cwd=workspace)
    finally:
        os.chown(xla / ".git", 0, -1)

    assert result.code == 1
    assert f"xla: {xla / '.git'} belongs to uid 12345" in result.err
    assert head(xla) == before


# -- selection ------------------------------------------------------------------------------


def test_base_selects_it_and_its_dependents_in_dependency_order(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    for name in ("openxla-pjrt-plugin", "jax", "iree", "xla"):
        clone_plain(upstreams, name, workspace / name)
    new_xla = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")

    result = cli("update-repos", "-b", "xla", "--json", cwd=workspace)

    assert result.code == 0, result.err
    data = result.json()
    assert data["ok"] is True
    assert [o["name"] for o in data["outcomes"]] == ["xla", "jax", "openxla-pjrt-plugin"]
    assert data["data"]["selected"] == ["xla", "jax", "openxla-pjrt-plugin"]
    assert head(workspace / "xla") == new_xla
    assert outcome(result, "jax")["action"] == "main up to date"


def test_all_updates_every_cloned_repo_and_skips_the_others(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    clone_plain(upstreams, "xla", workspace / "xla")
    clone_plain(upstreams, "jax", workspace / "jax")
    new_xla = upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    new_jax = upstreams.commit("jax", {"NEWS": "news\n"}, "jax: news")

    result = cli("update-repos", "-a", "--json", cwd=workspace)

    assert result.code == 0, result.err
    assert head(workspace / "xla") == new_xla
    assert head(workspace / "jax") == new_jax
    actions = {o["name"]: o["action"] for o in result.json()["outcomes"]}
    assert actions == {
        "xla": "fast-forwarded main",
        "stablehlo": "skipped: not cloned",
        "jax": "fast-forwarded main",
        "iree": "skipped: not cloned",
        "openxla-pjrt-plugin": "skipped: not cloned",
    }


def test_repos_not_cloned_are_skipped_with_a_note_and_exit_zero(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    clone_plain(upstreams, "xla", workspace / "xla")

    result = cli("update-repos", cwd=workspace / "xla" / "xla")  # from a subdirectory

    assert result.code == 0, result.err
    assert "jax: skipped: not cloned (no clone at jax)" in result.out
    assert "openxla-pjrt-plugin: skipped: not cloned" in result.out


def test_base_and_all_together_is_a_usage_error(workspace: Path, cli) -> None:
    result = cli("update-repos", "-b", "xla", "-a", cwd=workspace)
    assert result.code == 1
    assert "-b/--base and -a/--all exclude each other" in result.err


def test_unknown_base_lists_the_known_repos(workspace: Path, cli) -> None:
    result = cli("update-repos", "-b", "nope", cwd=workspace)
    assert result.code == 1
    assert "unknown repo 'nope'" in result.err
    assert "known: xla, stablehlo, jax, iree, openxla-pjrt-plugin" in result.err


def test_outside_any_repo_without_flags_says_to_use_base_or_all(workspace: Path, cli) -> None:
    result = cli("update-repos", cwd=workspace)
    assert result.code == 1
    assert "is not inside a cloned repo of the workspace" in result.err
    assert "use -b NAME" in result.err
    assert "-a for all" in result.err


def test_without_workspace_says_how_to_make_one(tmp_path: Path, cli) -> None:
    result = cli("update-repos", "-a", cwd=tmp_path / "cwd")
    assert result.code == 1
    assert "xla-workspace.toml" in result.err


# -- dry run, lock --------------------------------------------------------------------------


def test_dry_run_fetches_nothing_changes_nothing_and_reads_last_fetch(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = clone_fork_setup(upstreams, "xla", workspace / "xla")
    fork_before = fork_head(upstreams, "xla")
    upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    before = snapshot(xla)

    never_fetched = cli("update-repos", "--dry-run", cwd=xla)

    assert never_fetched.code == 0, never_fetched.err
    assert "dry run: nothing fetched" in never_fetched.out
    assert "xla: would fetch upstream and update main" in never_fetched.out
    assert snapshot(xla) == before

    git(xla, "fetch", "--quiet", "upstream")
    before = snapshot(xla)
    fetched = cli("update-repos", "--dry-run", cwd=xla)

    assert fetched.code == 0, fetched.err
    assert "xla: would fast-forward main" in fetched.out
    assert "would push main to origin" in fetched.out
    assert snapshot(xla) == before
    assert fork_head(upstreams, "xla") == fork_before


def test_waits_for_no_one_when_lock_is_held_and_names_the_holder(
    workspace: Path, upstreams: Upstreams
) -> None:
    xla = clone_plain(upstreams, "xla", workspace / "xla")
    before = head(xla)
    upstreams.commit("xla", {"xla/new.cc": "// new\n"}, "xla: fourth")
    with workspace_lock(workspace, "sync", 0), pytest.raises(LockHeldError) as info:
        update_repos(xla, TaskOptions(lock_timeout=0))
    assert "(sync)" in str(info.value)
    assert head(xla) == before


# -- the PyTorch/XLA layout -----------------------------------------------------------------


@pytest.fixture
def pytorch_ws(isolated_env: Path, upstreams: Upstreams) -> Path:
    """The pytorch-xla preset with file:// URLs; pytorch and torch_xla (at pytorch/xla) cloned
    as fork setups, vision not cloned; all three upstreams have moved on since."""
    for name in ("pytorch", "vision", "torch_xla"):
        upstreams.create(name)
    upstreams.commit(
        "torch_xla", {"torch_xla/__init__.py": "\n"}, "torch_xla: start", branch="master"
    )
    text = preset_text("pytorch-xla")
    for name, repo in (("pytorch", "pytorch"), ("vision", "vision"), ("torch_xla", "xla")):
        text = text.replace(f"https://github.com/pytorch/{repo}.git", upstreams.url(name))
    root = isolated_env / "ptws"
    root.mkdir()
    (root / WORKSPACE_FILE).write_text(text)
    clone_fork_setup(upstreams, "pytorch", root / "pytorch")
    clone_fork_setup(upstreams, "torch_xla", root / "pytorch" / "xla", branch="master")
    upstreams.commit("pytorch", {"torch/new.py": "x = 1\n"}, "pytorch: new")
    upstreams.commit("torch_xla", {"torch_xla/new.py": "y = 1\n"}, "xla: new", "master")
    upstreams.commit("vision", {"NEWS": "v\n"}, "vision: news")
    return root


def test_inside_pytorch_xla_without_flags_updates_only_torch_xla(
    pytorch_ws: Path, upstreams: Upstreams, cli
) -> None:
    torch_xla = pytorch_ws / "pytorch" / "xla"
    pytorch_main = local(pytorch_ws / "pytorch")

    result = cli("update-repos", "--json", cwd=torch_xla / "torch_xla")

    assert result.code == 0, result.err
    assert result.json()["data"]["selected"] == ["torch_xla"]
    assert local(torch_xla, "master") == upstreams.head("torch_xla", "master")
    assert fork_head(upstreams, "torch_xla", "master") == upstreams.head("torch_xla", "master")
    assert branch_of(torch_xla) == "feature"
    assert local(pytorch_ws / "pytorch") == pytorch_main


def test_inside_pytorch_updates_pytorch_and_torch_xla_and_skips_vision(
    pytorch_ws: Path, upstreams: Upstreams, cli
) -> None:
    pytorch = pytorch_ws / "pytorch"
    torch_xla = pytorch / "xla"

    result = cli("update-repos", "--json", cwd=pytorch)

    assert result.code == 0, result.err  # the nested xla/ clone is not pytorch's untracked file
    outcomes = result.json()["outcomes"]  # text lines stream as repos finish; JSON keeps order
    assert [o["name"] for o in outcomes] == ["pytorch", "vision", "torch_xla"]
    assert outcomes[1]["action"] == "skipped: not cloned"
    assert local(pytorch) == upstreams.head("pytorch")
    assert local(torch_xla, "master") == upstreams.head("torch_xla", "master")
    assert branch_of(pytorch) == branch_of(torch_xla) == "feature"


def test_pytorch_with_a_real_untracked_file_is_still_refused(
    pytorch_ws: Path, upstreams: Upstreams, cli
) -> None:
    pytorch = pytorch_ws / "pytorch"
    (pytorch / "scratch.py").write_text("print()\n")
    before = local(pytorch)

    result = cli("update-repos", "-b", "pytorch", cwd=pytorch_ws)

    assert result.code == 1
    assert "pytorch: has untracked files (scratch.py)" in result.err
    assert "xla/" not in result.err
    assert local(pytorch) == before
    assert local(pytorch / "xla", "master") == upstreams.head("torch_xla", "master")
