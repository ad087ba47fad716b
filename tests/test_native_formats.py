"""Each native pin format (contract 6.1): read from copies of the real files, and rewritten
so that only the pin's bytes change."""

from __future__ import annotations

from pathlib import Path

import pytest
from native_project import (
    DATA,
    JAX,
    NEW_COMMIT,
    NEW_SHA256,
    STABLEHLO,
    TORCH_XLA,
    XLA_COMMIT,
    XLA_LLVM,
    XLA_SHA256,
    XLA_SRI,
    changed_lines,
    make_project,
)

from xla_tasks.pins.native.digest import hex_of_sri, sri_of
from xla_tasks.pins.native.find import find_native_pins, read_native_pins
from xla_tasks.pins.native.model import NativePin
from xla_tasks.pins.native.rewrite import rewrite_pin


def pins_by(project: Path, fmt: str) -> list[NativePin]:
    return [pin for pin in find_native_pins(project) if pin.format == fmt]


def rewritten(project: Path, pin: NativePin, **values: str | None) -> tuple[str, str]:
    old = (project / pin.file).read_bytes().decode()
    return old, rewrite_pin(old, pin, **values)  # type: ignore[arg-type]


# -- starlark constants ------------------------------------------------------------------


def test_jax_revision_bzl_pins_xla_with_url_and_name_from_workspace_bzl(tmp_path: Path) -> None:
    project = make_project(tmp_path / "jax", JAX)
    (pin,) = pins_by(project, "starlark")
    assert (pin.file, pin.line, pin.sha256_line) == ("third_party/xla/revision.bzl", 24, 25)
    assert (pin.commit, pin.sha256, pin.sha256_form) == (XLA_COMMIT, XLA_SHA256, "hex")
    assert pin.url == "https://github.com/openxla/xla.git"
    assert pin.bazel_name == "xla"
    assert pin.archive == "tar.gz"
    assert pin.archive_prefix == f"xla-{XLA_COMMIT}/"
    assert pin.archive_urls == (f"https://github.com/openxla/xla/archive/{XLA_COMMIT}.tar.gz",)


def test_rewriting_revision_bzl_changes_only_the_commit_and_hash_lines(tmp_path: Path) -> None:
    project = make_project(tmp_path / "jax", JAX)
    (pin,) = pins_by(project, "starlark")
    old, new = rewritten(project, pin, commit=NEW_COMMIT, sha256=NEW_SHA256)
    assert changed_lines(old, new) == [24, 25]
    assert new.replace(NEW_COMMIT, XLA_COMMIT).replace(NEW_SHA256, XLA_SHA256) == old


def test_xla_llvm_constants_indented_in_a_def_behind_a_mirror(tmp_path: Path) -> None:
    project = make_project(tmp_path / "xla", XLA_LLVM)
    (pin,) = pins_by(project, "starlark")
    assert (pin.line, pin.sha256_line) == (7, 8)
    assert pin.url == "https://github.com/llvm/llvm-project.git"
    assert pin.bazel_name is None  # `name = name`: the caller of repo() decides
    assert pin.archive_prefix == f"llvm-project-{pin.commit}/"
    assert len(pin.archive_urls) == 2
    assert pin.archive_urls[0].startswith("https://storage.googleapis.com/mirror.tensorflow.org/")


def test_commit_constant_in_git_repository_takes_the_remote(tmp_path: Path) -> None:
    text = (
        f'FOO_COMMIT = "{XLA_COMMIT}"\n\ndef repo():\n    git_repository(\n        name = "foo",\n'
        '        commit = FOO_COMMIT,\n        remote = "git@github.com:org/foo.git",\n    )\n'
    )
    project = make_project(tmp_path / "p", {}, {"third_party/foo/workspace.bzl": text})
    (pin,) = find_native_pins(project)
    assert (pin.format, pin.url, pin.bazel_name) == (
        "starlark",
        "https://github.com/org/foo.git",
        "foo",
    )
    assert pin.sha256 is None


def test_a_commit_constant_no_block_uses_still_pins_by_its_name(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {}, {"third_party/xla/revision.bzl": jax_revision()})
    (pin,) = find_native_pins(project)
    assert (pin.url, pin.repo_hint, pin.sha256) == (None, "xla", XLA_SHA256)


def jax_revision() -> str:
    return (DATA / JAX["third_party/xla/revision.bzl"]).read_text()


