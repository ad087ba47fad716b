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


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function (lazy imports count)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # `from xla_tasks.pins import model` names a module
                sub = f"{node.module}.{alias.name}"
                names.add(sub if sub in MODULES else node.module)
    return names


def _ours(path: Path) -> set[str]:
    return {name for name in _imports(path) if name.startswith("xla_tasks.")}


# Each third-party library (and git) is reached from one place only.
@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("git", {"xla_tasks.gitobjects"}),
        ("gitdb", set()),
        # cli.startup imports invoke itself, without what invoke imports and we never use
        ("invoke", {"xla_tasks.cli.tasks", "xla_tasks.cli.program", "xla_tasks.cli.startup"}),
        ("rich", {"xla_tasks.ui.live"}),
        ("yaml", {"xla_tasks.pins.manifests"}),
        ("urllib3", {"xla_tasks.roll.httpget"}),
        ("requests", set()),
        ("pypi_simple", set()),
        ("packaging", {"xla_tasks.roll.packages", "xla_tasks.roll.requirements"}),
        ("tomli_w", {"xla_tasks.tomlfile"}),
    ],
)
def test_third_party_layers_stay_in_their_module(library: str, allowed: set[str]) -> None:
    users = {
        name
        for name, path in MODULES.items()
        if any(imported.split(".")[0] == library for imported in _imports(path))
    }
    assert users <= allowed


# The layers, lowest first: a module imports only from its own layer or lower ones.
LAYERS = [
    ["xla_tasks.engine"],
    ["xla_tasks.errors", "xla_tasks.validate", "xla_tasks.fsutil", "xla_tasks.shell"],
    ["xla_tasks.tomlfile", "xla_tasks.gitobjects", "xla_tasks.gitrepo", "xla_tasks.ui.results"],
    ["xla_tasks.pins", "xla_tasks.parallel", "xla_tasks.ui"],
    ["xla_tasks.workspace"],
    ["xla_tasks.roll"],
    ["xla_tasks.commands"],
    ["xla_tasks.demo"],
    ["xla_tasks.cli", "xla_tasks.__main__", "xla_tasks"],
]


def _layer(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer of LAYERS"
    return max(matches)[1]


def test_imports_go_down_the_layers_only() -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        for imported in _ours(path)
        if _layer(imported) > _layer(name)
    ]
    assert wrong == []


def test_commands_never_import_commands() -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if name.startswith("xla_tasks.commands.")
        for imported in _ours(path)
        if imported.startswith("xla_tasks.commands.")
    ]
    assert wrong == []


def test_no_import_cycles_not_even_lazy_ones() -> None:
    graph = {name: _ours(path) & set(MODULES) for name, path in MODULES.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycles.append([*trail[trail.index(other) :], other])
            elif other not in state:
                visit(other, [*trail, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_engine_is_standard_library_only_and_embeddable() -> None:
    """The script embeds the engine's modules in one namespace: stdlib imports only, and no
    top-level name defined twice across them."""
    from xla_tasks.engine import MODULES as ORDER

    engine = {n: p for n, p in MODULES.items() if n.startswith("xla_tasks.engine.")}
    assert set(engine) == {f"xla_tasks.engine.{m}" for m in ORDER}
    seen: dict[str, str] = {}
    for name, path in engine.items():
        for imported in _imports(path):
            top = imported.split(".")[0]
            assert top == "xla_tasks" or top in sys.stdlib_module_names, (name, imported)
        for node in ast.parse(path.read_text()).body:
            defined = []
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                defined = [node.name]
            elif isinstance(node, ast.Assign):
                defined = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for symbol in defined:
                assert symbol not in seen, f"{symbol} in {name} and {seen[symbol]}"
                seen[symbol] = name


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
        assert "xla_tasks.gitobjects" not in modules


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
