"""Faults and hostile input (issue 9, contract 5.8): secrets, interrupts, bad settings.

Each test drives the real program (in-process through `cli`, or as a subprocess when a
real signal is needed) against real git repos and servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from simple_index import fixture_closed_port, fixture_silent_port  # noqa: F401 (fixtures)
from syncing import clone_project, demo_pins, write_pins
from upstreams import Upstreams

from xla_tasks.engine.model import redact
from xla_tasks.workspace.registry import WORKSPACE_FILE

TOKEN = "ghp_S3cretTokenValue0123456789"
PASSWORD = "hunter2-Pa55word"


def spawn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """`python ARGS` in its own process group (signals go to it and its git children)."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def one_json_failure(out: str) -> dict[str, object]:
    """stdout holds exactly one JSON object, and it says the run failed."""
    document = json.loads(out)
    assert isinstance(document, dict)
    assert document["ok"] is False
    return document


# -- 5: secrets in URLs are never printed ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"https://{TOKEN}@github.com/o/r.git",
        f"https://bot:{PASSWORD}@host/x.git",
        f"fatal: unable to access 'http://{TOKEN}@127.0.0.1:9/x/': refused",
        f'{{"notes": ["from https://u:{PASSWORD}@h/x"]}}',
        f"https://u:{PASSWORD}@{TOKEN}@host/x.git",  # an `@` inside the password
    ],
)
def test_redact_masks_tokens_and_passwords_in_any_text(text: str) -> None:
    shown = redact(text)

    assert TOKEN not in shown
    assert PASSWORD not in shown
    assert "***@" in shown


@pytest.fixture
def secret_project(workspace: Path, upstreams: Upstreams, closed_port: int) -> Path:
    """A project whose jax pin uses a token URL and xla a password URL, both unreachable."""
    project = clone_project(upstreams, workspace)
    pins = demo_pins(upstreams)
    rev, _, _ = pins["jax"]
    pins["jax"] = (rev, f"http://{TOKEN}@127.0.0.1:{closed_port}/jax.git", False)
    rev, _, _ = pins["xla"]
    pins["xla"] = (rev, f"http://ci:{PASSWORD}@127.0.0.1:{closed_port}/xla.git", False)
    write_pins(project, pins)
    return project


def test_sync_never_prints_a_token_or_password_in_text(secret_project: Path, cli) -> None:
    result = cli("sync", cwd=secret_project)

    assert result.code == 1
    assert "FAILED jax" in result.err
    assert "FAILED xla" in result.err
    assert TOKEN not in result.out + result.err
    assert PASSWORD not in result.out + result.err
    assert "http://***@127.0.0.1" in result.err


def test_sync_json_never_holds_a_token_or_password(secret_project: Path, cli) -> None:
    result = cli("sync", "--json", cwd=secret_project)

    document = one_json_failure(result.out)
    assert TOKEN not in result.out + result.err
    assert PASSWORD not in result.out + result.err
    failed = {o["name"] for o in document["outcomes"] if o["error"]}  # type: ignore[union-attr]
    assert failed == {"jax", "xla"}


# -- 11 and SIGTERM: an interrupt at any moment is one line and 130 (143 for SIGTERM) -------


@pytest.fixture
def hanging_workspace(tmp_path: Path, silent_port: int) -> Path:
    """A workspace whose only repo lives on a server that accepts and never answers."""
    root = tmp_path / "hang"
    root.mkdir()
    url = f"http://127.0.0.1:{silent_port}/stuck.git"
    (root / WORKSPACE_FILE).write_text(f'schema = 1\n\n[repos.stuck]\nurl = "{url}"\n')
    return root


def interrupt_when(root: Path, args: list[str], marker: str, sig: int) -> tuple[int, str, str]:
    """Start `xla-tasks ARGS`, send `sig` to its process group as soon as the module
    `marker` has been imported (python -X importtime reports each import as it ends).
    Returns (exit code, stdout, stderr without the import-time lines)."""
    import threading

    proc = spawn(["-X", "importtime", "-m", "xla_tasks", *args], root)
    guard = threading.Timer(60, os.killpg, (proc.pid, signal.SIGKILL))  # a bound, not a check
    guard.start()
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.rsplit("|", 1)[-1].strip() == marker:
                break
        os.killpg(proc.pid, sig)
        out, rest = proc.communicate()
    finally:
        guard.cancel()
    text = "".join(lines) + rest
    err = "\n".join(x for x in text.splitlines() if not x.startswith("import time:"))
    return proc.returncode, out, err


# Moments: right after our entry module, inside invoke's import, after invoke, while the
# tasks load, and once the program is running (a clone hangs on the silent server).
EARLY_MOMENTS = [
    "xla_tasks.cli.entry",
    "invoke.parser",
    "invoke",
    "xla_tasks.workspace.settings",
    "xla_tasks.cli.program",
]


@pytest.mark.parametrize("marker", EARLY_MOMENTS)
def test_ctrl_c_during_start_up_prints_one_line_and_exits_130(
    hanging_workspace: Path, marker: str
) -> None:
    code, _, err = interrupt_when(hanging_workspace, ["checkout", "stuck"], marker, signal.SIGINT)

    assert code == 130, err
    assert "Traceback" not in err
    assert err.strip() == "xla-tasks: interrupted"