def test_jax_2025_api_tarball_url_names_xla_but_no_reproducible_archive(tmp_path: Path) -> None:
    """JAX briefly fetched XLA from the GitHub API (its top folder is openxla-xla-<sha7>)."""
    workspace = (
        'def repo():\n    tf_http_archive(\n        name = "xla",\n        sha256 = XLA_SHA256,\n'
        '        type = "tar.gz",\n'
        '        strip_prefix = "openxla-xla-{commit}".format(commit = XLA_COMMIT[:7]),\n'
        '        urls = tf_mirror_urls("https://api.github.com/repos/openxla/xla/tarball/{commit}"'
        ".format(commit = XLA_COMMIT)),\n    )\n"
    )
    project = make_project(
        tmp_path / "jax",
        {"third_party/xla/revision.bzl": JAX["third_party/xla/revision.bzl"]},
        {"third_party/xla/workspace.bzl": workspace},
    )
    (pin,) = find_native_pins(project)
    assert (pin.url, pin.sha256) == ("https://github.com/openxla/xla.git", XLA_SHA256)
    assert (pin.archive, pin.archive_prefix) == (None, None)


# -- MODULE.bazel ------------------------------------------------------------------------


def test_module_bazel_archive_override_decodes_the_sri_integrity(tmp_path: Path) -> None:
    project = make_project(tmp_path / "jax", JAX)
    xla = next(pin for pin in pins_by(project, "module_bazel") if pin.bazel_name == "xla")
    assert (xla.commit, xla.sha256, xla.line, xla.sha256_line) == (XLA_COMMIT, XLA_SHA256, 34, 33)
    assert (xla.url, xla.sha256_form) == ("https://github.com/openxla/xla.git", "sri")
    assert hex_of_sri(XLA_SRI) == XLA_SHA256
    assert sri_of(XLA_SHA256) == XLA_SRI


def test_module_bazel_rewrite_changes_every_occurrence_and_the_sri(tmp_path: Path) -> None:
    project = make_project(tmp_path / "jax", JAX)
    xla = next(pin for pin in pins_by(project, "module_bazel") if pin.bazel_name == "xla")
    old, new = rewritten(project, xla, commit=NEW_COMMIT, sha256=NEW_SHA256)
    assert changed_lines(old, new) == [33, 34, 35]  # integrity, strip_prefix, urls
    assert f'integrity = "{sri_of(NEW_SHA256)}"' in new
    assert new.count(NEW_COMMIT) == 2
    assert "b11745590f513ec55b32e2d126073576fde18c71" in new  # the other override untouched


def test_module_bazel_git_override(tmp_path: Path) -> None:
    text = (
        'bazel_dep(name = "shardy")\ngit_override(\n    module_name = "shardy",\n'
        f'    commit = "{XLA_COMMIT}",\n    remote = "https://github.com/openxla/shardy.git",\n)\n'
    )
    project = make_project(tmp_path / "p", {}, {"MODULE.bazel": text})
    (pin,) = find_native_pins(project)
    assert (pin.format, pin.line, pin.bazel_name, pin.url) == (
        "module_bazel",
        4,
        "shardy",
        "https://github.com/openxla/shardy.git",
    )
    old, new = rewritten(project, pin, commit=NEW_COMMIT)
    assert changed_lines(old, new) == [4]


def test_module_bazel_override_without_integrity_is_a_pin_without_hash(tmp_path: Path) -> None:
    text = (
        'archive_override(\n  module_name = "rules_ml_toolchain",\n'
        f'  urls = ["https://github.com/meteorcloudy/rules_ml_toolchain/archive/{XLA_COMMIT}.tar.gz"],\n'
        f'  strip_prefix = "rules_ml_toolchain-{XLA_COMMIT}",\n)\n'
    )
    project = make_project(tmp_path / "p", {}, {"MODULE.bazel": text})
    (pin,) = find_native_pins(project)
    assert (pin.sha256, pin.line) == (None, 3)
    old, new = rewritten(project, pin, commit=NEW_COMMIT)
    assert changed_lines(old, new) == [3, 4]


def test_local_path_override_and_version_overrides_are_no_pins(tmp_path: Path) -> None:
    text = (
        'local_path_override(module_name = "llvm-project-overlay", path = "third_party/x")\n'
        'single_version_override(module_name = "grpc", version = "1.81.0")\n'
    )
    project = make_project(tmp_path / "p", {}, {"MODULE.bazel": text})
    assert find_native_pins(project) == []


# -- git_repository and literal archives -------------------------------------------------


def test_git_repository_with_a_literal_commit(tmp_path: Path) -> None:
    text = (
        "load(...)\n\ngit_repository(\n    name = 'fmt',\n"
        f"    commit = '{XLA_COMMIT}',\n    remote = 'https://github.com/fmtlib/fmt',\n)\n"
        'git_repository(name = "b", branch = "master", remote = "https://github.com/x/b")\n'
    )
    project = make_project(tmp_path / "p", {}, {"WORKSPACE": text})
    (pin,) = find_native_pins(project)
    assert (pin.format, pin.line, pin.url, pin.bazel_name) == (
        "git_repository",
        5,
        "https://github.com/fmtlib/fmt.git",
        "fmt",
    )
    old, new = rewritten(project, pin, commit=NEW_COMMIT)
    assert changed_lines(old, new) == [5]


