"""`checkout`: clone named repos and, recursively, their deps, with real git."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from upstreams import Upstreams, git, head

from xla_tasks.workspace.registry import WORKSPACE_FILE


def test_checkout_clones_project_and_its_pinned_deps_recursively(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """The plugin's sync_deps.toml names iree, jax and xla; jax's names xla again (once)."""
    result = cli("checkout", "openxla-pjrt-plugin", cwd=workspace)
    assert result.code == 0, result.err
    for name in ("openxla-pjrt-plugin", "iree", "jax", "xla"):
        assert head(workspace / name) == upstreams.head(name)
        assert git(workspace / name, "branch", "--show-current") == "main"
        assert f"{name}: cloned" in result.out
    assert not (workspace / "stablehlo").exists()  # nobody depends on it
    assert result.out.count("xla: cloned") == 1
    # iree's submodule is checked out, shallow
    sub = workspace / "iree" / "third_party" / "stablehlo"
    assert (sub / "README.md").read_text() == "StableHLO\n"
    assert git(sub, "rev-parse", "--is-shallow-repository") == "true"


def test_checkout_several_names_comma_separated(workspace: Path, cli) -> None:
    result = cli("checkout", "xla,stablehlo", cwd=workspace)
    assert result.code == 0, result.err
    assert (workspace / "xla" / ".git").exists()
    assert (workspace / "stablehlo" / ".git").exists()
    assert not (workspace / "jax").exists()


def test_checkout_uses_registry_deps_when_repo_has_no_pin_file(workspace: Path, cli) -> None:
    text = (workspace / WORKSPACE_FILE).read_text()
    text = text.replace("[repos.stablehlo]\n", '[repos.stablehlo]\ndeps = ["xla"]\n')
    (workspace / WORKSPACE_FILE).write_text(text)
    assert cli("checkout", "stablehlo", cwd=workspace).code == 0
    assert (workspace / "xla" / ".git").exists()


def test_checkout_prefers_the_pin_file_over_registry_deps(workspace: Path, cli) -> None:
    text = (workspace / WORKSPACE_FILE).read_text()
    text = text.replace('deps = [\n    "xla",\n]', 'deps = [\n    "xla",\n    "stablehlo",\n]', 1)
    (workspace / WORKSPACE_FILE).write_text(text)
    # jax's sync_deps.toml names only xla, and that is what it builds against
    assert cli("checkout", "jax", cwd=workspace).code == 0
    assert (workspace / "xla").exists()
    assert not (workspace / "stablehlo").exists()


def test_checkout_no_deps_clones_only_the_named(workspace: Path, cli) -> None:
    assert cli("checkout", "openxla-pjrt-plugin", "--no-deps", cwd=workspace).code == 0
    assert sorted(p.name for p in workspace.iterdir() if not p.name.startswith(".")) == [
        "openxla-pjrt-plugin",
        WORKSPACE_FILE,
    ]


def test_checkout_no_submodules_and_exclude_submodule(workspace: Path, cli) -> None:
    assert cli("checkout", "iree", "--no-submodules", cwd=workspace).code == 0
    assert not (workspace / "iree" / "third_party" / "stablehlo" / "README.md").exists()
    other = workspace / "other"
    other.mkdir()
    (other / WORKSPACE_FILE).write_text((workspace / WORKSPACE_FILE).read_text())
    result = cli("checkout", "iree", "--exclude-submodule", "iree:third_party/.*", cwd=other)
    assert result.code == 0, result.err
    assert not (other / "iree" / "third_party" / "stablehlo" / "README.md").exists()
    assert "submodules: 0 updated, 0 already there, 1 excluded" in result.out


def test_checkout_exclude_dep_skips_it(workspace: Path, cli) -> None:
    result = cli(
        "checkout",
        "openxla-pjrt-plugin",
        "--exclude-dep",
        "^ir",
        "--exclude-dep",
        "jax",
        cwd=workspace,
    )
    assert result.code == 0, result.err
    assert (workspace / "xla").exists()
    assert not (workspace / "iree").exists()
    assert not (workspace / "jax").exists()


def test_checkout_leaves_existing_clone_as_it_is(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    git(workspace, "clone", "-q", upstreams.url("xla"), "xla")
    git(workspace / "xla", "checkout", "-q", "-b", "feature", "HEAD~1")
    (workspace / "xla" / "local.txt").write_text("mine")
    result = cli("checkout", "jax", cwd=workspace)
    assert result.code == 0, result.err
    assert "xla: present, left as it is" in result.out
    assert git(workspace / "xla", "branch", "--show-current") == "feature"
    assert (workspace / "xla" / "local.txt").read_text() == "mine"


def test_checkout_existing_non_git_path_is_an_error_naming_it(workspace: Path, cli) -> None:
    (workspace / "xla").mkdir()
    (workspace / "xla" / "notes.txt").write_text("not a repo")
    result = cli("checkout", "xla", cwd=workspace)
    assert result.code == 1
    assert f"xla: {workspace / 'xla'} exists and is not a git repository" in result.err
    assert (workspace / "xla" / "notes.txt").read_text() == "not a repo"
    assert not (workspace / "xla" / ".git").exists()


def test_checkout_unknown_name_lists_known_names(workspace: Path, cli) -> None:
    result = cli("checkout", "tensorflow", cwd=workspace)
    assert result.code == 1
    assert "unknown repo 'tensorflow'" in result.err
    assert "known: xla, stablehlo, jax, iree, openxla-pjrt-plugin" in result.err
    assert sorted(p.name for p in workspace.iterdir()) == [WORKSPACE_FILE]


def test_checkout_outside_a_workspace_says_how_to_make_one(tmp_path: Path, cli) -> None:
    result = cli("checkout", "xla", cwd=tmp_path)
    assert result.code == 1
    assert "no xla-workspace.toml" in result.err
    assert "xla-tasks init" in result.err


def test_checkout_broken_url_names_repo_and_url_while_others_land(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    upstreams.break_url("jax")
    result = cli("checkout", "openxla-pjrt-plugin", cwd=workspace)
    assert result.code == 1
    assert f"jax: clone from {upstreams.url('jax')} failed" in result.err
    assert (workspace / "iree" / ".git").exists()
    assert not (workspace / "jax").exists()
    assert not [p for p in workspace.iterdir() if ".clone-" in p.name]  # no half clone left
    # re-running after the server is back converges
    upstreams.restore_url("jax")
    again = cli("checkout", "openxla-pjrt-plugin", cwd=workspace)
    assert again.code == 0, again.err
    assert head(workspace / "jax") == upstreams.head("jax")


def test_checkout_push_url_used_unless_ro(workspace: Path, upstreams: Upstreams, cli) -> None:
    fork = upstreams.fork("xla")
    upstreams.commit("xla", {"new.txt": "only upstream"})
    text = (workspace / WORKSPACE_FILE).read_text()
    text = text.replace(
        f'url = "{upstreams.url("xla")}"', f'url = "{upstreams.url("xla")}"\npush_url = "{fork}"'
    )
    (workspace / WORKSPACE_FILE).write_text(text)
    assert cli("checkout", "xla", cwd=workspace).code == 0
    assert git(workspace / "xla", "remote", "get-url", "origin") == fork
    assert not (workspace / "xla" / "new.txt").exists()
    ro = workspace / "ro"
    ro.mkdir()
    (ro / WORKSPACE_FILE).write_text(text)
    assert cli("checkout", "xla", "--ro", cwd=ro).code == 0
    assert git(ro / "xla", "remote", "get-url", "origin") == upstreams.url("xla")
    assert (ro / "xla" / "new.txt").exists()


def test_checkout_nested_repo_clones_its_container_first(
    tmp_path: Path, upstreams: Upstreams, cli
) -> None:
    """PyTorch/XLA: torch_xla lives at pytorch/xla, inside the pytorch clone."""
    urls = {name: upstreams.create(name) for name in ("pytorch", "vision", "torch_xla")}
    upstreams.commit("torch_xla", {"setup.py": "# torch_xla\n"}, branch="master")
    root = tmp_path / "pt"
    root.mkdir()
    (root / WORKSPACE_FILE).write_text(
        f'schema = 1\n[repos.pytorch]\nurl = "{urls["pytorch"]}"\n'
        f'[repos.vision]\nurl = "{urls["vision"]}"\ndeps = ["pytorch"]\n'
        f'[repos.torch_xla]\nurl = "{urls["torch_xla"]}"\nbranch = "master"\n'
        'path = "pytorch/xla"\ndeps = ["pytorch"]\n'
    )
    result = cli("checkout", "torch_xla", "--no-deps", cwd=root)
    assert result.code == 0, result.err
    assert head(root / "pytorch") == upstreams.head("pytorch")
    assert (root / "pytorch" / "xla" / "setup.py").exists()
    assert git(root / "pytorch" / "xla", "rev-parse", "--show-toplevel") == str(
        root / "pytorch" / "xla"
    )


def test_checkout_jobs_must_be_a_number(workspace: Path, cli) -> None:
    result = cli("checkout", "xla", "--jobs", "x", cwd=workspace)
    assert result.code == 1
    assert result.err.strip() == "xla-tasks: --jobs expects a positive integer, got 'x'"
    assert not (workspace / "xla").exists()


def test_checkout_invalid_regex_is_one_line(workspace: Path, cli) -> None:
    result = cli("checkout", "xla", "--exclude-dep", "([", cwd=workspace)
    assert result.code == 1
    assert "--exclude-dep: invalid regex '(['" in result.err
    assert "Traceback" not in result.err


def test_checkout_jobs_from_invoke_env_var_is_validated(
    workspace: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVOKE_XLA_TASKS_JOBS", "0")
    assert cli("checkout", "xla", cwd=workspace).code == 0


def test_second_checkout_waits_then_fails_naming_the_lock_holder(
    workspace: Path, cli, monkeypatch
) -> None:
    from xla_tasks.workspace.lock import workspace_lock

    monkeypatch.setenv("INVOKE_XLA_TASKS_LOCK_TIMEOUT", "0.2")
    start = time.monotonic()
    with workspace_lock(workspace, "sync", timeout=0):
        result = cli("checkout", "xla", cwd=workspace)
    assert result.code == 1
    assert f"pid {os.getpid()} (sync)" in result.err
    assert time.monotonic() - start < 10
    assert not (workspace / "xla").exists()


def test_leftover_temp_clone_of_a_killed_run_is_removed(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    leftover = workspace / ".xla.clone-k1ll3d"
    (leftover / "objects").mkdir(parents=True)
    result = cli("checkout", "xla", cwd=workspace)
    assert result.code == 0, result.err
    assert not leftover.exists()
    assert head(workspace / "xla") == upstreams.head("xla")
