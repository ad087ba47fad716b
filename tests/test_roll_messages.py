"""Roll messages (contract 5.5): per dep the commit count, the newest subjects, a compare link.

The commits come from the dep's local clone when it has both pins, else from the remote
by a commits-only fetch into a temporary repo. A `uploadpack.packObjectsHook` in the test's
global git config records every pack the upstreams send, so a test sees whether (and how)
the remote was asked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from upstreams import Upstreams, git

from xla_tasks.pins.sync_deps_toml import PIN_FILE, load_pin_file

PROJECT = "openxla-pjrt-plugin"


@pytest.fixture
def project(workspace: Path, upstreams: Upstreams) -> Path:
    """The leaf project cloned in the workspace, with its deps cloned beside it."""
    for name in (PROJECT, "iree", "jax", "xla"):
        git(workspace, "clone", "-q", upstreams.url(name), name)
    return workspace / PROJECT


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    """A log of the packs upstreams send: one line of pack-objects args, then its input."""
    log = tmp_path / "packs.log"
    hook = tmp_path / "pack-hook.sh"
    hook.write_text(f'#!/bin/sh\necho "ARGS $*" >> {log}\ntee -a {log} | "$@"\n')
    hook.chmod(0o755)
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    config.write_text(config.read_text() + f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
    return log


def _three_commits(upstreams: Upstreams) -> list[str]:
    """Three new xla commits on main; returns [old head, first, second, third]."""
    shas = [upstreams.head("xla")]
    for i in range(1, 4):
        shas.append(upstreams.commit("xla", {f"f{i}.txt": str(i)}, f"xla: change {i}"))
    return shas


def _expected(shas: list[str], shown: int) -> list[str]:
    old, new = shas[0], shas[-1]
    lines = [f"- xla: {old[:12]}..{new[:12]} (3 commits)"]
    lines += [f"  {shas[i][:12]} xla: change {i}" for i in range(3, 3 - shown, -1)]
    return lines + ([f"  and {3 - shown} more"] if shown < 3 else [])


def _move_lines(out: str) -> list[str]:
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("- xla:")))
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return lines[start:end]


def test_roll_message_from_the_local_clone_lists_newest_subjects_and_how_many_more(
    project: Path, workspace: Path, upstreams: Upstreams, packs: Path, cli
) -> None:
    shas = _three_commits(upstreams)
    git(workspace / "xla", "fetch", "-q", "origin")
    before = packs.read_text() if packs.exists() else ""

    result = cli("roll", "nightly", "--log-limit", "2", cwd=project)

    assert result.code == 0, result.err
    assert _move_lines(result.out) == _expected(shas, shown=2)
    assert (packs.read_text() if packs.exists() else "") == before  # nothing fetched for it
    assert load_pin_file(project / PIN_FILE).deps["xla"].rev == shas[-1]


def test_roll_message_without_a_local_clone_fetches_commits_only(
    project: Path, workspace: Path, upstreams: Upstreams, packs: Path, cli
) -> None:
    shas = _three_commits(upstreams)
    shutil.rmtree(workspace / "xla")
    git(upstreams.path("xla"), "config", "uploadpack.allowFilter", "true")

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert _move_lines(result.out) == _expected(shas, shown=3)
    sent = [line for line in packs.read_text().splitlines() if line.startswith("ARGS ")]
    assert len(sent) == 1
    assert "--filter=tree:0" in sent[0]
    assert not (workspace / "xla").exists()  # no clone was made for it


def test_roll_message_from_a_server_that_ignores_filters(
    project: Path, workspace: Path, upstreams: Upstreams, packs: Path, cli
) -> None:
    """git's file:// upload-pack refuses filters unless uploadpack.allowFilter: a plain fetch."""
    shas = _three_commits(upstreams)
    shutil.rmtree(workspace / "xla")

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert _move_lines(result.out) == _expected(shas, shown=3)
    assert "--filter" not in packs.read_text()


def test_roll_message_with_a_stale_local_clone_borrows_its_history(
    project: Path, workspace: Path, upstreams: Upstreams, packs: Path, cli
) -> None:
    """The local clone has the old pin but not the new one: the fetch sends only what it lacks."""
    shas = _three_commits(upstreams)

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert _move_lines(result.out) == _expected(shas, shown=3)
    sent = packs.read_text()
    assert f"--not\n{shas[0]}" in sent or f"^{shas[0]}" in sent  # the clone's tip was a "have"
    assert git(workspace / "xla", "cat-file", "-t", shas[0]) == "commit"
    done = git(
        workspace / "xla", "rev-parse", "-q", "--verify", f"{shas[-1]}^{{commit}}", check=False
    )
    assert done == ""  # the user's clone got nothing new