def test_literal_archives_in_workspace_are_pins_too(tmp_path: Path) -> None:
    project = make_project(tmp_path / "tx", TORCH_XLA)
    archives = {pin.bazel_name: pin for pin in pins_by(project, "http_archive")}
    assert set(archives) == {"pybind11_bazel", "pybind11"}  # json@v3.11.2 pins no commit
    assert archives["pybind11_bazel"].archive == "zip"
    assert archives["pybind11"].url == "https://github.com/pybind/pybind11.git"


def test_an_http_archive_with_an_sri_integrity_is_rewritten_as_sri(tmp_path: Path) -> None:
    text = (
        "http_archive(\n"
        '    name = "xla",\n'
        f'    integrity = "{XLA_SRI}",\n'
        f'    urls = ["https://github.com/openxla/xla/archive/{XLA_COMMIT}.tar.gz"],\n'
        ")\n"
    )
    project = make_project(tmp_path / "p", {}, {"WORKSPACE": text})
    (pin,) = find_native_pins(project)
    assert (pin.format, pin.sha256, pin.sha256_form) == ("http_archive", XLA_SHA256, "sri")
    old, new = rewritten(project, pin, commit=NEW_COMMIT, sha256=NEW_SHA256)
    assert changed_lines(old, new) == [3, 4]
    assert sri_of(NEW_SHA256) in new


# -- WORKSPACE <name>_hash -----------------------------------------------------------------


def test_workspace_hash_with_its_date_and_concatenated_url(tmp_path: Path) -> None:
    project = make_project(tmp_path / "tx", TORCH_XLA)
    (pin,) = pins_by(project, "workspace_hash")
    assert (pin.line, pin.commit, pin.date) == (
        49,
        "9a9aa0e11e4fcda8d6a9c3267dca6776ddbdb0ca",
        "2025-10-01",
    )
    assert pin.url == "https://github.com/openxla/xla.git"
    assert pin.archive_urls == (
        "https://github.com/openxla/xla/archive/9a9aa0e11e4fcda8d6a9c3267dca6776ddbdb0ca.tar.gz",
    )
    old, new = rewritten(project, pin, commit=NEW_COMMIT, date="2026-02-03")
    assert changed_lines(old, new) == [49]
    assert f"xla_hash = '{NEW_COMMIT}'  # Committed on 2026-02-03." in new.split("\n")


def test_a_writer_refuses_to_drop_the_date(tmp_path: Path) -> None:
    project = make_project(tmp_path / "tx", TORCH_XLA)
    (pin,) = pins_by(project, "workspace_hash")
    with pytest.raises(ValueError, match="date"):
        rewritten(project, pin, commit=NEW_COMMIT)


# -- .torch_commit and .torch_pin ------------------------------------------------------------


def test_torch_commit_keeps_its_shape_without_trailing_newline(tmp_path: Path) -> None:
    project = make_project(tmp_path / "tx", TORCH_XLA)
    (pin,) = pins_by(project, "torch_commit")
    assert (pin.line, pin.repo_hint, pin.date, pin.url) == (2, "pytorch", "2025-09-29", None)
    _, new = rewritten(project, pin, commit=NEW_COMMIT, date="2026-02-03")
    assert new == f"# 2026-02-03\n{NEW_COMMIT}"


@pytest.mark.parametrize(
    ("content", "commit", "ref"),
    [
        ("#150583\n", None, "refs/pull/150583/head"),
        ("release/2.8\n", None, "release/2.8"),
        (f"{XLA_COMMIT}\n", XLA_COMMIT, None),
    ],
)
def test_torch_pin_overrides_with_a_ref_a_pr_or_a_commit(
    tmp_path: Path, content: str, commit: str | None, ref: str | None
) -> None:
    project = make_project(tmp_path / "tx", TORCH_XLA, {".torch_pin": content})
    (pin,) = pins_by(project, "torch_pin")
    assert (pin.commit, pin.ref, pin.repo_hint) == (commit, ref, "pytorch")
    with pytest.raises(ValueError, match="never written"):
        rewritten(project, pin, commit=NEW_COMMIT)


def test_an_empty_torch_pin_overrides_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "tx", TORCH_XLA, {".torch_pin": "\n"})
    assert pins_by(project, "torch_pin") == []


# -- one-line SHA files ----------------------------------------------------------------------


