"""The registry, xla-workspace.toml: every bad input is one located line, exit 1, no change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xla_tasks.errors import ConfigError
from xla_tasks.workspace.graph import dependency_order, dependents_closure
from xla_tasks.workspace.registry import (
    WORKSPACE_FILE,
    find_workspace_root,
    load_workspace,
    preset_text,
)

BAD = Path(__file__).parent / "data" / "bad_workspace"

# file -> (line, text the message must contain)
CASES = {
    "unknown_key.toml": (4, "repos.a.submodule: unknown key"),
    "malformed.toml": (2, "invalid TOML"),
    "name_with_separator.toml": (2, "invalid name 'a/b'"),
    "name_dotdot.toml": (2, "invalid name '..evil'"),
    "path_escapes.toml": (4, "repos.a.path: invalid path '../outside'"),
    "path_absolute.toml": (4, "repos.a.path: invalid path '/abs/path'"),
    "url_dash.toml": (3, "repos.a.url: invalid URL"),
    "url_ext.toml": (3, "ext::"),
    "branch_dash.toml": (4, "repos.a.branch: invalid branch"),
    "unknown_dep.toml": (4, "unknown repo 'nope'"),
    "wrong_type.toml": (4, "repos.a.submodules: expected bool"),
    "schema_2.toml": (1, "unsupported schema 2"),
    "jobs_zero.toml": (3, "settings.jobs: must be a positive integer"),
    "url_missing.toml": (2, "repos.a.url: required key is missing"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_registry_is_one_located_error(case: str, tmp_path: Path) -> None:
    shutil.copy(BAD / case, tmp_path / WORKSPACE_FILE)
    line, text = CASES[case]
    with pytest.raises(ConfigError) as caught:
        load_workspace(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / WORKSPACE_FILE}:{line}:"), message
    assert text in message
    assert "\n" not in message


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_registry_fails_checkout_without_traceback_or_change(
    case: str, tmp_path: Path, cli
) -> None:
    shutil.copy(BAD / case, tmp_path / WORKSPACE_FILE)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("checkout", "a", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith(f"xla-tasks: {tmp_path / WORKSPACE_FILE}:")
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / WORKSPACE_FILE).read_bytes() == (BAD / case).read_bytes()


def test_workspace_root_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / WORKSPACE_FILE).write_text(preset_text("openxla"))
    deep = tmp_path / "jax" / "jax" / "_src"
    deep.mkdir(parents=True)
    assert find_workspace_root(deep) == tmp_path.resolve()


def test_presets_load_and_order_dependencies_first(tmp_path: Path) -> None:
    (tmp_path / WORKSPACE_FILE).write_text(preset_text("openxla"))
    openxla = load_workspace(tmp_path)
    order = dependency_order(openxla)
    assert order.index("xla") < order.index("jax") < order.index("openxla-pjrt-plugin")
    assert set(openxla.repos) == {
        "iree",
        "jax",
        "xla",
        "stablehlo",
        "shardy",
        "triton",
        "openxla-pjrt-plugin",
    }
    assert order.index("triton") < order.index("xla")
    (tmp_path / WORKSPACE_FILE).write_text(preset_text("pytorch-xla"))
    torch = load_workspace(tmp_path)
    assert torch.path_of("torch_xla") == tmp_path / "pytorch" / "xla"
    assert torch.repos["torch_xla"].branch == "master"
    assert dependents_closure(torch, "pytorch") == ["pytorch", "vision", "torch_xla"]


def test_dependency_cycle_is_reported(tmp_path: Path) -> None:
    (tmp_path / WORKSPACE_FILE).write_text(
        'schema = 1\n[repos.a]\nurl = "https://x/a"\ndeps = ["b"]\n'
        '[repos.b]\nurl = "https://x/b"\ndeps = ["a"]\n'
    )
    with pytest.raises(ConfigError, match="dependency cycle: a -> b -> a"):
        dependency_order(load_workspace(tmp_path))


def test_two_repos_on_one_path_are_refused(tmp_path: Path) -> None:
    (tmp_path / WORKSPACE_FILE).write_text(
        'schema = 1\n[repos.a]\nurl = "https://x/a"\n[repos.b]\nurl = "https://x/b"\npath = "a"\n'
    )
    with pytest.raises(ConfigError, match=r"repos\.b\.path: same path as repo .a."):
        load_workspace(tmp_path)