@pytest.mark.parametrize("marker", ["invoke", "xla_tasks.cli.program"])
def test_sigterm_prints_one_line_and_exits_143(hanging_workspace: Path, marker: str) -> None:
    code, _, err = interrupt_when(hanging_workspace, ["checkout", "stuck"], marker, signal.SIGTERM)

    assert code == 143, err
    assert "Traceback" not in err
    assert err.strip() == "xla-tasks: terminated"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_json_run_interrupted_anywhere_prints_one_failure_object(
    hanging_workspace: Path, sig: int, code: int
) -> None:
    for marker in ("invoke", "xla_tasks.cli.program"):
        got, out, err = interrupt_when(
            hanging_workspace, ["checkout", "stuck", "--json"], marker, sig
        )
        assert got == code, err
        assert one_json_failure(out)["exit_code"] == code


# -- 8: --json prints exactly one object on every failure --------------------------------


@pytest.fixture
def json_project(workspace: Path, upstreams: Upstreams) -> Path:
    return clone_project(upstreams, workspace)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["roll", "nosuch", "--json"], "unknown schedule 'nosuch'"),
        (["sync", "--exclude-dep", "(", "--json"], "invalid regex"),
        (["sync", "--jobs", "x", "--json"], "--jobs expects a positive integer"),
        (["sync", "--json", "--no-such-flag"], "sync has no flag --no-such-flag"),
        (["checkout", "nosuch", "--json"], "unknown repo 'nosuch'"),
    ],
)
def test_json_bad_input_prints_one_failure_object(
    json_project: Path, cli, argv: list[str], says: str
) -> None:
    result = cli(*argv, cwd=json_project)

    assert result.code == 1
    assert says in str(one_json_failure(result.out)["error"])
    assert says in result.err


def test_json_malformed_toml_prints_one_failure_object(json_project: Path, cli) -> None:
    (json_project / "sync_deps.toml").write_text("schema = 1\n[deps.xla\n")

    result = cli("sync", "--json", cwd=json_project)

    assert result.code == 1
    assert "sync_deps.toml" in str(one_json_failure(result.out)["error"])


