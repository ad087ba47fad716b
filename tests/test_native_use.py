"""Native pins used everywhere (contract 6.2): sync, checkout --sync, status, status --check
and foreach treat the pins JAX, XLA, StableHLO, PyTorch/XLA and IREE keep in their own files
like sync_deps.toml pins, and name the file that pins each dep.

The upstreams hold copies of the real pin files (tests/data/native) with local commits in
them, and keep their real GitHub URLs: git's `url.<local>.insteadOf` sends those here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from native_project import JAX, PYTORCH, STABLEHLO_ALL, TORCH_XLA, XLA, XLA_SHA256
from native_world import NativeWorld, jax_files, pytorch_layout, real_files, registry
from syncing import git_processes
from upstreams import git, head

from xla_tasks.demo.upstreams import Gitlink
from xla_tasks.workspace.registry import WORKSPACE_FILE, preset_text


def line_of(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"{name}: "))


def rows(result) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {row["name"]: row for row in result.json()["data"]["repos"]}


# --- the presets know the real layouts --------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "project", "deps", "llvm"),
    [
        (JAX, "jax", {"xla"}, False),
        (XLA, "xla", {"stablehlo", "shardy", "triton"}, False),
        (XLA, "xla", {"stablehlo", "shardy", "triton", "llvm-project"}, True),
        (STABLEHLO_ALL, "stablehlo", set(), False),
        (STABLEHLO_ALL, "stablehlo", {"llvm-project"}, True),
        (TORCH_XLA, "torch_xla", {"xla", "pytorch"}, False),
        (PYTORCH, "pytorch", {"torch_xla", "vision"}, False),
    ],
)
def test_the_presets_name_the_repos_the_real_files_pin(
    tmp_path: Path, layout: dict, project: str, deps: set[str], llvm: bool
) -> None:
    """The real files, verbatim: with no registry (both presets), and with llvm-project
    uncommented in the openxla preset as its comment says."""
    from xla_tasks.pins.native_deps import read_native_deps
    from xla_tasks.workspace.registry import load_workspace, preset_catalog

    folder = tmp_path / project
    for path, text in real_files(layout, {}).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(str(text))
    catalog = preset_catalog()
    if llvm:
        registry(tmp_path, llvm=True)
        catalog = load_workspace(tmp_path).repos

    pins = read_native_deps(folder, catalog, project=project)

    assert pins is not None
    assert set(pins.deps) == deps
    if "llvm-project" in deps:
        assert catalog["llvm-project"].bazel_name == "llvm-raw"


# --- JAX -> XLA -> StableHLO, Shardy, Triton, with no xla-workspace.toml ---------------


def test_sync_in_jax_puts_xla_on_its_pin_and_follows_xlas_own_pins(
    world: NativeWorld, ws: Path, cli
) -> None:
    """No setup: the presets stand in for a registry, deps go beside the project; XLA's
    third_party/*/workspace.bzl pins are followed; LLVM, not in the presets, is left alone."""
    jax = world.clone("jax", ws / "jax")

    result = cli("sync", cwd=jax)

    assert result.code == 0, result.err
    assert head(ws / "xla") == world.xla[0]
    assert head(ws / "stablehlo") == world.stablehlo
    assert head(ws / "shardy") == world.shardy
    assert head(ws / "triton") == world.triton
    assert not (ws / "llvm-project").exists()
    assert f"xla: cloned {world.xla[0][:12]}" in result.out
    assert f"stablehlo: cloned {world.stablehlo[:12]} (pinned by xla)" in result.out
    assert "synced 4 dep(s) of jax" in result.out


def test_status_names_the_file_that_pins_each_dep(world: NativeWorld, ws: Path, cli) -> None:
    jax = world.clone("jax", ws / "jax")
    assert cli("sync", cwd=jax).code == 0

    shown = cli("status", cwd=jax)
    data = cli("status", "--json", cwd=jax)
    checked = cli("status", "--check", cwd=jax)

    assert line_of(shown.out, "xla") == (
        f"xla: detached, at pin {world.xla[0][:12]} "
        "(at xla; pinned by jax: MODULE.bazel, third_party/xla/revision.bzl)"
    )
    assert line_of(shown.out, "triton") == (
        f"triton: detached, at pin {world.triton[:12]} "
        "(at triton; pinned by xla: third_party/triton/workspace.bzl)"
    )
    assert rows(data)["xla"]["pinned_by"] == "jax: MODULE.bazel, third_party/xla/revision.bzl"
    assert rows(data)["shardy"]["pinned_by"] == "xla: third_party/shardy/workspace.bzl"
    assert checked.code == 0, checked.err
    assert "status --check: ok, 4 pinned dep(s) present, at their pins and clean" in checked.out


def test_status_before_sync_names_the_file_of_a_missing_dep(
    world: NativeWorld, ws: Path, cli
) -> None:
    jax = world.clone("jax", ws / "jax")

    shown = cli("status", cwd=jax)
    checked = cli("status", "--check", cwd=jax)

    assert line_of(shown.out, "xla") == (
        f"xla: missing, pinned at {world.xla[0][:12]} "
        "(at xla; pinned by jax: MODULE.bazel, third_party/xla/revision.bzl)"
    )
    assert checked.code == 1
    assert f"xla: missing, pinned at {world.xla[0][:12]} (at xla)" in checked.err


def test_a_deps_native_pins_are_read_at_its_pinned_commit_not_at_its_head(
    world: NativeWorld, ws: Path, cli
) -> None:
    """xla checked out at a newer commit whose files pin another stablehlo: status and
    `sync --dry-run` still read what xla's *pinned* commit pins (from git's objects, no
    network), and sync puts xla and then stablehlo back."""
    jax = world.clone("jax", ws / "jax")
    assert cli("sync", cwd=jax).code == 0
    newer_hlo = world.commit("stablehlo", {"x.mlir": "// new\n"}, "stablehlo: newer")
    moved = world.commit(
        "xla", real_files(XLA, {"third_party/stablehlo/workspace.bzl": newer_hlo}), "bump"
    )
    git(ws / "xla", "fetch", "-q", "origin")
    git(ws / "xla", "checkout", "-q", "--detach", moved)
    git(ws / "stablehlo", "fetch", "-q", "origin")
    git(ws / "stablehlo", "checkout", "-q", "--detach", newer_hlo)

    shown = cli("status", "--json", cwd=jax)
    dry = cli("sync", "--dry-run", cwd=jax)

    assert rows(shown)["stablehlo"]["pin"] == world.stablehlo
    assert rows(shown)["stablehlo"]["at_pin"] is False
    assert rows(shown)["stablehlo"]["pinned_by"] == "xla: third_party/stablehlo/workspace.bzl"
    assert dry.code == 0, dry.err
    assert f"{newer_hlo[:12]} -> {world.stablehlo[:12]}" in line_of(dry.out, "stablehlo")
    assert head(ws / "stablehlo") == newer_hlo  # a dry run moves nothing
    assert cli("sync", cwd=jax).code == 0
    assert (head(ws / "xla"), head(ws / "stablehlo")) == (world.xla[0], world.stablehlo)


def test_a_bad_pin_at_a_deps_pinned_commit_is_named_at_that_commit(
    world: NativeWorld, ws: Path, cli
) -> None:
    """The XLA commit JAX pins holds a stablehlo pin that is no commit (XLA once pinned
    Triton by tag); the XLA checked out is another commit, whose files are fine."""
    tagged = real_files(XLA, {"third_party/stablehlo/workspace.bzl": "cl580208989"})
    broken = world.commit(
        "xla",
        {"third_party/stablehlo/workspace.bzl": tagged["third_party/stablehlo/workspace.bzl"]},
        "xla: a tag where a commit goes",
    )
    world.pin_jax_to(broken)
    jax = world.clone("jax", ws / "jax")
    world.clone("xla", ws / "xla")
    git(ws / "xla", "checkout", "-q", "--detach", world.xla[0])

    shown = cli("status", cwd=jax)
    checked = cli("status", "--check", cwd=jax)

    where = f"{ws / 'xla' / 'third_party/stablehlo/workspace.bzl'}@{broken[:12]}:7:"
    assert f"warning: xla: {where} STABLEHLO_COMMIT is 'cl580208989'" in shown.err
    assert shown.code == 0
    assert checked.code == 1
    assert where in checked.err


@pytest.mark.parametrize("kind", ["over 4 MiB", "a link out of the project"])
def test_a_pin_file_at_a_deps_pinned_commit_is_read_with_the_same_limits(
    world: NativeWorld, ws: Path, cli, kind: str
) -> None:
    """Read from git's objects, a pin file keeps the disk's rules: at most 4 MiB (its size
    asked before its bytes are read), and no link leading out of the project."""
    path = "third_party/shardy/workspace.bzl"
    scratch = world.clone("xla", ws.parent / "scratch")
    (scratch / path).unlink()
    if kind == "over 4 MiB":
        (scratch / path).write_text("# " + "x" * (4 * 1024 * 1024) + "\n")
        message = f"is {4 * 1024 * 1024 + 3} bytes; a pin file may hold 4 MiB at most"
    else:
        (scratch / path).symlink_to("../../../../etc/passwd")
        message = "is a link to outside the project"
    git(scratch, "add", path)
    git(scratch, "commit", "-q", "-m", f"xla: {kind}")
    git(scratch, "push", "-q", "origin", "HEAD:main")
    odd = head(scratch)
    world.pin_jax_to(odd)
    jax = world.clone("jax", ws / "jax")
    world.clone("xla", ws / "xla")
    git(ws / "xla", "checkout", "-q", "--detach", world.xla[0])

    checked = cli("status", "--check", cwd=jax)

    assert checked.code == 1
    assert f"xla: {ws / 'xla' / path}@{odd[:12]}: {message}" in checked.err


def test_two_files_that_disagree_are_one_error_naming_both_and_nothing_is_cloned(
    world: NativeWorld, ws: Path, cli
) -> None:
    """JAX's revision.bzl and MODULE.bazel pin XLA at different commits (15 of 261 real
    JAX commits did): an error naming both files and both values; nothing cloned."""
    files = real_files(JAX, {"third_party/xla/revision.bzl": world.xla[1]})
    files["MODULE.bazel"] = real_files(JAX, {"MODULE.bazel": world.xla[0]})["MODULE.bazel"]
    world.commit("jax", files, "jax: half a bump")
    jax = world.clone("jax", ws / "jax")

    result = cli("sync", cwd=jax)

    assert result.code == 1
    assert result.err.strip() == (
        f"xla-tasks: {jax / 'MODULE.bazel'}:34: pins https://github.com/openxla/xla.git at "
        f"{world.xla[0]}, but third_party/xla/revision.bzl:24 pins it at {world.xla[1]} "
        "(make them agree; `xla-tasks pin` writes both)"
    )
    assert sorted(p.name for p in ws.iterdir()) == ["jax"]


@pytest.mark.parametrize(
    ("file", "old", "new", "line"),
    [
        (
            "third_party/xla/revision.bzl",
            'XLA_COMMIT = "{sha}"',
            'XLA_COMMIT = "main"',
            "24: XLA_COMMIT is 'main', not a 40-hex commit",
        ),
        (
            "third_party/xla/revision.bzl",
            XLA_SHA256,
            "36fd883a",
            "25: sha256 is '36fd883a', not a 64-hex SHA-256",
        ),
        (
            "MODULE.bazel",
            'strip_prefix = "xla-{sha}",\n    urls = ["https://github.com/openxla/xla/archive/{sha}.tar.gz"]',
            'strip_prefix = "xla-main",\n    urls = ["https://github.com/openxla/xla/archive/main.tar.gz"]',
            "31: archive_override of 'xla' has no recognisable commit in its urls or strip_prefix",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_file_and_line_and_nothing_is_cloned(
    world: NativeWorld, ws: Path, cli, file: str, old: str, new: str, line: str
) -> None:
    """Contract 6.4: a commit that is not 40 hex, a hash that is not 64 hex, a MODULE.bazel
    block with no recognisable commit."""
    files = jax_files(world.xla[0])
    text = str(files[file])
    assert old.format(sha=world.xla[0]) in text
    files[file] = text.replace(old.format(sha=world.xla[0]), new)
    world.commit("jax", files, "jax: a bad pin")
    jax = world.clone("jax", ws / "jax")

    result = cli("sync", cwd=jax)
    as_json = cli("sync", "--json", cwd=jax)

    assert result.code == 1
    assert result.err.strip() == f"xla-tasks: {jax / file}:{line}"
    assert as_json.json()["ok"] is False
    assert sorted(p.name for p in ws.iterdir()) == ["jax"]


# --- registered deps, closest pin wins, left alone -------------------------------------


def test_the_pin_closest_to_the_project_wins_and_the_other_is_named(
    world: NativeWorld, ws: Path, cli
) -> None:
    """Registered llvm-project: XLA (level 2) pins it in third_party/llvm/workspace.bzl,
    StableHLO (level 3) in llvm_version.txt and workspace.bzl: XLA's pin wins."""
    registry(ws, llvm=True)
    jax = world.clone("jax", ws / "jax")

    result = cli("sync", cwd=jax)
    shown = cli("status", "--json", cwd=jax)

    assert result.code == 0, result.err
    assert head(ws / "llvm-project") == world.llvm[1]
    assert (
        f"warning: llvm-project: stablehlo pins {world.llvm[0][:12]}, "
        f"xla pins {world.llvm[1][:12]}; using xla's (closest to the project)"
    ) in result.err
    assert rows(shown)["llvm-project"]["pinned_by"] == "xla: third_party/llvm/workspace.bzl"


def test_stablehlos_two_llvm_files_are_one_pin(world: NativeWorld, ws: Path, cli) -> None:
    registry(ws, llvm=True)
    stablehlo = world.clone("stablehlo", ws / "stablehlo")

    result = cli("sync", cwd=stablehlo)
    shown = cli("status", "--json", cwd=stablehlo)

    assert result.code == 0, result.err
    assert head(ws / "llvm-project") == world.llvm[0]
    assert rows(shown)["llvm-project"]["pinned_by"] == (
        "stablehlo: third_party/llvm/workspace.bzl, build_tools/llvm_version.txt"
    )


def test_stablehlos_llvm_files_that_disagree_stop_the_sync(
    world: NativeWorld, ws: Path, cli
) -> None:
    registry(ws, llvm=True)
    files = real_files(STABLEHLO_ALL, {"build_tools/llvm_version.txt": world.llvm[1]})
    world.commit(
        "stablehlo",
        {"build_tools/llvm_version.txt": files["build_tools/llvm_version.txt"]},
        "stablehlo: half a bump",
    )
    stablehlo = world.clone("stablehlo", ws / "stablehlo")

    result = cli("sync", cwd=stablehlo)

    assert result.code == 1
    assert result.err.strip() == (
        f"xla-tasks: {stablehlo / 'third_party/llvm/workspace.bzl'}:7: pins "
        f"https://github.com/llvm/llvm-project.git at {world.llvm[0]}, but "
        f"build_tools/llvm_version.txt:1 pins it at {world.llvm[1]} "
        "(make them agree; `xla-tasks pin` writes both)"
    )
    assert not (ws / "llvm-project").exists()


def test_left_alone_names_the_registry_entry_that_would_make_a_dep(
    world: NativeWorld, ws: Path, cli
) -> None:
    """JAX's MODULE.bazel also pins rules_ml_toolchain: unregistered, left alone; the
    line gives the entry to add, and with it added that repo is a dep."""
    registry(ws)
    jax = world.clone("jax", ws / "jax")
    url = "https://github.com/google-ml-infra/rules_ml_toolchain.git"

    before = cli("status", "--json", cwd=jax)
    shown = cli("status", cwd=jax)
    (ws / WORKSPACE_FILE).write_text(
        (ws / WORKSPACE_FILE).read_text() + f'\n[repos.rules_ml_toolchain]\nurl = "{url}"\n'
    )
    after = cli("status", "--json", cwd=jax)

    assert before.json()["data"]["left_alone"] == ["rules_ml_toolchain"]
    assert before.json()["data"]["left_alone_urls"] == {"rules_ml_toolchain": url}
    assert (
        "left alone: 1 repo(s) pinned in the project's files but not registered "
        f"(rules_ml_toolchain); to sync one, add it to {ws / WORKSPACE_FILE}: "
        f'[repos.rules_ml_toolchain] url = "{url}"'
    ) in shown.out
    assert after.json()["data"]["left_alone"] == []
    assert rows(after)["rules_ml_toolchain"]["pinned_by"] == "jax: MODULE.bazel"


def test_without_a_registry_the_left_alone_line_says_to_init_first(
    world: NativeWorld, ws: Path, cli
) -> None:
    jax = world.clone("jax", ws / "jax")

    shown = cli("status", cwd=jax)

    assert (
        f"to sync one, run `xla-tasks init` in {ws} (`--preset pytorch-xla` for PyTorch/XLA), "
        """then add [repos.rules_ml_toolchain] url = "https://github.com/"""
        f'google-ml-infra/rules_ml_toolchain.git" to its {WORKSPACE_FILE}'
    ) in shown.out


def test_checkout_sync_follows_native_pins_and_foreach_runs_in_them(
    world: NativeWorld, ws: Path, cli
) -> None:
    registry(ws)

    result = cli("checkout", "--sync", "jax", cwd=ws)
    ran = cli("foreach", "git rev-parse HEAD", cwd=ws / "jax")

    assert result.code == 0, result.err
    assert head(ws / "xla") == world.xla[0]
    assert head(ws / "triton") == world.triton
    assert f"== stablehlo (stablehlo) ==\n{world.stablehlo}\n" in ran.out
    assert f"== xla (xla) ==\n{world.xla[0]}\n" in ran.out
    assert not (ws / "iree").exists()


def test_a_registry_entrys_pin_files_name_another_layout(world: NativeWorld, ws: Path, cli) -> None:
    """rocm-jax keeps JAX's XLA pin under jax_rocm_plugin/third_party/xla/."""
    files = {
        f"jax_rocm_plugin/{path}": text
        for path, text in real_files(JAX, {"third_party/xla/revision.bzl": world.xla[1]}).items()
        if path.startswith("third_party/")
    }
    world.create("rocm-jax", "https://github.com/ROCm/rocm-jax.git", files)
    registry(
        ws,
        extra='\n[repos.rocm-jax]\nurl = "https://github.com/ROCm/rocm-jax.git"\n'
        'pin_files = ["jax_rocm_plugin/third_party/xla/workspace.bzl"]\n',
    )
    rocm = world.clone("rocm-jax", ws / "rocm-jax")

    result = cli("sync", cwd=rocm)
    shown = cli("status", "--json", cwd=rocm)

    assert result.code == 0, result.err
    assert head(ws / "xla") == world.xla[1]
    assert rows(shown)["xla"]["pinned_by"] == (
        "rocm-jax: jax_rocm_plugin/third_party/xla/revision.bzl"
    )


# --- the other rows of 6.1: git_override, git_repository, gitlinks ---------------------


@pytest.mark.parametrize(
    ("path", "text", "fmt"),
    [
        (
            "MODULE.bazel",
            'bazel_dep(name = "shardy")\ngit_override(\n    module_name = "shardy",\n'
            '    commit = "{sha}",\n    remote = "https://github.com/openxla/shardy.git",\n)\n',
            "git_override",
        ),
        (
            "WORKSPACE",
            'load("@bazel_tools//tools/build_defs/repo:git.bzl", "git_repository")\n\n'
            'git_repository(\n    name = "shardy",\n    commit = "{sha}",\n'
            '    remote = "https://github.com/openxla/shardy",\n)\n',
            "git_repository",
        ),
        (
            "WORKSPACE",
            'http_archive(\n    name = "shardy",\n    strip_prefix = "shardy-{sha}",\n'
            '    urls = ["https://github.com/openxla/shardy/archive/{sha}.zip"],\n)\n',
            "http_archive",
        ),
        (
            "third_party/shardy/workspace.bzl",
            '"""Shardy."""\n\nSHARDY_COMMIT = "{sha}"\n\ndef repo():\n    git_repository(\n'
            '        name = "shardy",\n        commit = SHARDY_COMMIT,\n'
            '        remote = "https://github.com/openxla/shardy.git",\n    )\n',
            "starlark git_repository",
        ),
    ],
)
def test_git_override_and_git_repository_pins_are_synced(
    world: NativeWorld, ws: Path, cli, path: str, text: str, fmt: str
) -> None:
    newer = world.commit("shardy", {"x.td": "// newer\n"}, "shardy: newer")
    world.create("proj", "https://github.com/example/proj.git", {path: text.format(sha=newer)})
    registry(ws)
    proj = world.clone("proj", ws / "proj")

    result = cli("sync", cwd=proj)
    shown = cli("status", "--json", cwd=proj)

    assert result.code == 0, (fmt, result.err)
    assert head(ws / "shardy") == newer
    assert rows(shown)["shardy"]["pinned_by"] == f"proj: {path}"


def test_a_submodule_gitlink_of_a_registered_repo_is_a_pin(
    world: NativeWorld, ws: Path, cli, isolated_env: Path
) -> None:
    """IREE pins iree-org/llvm-project as a submodule: registered, its gitlink is the pin
    (read from the project's index: no git process)."""
    fork = world.create(
        "iree-llvm", "https://github.com/iree-org/llvm-project.git", {"README.md": "fork\n"}
    )
    gitmodules = (Path(__file__).parent / "data" / "native" / "iree.gitmodules").read_text()
    world.create(
        "iree",
        "https://github.com/iree-org/iree.git",
        {".gitmodules": gitmodules, "third_party/llvm-project": Gitlink(fork)},
    )
    (ws / WORKSPACE_FILE).write_text(
        '[repos.iree]\nurl = "https://github.com/iree-org/iree.git"\n\n'
        '[repos.llvm-project]\nurl = "https://github.com/iree-org/llvm-project.git"\n'
    )
    iree = world.clone("iree", ws / "iree")

    result = cli("sync", cwd=iree)
    shown = cli("status", "--json", cwd=iree)

    assert result.code == 0, result.err
    assert head(ws / "llvm-project") == fork
    assert rows(shown)["llvm-project"]["pinned_by"] == "iree: third_party/llvm-project (submodule)"
    # the file's other twelve submodules have no gitlink in this tree: no pins
    assert shown.json()["data"]["left_alone"] == []


# --- PyTorch/XLA: .torch_commit, .torch_pin, WORKSPACE xla_hash, ci_commit_pins --------


def test_torch_xla_pins_pytorch_in_torch_commit_and_xla_in_its_workspace(
    world: NativeWorld, ws: Path, cli
) -> None:
    """pytorch pins vision (ci_commit_pins/vision.txt) and pytorch/xla (xla.txt): that one
    is torch_xla, the project, not OpenXLA's xla."""
    torch_xla = pytorch_layout(world, ws)

    result = cli("sync", cwd=torch_xla)
    shown = cli("status", "--json", cwd=torch_xla)

    assert result.code == 0, result.err
    assert head(ws / "pytorch") == world.pytorch[0]
    assert head(ws / "xla") == world.xla[1]
    assert head(ws / "vision") == world.vision
    assert head(torch_xla) == world.torch_xla  # the project is never moved
    assert "warning" not in result.err
    pinned = {name: row["pinned_by"] for name, row in rows(shown).items()}
    assert pinned["pytorch"] == "torch_xla: .torch_commit"
    assert pinned["xla"] == "torch_xla: WORKSPACE"
    assert pinned["vision"] == "pytorch: .github/ci_commit_pins/vision.txt"
    assert not (ws / "stablehlo").exists()  # not in this registry: left alone


def test_pytorchs_xla_txt_pins_torch_xla(world: NativeWorld, ws: Path, cli) -> None:
    """In pytorch, `.github/ci_commit_pins/xla.txt` names pytorch/xla, whatever the
    registry calls OpenXLA's repo."""
    registry(ws, "pytorch-xla")
    pytorch = world.clone("pytorch", ws / "pytorch")

    result = cli("sync", cwd=pytorch)
    shown = cli("status", "--json", cwd=pytorch)

    assert result.code == 0, result.err
    assert head(ws / "pytorch" / "xla") == world.torch_xla
    assert rows(shown)["torch_xla"]["pinned_by"] == "pytorch: .github/ci_commit_pins/xla.txt"
    assert head(ws / "xla") == world.xla[1]  # torch_xla's WORKSPACE pin, one level down


@pytest.mark.parametrize(
    ("torch_pin", "ref"), [("#5\n", "refs/pull/5/head"), ("nightly", "nightly")]
)
def test_torch_pin_wins_over_torch_commit_and_the_output_says_so(
    world: NativeWorld, ws: Path, cli, torch_pin: str, ref: str
) -> None:
    """`#N` is pull request N's head; a branch is followed too. status cannot ask the
    URL: before a sync it says the ref is unresolved, after one it compares with what the
    ref named then."""
    torch_xla = pytorch_layout(world, ws)
    (torch_xla / ".torch_pin").write_text(torch_pin)
    git(
        world.bare("pytorch"),
        "update-ref",
        f"refs/heads/{ref}" if "/" not in ref else ref,
        world.pytorch[1],
    )

    before = cli("status", "--check", cwd=torch_xla)
    result = cli("sync", cwd=torch_xla)
    after = cli("status", "--json", cwd=torch_xla)
    checked = cli("status", "--check", cwd=torch_xla)

    assert before.code == 1
    assert f"pytorch: pinned to {ref}, which no sync has resolved yet" in before.err
    assert line_of(before.out, "pytorch") == (
        f"pytorch: detached, pin not yet resolved {world.pytorch[0][:12]} (at pytorch; "
        f"pinned by torch_xla: .torch_pin ({ref}, over .torch_commit))"
    )
    assert result.code == 0, result.err
    assert head(ws / "pytorch") == world.pytorch[1]
    assert line_of(result.out, "pytorch") == (
        f"pytorch: checked out {world.pytorch[0][:12]} -> {world.pytorch[1][:12]} "
        f"({ref} on its URL, per .torch_pin, over .torch_commit)"
    )
    row = rows(after)["pytorch"]
    assert (row["pin"], row["pin_ref"], row["at_pin"]) == (world.pytorch[1], ref, True)
    assert row["pinned_by"] == f"torch_xla: .torch_pin ({ref}, over .torch_commit)"
    assert checked.code == 0, checked.err


def test_a_torch_pin_holding_a_commit_wins_too(world: NativeWorld, ws: Path, cli) -> None:
    torch_xla = pytorch_layout(world, ws)
    (torch_xla / ".torch_pin").write_text(world.pytorch[1] + "\n")

    result = cli("sync", cwd=torch_xla)
    shown = cli("status", "--json", cwd=torch_xla)

    assert result.code == 0, result.err
    assert head(ws / "pytorch") == world.pytorch[1]
    assert "per .torch_pin, over .torch_commit" in line_of(result.out, "pytorch")
    assert rows(shown)["pytorch"]["pinned_by"] == "torch_xla: .torch_pin (over .torch_commit)"
    assert rows(shown)["pytorch"]["at_pin"] is True


# --- speed: a noop sync starts no git process -----------------------------------------


def test_a_noop_sync_with_native_pins_starts_no_git_process(
    world: NativeWorld, ws: Path, tmp_path: Path
) -> None:
    """Pins read from the files on disk, gitlinks from the index, HEADs from .git."""
    fork = world.create(
        "iree-llvm", "https://github.com/iree-org/llvm-project.git", {"README.md": "fork\n"}
    )
    (ws / WORKSPACE_FILE).write_text(
        preset_text("openxla")
        + '\n[repos.llvm-project]\nurl = "https://github.com/iree-org/llvm-project.git"\n'
    )
    world.create(
        "iree",
        "https://github.com/iree-org/iree.git",
        {
            ".gitmodules": '[submodule "llvm"]\n\tpath = third_party/llvm-project\n'
            "\turl = https://github.com/iree-org/llvm-project.git\n",
            "third_party/llvm-project": Gitlink(fork),
            "third_party/xla/revision.bzl": real_files(
                JAX, {"third_party/xla/revision.bzl": world.xla[0]}
            )["third_party/xla/revision.bzl"],
            "third_party/xla/workspace.bzl": real_files(JAX, {})["third_party/xla/workspace.bzl"],
        },
    )
    iree = world.clone("iree", ws / "iree")
    run = [sys.executable, "-m", "xla_tasks", "sync"]
    first = subprocess.run(run, cwd=iree, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    trace = tmp_path / "trace2.json"

    again = subprocess.run(
        run,
        cwd=iree,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TRACE2_EVENT": str(trace)},
    )

    assert again.returncode == 0, again.stderr
    assert f"llvm-project: already at pin {fork[:12]}" in again.stdout
    assert f"stablehlo: already at pin {world.stablehlo[:12]} (pinned by xla)" in again.stdout
    assert git_processes(trace) == []


def test_a_gitlink_staged_in_the_project_is_the_pin_the_next_sync_sees(
    world: NativeWorld, ws: Path, cli
) -> None:
    """The gitlinks read from the index are remembered until the index changes: a gitlink
    staged since (as `pin` stages one) is what the next sync puts in place."""
    fork = world.create(
        "iree-llvm", "https://github.com/iree-org/llvm-project.git", {"README.md": "fork\n"}
    )
    newer = world.commit("iree-llvm", {"mlir/x.td": "// x\n"}, "fork: newer")
    world.create(
        "iree",
        "https://github.com/iree-org/iree.git",
        {
            ".gitmodules": '[submodule "llvm"]\n\tpath = third_party/llvm-project\n'
            "\turl = https://github.com/iree-org/llvm-project.git\n",
            "third_party/llvm-project": Gitlink(fork),
        },
    )
    (ws / WORKSPACE_FILE).write_text(
        '[repos.llvm-project]\nurl = "https://github.com/iree-org/llvm-project.git"\n'
    )
    iree = world.clone("iree", ws / "iree")
    assert cli("sync", cwd=iree).code == 0
    assert head(ws / "llvm-project") == fork

    git(iree, "update-index", "--cacheinfo", f"160000,{newer},third_party/llvm-project")
    result = cli("sync", cwd=iree)

    assert result.code == 0, result.err
    assert head(ws / "llvm-project") == newer


# --- the gated roll's syncs ------------------------------------------------------------


def test_the_gated_rolls_syncs_follow_a_deps_native_pins(world: NativeWorld, ws: Path, cli) -> None:
    """A project pins jax in sync_deps.toml; jax pins XLA in its own files. Each try of
    `roll --verify` syncs, and that sync puts XLA where the rolled jax's files say: a jax
    whose XLA breaks the build is held back, one whose XLA is fine rolls."""
    from xla_tasks.demo.upstreams import pin_file_text

    good = world.commit("xla", {"xla/ok.cc": "// ok\n"}, "xla: fine")
    bad = world.commit("xla", {"BROKEN": "x\n"}, "xla: breaks the build")
    first_jax = world.jax
    good_jax = world.pin_jax_to(good, "jax: xla that builds")
    pins = {"jax": (first_jax, "https://github.com/jax-ml/jax.git", False)}
    world.create(
        "app",
        "https://github.com/example/app.git",
        {"sync_deps.toml": pin_file_text(pins, schedules={"nightly": {"deps": ["jax"]}})},
    )
    registry(ws)
    app = world.clone("app", ws / "app")
    assert cli("sync", cwd=app).code == 0
    assert head(ws / "xla") == world.xla[0]

    rolled = cli("roll", "nightly", "--verify", "test ! -e ../xla/BROKEN", cwd=app)

    assert rolled.code == 0, rolled.err
    assert (head(ws / "jax"), head(ws / "xla")) == (good_jax, good)
    bad_jax = world.pin_jax_to(bad, "jax: xla that breaks")
    held = cli("roll", "nightly", "--verify", "test ! -e ../xla/BROKEN", "--json", cwd=app)

    assert held.code == 0, held.err
    assert [item["name"] for item in held.json()["data"]["held_back"]] == ["jax"]
    assert (head(ws / "jax"), head(ws / "xla")) == (good_jax, good)
    assert bad_jax not in (ws / "app" / "sync_deps.toml").read_text()


def test_a_missing_dep_pinned_to_a_ref_is_named_with_the_whole_ref() -> None:
    from xla_tasks.commands.status import problem_lines

    row = {"name": "pytorch", "pin": None, "pin_ref": "refs/pull/5/head", "present": False}

    assert problem_lines({**row, "path": "pytorch"}) == [
        "pytorch: missing, pinned at refs/pull/5/head (at pytorch)"
    ]
