"""The fronts: the `xla-tasks` program, `python -m xla_tasks`, and `from xla_tasks import ns`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xla_tasks.workspace.registry import WORKSPACE_FILE

TASKS = ["init", "checkout", "sync", "pin", "roll", "update-repos", "status", "foreach", "bazelrc"]


def test_list_shows_every_contract_task(cli, tmp_path: Path) -> None:
    result = cli("--list", cwd=tmp_path)
    assert result.code == 0
    for name in TASKS:
        assert f"  {name} " in result.out or result.out.rstrip().endswith(f"  {name}")


@pytest.mark.parametrize("name", [*TASKS, "demo"])
def test_help_for_each_task_works(cli, tmp_path: Path, name: str) -> None:
    result = cli("--help", name, cwd=tmp_path)
    assert result.code == 0, result.err
    assert f"xla-tasks [--core-opts] {name}" in result.out


def test_update_repos_has_only_the_short_flags_we_chose(cli, tmp_path: Path) -> None:
    out = cli("--help", "update-repos", cwd=tmp_path).out
    assert "-a, --all" in out
    assert "-b NAME, --base=NAME" in out
    assert "-p, --push" not in out
    assert "-j," not in out
    assert "-j " not in out


def test_version(cli, tmp_path: Path) -> None:
    assert "xla-tasks 0.1.0" in cli("--version", cwd=tmp_path).out


def test_several_names_as_words_get_a_one_line_hint_to_join_them(cli, workspace: Path) -> None:
    result = cli("checkout", "iree", "jax", "xla", "--jobs", "2", cwd=workspace)
    assert result.code == 1
    assert result.err == (
        "xla-tasks: checkout takes one NAMES word: write several names as `checkout iree,jax,xla`\n"
    )
    assert not (workspace / "iree").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["foreach", "git", "log", "-1"],
            "foreach takes CMD as one word: quote it, `foreach 'git log -1'`",
        ),
        (["roll", "nightly", "weekly"], "roll takes one SCHEDULE ('nightly'); 'weekly' is neither"),
        (
            ["sync", "jax", "xla"],
            "sync takes one NAMES word: write several names as `sync jax,xla`",
        ),
        (
            ["pin", "jax"],
            "pin got an extra word 'jax', which is neither a task nor a flag of pin",
        ),
        (
            ["pin", "--add", "jax", "xla"],
            "--add takes one value per use: repeat it, `--add jax --add xla`",
        ),
        (
            ["sync", "--exclude-dep=a", "b", "--jobs", "2"],
            "--exclude-dep takes one value per use: repeat it, `--exclude-dep a --exclude-dep b`",
        ),
    ],
)
def test_an_extra_word_after_any_task_is_a_one_line_hint(
    cli, workspace: Path, argv: list[str], message: str
) -> None:
    result = cli(*argv, cwd=workspace)
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"xla-tasks: {message}")


def test_unknown_flag_is_our_one_line_naming_the_task(cli, workspace: Path) -> None:
    result = cli("checkout", "jax", "--bogus", cwd=workspace)
    assert result.code == 1
    assert result.err == (
        "xla-tasks: checkout has no flag --bogus; see xla-tasks --help checkout\n"
    )
    assert not (workspace / "jax").exists()


def test_a_task_name_after_a_positional_still_chains(cli, workspace: Path) -> None:
    """`checkout xla status`: status is a task, so it runs after checkout, no hint."""
    result = cli("checkout", "xla", "status", cwd=workspace)
    assert result.code == 0, result.err
    assert (workspace / "xla" / ".git").exists()
    assert "xla: on main" in result.out


def test_invoke_front_refuses_extra_words_too(tmp_path: Path, workspace: Path) -> None:
    """`invoke` runs its own Program (no hook for our hint): it still fails cleanly."""
    (workspace / "tasks.py").write_text("from xla_tasks import ns  # noqa: F401\n")
    done = _run([sys.executable, "-m", "invoke", "checkout", "jax", "xla"], workspace)
    assert done.returncode == 1
    assert done.stderr == "No idea what 'xla' is!\n"
    assert not (workspace / "jax").exists()
    chained = _run([sys.executable, "-m", "invoke", "checkout", "jax", "status"], workspace)
    assert chained.returncode == 0, chained.stderr
    assert "jax: on main" in chained.stdout


def test_bash_completion_script_completes_our_tasks(tmp_path: Path) -> None:
    """The README's `source <(xla-tasks --print-completion-script bash)` works with our Program."""
    script = _run(
        [sys.executable, "-m", "xla_tasks", "--print-completion-script", "bash"], tmp_path
    )
    assert script.returncode == 0, script.stderr
    assert "complete -F _complete_xla-tasks -o default xla-tasks" in script.stdout
    done = _run(
        [sys.executable, "-m", "xla_tasks", "--complete", "--", "xla-tasks", "fo"], tmp_path
    )
    assert "foreach" in done.stdout.split()
    flags = _run(
        [sys.executable, "-m", "xla_tasks", "--complete", "--", "xla-tasks", "status", "--"],
        tmp_path,
    )
    assert "--check" in flags.stdout.split()


