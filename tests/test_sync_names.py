"""`sync NAMES`: the names it takes are the deps status lists as pinned, whether the
project pins them itself or only a dep's own pins do (contract 3.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from syncing import clone_project, history, repin
from upstreams import Upstreams, head, is_detached

from xla_tasks.commands.sync import sync
from xla_tasks.demo.upstreams import pin_file_text
from xla_tasks.workspace.settings import TaskOptions


@pytest.fixture
def deep(workspace: Path, upstreams: Upstreams) -> Path:
    """The project synced, with jax pinning `extra`, a dep the project does not pin."""
    extra_url = upstreams.create("extra")
    jax_pins = {
        "xla": (history(upstreams, "xla")[0], upstreams.url("xla"), False),
        "extra": (upstreams.head("extra"), extra_url, False),
    }
    jax = upstreams.commit("jax", {"sync_deps.toml": pin_file_text(jax_pins)}, "jax: pin extra")
    project = clone_project(upstreams, workspace)
    repin(project, upstreams, jax=jax)
    assert sync(project, TaskOptions(only=("jax",))).ok  # extra not cloned yet
    assert not (workspace / "extra").exists()
    return project


def test_a_name_only_a_deps_pins_know_is_synced_and_nothing_else_moves(
    deep: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    result = cli("sync", "extra", "--json", cwd=deep)

    assert result.code == 0, result.err
    assert [o["name"] for o in result.json()["outcomes"]] == ["extra"]
    assert head(workspace / "extra") == upstreams.head("extra")
    assert is_detached(workspace / "extra")
    assert not (workspace / "xla").exists()
    assert not (workspace / "iree").exists()


def test_names_the_project_pins_and_one_a_dep_pins_sync_together(
    deep: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    result = cli("sync", "xla,extra", "--json", cwd=deep)

    assert result.code == 0, result.err
    assert sorted(o["name"] for o in result.json()["outcomes"]) == ["extra", "xla"]
    assert head(workspace / "xla") == history(upstreams, "xla")[2]  # the project's pin wins
    assert head(workspace / "extra") == upstreams.head("extra")
    assert not (workspace / "iree").exists()


def test_an_unknown_name_next_to_known_ones_lists_every_pinned_dep(deep: Path, cli) -> None:
    result = cli("sync", "jax,stablehlo", cwd=deep)

    assert result.code == 1
    assert result.err == (
        "xla-tasks: unknown repo 'stablehlo' among the deps openxla-pjrt-plugin pins "
        "(known: xla, jax, iree, extra)\n"
    )