def test_roll_message_links_a_github_dep_to_its_compare_page(
    project: Path, workspace: Path, upstreams: Upstreams, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dep's URL is github.com's; a url.insteadOf rewrite sends git to the local upstream."""
    github = "https://github.com/openxla/xla"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
    local = upstreams.url("xla").removesuffix(".git")  # git appends the .git of the github URL
    monkeypatch.setenv("GIT_CONFIG_KEY_1", f"url.{local}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_1", github)
    text = (project / PIN_FILE).read_text().replace(upstreams.url("xla"), f"{github}.git")
    (project / PIN_FILE).write_text(text)
    shas = _three_commits(upstreams)
    shutil.rmtree(workspace / "xla")

    result = cli("roll", "nightly", "--log-limit", "1", cwd=project)

    assert result.code == 0, result.err
    link = f"{github}/compare/{shas[0]}...{shas[-1]}"
    assert _move_lines(result.out) == [*_expected(shas, shown=1), f"  {link}"]


def test_roll_json_gives_each_dep_its_commit_count_and_log(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    shas = _three_commits(upstreams)
    shutil.rmtree(workspace / "xla")

    data = cli("roll", "nightly", "--json", "--log-limit", "2", "--dry-run", cwd=project).json()

    assert data["ok"] is True
    (move,) = data["data"]["deps"]
    assert move["commits"] == 3
    assert move["log"] == [
        {"sha": shas[3], "subject": "xla: change 3"},
        {"sha": shas[2], "subject": "xla: change 2"},
    ]
    assert move["compare"] is None  # not a GitHub URL


def test_roll_with_an_unreadable_history_still_rolls_and_warns(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    """The old pin is on no branch of the server: no count, a warning, the pin still moves."""
    gone = "ab" * 20
    text = (project / PIN_FILE).read_text()
    (project / PIN_FILE).write_text(text.replace(upstreams.head("xla"), gone))
    shas = _three_commits(upstreams)
    shutil.rmtree(workspace / "xla")

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert _move_lines(result.out) == [f"- xla: {gone[:12]}..{shas[-1][:12]}"]
    assert f"warning: xla: the old pin {gone[:12]} is not in the history of main" in result.err
    assert load_pin_file(project / PIN_FILE).deps["xla"].rev == shas[-1]


def test_roll_log_limit_must_be_a_number(project: Path, cli) -> None:
    result = cli("roll", "nightly", "--log-limit", "ten", cwd=project)

    assert result.code == 1
    assert result.err == "xla-tasks: --log-limit expects a number >= 0, got 'ten'\n"


def test_roll_message_with_a_shallow_local_clone_reads_the_remote(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    """A shallow clone cannot lend history it does not have: the count is still right."""
    shutil.rmtree(workspace / "xla")
    git(workspace, "clone", "-q", "--depth=1", upstreams.url("xla"), "xla")
    shas = _three_commits(upstreams)

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert _move_lines(result.out) == _expected(shas, shown=3)


def test_roll_message_never_lazily_fetches_into_a_partial_local_clone(
    project: Path, workspace: Path, upstreams: Upstreams, packs: Path, cli
) -> None:
    """A blobless clone asked about a commit it lacks would fetch it (and its history) on
    the spot; roll leaves it alone and reads the remote, borrowing what the clone has."""
    git(upstreams.path("xla"), "config", "uploadpack.allowFilter", "true")
    shutil.rmtree(workspace / "xla")
    git(workspace, "clone", "-q", "--filter=blob:none", upstreams.url("xla"), "xla")
    pack_dir = workspace / "xla" / ".git" / "objects" / "pack"
    before = sorted(pack_dir.iterdir())
    shas = _three_commits(upstreams)
    sent_before = len(packs.read_text())

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert _move_lines(result.out) == _expected(shas, shown=3)
    assert sorted(pack_dir.iterdir()) == before
    assert "blob:none" not in packs.read_text()[sent_before:]  # no lazy fetch for the clone


def test_roll_message_over_smart_http_receives_commits_only(
    project: Path, workspace: Path, upstreams: Upstreams, git_http_server, cli
) -> None:
    """Against a real HTTP server: the same message with or without filter support, and the
    treeless fetch receives fewer bytes than the plain one a filter-less server answers."""
    url = git_http_server.url("xla")
    (project / PIN_FILE).write_text(
        (project / PIN_FILE).read_text().replace(upstreams.url("xla"), url)
    )
    shas = _three_commits(upstreams)
    shutil.rmtree(workspace / "xla")
    received = {}
    for filters in (False, True):
        git_http_server.set("xla", filters=filters)
        git_http_server.reset_counts()

        result = cli("roll", "nightly", "--dry-run", cwd=project)

        assert result.code == 0, result.err
        assert _move_lines(result.out) == _expected(shas, shown=3)
        received[filters] = git_http_server.bytes_sent["xla"]
    assert 0 < received[True] < received[False]


def test_bisected_roll_links_github_compare_page_to_the_commit_it_rolled_to(
    workspace: Path, upstreams: Upstreams, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`roll --verify --bisect` cuts xla short of its first bad commit: the link ends there."""
    github = "https://github.com/openxla/xla"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
    monkeypatch.setenv(
        "GIT_CONFIG_KEY_1", f"url.{upstreams.url('xla').removesuffix('.git')}.insteadOf"
    )
    monkeypatch.setenv("GIT_CONFIG_VALUE_1", github)
    git(workspace, "clone", "-q", upstreams.url(PROJECT), PROJECT)
    project = workspace / PROJECT
    text = (project / PIN_FILE).read_text().replace(upstreams.url("xla"), f"{github}.git")
    (project / PIN_FILE).write_text(text)
    assert cli("sync", cwd=project).code == 0
    old = load_pin_file(project / PIN_FILE).deps["xla"].rev
    good = upstreams.commit("xla", {"ok.cc": "ok"}, "xla: good")
    upstreams.commit("xla", {"BROKEN": "x"}, "xla: the bad one")

    result = cli(
        "roll", "nightly", "--verify", "test ! -e ../xla/BROKEN", "--bisect", "--json", cwd=project
    )

    assert result.code == 0, result.err
    (move,) = [m for m in result.json()["data"]["deps"] if m["name"] == "xla"]
    assert move["new"] == good
    assert move["compare"] == f"{github}/compare/{old}...{good}"