def test_llvm_version_txt_pins_llvm_project_and_keeps_its_newline(tmp_path: Path) -> None:
    project = make_project(tmp_path / "shlo", STABLEHLO)
    (pin,) = find_native_pins(project)
    assert (pin.format, pin.repo_hint, pin.line) == ("sha_file", "llvm-project", 1)
    _, new = rewritten(project, pin, commit=NEW_COMMIT)
    assert new == NEW_COMMIT + "\n"


def test_ci_commit_pins_name_the_repo_by_file_name(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "pt", {}, {".github/ci_commit_pins/xla.txt": XLA_COMMIT + "\n"}
    )
    (pin,) = find_native_pins(project)
    assert (pin.file, pin.repo_hint, pin.commit) == (
        ".github/ci_commit_pins/xla.txt",
        "xla",
        XLA_COMMIT,
    )


# -- every real file, byte for byte --------------------------------------------------------

ALL_REAL = {
    **JAX,
    **TORCH_XLA,
    **STABLEHLO,
    "third_party/llvm/workspace.bzl": XLA_LLVM["third_party/llvm/workspace.bzl"],
}


def test_every_real_pin_rewritten_with_its_own_values_gives_the_same_bytes(tmp_path: Path) -> None:
    project = make_project(tmp_path / "all", ALL_REAL)
    pins = find_native_pins(project)
    assert {pin.format for pin in pins} >= {
        "starlark",
        "module_bazel",
        "http_archive",
        "workspace_hash",
        "torch_commit",
        "sha_file",
    }
    for pin in pins:
        data = (project / pin.file).read_bytes()
        assert pin.commit is not None
        same = rewrite_pin(data.decode(), pin, pin.commit, pin.sha256, pin.date)
        assert same.encode() == data, pin


def test_every_real_pin_rewritten_changes_only_its_values(tmp_path: Path) -> None:
    project = make_project(tmp_path / "all", ALL_REAL)
    for pin in find_native_pins(project):
        old = (project / pin.file).read_bytes().decode()
        sha = NEW_SHA256 if pin.sha256 else None
        date = "2000-01-02" if pin.date else None
        new = rewrite_pin(old, pin, NEW_COMMIT, sha, date)
        back = new.replace(NEW_COMMIT, pin.commit or "")
        if sha and pin.sha256:
            back = back.replace(sha, pin.sha256).replace(sri_of(sha), sri_of(pin.sha256))
        if date and pin.date:
            back = back.replace(date, pin.date)
        assert back == old, pin
        (project / pin.file).write_text(new)
        again = [
            p
            for p in read_native_pins(project)
            if getattr(p, "line", 0) == pin.line
            and p.file == pin.file
            and getattr(p, "format", "") == pin.format
        ]
        assert [(p.commit, p.sha256, p.date) for p in again] == [(NEW_COMMIT, sha, date)]  # type: ignore[union-attr]
        (project / pin.file).write_text(old)


def test_a_writer_refuses_a_file_that_moved_on(tmp_path: Path) -> None:
    project = make_project(tmp_path / "jax", JAX)
    (pin,) = pins_by(project, "starlark")
    moved = jax_revision().replace(XLA_COMMIT, NEW_COMMIT)
    with pytest.raises(ValueError, match="read the pins again"):
        rewrite_pin(moved, pin, NEW_COMMIT, NEW_SHA256)


# -- shapes that must not blow up ----------------------------------------------------------


def test_deep_nesting_and_a_huge_line_read_in_one_pass(tmp_path: Path) -> None:
    nested = "x = " + "[(" * 100_000 + ")]" * 100_000 + "\n"
    huge = 'y = "' + "a'" * 500_000 + "\n"  # a 1 MB line, its string never closed
    text = nested + huge + f'XLA_COMMIT = "{XLA_COMMIT}"\n'
    project = make_project(tmp_path / "p", {}, {"third_party/xla/revision.bzl": text})
    (pin,) = find_native_pins(project)
    assert (pin.line, pin.commit) == (3, XLA_COMMIT)


def test_an_unterminated_triple_quoted_string_swallows_the_rest(tmp_path: Path) -> None:
    text = f'doc = """never closed\nXLA_COMMIT = "{XLA_COMMIT}"\n'
    project = make_project(tmp_path / "p", {}, {"third_party/xla/revision.bzl": text})
    assert find_native_pins(project) == []


def test_urls_in_comments_do_not_count(tmp_path: Path) -> None:
    text = (
        f"# curl -L https://github.com/openxla/xla/archive/{XLA_COMMIT}.tar.gz | sha256sum\n"
        f"# git_repository(commit = '{XLA_COMMIT}', remote = 'https://github.com/a/b')\n"
    )
    project = make_project(tmp_path / "p", {}, {"WORKSPACE": text})
    assert find_native_pins(project) == []
