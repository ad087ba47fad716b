"""Where native pins are looked for, how pins match registry repos, and grouping."""

from __future__ import annotations

from pathlib import Path

import pytest
from native_project import DATA, JAX, STABLEHLO, XLA_COMMIT, XLA_LLVM, make_project

from xla_tasks.pins.native.agree import group_pins
from xla_tasks.pins.native.find import find_native_pins
from xla_tasks.pins.native.urls import normalize_repo_url


def test_a_project_without_pin_files_has_no_pins(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {}, {"README.md": XLA_COMMIT, "src/x.bzl": XLA_COMMIT})
    assert find_native_pins(project) == []


def test_only_the_contract_places_are_read(tmp_path: Path) -> None:
    line = XLA_COMMIT + "\n"
    project = make_project(
        tmp_path / "p",
        {},
        {
            "third_party/a/b/workspace.bzl": f'A_COMMIT = "{XLA_COMMIT}"\n',  # too deep
            "sub/MODULE.bazel": f'A_COMMIT = "{XLA_COMMIT}"\n',  # not at the root
            "build_tools/other.txt": line,
            ".github/ci_commit_pins/vision.txt": line,
            ".github/ci_commit_pins/notes.md": line,
        },
    )
    assert [(pin.file, pin.repo_hint) for pin in find_native_pins(project)] == [
        (".github/ci_commit_pins/vision.txt", "vision")
    ]


def test_registry_pin_files_name_other_layouts(tmp_path: Path) -> None:
    """rocm-jax keeps JAX's XLA pin under jax_rocm_plugin/third_party/xla/."""
    layout = {f"jax_rocm_plugin/{rel}": name for rel, name in JAX.items() if rel != "MODULE.bazel"}
    project = make_project(tmp_path / "rocm-jax", layout)
    assert find_native_pins(project) == []
    (pin,) = find_native_pins(project, ["jax_rocm_plugin/third_party/xla/workspace.bzl"])
    assert (pin.file, pin.url, pin.bazel_name) == (
        "jax_rocm_plugin/third_party/xla/revision.bzl",
        "https://github.com/openxla/xla.git",
        "xla",
    )


def test_a_pin_file_reached_through_a_link_is_written_where_it_points(tmp_path: Path) -> None:
    """pytorch's ci_commit_pins/timm.txt links to .ci/docker/ci_commit_pins/timm.txt."""
    project = make_project(tmp_path / "pt", {}, {".ci/docker/ci_commit_pins/timm.txt": XLA_COMMIT})
    (project / ".github/ci_commit_pins").mkdir(parents=True)
    (project / ".github/ci_commit_pins/timm.txt").symlink_to(
        "../../.ci/docker/ci_commit_pins/timm.txt"
    )
    (pin,) = find_native_pins(project)
    assert (pin.file, pin.repo_hint) == (".ci/docker/ci_commit_pins/timm.txt", "timm")


def test_keep_chooses_repos_by_url_or_hint(tmp_path: Path) -> None:
    project = make_project(tmp_path / "jax", JAX)
    kept = find_native_pins(
        project, keep=lambda url, hint: url == normalize_repo_url("git@github.com:openxla/xla")
    )
    assert sorted(pin.file for pin in kept) == ["MODULE.bazel", "third_party/xla/revision.bzl"]


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/openxla/xla",
        "https://github.com/openxla/xla.git",
        "https://github.com/openxla/xla/",
        "http://GitHub.COM/openxla/xla.git/",
        "git@github.com:openxla/xla.git",
        "ssh://git@github.com/openxla/xla",
        "ssh://git@github.com:22/openxla/xla.git",
        f"https://github.com/openxla/xla/archive/{XLA_COMMIT}.tar.gz",
        "https://storage.googleapis.com/mirror.tensorflow.org/github.com/openxla/xla/archive/x.zip",
        f"https://api.github.com/repos/openxla/xla/tarball/{XLA_COMMIT}",
        f"https://codeload.github.com/openxla/xla/tar.gz/{XLA_COMMIT}",
    ],
)
def test_every_spelling_of_a_repo_url_matches(url: str) -> None:
    assert normalize_repo_url(url) == "https://github.com/openxla/xla.git"


def test_other_repos_and_paths_stay_apart() -> None:
    assert normalize_repo_url("https://github.com/openxla/XLA") != normalize_repo_url(
        "https://github.com/openxla/xla"
    )  # only the host's case does not matter
    assert normalize_repo_url("/srv/git/xla.git/") == normalize_repo_url("file:///srv/git/xla")
    assert normalize_repo_url("../llvm-project.git") == "../llvm-project"


def test_stablehlo_llvm_pins_in_two_files_are_one_group(tmp_path: Path) -> None:
    """llvm_version.txt names no URL; its hint joins the workspace.bzl's llvm-project pin."""
    llvm = (DATA / XLA_LLVM["third_party/llvm/workspace.bzl"]).read_text()
    commit = "0220c07a94012b9dce9250addac6a8ee1f674b21"
    project = make_project(
        tmp_path / "stablehlo",
        {},
        {"third_party/llvm/workspace.bzl": llvm, "build_tools/llvm_version.txt": commit + "\n"},
    )
    groups = group_pins(find_native_pins(project))
    assert list(groups) == ["https://github.com/llvm/llvm-project.git"]
    assert sorted(pin.file for pin in groups["https://github.com/llvm/llvm-project.git"]) == [
        "build_tools/llvm_version.txt",
        "third_party/llvm/workspace.bzl",
    ]


def test_a_lone_hint_is_its_own_group(tmp_path: Path) -> None:
    project = make_project(tmp_path / "shlo", STABLEHLO)
    assert list(group_pins(find_native_pins(project))) == ["llvm-project"]
