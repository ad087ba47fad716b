"""`pin` on projects that keep their pins in their own files (contract 6.1, 6.2, 6.4).

Each test builds local upstreams whose pin files are copies of the real ones (JAX's
revision.bzl and MODULE.bazel, PyTorch/XLA's WORKSPACE and .torch_commit, IREE's
.gitmodules), on local commits, reached through `insteadOf` so the files keep their
GitHub URLs (tests/native_world.py). A `.zip` is served by a real HTTP server.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from archive_server import ArchiveServer, fixture_archive_server  # noqa: F401
from native_project import REVISION, texts
from native_world import (
    GITHUB,
    NativeWorld,
    committer_day,
    jax_files,
    pinned_jax_files,
    sri,
    tar_gz_sha256,
    torch_xla_files,
    xla_tree,
)
from upstreams import git

from xla_tasks.demo.upstreams import Gitlink


def _commit_on(clone: Path, message: str, day: str) -> str:
    """A local commit in a dep's clone, committed on `day` (what `%cs` reads)."""
    env = {**os.environ, "GIT_COMMITTER_DATE": f"{day}T12:00:00+00:00"}
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", message], cwd=clone, env=env, check=True
    )
    return git(clone, "rev-parse", "HEAD")


def test_pin_writes_xlas_head_into_revision_bzl_and_module_bazel_and_nothing_else(
    jax_at_xla, cli
) -> None:
    """Only the pin's bytes change: commit, hex hash, SRI integrity, strip_prefix, URL."""
    world, shas, project, xla = jax_at_xla
    git(xla, "checkout", "-q", shas[2])
    want = tar_gz_sha256(world.bare("xla"), shas[2], "xla")  # the shell pipeline's answer

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert f"xla: {shas[0][:12]} -> {shas[2][:12]} (2026-01-01 xla: change 3)" in result.out
    assert "1 pin(s) moved; wrote MODULE.bazel, third_party/xla/revision.bzl" in result.out
    assert texts(project) == jax_files(shas[2], want)
    assert f'integrity = "{sri(want)}"' in (project / "MODULE.bazel").read_text()
    assert git(project, "status", "--porcelain").splitlines() == [
        "M MODULE.bazel",
        " M third_party/xla/revision.bzl",
    ]
    check = cli("pin", "--check", cwd=project)
    assert check.code == 0, check.err
    again = cli("pin", cwd=project)
    assert "nothing changed" in again.out
    assert texts(project) == jax_files(shas[2], want)


def test_pin_dry_run_and_json_say_what_would_be_written_and_write_nothing(jax_at_xla, cli) -> None:
    _, shas, project, xla = jax_at_xla
    git(xla, "checkout", "-q", shas[1])
    before = texts(project)

    result = cli("pin", "--dry-run", "--json", cwd=project)

    assert result.code == 0, result.err
    data = result.json()["data"]
    assert data["source"] == "native"
    assert data["dry_run"] is True
    assert data["written"] is False
    assert data["files"] == ["MODULE.bazel", REVISION]
    assert data["changes"] == [
        {
            "name": "xla",
            "old": shas[0],
            "new": shas[1],
            "added": False,
            "date": "2026-01-01",
            "subject": "xla: change 2",
            "files": ["MODULE.bazel", REVISION],
        }
    ]
    assert texts(project) == before
    text = cli("pin", "--dry-run", cwd=project)
    assert "would write MODULE.bazel, third_party/xla/revision.bzl" in text.out
    assert texts(project) == before


def test_pin_makes_files_that_disagree_agree(jax_at_xla, cli) -> None:
    """JAX's real failure: MODULE.bazel moved by hand, revision.bzl not (15 of 261 commits)."""
    world, shas, project, xla = jax_at_xla
    stale = jax_files(shas[1], "ab" * 32)["MODULE.bazel"]
    (project / "MODULE.bazel").write_text(stale)
    git(xla, "checkout", "-q", shas[1])

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "xla: its files disagreed" in result.out
    assert texts(project) == pinned_jax_files(world, shas[1])


def test_pin_fixes_a_wrong_hash_when_the_commit_did_not_move(jax_at_xla, cli) -> None:
    world, shas, project, _ = jax_at_xla
    right = texts(project)
    (project / REVISION).write_text(
        right[REVISION].replace(tar_gz_sha256(world.bare("xla"), shas[0], "xla"), "cd" * 32)
    )

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "no pin moved; wrote third_party/xla/revision.bzl" in result.out
    assert texts(project) == right


