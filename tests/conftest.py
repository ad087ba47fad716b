"""Shared fixtures: an isolated git/HOME environment for every test, and real upstreams."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_KEEP_GIT_ENV = {"GIT_EXEC_PATH"}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, git config and identity pinned per test so SHAs are deterministic."""
    _isolate(monkeypatch, tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def _isolate(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Git's and our environment as every test sees it: HOME and git's config under `root`."""
    home = root / "home"
    home.mkdir()
    for key in list(os.environ):
        if (key.startswith("GIT_") and key not in _KEEP_GIT_ENV) or key.startswith(
            ("INVOKE_", "XLA_TASKS_")
        ):
            monkeypatch.delenv(key, raising=False)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n")
    templates = root / "git-templates"
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
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


# --- real upstreams, workspaces and the CLI ----------------------------------------------

import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from gitserver import FIXTURE_MARK, SERVER_MARK, git_http_server  # noqa: E402, F401  (the fixture, for every test)
from native_world import NativeWorld, jax_world  # noqa: E402
from syncing import clone_project  # noqa: E402
from upstreams import Template, Upstreams  # noqa: E402

from xla_tasks.demo.upstreams import registry_text  # noqa: E402
from xla_tasks.workspace.registry import WORKSPACE_FILE  # noqa: E402


@pytest.fixture(scope="session")
def upstreams_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The upstreams' URL-free commits, built once per test process in the tests' git
    environment."""
    root = tmp_path_factory.mktemp("upstreams-template")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate(monkeypatch, root)
        return Template.build(root / "upstreams")


@pytest.fixture
def local_submodules(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git's `protocol.file.allow=always`, for the tests whose upstreams have file://
    submodules: git refuses those by default since 2.38.1, as it does for a user with local
    upstreams (the tool never sets it; tests about the default leave this fixture out)."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "protocol.file.allow")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "always")


@pytest.fixture
def upstreams(
    isolated_env: Path, upstreams_template: Template, local_submodules: None
) -> Upstreams:
    """The demo's five bare upstreams (OpenXLA shape), this test's own: the template copied,
    then the commits that record their URLs added (~40 ms, against ~90 ms for a fresh build).
    iree's stablehlo submodule is a file:// URL, so these tests allow the file transport."""
    return Upstreams(isolated_env / "upstreams", upstreams_template)


@pytest.fixture
def workspace(isolated_env: Path, upstreams: Upstreams) -> Path:
    """An empty workspace whose registry points at the test's upstreams."""
    root = isolated_env / "ws"
    root.mkdir()
    (root / WORKSPACE_FILE).write_text(registry_text(upstreams.urls))
    return root


@pytest.fixture
def synced(workspace: Path, upstreams: Upstreams) -> Path:
    """The demo's leaf project cloned in the workspace, its deps synced to their pins."""
    from xla_tasks.commands.sync import sync
    from xla_tasks.workspace.settings import TaskOptions

    project = clone_project(upstreams, workspace)
    assert sync(project, TaskOptions()).ok
    return project


@pytest.fixture
def world(isolated_env: Path) -> NativeWorld:
    """The real projects' nine upstreams pinning each other (`NativeWorld.full`)."""
    return NativeWorld.full(isolated_env / "upstreams")


@pytest.fixture
def ws(isolated_env: Path) -> Path:
    """The developer's empty workspace folder, where `world.ws` says (no registry)."""
    root = isolated_env / "ws"
    root.mkdir()
    return root


@pytest.fixture
def jax_at_xla(isolated_env: Path) -> tuple[NativeWorld, list[str], Path, Path]:
    """JAX's real pin files pinning the first of XLA's three commits (hash right), both
    cloned in the workspace, xla at the pin (as a sync leaves it): the world, XLA's
    commits, jax's clone and xla's (tests of native pin, pin --check and roll)."""
    return jax_world(isolated_env, xla_commits=3)


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


def _leftover_git(home: Path, early: bool) -> list[str]:
    """Live `git` processes this test started (Linux /proc): children of this process, and
    any descendant carrying the test's HOME. The engine starts network git in a session of
    its own, and a helper (`git remote-http`) whose git was killed without it is re-parented
    to init: neither process group, session nor parent leads back here, the environment
    it inherited does."""
    me = str(os.getpid())
    mark = f"HOME={home}".encode()
    server = f"{SERVER_MARK}=1".encode()  # the test server's http-backend: the fixture's
    # A run a fixture started and ends in its teardown (`FIXTURE_MARK` in its environment)
    # is judged after the teardown, not when the test body ends.
    held = f"{FIXTURE_MARK}=1".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            name, fields = stat.split("(", 1)[1].rsplit(")", 1)
            state, parent = fields.split()[:2]
            if not name.startswith("git") or state == "Z":
                continue
            environ = (proc / "environ").read_bytes().split(b"\0")
            if server in environ or (early and held in environ):
                continue
            if parent == me or mark in environ:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                found.append(f"{proc.name}: {b' '.join(argv).decode(errors='replace').strip()}")
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
    return found


def _assert_no_git_left(home: Path, when: str, early: bool = False) -> None:
    """Fails naming the processes if any outlives a short grace (a killed process may need
    a moment to exit); a leaked helper blocked on a silent server never does."""
    deadline = time.monotonic() + 5
    while (left := _leftover_git(home, early)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"git processes outlived the {when}: " + "; ".join(left)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Checked as the test body ends, before its fixtures stop their servers: closing a
    stalled connection would end a leaked helper and hide it."""
    result = yield
    home = getattr(item, "funcargs", {}).get("isolated_env")
    if home is not None and Path("/proc/self/stat").exists():
        _assert_no_git_left(home / "home", "test", early=True)
    return result


@pytest.fixture(autouse=True)
def no_leaked_git_processes(isolated_env: Path) -> Iterator[None]:
    """Nothing a test or fixture runs may leave git behind: not GitPython's `cat-file`
    children, not a transport helper that a stall kill missed."""
    yield
    if Path("/proc/self/stat").exists():
        _assert_no_git_left(isolated_env / "home", "test's fixtures")