def test_json_busy_workspace_prints_one_failure_object(
    json_project: Path, workspace: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xla_tasks.workspace.lock import workspace_lock

    monkeypatch.setenv("INVOKE_XLA_TASKS_LOCK_TIMEOUT", "0")
    with workspace_lock(workspace, "pin", timeout=0):
        result = cli("sync", "--json", cwd=json_project)

    assert result.code == 1
    assert "workspace is busy" in str(one_json_failure(result.out)["error"])


def test_json_internal_error_prints_one_failure_object(
    workspace: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (here: a command that raises) still ends in one object and exit 3."""
    import xla_tasks.commands.status as status_module

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(status_module, "status", broken)
    result = cli("status", "--json", cwd=workspace)

    assert result.code == 3
    document = one_json_failure(result.out)
    assert document["exit_code"] == 3
    assert "internal error: RuntimeError: a bug" in str(document["error"])


def test_internal_error_writes_a_crash_log_with_the_traceback_and_versions(
    workspace: Path, isolated_env: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug ends in one line naming a crash log (as pre-commit does); the log holds the
    traceback and the versions a bug report needs."""
    import xla_tasks.commands.status as status_module

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug with https://bot:s3cret@example.com/x.git")

    monkeypatch.setattr(status_module, "status", broken)
    result = cli("status", cwd=workspace)

    log = isolated_env / "home" / ".cache" / "xla-tasks" / "crash.log"
    assert result.code == 3
    assert result.err.count("\n") == 1
    assert f"details in {log}" in result.err
    text = log.read_text()
    assert "xla-tasks 0.1.0" in text
    assert "git version" in text
    assert "Python 3." in text
    assert 'raise RuntimeError("a bug' in text
    assert "s3cret" not in text


# -- 9: bad settings are one-line errors ----------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [("INVOKE_XLA_TASKS_JOBS", "abc"), ("INVOKE_XLA_TASKS_LOCK_TIMEOUT", "soon")],
)
def test_bad_setting_in_the_environment_is_one_line_naming_the_variable(
    workspace: Path, cli, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    result = cli("status", cwd=workspace)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"xla-tasks: {variable}='{value}'")


@pytest.mark.parametrize(
    ("yaml_text", "says"),
    [
        ("xla_tasks:\n  jobs: 2\n   bad: [\n", "invoke.yaml: line 3"),  # yaml ScannerError
        ("xla_tasks:\n  jobs: 2\n - x\n", "invoke.yaml: line 3, column 2: expected"),  # Parser
        ("xla_tasks: 5\n", "invoke.yaml: xla_tasks: expects a table"),
        ("xla_tasks:\n  jobs: {a: 1}\n", "invoke.yaml: xla_tasks.jobs: expects a plain value"),
    ],
)
def test_bad_invoke_yaml_is_one_line_naming_the_file(
    workspace: Path, cli, yaml_text: str, says: str
) -> None:
    (workspace / "invoke.yaml").write_text(yaml_text)

    result = cli("status", "--json", cwd=workspace)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert says in result.err
    assert str(workspace / "invoke.yaml") in str(one_json_failure(result.out)["error"])


# -- 12: an option-like word is never taken as a path or name ------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("name", ["demo", "checkout", "roll"])
def test_help_flag_after_a_task_shows_help_and_creates_nothing(
    tmp_path: Path, cli, name: str, flag: str
) -> None:
    result = cli(name, flag, cwd=tmp_path)

    assert result.code == 0, result.err
    assert f"Usage: xla-tasks [--core-opts] {name} " in result.out
    assert not (tmp_path / flag).exists()


def test_demo_refuses_an_option_like_folder_name(tmp_path: Path, cli) -> None:
    result = cli("demo", "-x", cwd=tmp_path)

    assert result.code == 1
    assert "'-x' looks like an option, not DIRECTORY" in result.err
    assert "./-x" in result.err
    assert not (tmp_path / "-x").exists()


def test_output_to_a_closed_pipe_is_no_internal_error(tmp_path: Path) -> None:
    """`xla-tasks --list | head -0`: the reader left before we wrote."""
    proc = spawn(["-m", "xla_tasks", "--list"], tmp_path)
    assert proc.stdout is not None
    proc.stdout.close()  # long before the child has imported invoke
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 141, err
    assert "internal error" not in err
    assert "Traceback" not in err


# -- 10 and the pin-file size limit: bad input is never an internal error ----------------


def test_deeply_nested_pin_file_is_bad_input_not_internal_error(json_project: Path, cli) -> None:
    depth = 100_000
    (json_project / "sync_deps.toml").write_text("schema = 1\nx = " + "[" * depth + "]" * depth)

    result = cli("sync", cwd=json_project)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "sync_deps.toml: invalid TOML: arrays or tables nested too deeply" in result.err


def test_huge_pin_file_is_refused_before_parsing(json_project: Path, cli) -> None:
    tables = "".join(f"[deps.d{i}]\n" for i in range(400_000))  # ~5 MB of tables
    (json_project / "sync_deps.toml").write_text("schema = 1\n" + tables)

    result = cli("sync", "--json", cwd=json_project)

    assert result.code == 1
    assert "sync_deps.toml: larger than 4 MiB" in str(one_json_failure(result.out)["error"])


def test_overlong_repo_name_is_bad_input_not_internal_error(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    long_name = "a" * 300
    with (workspace / WORKSPACE_FILE).open("a") as registry:
        registry.write(f'\n[repos.{long_name}]\nurl = "{upstreams.url("xla")}"\n')

    result = cli("checkout", long_name, cwd=workspace)

    assert result.code == 1
    assert "internal error" not in result.err
    assert "(300 characters): at most 100" in result.err
    assert sorted(p.name for p in workspace.iterdir()) == [WORKSPACE_FILE]


def test_lock_path_that_is_a_directory_is_bad_input(workspace: Path, cli) -> None:
    (workspace / ".xla-tasks.lock").mkdir()

    result = cli("checkout", "xla", cwd=workspace)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert ".xla-tasks.lock: is a directory, not xla-tasks' lock file" in result.err
    assert not (workspace / "xla").exists()


@pytest.mark.parametrize("name", [".xla-tasks.lock", ".xla-tasks.lock.holder"])
def test_lock_files_that_are_links_are_refused_and_their_targets_kept(
    workspace: Path, tmp_path: Path, cli, name: str
) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me\n")
    (workspace / name).symlink_to(outside)

    result = cli("checkout", "xla", cwd=workspace)

    assert result.code == 1
    assert f"{name}: is a symbolic link, not xla-tasks' lock file" in result.err
    assert outside.read_text() == "keep me\n"
    assert not (workspace / "xla").exists()


def test_registry_path_with_a_nul_is_named_precisely(workspace: Path, cli) -> None:
    with (workspace / WORKSPACE_FILE).open("a") as registry:
        registry.write(
            '\n[repos.odd]\nurl = "https://example.invalid/odd.git"\npath = "od\\u0000d"\n'
        )

    result = cli("checkout", "odd", cwd=workspace)

    assert result.code == 1
    assert "contains a control character" in result.err
    assert "outside the workspace" not in result.err


def test_sigterm_under_plain_invoke_ends_the_task_like_ctrl_c(hanging_workspace: Path) -> None:
    """`invoke checkout` from a project's tasks.py: SIGTERM mid-clone is one line and 143."""
    import time

    from test_concurrency import _children

    (hanging_workspace / "tasks.py").write_text("from xla_tasks import ns  # noqa: F401\n")
    proc = spawn(["-m", "invoke", "checkout", "stuck", "--json"], hanging_workspace)
    deadline = time.monotonic() + 30
    while not _children(proc.pid) and time.monotonic() < deadline:  # git is running
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # to the Python process only, as a CI runner may
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 143, err
    assert err.strip() == "xla-tasks: terminated"
    assert one_json_failure(out)["exit_code"] == 143