def test_pin_add_on_a_native_project_says_which_file_takes_the_pin(jax_at_xla, cli) -> None:
    world, _, project, _ = jax_at_xla
    world.registry("jax", "xla", "stablehlo")
    before = texts(project)

    result = cli("pin", "--add", "stablehlo", cwd=project)

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    assert "third_party/stablehlo/workspace.bzl" in result.err
    assert "MODULE.bazel" in result.err
    assert texts(project) == before
    assert not (project / "sync_deps.toml").exists()


def test_pin_with_the_dep_not_cloned_names_it_and_writes_nothing(jax_at_xla, cli) -> None:
    world, shas, project, xla = jax_at_xla
    git(xla, "checkout", "-q", shas[1])
    (world.ws / "xla").rename(world.ws / "elsewhere")
    before = texts(project)

    result = cli("pin", cwd=project)

    assert result.code == 1
    assert "xla: not checked out at" in result.err
    assert texts(project) == before


# -- PyTorch/XLA: WORKSPACE's xla_hash with its date, .torch_commit, .torch_pin -------------


@pytest.fixture
def torch_xla(isolated_env: Path) -> tuple[NativeWorld, Path, dict[str, str]]:
    """pytorch, xla and torch_xla (at pytorch/xla) cloned; torch_xla pins both."""
    world = NativeWorld(isolated_env / "upstreams")
    xla = world.commit("xla", xla_tree(1), "xla: start")
    torch = world.commit("pytorch", {"README.md": "PyTorch\n"}, "pytorch: start")
    files = torch_xla_files(xla, "2026-01-01", torch, "2026-01-01")
    world.commit("torch_xla", {"README.md": "torch_xla\n", **files}, "torch_xla: pin")
    world.registry("pytorch", "xla", "torch_xla")
    world.clone("pytorch")
    project = world.clone("torch_xla")
    world.clone("xla")
    return world, project, {"xla": xla, "pytorch": torch}


def test_pin_writes_the_committer_date_next_to_xla_hash_and_in_torch_commit(torch_xla, cli) -> None:
    world, project, _ = torch_xla
    xla = _commit_on(world.ws / "xla", "xla: fix", "2026-03-04")
    torch = _commit_on(world.ws / "pytorch", "pytorch: fix", "2026-02-27")

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "wrote .torch_commit, WORKSPACE" in result.out
    assert texts(project, ("WORKSPACE", ".torch_commit")) == torch_xla_files(
        xla, "2026-03-04", torch, "2026-02-27"
    )
    assert (project / ".torch_commit").read_bytes() == f"# 2026-02-27\n{torch}".encode()
    assert committer_day(world.ws / "xla", xla) == "2026-03-04"
    line = next(
        line for line in (project / "WORKSPACE").read_text().splitlines() if "xla_hash =" in line
    )
    assert line == f"xla_hash = '{xla}'  # Committed on 2026-03-04."


def test_pin_leaves_torch_pin_as_it_is_and_says_it_still_overrides(torch_xla, cli) -> None:
    world, project, old = torch_xla
    (project / ".torch_pin").write_text("#4321\n")
    torch = _commit_on(world.ws / "pytorch", "pytorch: fix", "2026-02-27")

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert (project / ".torch_pin").read_text() == "#4321\n"
    assert (project / ".torch_commit").read_text() == f"# 2026-02-27\n{torch}"
    assert "pytorch: .torch_pin (refs/pull/4321/head) still overrides" in result.out
    assert f"pytorch: {old['pytorch'][:12]} -> {torch[:12]}" in result.out


# -- IREE: a submodule gitlink is staged, not committed -------------------------------------


def test_pin_stages_a_submodule_gitlink_in_the_index_without_committing(
    isolated_env: Path, cli
) -> None:
    world = NativeWorld(isolated_env / "upstreams")
    old = world.commit("iree-llvm", {"README.md": "LLVM\n"}, "llvm: start")
    gitmodules = (
        '[submodule "third_party/llvm-project"]\n'
        "\tpath = third_party/llvm-project\n"
        f"\turl = {GITHUB['iree-llvm']}\n"
    )
    world.commit(
        "iree",
        {".gitmodules": gitmodules, "third_party/llvm-project": Gitlink(old)},
        "iree: add llvm",
    )
    world.registry("iree", "iree-llvm")
    project = world.clone("iree")
    llvm = world.clone("iree-llvm")
    new = _commit_on(llvm, "llvm: local fix", "2026-01-05")
    commit_before = git(project, "rev-parse", "HEAD")

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "staged third_party/llvm-project (submodule) in the index, not committed" in result.out
    assert git(project, "ls-files", "-s", "third_party/llvm-project").split()[1] == new
    assert git(project, "diff", "--cached", "--name-only") == "third_party/llvm-project"
    assert git(project, "rev-parse", "HEAD") == commit_before


