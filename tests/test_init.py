"""`init`: writes the registry from a preset; idempotent inside a workspace."""

from __future__ import annotations

from pathlib import Path

from xla_tasks.workspace.registry import WORKSPACE_FILE, load_workspace


def test_init_writes_openxla_preset_by_default(tmp_path: Path, cli) -> None:
    result = cli("init", cwd=tmp_path)
    assert result.code == 0, result.err
    assert f"created {tmp_path / WORKSPACE_FILE}" in result.out
    workspace = load_workspace(tmp_path)
    assert set(workspace.repos) == {
        "iree",
        "jax",
        "xla",
        "stablehlo",
        "shardy",
        "triton",
        "openxla-pjrt-plugin",
    }
    assert workspace.repos["iree"].url == "https://github.com/iree-org/iree.git"


def test_init_pytorch_xla_preset_nests_torch_xla(tmp_path: Path, cli) -> None:
    assert cli("init", "--preset", "pytorch-xla", cwd=tmp_path).code == 0
    workspace = load_workspace(tmp_path)
    assert set(workspace.repos) == {"pytorch", "vision", "torch_xla", "xla"}
    assert workspace.repos["torch_xla"].path == "pytorch/xla"


def test_init_none_preset_is_an_empty_registry(tmp_path: Path, cli) -> None:
    assert cli("init", "--preset", "none", cwd=tmp_path).code == 0
    assert load_workspace(tmp_path).repos == {}


def test_init_inside_a_workspace_names_root_and_changes_nothing(tmp_path: Path, cli) -> None:
    assert cli("init", cwd=tmp_path).code == 0
    before = (tmp_path / WORKSPACE_FILE).read_bytes()
    sub = tmp_path / "jax"
    sub.mkdir()
    result = cli("init", "--preset", "pytorch-xla", cwd=sub)
    assert result.code == 0
    assert f"already in a workspace: {tmp_path}" in result.out
    assert not (sub / WORKSPACE_FILE).exists()
    assert (tmp_path / WORKSPACE_FILE).read_bytes() == before


def test_init_unknown_preset_lists_presets_and_writes_nothing(tmp_path: Path, cli) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("init", "--preset", "tensorflow", cwd=empty)
    assert result.code == 1
    assert "unknown preset 'tensorflow'" in result.err
    assert "openxla, pytorch-xla, none" in result.err
    assert list(empty.iterdir()) == []


def test_init_json_is_one_object(tmp_path: Path, cli) -> None:
    result = cli("init", "--json", cwd=tmp_path)
    data = result.json()
    assert data["ok"] is True
    assert data["data"]["created"] is True
