"""Issue 19, the first hour: a command line that is ours, name filters, one workspace rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from upstreams import Upstreams, git, head


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **env}
    )


# -- the standalone program is ours ---------------------------------------------------------


def test_help_offers_only_our_options_a_description_and_an_example(cli, tmp_path: Path) -> None:
    out = cli("--help", cwd=tmp_path).out
    for invokes in ("--dry", "--echo", "--hide", "--pty", "--prompt-for-sudo", "--warn-only"):
        assert invokes not in out.replace("--dry-run", ""), invokes
    assert "--command-timeout" not in out
    assert "--write-pyc" not in out
    assert "--debug" not in out
    assert "Keep a workspace of OpenXLA" in out
    assert "Example:\n  mkdir ~/openxla" in out
    assert "-h [TASK], --help[=TASK]" in out
    assert "  sync " in out


@pytest.mark.parametrize("flag", ["-R", "--dry", "-e", "--pty", "-w", "-T"])
def test_invokes_run_options_are_refused_and_run_nothing(
    cli, synced: Path, workspace: Path, upstreams: Upstreams, flag: str
) -> None:
    """`-R/--dry` used to run a real sync while claiming to only echo it."""
    upstreams.commit("xla", {"new.txt": "x\n"}, "xla: new")
    before = head(workspace / "xla")
    (synced / "sync_deps.toml").write_text(
        (synced / "sync_deps.toml").read_text().replace(before, upstreams.head("xla"))
    )
    result = cli(flag, "sync", cwd=synced)
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith("xla-tasks: no option ")
    assert head(workspace / "xla") == before


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["synk"], "xla-tasks: no task 'synk' (did you mean sync?); the tasks: xla-tasks --list"),
        (
            ["sync", "--jbos", "3"],
            "xla-tasks: sync has no flag --jbos (did you mean --jobs?); see xla-tasks --help sync",
        ),
        (["help", "stauts"], "xla-tasks: no task 'stauts' (did you mean status?); the tasks"),
        (["--dry-run", "sync"], "xla-tasks: --dry-run is a flag of"),
        (["--dry", "sync"], "xla-tasks: no option --dry; --dry-run is a flag of"),
        (["checkout", "xla", "--dry-run"], "xla-tasks: checkout has no --dry-run: the deps it"),
        (["update-repos", "-b"], "xla-tasks: update-repos --base needs a value; see"),
        (["checkout"], "xla-tasks: checkout needs NAMES; see xla-tasks --help checkout"),
    ],
)
def test_typos_are_one_line_in_our_format(cli, workspace: Path, argv: list[str], line: str) -> None:
    result = cli(*argv, cwd=workspace)
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith(line), result.err
    assert not (workspace / "xla").exists()


@pytest.mark.parametrize("argv", [["help", "roll"], ["--help", "roll"], ["roll", "--help"]])
def test_help_for_a_task_shows_positionals_and_value_types(
    cli, tmp_path: Path, argv: list[str]
) -> None:
    result = cli(*argv, cwd=tmp_path)
    assert result.code == 0, result.err
    assert "Usage: xla-tasks [--core-opts] roll [--options] SCHEDULE" in result.out
    assert "Positional arguments:\n  SCHEDULE" in result.out
    assert "--log-limit=INT" in result.out
    assert "--max-tries=INT" in result.out
    assert "--verify-timeout=SECONDS" in result.out
    assert "STRING" not in result.out


def test_help_word_alone_is_the_program_help(cli, tmp_path: Path) -> None:
    result = cli("help", cwd=tmp_path)
    assert result.code == 0
    assert "Core options:" in result.out


def test_help_texts_survive_a_second_parse_in_one_process(cli, tmp_path: Path) -> None:
    """invoke pops each help text as it builds a parser; ours keeps them."""
    first = cli("help", "sync", cwd=tmp_path).out
    second = cli("help", "sync", cwd=tmp_path).out
    assert "skip deps whose name matches" in first
    assert first == second


def test_roll_alone_names_the_schedules(cli, synced: Path) -> None:
    result = cli("roll", cwd=synced)
    assert result.code == 1
    assert result.err == (
        f"xla-tasks: roll needs a SCHEDULE of {synced / 'sync_deps.toml'} (known: nightly)\n"
    )


def test_status_takes_jobs_and_foreach_takes_dry_run(cli, synced: Path) -> None:
    assert cli("status", "--jobs", "2", cwd=synced).code == 0
    marker = synced.parent / "ran-here"
    result = cli("foreach", f"touch {marker}", "--dry-run", cwd=synced)
    assert result.code == 0, result.err
    assert "xla: would run here (at xla)" in result.out
    assert "dry run, nothing run: would run in 4 repo(s); would skip 1 not present" in result.out
    assert not marker.exists()


# -- plain invoke: bad settings and values are one line -----------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("INVOKE_XLA_TASKS_JOBS", "abc", "xla_tasks.jobs expects a positive integer, got abc"),
        ("INVOKE_XLA_TASKS_LOCK_TIMEOUT", "soon", "xla_tasks.lock_timeout expects seconds"),
        ("INVOKE_XLA_TASKS_STALL_TIMEOUT", "x", "xla_tasks.stall_timeout expects seconds"),
        ("INVOKE_XLA_TASKS_HISTORY", "deep", "xla_tasks.history expects one of full"),
    ],
)
def test_plain_invoke_gets_one_line_for_a_bad_setting(
    workspace: Path, variable: str, value: str, says: str
) -> None:
    (workspace / "tasks.py").write_text("from xla_tasks import ns  # noqa: F401\n")
    done = _run([sys.executable, "-m", "invoke", "status"], workspace, **{variable: value})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr == f"xla-tasks: {variable}={value!r}: {says}" + done.stderr.split(says)[1]
    assert done.stderr.count("\n") == 1
    assert f"fix or unset {variable}" in done.stderr


def test_plain_invoke_still_takes_a_good_setting_and_the_filter_flag(
    workspace: Path, synced: Path
) -> None:
    (synced / "tasks.py").write_text("from xla_tasks import ns  # noqa: F401\n")
    done = _run(
        [sys.executable, "-m", "invoke", "status", "--names", "xla"],
        synced,
        INVOKE_XLA_TASKS_JOBS="2",
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if ": " in line and "repo(s)" not in line]
    assert [line.split(":")[0] for line in lines] == ["xla"]


# -- name filters ---------------------------------------------------------------------------


def test_sync_with_names_moves_only_those(
    cli, synced: Path, workspace: Path, upstreams: Upstreams
) -> None:
    xla_old, jax_old = head(workspace / "xla"), head(workspace / "jax")
    new_xla = upstreams.commit("xla", {"a.txt": "a\n"}, "xla: a")
    new_jax = upstreams.commit("jax", {"b.txt": "b\n"}, "jax: b")
    pins = (synced / "sync_deps.toml").read_text()
    (synced / "sync_deps.toml").write_text(pins.replace(xla_old, new_xla).replace(jax_old, new_jax))

    result = cli("sync", "xla", "--json", cwd=synced)

    assert result.code == 0, result.err
    assert [o["name"] for o in result.json()["outcomes"]] == ["xla"]
    assert head(workspace / "xla") == new_xla
    assert head(workspace / "jax") == jax_old
    assert "synced 1 dep(s)" in result.json()["messages"][0]


def test_sync_with_a_transitive_name_reaches_it_through_unnamed_deps(
    cli, synced: Path, workspace: Path
) -> None:
    """stablehlo is pinned by nobody here, so naming it is refused with the known deps."""
    result = cli("sync", "stablehlo", cwd=synced)
    assert result.code == 1
    assert result.err == (
        "xla-tasks: unknown repo 'stablehlo' among the deps openxla-pjrt-plugin pins "
        "(known: xla, jax, iree)\n"
    )


@pytest.mark.parametrize("task", [["sync"], ["status"], ["foreach", "true"], ["update-repos"]])
def test_an_unknown_name_is_one_line_listing_the_known_and_changes_nothing(
    cli, synced: Path, workspace: Path, task: list[str]
) -> None:
    before = {name: head(workspace / name) for name in ("xla", "jax", "iree")}
    result = cli(*task, "xla,nope", cwd=synced)
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith("xla-tasks: unknown repo 'nope' ")
    assert "(known: " in result.err
    assert "xla" in result.err.split("(known: ")[1]
    assert {name: head(workspace / name) for name in before} == before


def test_status_and_foreach_names_limit_the_rows(cli, synced: Path) -> None:
    rows = cli("status", "jax,xla", "--json", cwd=synced).json()["data"]["repos"]
    assert [row["name"] for row in rows] == ["xla", "jax"]
    result = cli("foreach", "git log -1 --format=%s", "jax,xla", cwd=synced)
    assert result.code == 0, result.err
    assert result.out.startswith("== xla (xla) ==\nxla: third\n== jax (jax) ==\n")
    assert "foreach: ran in 2 repo(s), 0 failed" in result.out


def test_foreach_names_with_exclude_dep_still_excludes(cli, synced: Path) -> None:
    result = cli("foreach", "true", "jax,xla", "--exclude-dep", "^jax$", "--json", cwd=synced)
    assert [repo["name"] for repo in result.json()["data"]["repos"]] == ["xla"]


def test_foreach_command_of_several_words_says_to_quote_it(cli, synced: Path) -> None:
    result = cli("foreach", "git", "log", cwd=synced)
    assert result.code == 1
    assert "unknown repo 'log'" in result.err
    assert "to run `git log` in every repo, quote it as one word" in result.err


def test_update_repos_names_alone_are_the_selection(
    cli, synced: Path, workspace: Path, upstreams: Upstreams
) -> None:
    for name in ("xla", "jax"):
        git(workspace / name, "checkout", "--quiet", "main")
    new = upstreams.commit("jax", {"c.txt": "c\n"}, "jax: c")
    upstreams.commit("xla", {"d.txt": "d\n"}, "xla: d")
    xla_before = git(workspace / "xla", "rev-parse", "main")

    result = cli("update-repos", "jax", cwd=workspace)

    assert result.code == 0, result.err
    assert git(workspace / "jax", "rev-parse", "main") == new
    assert git(workspace / "xla", "rev-parse", "main") == xla_before
    refused = cli("update-repos", "-b", "jax", "xla", cwd=workspace)
    assert refused.code == 1
    assert "xla: not among the repos -b/-a select (jax, openxla-pjrt-plugin)" in refused.err


# -- completion -----------------------------------------------------------------------------


def _complete(cwd: Path, *words: str) -> list[str]:
    done = _run([sys.executable, "-m", "xla_tasks", "--complete", "--", "xla-tasks", *words], cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_completion_offers_repo_names_schedules_and_flags(synced: Path, workspace: Path) -> None:
    repos = ["xla", "stablehlo", "jax", "iree", "openxla-pjrt-plugin"]
    assert _complete(workspace, "checkout", "") == repos
    assert _complete(workspace, "checkout", "iree,j") == ["iree,jax"]
    assert _complete(workspace, "update-repos", "-b", "") == repos
    assert _complete(synced, "roll", "") == ["nightly"]
    synced_words = _complete(synced, "sync", "")
    assert synced_words[: len(repos)] == repos
    assert "status" in synced_words
    assert _complete(synced, "sync", "--ex") == ["--exclude-dep", "--exclude-submodule"]
    assert "--dry" not in _complete(synced, "--")


def test_bash_completion_completes_repo_names_for_an_empty_word(workspace: Path) -> None:
    """Our bash script passes the empty word under the cursor; compgen filters as usual."""
    script = _run(
        [sys.executable, "-m", "xla_tasks", "--print-completion-script", "bash"], workspace
    )
    shim = workspace.parent / "bin"
    shim.mkdir()
    (shim / "xla-tasks").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m xla_tasks "$@"\n')
    (shim / "xla-tasks").chmod(0o755)
    probe = (
        f"{script.stdout}\nCOMP_WORDS=(xla-tasks checkout '')\nCOMP_CWORD=2\n"
        "_complete_xla-tasks xla-tasks '' checkout\necho \"${COMPREPLY[*]}\"\n"
    )
    done = _run(["bash", "-c", probe], workspace, PATH=f"{shim}:{os.environ['PATH']}")
    assert done.stdout.split() == ["xla", "stablehlo", "jax", "iree", "openxla-pjrt-plugin"]


# -- a hint for local upstreams, one workspace root, problems for every check --------------------


def test_a_refused_file_submodule_gets_a_hint_naming_the_setting(
    cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0"):
        monkeypatch.delenv(key, raising=False)  # git's defaults: file:// submodules refused
    result = cli("checkout", "iree", cwd=workspace)
    assert result.code == 1
    assert "transport 'file' not allowed" in result.err
    assert "git config --global protocol.file.allow always" in result.err


def test_status_and_update_repos_find_the_same_root_without_a_registry(
    cli, tmp_path: Path, upstreams: Upstreams
) -> None:
    """PyTorch/XLA layout, no xla-workspace.toml: both take DIR, not DIR/pytorch."""
    root = tmp_path / "src"
    root.mkdir()
    git(root, "clone", "--quiet", upstreams.path("stablehlo").as_uri(), "pytorch")
    git(root / "pytorch", "clone", "--quiet", upstreams.path("jax").as_uri(), "xla")
    status = cli("status", "--json", cwd=root / "pytorch" / "xla").json()
    dry = cli("update-repos", "--dry-run", "--json", cwd=root / "pytorch" / "xla").json()
    assert status["data"]["workspace"] == str(root.resolve())
    assert Path(dry["messages"][0].split(" in ")[1].split(" the way")[0]) == root.resolve()


def test_pin_check_json_reports_its_failure_in_problems(cli, synced: Path) -> None:
    assert cli("pin", cwd=synced).code == 0
    (synced / "sync_deps.py").write_text((synced / "sync_deps.py").read_text() + "# edited\n")
    result = cli("pin", "--check", "--json", cwd=synced)
    assert result.code == 1
    document = json.loads(result.out)
    assert document["ok"] is False
    assert document["problems"]
    assert "sync_deps.py is stale" in document["problems"][0]


def test_init_inside_a_workspace_names_the_preset_it_does_not_apply(cli, workspace: Path) -> None:
    before = (workspace / "xla-workspace.toml").read_text()
    result = cli("init", "--preset", "pytorch-xla", cwd=workspace)
    assert result.code == 0
    assert "--preset pytorch-xla is not applied" in result.out
    assert (workspace / "xla-workspace.toml").read_text() == before


def test_untracked_files_hint_says_how_to_stash_them(cli, synced: Path, workspace: Path) -> None:
    git(workspace / "xla", "checkout", "--quiet", "main")
    (workspace / "xla" / "scratch.txt").write_text("mine\n")
    result = cli("update-repos", "xla", cwd=workspace)
    assert result.code == 1
    assert "git stash --include-untracked" in result.err
    assert (workspace / "xla" / "scratch.txt").read_text() == "mine\n"