def test_chained_tasks_run_in_order_and_stop_at_first_failure(cli, workspace: Path) -> None:
    result = cli("checkout", "xla", "checkout", "nope", "checkout", "stablehlo", cwd=workspace)
    assert result.code == 1
    assert (workspace / "xla" / ".git").exists()
    assert "unknown repo 'nope'" in result.err
    assert not (workspace / "stablehlo").exists()


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **env}
    )


def test_python_dash_m_runs_the_same_program(tmp_path: Path) -> None:
    done = _run([sys.executable, "-m", "xla_tasks", "init", "--preset", "none"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / WORKSPACE_FILE).exists()


def test_bad_input_shows_no_traceback_unless_debug(tmp_path: Path) -> None:
    (tmp_path / WORKSPACE_FILE).write_text("schema = 1\n[repos.a]\nurl = '-x'\n")
    quiet = _run([sys.executable, "-m", "xla_tasks", "checkout", "a"], tmp_path)
    assert quiet.returncode == 1
    assert "Traceback" not in quiet.stderr
    assert quiet.stderr.count("\n") == 1
    loud = _run([sys.executable, "-m", "xla_tasks", "checkout", "a"], tmp_path, XLA_TASKS_DEBUG="1")
    assert loud.returncode != 0
    assert "Traceback" in loud.stderr
    assert "ConfigError" in loud.stderr


def test_users_tasks_py_imports_ns_and_runs_invoke(tmp_path: Path) -> None:
    """Pattern 1 of the README: a project's tasks.py exposes our collection to `invoke`."""
    (tmp_path / "tasks.py").write_text("from xla_tasks import ns  # noqa: F401\n")
    done = _run([sys.executable, "-m", "invoke", "init", "--preset", "pytorch-xla"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "torch_xla" in (tmp_path / WORKSPACE_FILE).read_text()


def test_users_tasks_py_adds_own_tasks_and_config(tmp_path: Path, workspace: Path) -> None:
    """Pattern 2: Collection.from_module(xla_tasks) plus own tasks; invoke.yaml sets jobs."""
    (workspace / "tasks.py").write_text(
        textwrap.dedent("""
        from invoke import Collection, task
        import xla_tasks

        @task
        def build(c):
            print("building")

        ns = Collection.from_module(xla_tasks)
        ns.add_task(build)
    """)
    )
    (workspace / "invoke.yaml").write_text("xla_tasks:\n  jobs: x\n")
    bad = _run([sys.executable, "-m", "invoke", "checkout", "xla"], workspace)
    assert bad.returncode == 1
    assert "xla_tasks.jobs expects a positive integer, got 'x'" in bad.stderr
    (workspace / "invoke.yaml").write_text("xla_tasks:\n  jobs: 2\n")
    done = _run([sys.executable, "-m", "invoke", "checkout", "xla", "build"], workspace)
    assert done.returncode == 0, done.stderr
    assert "building" in done.stdout
    assert (workspace / "xla" / ".git").exists()


def test_standalone_program_reads_invoke_yaml_at_workspace_root(workspace: Path, cli) -> None:
    (workspace / "invoke.yaml").write_text("xla_tasks:\n  jobs: zero\n")
    result = cli("checkout", "xla", cwd=workspace)
    assert result.code == 1
    assert "xla_tasks.jobs expects a positive integer, got 'zero'" in result.err


def test_env_var_overrides_config(workspace: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOKE_XLA_TASKS_JOBS", "-3")
    result = cli("checkout", "xla", cwd=workspace)
    assert result.code == 1
    assert "got -3" in result.err


def test_library_use_without_invoke(workspace: Path) -> None:
    """The commands are plain functions returning result objects."""
    from xla_tasks.commands.checkout import checkout
    from xla_tasks.workspace.settings import TaskOptions

    result = checkout(workspace, ["xla"], TaskOptions(jobs=1))
    assert result.ok
    assert result.outcome("xla").action == "cloned"
