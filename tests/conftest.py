"""Shared fixtures: an isolated git/HOME environment for every test, and real upstreams."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_KEEP_GIT_ENV = {"GIT_EXEC_PATH"}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, git config and identity pinned per test so SHAs are deterministic."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if (key.startswith("GIT_") and key not in _KEEP_GIT_ENV) or key.startswith(
            ("INVOKE_", "XLA_TASKS_")
        ):
            monkeypatch.delenv(key, raising=False)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n")
    templates = tmp_path / "git-templates"
    templates.mkdir()
    env = {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TEMPLATE_DIR": str(templates),
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
        "GIT_TERMINAL_PROMPT": "0",
        # file:// submodules need this since git 2.38.1; tests opt in, the tool never does.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.file.allow",
        "GIT_CONFIG_VALUE_0": "always",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


# --- real upstreams, workspaces and the CLI ----------------------------------------------

import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from gitserver import git_http_server  # noqa: E402, F401  (the fixture, for every test)
from upstreams import Upstreams  # noqa: E402

from xla_tasks.demo.upstreams import registry_text  # noqa: E402
from xla_tasks.workspace.registry import WORKSPACE_FILE  # noqa: E402


@pytest.fixture
def upstreams(isolated_env: Path) -> Upstreams:
    """The demo's five bare upstreams (OpenXLA shape), built fresh for this test (~0.2 s)."""
    return Upstreams(isolated_env / "upstreams")


@pytest.fixture
def workspace(isolated_env: Path, upstreams: Upstreams) -> Path:
    """An empty workspace whose registry points at the test's upstreams."""
    root = isolated_env / "ws"
    root.mkdir()
    (root / WORKSPACE_FILE).write_text(registry_text(upstreams.urls))
    return root


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `xla-tasks ARGV...` in-process in `cwd`; returns exit code, stdout, stderr."""
    from xla_tasks.cli.program import program

    def run(*argv: str, cwd: Path) -> CliResult:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            program.run(["xla-tasks", *argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


def _git_children() -> list[str]:
    """Live `git` processes whose parent is this test process (Linux /proc)."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if fields[1] == me and name.startswith("git") and fields[0] != "Z":
            found.append(f"{stat.parent.name}:{name}")
    return found


@pytest.fixture(autouse=True)
def no_leaked_git_processes() -> Any:
    """GitPython can leave `git cat-file` children behind; we must never do that."""
    yield
    if Path("/proc/self/stat").exists():
        assert _git_children() == [], "git processes outlived the test"