# -- a .zip hash is downloaded, bounded in time and size ------------------------------------


def _zip_project(world: NativeWorld, server: ArchiveServer, mode: str, sha256: str) -> Path:
    """A project pinning stablehlo by a .zip archive on the server (an XLA-style file)."""
    url = server.archive_url(mode, "openxla/stablehlo")
    first = world.commit("stablehlo", {"README.md": "StableHLO\n"}, "stablehlo: start")
    workspace_bzl = (
        '"""Provides the repository macro to import StableHLO."""\n\n'
        'load("//third_party:repo.bzl", "tf_http_archive")\n\n'
        "def repo():\n"
        f'    STABLEHLO_COMMIT = "{first}"\n'
        f'    STABLEHLO_SHA256 = "{sha256}"\n\n'
        "    tf_http_archive(\n"
        '        name = "stablehlo",\n'
        "        sha256 = STABLEHLO_SHA256,\n"
        '        strip_prefix = "stablehlo-{commit}".format(commit = STABLEHLO_COMMIT),\n'
        f'        urls = ["{url}".format(commit = STABLEHLO_COMMIT)],\n'
        "    )\n"
    )
    world.commit("xla", {"third_party/stablehlo/workspace.bzl": workspace_bzl}, "xla: pin")
    world.registry("xla", "stablehlo")
    project = world.clone("xla")
    world.clone("stablehlo")
    return project


def _zip_sha256(world: NativeWorld, sha: str) -> str:
    import hashlib

    data = subprocess.run(
        ["git", "archive", "--format=zip", f"--prefix=stablehlo-{sha}/", sha],
        cwd=world.bare("stablehlo"),
        capture_output=True,
        check=True,
    ).stdout
    return hashlib.sha256(data).hexdigest()


WORKSPACE_BZL = "third_party/stablehlo/workspace.bzl"


def test_pin_downloads_a_zip_hash_and_says_so(
    isolated_env: Path, archive_server: ArchiveServer, cli
) -> None:
    world = NativeWorld(isolated_env / "upstreams")
    project = _zip_project(world, archive_server, "serve", "ee" * 32)
    new = _commit_on(world.ws / "stablehlo", "stablehlo: fix", "2026-01-02")
    git(world.ws / "stablehlo", "push", "-q", "origin", "HEAD:main")  # the server has it

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "stablehlo: the .zip hash was downloaded from http://127.0.0.1" in result.out
    text = (project / WORKSPACE_BZL).read_text()
    assert f'STABLEHLO_COMMIT = "{new}"' in text
    assert f'STABLEHLO_SHA256 = "{_zip_sha256(world, new)}"' in text
    assert archive_server.counts["serve"] == 1
    check = cli("pin", "--check", cwd=project)  # no network: the .zip hash is not checked
    assert check.code == 0, check.err
    assert "not checked: a .zip hash can only be downloaded" in check.out
    assert archive_server.counts["serve"] == 1


@pytest.mark.parametrize(
    ("mode", "setting", "reason"),
    [
        ("stall", ("INVOKE_XLA_TASKS_STALL_TIMEOUT", "1"), "no answer within 1 s"),
        ("huge", ("INVOKE_XLA_TASKS_ARCHIVE_MAX_MB", "2"), "archive larger than 2 MiB"),
        ("gone", None, "HTTP 404"),
    ],
)
def test_a_zip_that_cannot_be_downloaded_in_bounds_is_one_line_and_nothing_is_written(
    isolated_env: Path,
    archive_server: ArchiveServer,
    cli,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    setting: tuple[str, str] | None,
    reason: str,
) -> None:
    world = NativeWorld(isolated_env / "upstreams")
    project = _zip_project(world, archive_server, mode, "ee" * 32)
    _commit_on(world.ws / "stablehlo", "stablehlo: fix", "2026-01-02")
    if setting:
        monkeypatch.setenv(*setting)
    before = (project / WORKSPACE_BZL).read_bytes()

    result = cli("pin", cwd=project)

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"xla-tasks: {project / WORKSPACE_BZL}:7: stablehlo:")
    assert reason in result.err
    assert (project / WORKSPACE_BZL).read_bytes() == before
    assert git(project, "status", "--porcelain") == ""
