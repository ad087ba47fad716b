"""Design rules a user feels: cheap start-up, one git layer, atomic files."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xla_tasks.fsutil import atomic_write

PACKAGE = Path(__file__).resolve().parents[1] / "xla_tasks"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("library", "allowed"),
    [("git", {"gitrepo.py"}), ("invoke", {"tasks.py", "cli.py"})],
)
def test_third_party_layers_stay_in_their_module(library: str, allowed: set[str]) -> None:
    users = {p.name for p in PACKAGE.rglob("*.py") if library in _imports(p)}
    assert users <= allowed


def test_commands_never_print() -> None:
    for path in (PACKAGE / "commands").glob("*.py"):
        calls = [
            n
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"
        ]
        assert not calls, f"{path.name} prints; return a result instead"


def _imported_modules(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xla_tasks", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stderr


def test_help_and_list_do_not_load_gitpython() -> None:
    """`import git` runs `git version`: --help and --list must not pay for it."""
    for args in (["--help"], ["--list"]):
        modules = {
            line.rsplit("|", 1)[-1].strip() for line in _imported_modules(*args).splitlines()
        }
        assert "git" not in modules
        assert "xla_tasks.gitrepo" not in modules


def test_atomic_write_failure_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    target = folder / "sync_deps.toml"
    target.write_text("old\n")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the bytes went out, before the rename

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in folder.iterdir()] == ["sync_deps.toml"]


def test_atomic_write_keeps_the_file_mode(tmp_path: Path) -> None:
    target = tmp_path / "sync_deps.py"
    target.write_text("old")
    os.chmod(target, 0o755)
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o755
