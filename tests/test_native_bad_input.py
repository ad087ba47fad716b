"""Bad native pin files (contract 6.4): one clear error naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from native_project import JAX, NEW_COMMIT, TORCH_XLA, XLA_COMMIT, XLA_SHA256, make_project

from xla_tasks.errors import ConfigError
from xla_tasks.pins.native.agree import check_agreement
from xla_tasks.pins.native.find import find_native_pins
from xla_tasks.tomlfile import MAX_FILE_BYTES


def error_of(project: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        find_native_pins(project)
    return str(caught.value)


def jax_with(tmp_path: Path, rel: str, old: str, new: str) -> Path:
    project = make_project(tmp_path / "jax", JAX)
    path = project / rel
    path.write_text(path.read_text().replace(old, new))
    return project


def test_a_commit_that_is_not_40_hex(tmp_path: Path) -> None:
    project = jax_with(tmp_path, "third_party/xla/revision.bzl", XLA_COMMIT, "753e5e56")
    message = error_of(project)
    assert f"{project}/third_party/xla/revision.bzl:24: " in message
    assert "XLA_COMMIT is '753e5e56', not a 40-hex commit" in message


def test_a_hash_that_is_not_64_hex(tmp_path: Path) -> None:
    project = jax_with(tmp_path, "third_party/xla/revision.bzl", XLA_SHA256, "36fd88z")
    message = error_of(project)
    assert "third_party/xla/revision.bzl:25: " in message
    assert "not a 64-hex SHA-256" in message


def test_an_integrity_that_is_not_the_sri_of_a_sha256(tmp_path: Path) -> None:
    project = jax_with(tmp_path, "MODULE.bazel", "sha256-Nv2IOgL72r", "sha256-Nv2I")
    message = error_of(project)
    assert "MODULE.bazel:33: " in message
    assert "not `sha256-` and the base64 of 32 bytes" in message


def test_a_module_bazel_override_without_a_recognisable_commit(tmp_path: Path) -> None:
    project = jax_with(tmp_path, "MODULE.bazel", XLA_COMMIT, "main")
    message = error_of(project)
    assert "MODULE.bazel:31: " in message  # the line of `archive_override(`
    assert "archive_override of 'xla' has no recognisable commit" in message


def test_a_literal_commit_that_is_not_40_hex_in_git_repository(tmp_path: Path) -> None:
    text = 'git_repository(\n    name = "x",\n    commit = "abc",\n    remote = "https://h/x")\n'
    project = make_project(tmp_path / "p", {}, {"WORKSPACE": text})
    assert "WORKSPACE:3: commit is 'abc', not a 40-hex commit" in error_of(project)


def test_a_torch_commit_that_is_not_40_hex(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {}, {".torch_commit": "# 2025-09-29\nmain"})
    assert ".torch_commit:2: the pinned commit is 'main'" in error_of(project)


def test_a_one_line_sha_file_that_holds_no_commit(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {}, {"build_tools/llvm_version.txt": "\n\nllvmorg-19\n"})
    assert "build_tools/llvm_version.txt:3: it is 'llvmorg-19'" in error_of(project)


def test_a_pin_file_over_4_mib(tmp_path: Path) -> None:
    padding = "#" * (MAX_FILE_BYTES + 1) + "\n"
    project = jax_with(tmp_path, "MODULE.bazel", "module(", padding + "module(")
    message = error_of(project)
    assert f"{project}/MODULE.bazel: is {MAX_FILE_BYTES + 1 + 1 + 10748} bytes" in message
    assert "4 MiB at most" in message


def test_a_pin_file_that_is_not_utf8(tmp_path: Path) -> None:
    project = make_project(tmp_path / "jax", JAX)
    path = project / "third_party/xla/workspace.bzl"
    lines = path.read_bytes().split(b"\n")
    lines[2] += b" \xff\xfe"
    path.write_bytes(b"\n".join(lines))
    assert "third_party/xla/workspace.bzl:3: is not UTF-8 text" in error_of(project)


def test_a_commit_constant_assigned_twice(tmp_path: Path) -> None:
    project = jax_with(
        tmp_path,
        "third_party/xla/revision.bzl",
        "XLA_SHA256 =",
        f'XLA_COMMIT = "{XLA_COMMIT}"\nXLA_SHA256 =',
    )
    assert "revision.bzl:25: XLA_COMMIT is assigned again (first at" in error_of(project)


def test_a_bad_pin_of_a_repo_the_caller_does_not_keep_is_skipped(tmp_path: Path) -> None:
    """XLA's triton pin once read `TRITON_COMMIT = "cl580208989"`: only an error for those who
    register triton."""
    text = (
        'def repo():\n    TRITON_COMMIT = "cl580208989"\n    tf_http_archive(\n'
        '        name = "triton",\n        urls = tf_mirror_urls("https://github.com/openxla/'
        'triton/archive/{commit}.tar.gz".format(commit = TRITON_COMMIT)),\n    )\n'
    )
    project = make_project(tmp_path / "xla", {}, {"third_party/triton/workspace.bzl": text})
    only_xla = lambda url, hint: url == "https://github.com/openxla/xla.git"  # noqa: E731
    assert find_native_pins(project, keep=only_xla) == []
    assert "third_party/triton/workspace.bzl:2: TRITON_COMMIT is 'cl580208989'" in error_of(project)


def disagreement(project: Path) -> str:
    """The error check_agreement gives for JAX's two XLA pins."""
    pins = find_native_pins(project, keep=lambda url, hint: url is not None and "xla" in url)
    with pytest.raises(ConfigError) as caught:
        check_agreement(pins, project)
    return str(caught.value)


def test_two_files_that_disagree_on_the_commit(tmp_path: Path) -> None:
    project = jax_with(tmp_path, "third_party/xla/revision.bzl", XLA_COMMIT, NEW_COMMIT)
    assert disagreement(project).startswith(
        f"{project}/MODULE.bazel:34: pins https://github.com/openxla/xla.git at {XLA_COMMIT}, "
        f"but third_party/xla/revision.bzl:24 pins it at {NEW_COMMIT}"
    )


def test_two_files_that_disagree_on_the_hash_show_each_form(tmp_path: Path) -> None:
    project = jax_with(tmp_path, "third_party/xla/revision.bzl", XLA_SHA256, "ab" * 32)
    assert disagreement(project).startswith(
        f"{project}/MODULE.bazel:33: pins https://github.com/openxla/xla.git with hash "
        f"sha256-Nv2IOgL72r2MEFzyipczdCCKcrF9OEm+6VcmcNjdKAk= (hex {XLA_SHA256}), "
        f"but third_party/xla/revision.bzl:25 pins it with hash {'ab' * 32}"
    )


def test_a_pin_file_linking_outside_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text(XLA_COMMIT)
    project = make_project(tmp_path / "p", TORCH_XLA)
    (project / ".github/ci_commit_pins").mkdir(parents=True)
    (project / ".github/ci_commit_pins/xla.txt").symlink_to(outside)
    assert ".github/ci_commit_pins/xla.txt: is a link to outside the project" in error_of(project)


def test_a_torch_pin_that_is_no_ref(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", TORCH_XLA, {".torch_pin": "\nrelease 2.8\n"})
    assert ".torch_pin:2: holds 'release 2.8': expected a commit, a ref or #<PR number>" in (
        error_of(project)
    )
