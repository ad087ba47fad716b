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
        # Local submodules over file:// need this since git 2.38.1; tests opt in, the tool never does.
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
