"""`pin --check` on native pins: files that disagree, and `.tar.gz` hashes (no network)."""

from __future__ import annotations

from native_project import REVISION
from native_world import jax_files, pinned_jax_files, sri, tar_gz_sha256
from upstreams import git

from xla_tasks.demo.upstreams import pin_file_text
from xla_tasks.pins.project import render_for
from xla_tasks.pins.sync_deps_toml import load_pin_file


def test_check_passes_when_the_files_agree_and_the_hash_is_the_commits(jax_at_xla, cli) -> None:
    _, shas, project, _ = jax_at_xla

    result = cli("pin", "--check", cwd=project)

    assert result.code == 0, result.err
    assert f"xla: the hash in {REVISION}:25 is the .tar.gz of {shas[0][:12]}" in result.out
    assert "xla: the hash in MODULE.bazel:33 is the .tar.gz of" in result.out
    assert "native pins agree: 1 dep(s) in MODULE.bazel, third_party/xla/revision.bzl" in (
        result.out
    )


def test_check_fails_when_the_two_files_pin_different_commits(jax_at_xla, cli) -> None:
    world, shas, project, _ = jax_at_xla
    moved = pinned_jax_files(world, shas[1])
    (project / "MODULE.bazel").write_text(moved["MODULE.bazel"])

    result = cli("pin", "--check", "--json", cwd=project)

    assert result.code == 1
    data = result.json()
    assert data["ok"] is False
    disagreement = [p for p in data["problems"] if "but" in p]
    assert len(disagreement) == 1
    assert "MODULE.bazel:34" in disagreement[0]
    assert f"{REVISION}:24" in disagreement[0]
    assert shas[0] in disagreement[0]
    assert shas[1] in disagreement[0]
    text = cli("pin", "--check", cwd=project)
    assert text.code == 1
    assert text.err.splitlines()[-1] == "xla-tasks pin: check failed: 1 problem(s), listed above"


def test_check_fails_when_the_hex_hash_and_the_sri_integrity_disagree(jax_at_xla, cli) -> None:
    _, _, project, _ = jax_at_xla
    module = (project / "MODULE.bazel").read_text()
    wrong = sri("ab" * 32)
    start = module.index('integrity = "', module.index('module_name = "xla"')) + len(
        'integrity = "'
    )
    end = module.index('"', start)
    (project / "MODULE.bazel").write_text(module[:start] + wrong + module[end:])

    result = cli("pin", "--check", "--json", cwd=project)

    assert result.code == 1
    problems = result.json()["problems"]
    assert any("with hash" in p and wrong in p for p in problems), problems


def test_check_fails_when_a_tar_gz_hash_is_not_the_commits(jax_at_xla, cli) -> None:
    world, shas, project, _ = jax_at_xla
    right = tar_gz_sha256(world.bare("xla"), shas[0], "xla")
    for rel in (REVISION, "MODULE.bazel"):
        text = (project / rel).read_text()
        (project / rel).write_text(
            text.replace(right, "cd" * 32).replace(sri(right), sri("cd" * 32))
        )

    result = cli("pin", "--check", "--json", cwd=project)

    assert result.code == 1
    problems = result.json()["problems"]
    assert len(problems) == 2
    assert f"{project / REVISION}:25: the hash {'cd' * 32} is not that of" in problems[1]
    assert f"which is {right}" in problems[1]
    assert f"which is {sri(right)}" in problems[0]


def test_check_does_not_check_a_hash_the_clone_cannot_build_and_says_so(jax_at_xla, cli) -> None:
    _world, _shas, project, xla = jax_at_xla
    moved = jax_files("f" * 40, "ab" * 32)
    for rel in (REVISION, "MODULE.bazel"):
        (project / rel).write_text(moved[rel])

    result = cli("pin", "--check", cwd=project)

    assert result.code == 0, result.err
    assert f"not checked: {xla} lacks ffffffffffff" in result.out


def test_check_of_a_project_with_sync_deps_toml_also_checks_its_native_files_agree(
    jax_at_xla, cli
) -> None:
    _world, shas, project, _ = jax_at_xla
    toml = pin_file_text({"xla": (shas[0], "https://github.com/openxla/xla.git", False)})
    (project / "sync_deps.toml").write_text(toml)
    (project / "sync_deps.py").write_text(render_for(load_pin_file(project / "sync_deps.toml")))
    assert cli("pin", "--check", cwd=project).code == 0
    moved = jax_files(shas[1], "ab" * 32)
    (project / "MODULE.bazel").write_text(moved["MODULE.bazel"])

    result = cli("pin", "--check", "--json", cwd=project)

    assert result.code == 1
    problems = result.json()["problems"]
    assert len(problems) == 1
    assert "MODULE.bazel:34" in problems[0]
    assert git(project, "status", "--porcelain", "--", REVISION) == ""
