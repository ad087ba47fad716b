"""Object reads through one GitPython `cat-file` per repo: what pin, roll and status show
from them, that they match git's own answers, and that they never fetch, leak a process,
cross threads or change the user's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pin_setup import commit_local, plugin_workspace
from syncing import PROJECT, clone_project, history, repin
from upstreams import Upstreams, git, head

from xla_tasks.commands.sync import sync
from xla_tasks.demo.upstreams import pin_file_text
from xla_tasks.engine.disk import has_object
from xla_tasks.errors import GitError
from xla_tasks.gitobjects import NotOnDisk, object_reader
from xla_tasks.workspace.settings import TaskOptions

REPO_ROOT = Path(__file__).resolve().parents[1]


def _commit_at(repo: Path, message: str, when: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    return commit_local(repo, message, file=f"{len(message)}.txt")


def _shown_by_git(repo: Path, sha: str) -> tuple[str, str]:
    date, _, subject = git(repo, "log", "-1", "--format=%cs%x00%s", sha).partition("\0")
    return date, subject


# --- what the reads return, against git's own answers ---------------------------------


def test_commit_date_and_subject_are_what_git_log_shows(
    tmp_path: Path, upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committer's own day (not UTC's) and the first paragraph on one line."""
    repo = tmp_path / "xla"
    git(tmp_path, "clone", "-q", upstreams.url("xla"), str(repo))
    late = _commit_at(
        repo, "xla: late\nfix, wrapped  \n\nbody", "2026-01-01T23:30-05:00", monkeypatch
    )
    early = _commit_at(repo, "xla: early", "2026-03-01T00:30+09:00", monkeypatch)
    raw = upstreams.commit("xla", {"x": "1"}, "\n\n  xla: after blank lines  \nnext\n\nbody")
    git(repo, "fetch", "-q", "origin")

    with object_reader(repo, "xla") as objects:
        shown = {sha: objects.commit(sha) for sha in (late, early, raw)}

    assert (shown[late].date, shown[late].subject) == ("2026-01-01", "xla: late fix, wrapped")
    assert (shown[early].date, shown[early].subject) == ("2026-03-01", "xla: early")
    for sha, info in shown.items():
        assert (info.date, info.subject) == _shown_by_git(repo, sha)
    assert shown[early].parents == (late,)


def test_log_counts_and_lists_like_rev_list_on_lines_merges_and_diverged_ranges(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    repo = tmp_path / "xla"
    git(tmp_path, "clone", "-q", upstreams.url("xla"), str(repo))
    base = head(repo)
    line = [commit_local(repo, f"xla: line {i}", file=f"l{i}.txt") for i in range(5)]
    git(repo, "checkout", "-q", "-b", "side", base)
    side = [commit_local(repo, f"xla: side {i}", file=f"s{i}.txt") for i in range(2)]
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "xla: merge side", "side")
    merge = head(repo)
    root = history(upstreams, "xla")[0]
    ranges = [(base, line[-1]), (line[1], line[3]), (base, merge), (side[-1], line[-1])]
    ranges += [(root, merge), (merge, merge)]

    with object_reader(repo, "xla") as objects:
        for old, new in ranges:
            listed = git(repo, "rev-list", f"{old}..{new}").split()
            for limit in (0, 2, 10):
                found = objects.log(old, new, limit)
                assert found.count == len(listed), (old, new, limit)
                assert [c.sha for c in found.newest] == listed[:limit]
                assert [c.subject for c in found.newest] == [
                    _shown_by_git(repo, sha)[1] for sha in listed[:limit]
                ]


def test_file_and_gitlinks_at_a_commit_that_is_not_checked_out(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    """IREE pins stablehlo as a gitlink: read at an older commit, after it moved on."""
    iree = upstreams.head("iree")
    pinned = git(upstreams.path("iree"), "rev-parse", f"{iree}:third_party/stablehlo")
    newer = upstreams.commit("stablehlo", {"README.md": "v2\n"}, "stablehlo: v2")
    upstreams.commit("iree", {"third_party/stablehlo": None, "README.md": "moved\n"}, "iree: drop")
    repo = tmp_path / "iree"
    git(tmp_path, "clone", "-q", upstreams.url("iree"), str(repo))

    with object_reader(repo, "iree") as objects:
        gitmodules = objects.file_at(iree, ".gitmodules")
        links = objects.gitlinks_at(iree, ["third_party/stablehlo", "README.md", "no/such"])
        assert objects.file_at(iree, "README.md") == "IREE\n"
        assert objects.file_at(head(repo), "README.md") == "moved\n"
        assert objects.file_at(iree, "third_party") is None  # a folder
        assert objects.file_at(iree, "third_party/stablehlo") is None  # a gitlink
        assert objects.file_at(iree, "README.md/x") is None
        assert objects.file_at(iree, "no/such/file") is None
        assert objects.gitlinks_at(head(repo), ["third_party/stablehlo"]) == {}

    assert "path = third_party/stablehlo" in str(gitmodules)
    assert links == {"third_party/stablehlo": pinned}
    assert pinned != newer


def test_a_bad_object_name_is_one_line_naming_the_repo_and_leaves_no_process(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    repo = tmp_path / "xla"
    git(tmp_path, "clone", "-q", upstreams.url("xla"), str(repo))
    tree = git(repo, "rev-parse", "HEAD^{tree}")

    with object_reader(repo, "xla") as objects:
        with pytest.raises(GitError, match=r"^xla: read commit [0-9a-f]{12} failed: .* a tree"):
            objects.commit(tree)
        with pytest.raises(NotOnDisk, match=r"^xla: read commit 1111.* not on disk"):
            objects.commit("1" * 40)
        with pytest.raises(GitError, match="not a full commit SHA"):
            objects.commit("HEAD")
        assert objects.commit(head(repo)).subject == "xla: third"  # still reading after errors
    # the autouse fixture checks that no `git cat-file` outlived the block


def test_a_folder_named_like_a_variable_is_read_as_named(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    repo = tmp_path / "$HOME" / "xla"
    repo.parent.mkdir()
    git(tmp_path, "clone", "-q", upstreams.url("xla"), str(repo))

    with object_reader(repo, "xla") as objects:
        assert objects.commit(head(repo)).subject == "xla: third"


def test_a_reader_refuses_a_second_thread(tmp_path: Path, upstreams: Upstreams) -> None:
    repo = tmp_path / "xla"
    git(tmp_path, "clone", "-q", upstreams.url("xla"), str(repo))
    errors: list[BaseException] = []

    with object_reader(repo, "xla") as objects:
        objects.commit(head(repo))
        worker = threading.Thread(target=lambda: _read_into(objects, head(repo), errors))
        worker.start()
        worker.join()

    assert [type(e) for e in errors] == [RuntimeError]
    assert "one thread only" in str(errors[0])


def _read_into(objects, sha: str, errors: list[BaseException]) -> None:  # type: ignore[no-untyped-def]
    try:
        objects.commit(sha)
    except BaseException as err:  # the test inspects it
        errors.append(err)


# --- never a fetch in a partial clone ----------------------------------------------------


def _blobless(tmp_path: Path, upstreams: Upstreams, name: str) -> Path:
    git(upstreams.path(name), "config", "uploadpack.allowFilter", "true")
    repo = tmp_path / f"{name}-blobless"
    git(tmp_path, "clone", "-q", "--filter=blob:none", upstreams.url(name), str(repo))
    return repo


def _packs(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / ".git" / "objects" / "pack").iterdir())


def test_reads_in_a_blobless_clone_never_fetch_a_missing_blob(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    """xla/BUILD of the first commit is not in a blobless clone of main: reading it must not
    bring it (as `cat-file` would), not even when the disk check is bypassed."""
    repo = _blobless(tmp_path, upstreams, "xla")
    first, _, third = history(upstreams, "xla")
    blob = git(upstreams.path("xla"), "rev-parse", f"{first}:xla/BUILD")
    git_dir = str(repo / ".git")
    assert has_object(git_dir, blob) is False
    packs = _packs(repo)

    with object_reader(repo, "xla") as objects:
        assert objects.commit(first).subject == "xla: start"  # commits are all here
        assert objects.log(first, third, 5).count == 2
        assert objects.file_at(third, "xla/service.cc") == "int main() {}\n"  # checked out
        with pytest.raises(NotOnDisk, match=rf"^xla: read xla/BUILD at {first[:12]} failed"):
            objects.file_at(first, "xla/BUILD")
        objects._partial = False  # as if the disk check were wrong: git itself must not fetch
        with pytest.raises(GitError):
            objects.file_at(first, "xla/BUILD")

    assert has_object(git_dir, blob) is False
    assert _packs(repo) == packs


# --- what users see ----------------------------------------------------------------------


def test_pin_line_shows_the_committers_day_and_the_whole_subject(
    workspace: Path, upstreams: Upstreams, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = plugin_workspace(workspace, upstreams)
    assert cli("pin", cwd=project).code == 0
    old = head(workspace / "xla")
    new = _commit_at(
        workspace / "xla", "xla: fix\nthe build\n\nwhy", "2026-02-03T22:00-08:00", monkeypatch
    )

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert f"xla: {old[:12]} -> {new[:12]} (2026-02-03 xla: fix the build)" in result.out


def test_roll_message_counts_merged_commits_and_lists_the_newest(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    for name in (PROJECT, "iree", "jax", "xla"):
        git(workspace, "clone", "-q", upstreams.url(name), name)
    xla = workspace / "xla"
    old = head(xla)
    commit_local(xla, "xla: on main")
    git(xla, "checkout", "-q", "-b", "feature", old)
    commit_local(xla, "xla: feature 1", file="f1.txt")
    commit_local(xla, "xla: feature 2", file="f2.txt")
    git(xla, "checkout", "-q", "main")
    git(xla, "merge", "-q", "--no-ff", "-m", "xla: merge feature", "feature")
    git(xla, "push", "-q", "origin", "main")
    listed = git(xla, "rev-list", f"{old}..main").split()

    result = cli("roll", "nightly", "--log-limit", "3", cwd=workspace / PROJECT)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    start = lines.index(f"- xla: {old[:12]}..{listed[0][:12]} (4 commits)")
    subjects = [_shown_by_git(xla, sha)[1] for sha in listed[:3]]
    assert lines[start + 1 : start + 5] == [
        *(f"  {sha[:12]} {subject}" for sha, subject in zip(listed, subjects, strict=False)),
        "  and 1 more",
    ]


def _jax_pins_extra(upstreams: Upstreams) -> tuple[str, str]:
    """jax: a commit pinning a new repo `extra`, then one dropping its sync_deps.toml;
    returns (pinned, later)."""
    extra_url = upstreams.create("extra")
    pins = {"extra": (upstreams.head("extra"), extra_url, False)}
    pinned = upstreams.commit("jax", {"sync_deps.toml": pin_file_text(pins)}, "jax: pin extra")
    later = upstreams.commit("jax", {"sync_deps.toml": None}, "jax: no pins")
    return pinned, later


def _line(out: str, name: str) -> str | None:
    return next((line for line in out.splitlines() if line.startswith(f"{name}: ")), None)


def test_status_reads_a_deps_pins_at_its_pinned_commit_not_at_its_head(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """jax's HEAD moved past its pin (and has no pin file): extra's pin comes from jax's
    pinned commit."""
    project = clone_project(upstreams, workspace)
    pinned, later = _jax_pins_extra(upstreams)
    repin(project, upstreams, jax=pinned)
    assert sync(project, TaskOptions()).ok
    git(workspace / "jax", "fetch", "-q", "origin")
    git(workspace / "jax", "checkout", "-q", "--detach", later)

    result = cli("status", cwd=project)

    assert result.code == 0, result.err
    assert f"NOT at pin (pin -> HEAD) {pinned[:12]} -> {later[:12]}" in str(
        _line(result.out, "jax")
    )
    assert _line(result.out, "extra") == (
        f"extra: detached, at pin {upstreams.head('extra')[:12]} (at extra; pinned by jax)"
    )


def test_status_in_a_blobless_dep_does_not_fetch_its_pinned_pin_file(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """A blobless jax on `later` lacks the pinned commit's sync_deps.toml: status reports
    without it, offline."""
    project = clone_project(upstreams, workspace)
    pinned, later = _jax_pins_extra(upstreams)
    repin(project, upstreams, jax=pinned)
    for name in ("iree", "xla", "extra"):
        git(workspace, "clone", "-q", upstreams.url(name), name)
    jax = _blobless(workspace, upstreams, "jax")
    jax.rename(workspace / "jax")
    blob = git(upstreams.path("jax"), "rev-parse", f"{pinned}:sync_deps.toml")
    git_dir = str(workspace / "jax" / ".git")
    assert has_object(git_dir, blob) is False
    packs = _packs(workspace / "jax")

    result = cli("status", cwd=project)

    assert result.code == 0, result.err
    assert f"NOT at pin (pin -> HEAD) {pinned[:12]} -> {later[:12]}" in str(
        _line(result.out, "jax")
    )
    assert has_object(git_dir, blob) is False
    assert _packs(workspace / "jax") == packs


# --- GitPython's import and the user's environment ----------------------------------------

_PROBE = """
import json, os, sys
from pathlib import Path
from xla_tasks.gitobjects import object_reader
from xla_tasks.errors import XlaTasksError
before = dict(os.environ)
try:
    with object_reader(Path(sys.argv[1]), "xla") as objects:
        subject = objects.commit(sys.argv[2]).subject
except XlaTasksError as err:
    subject = "error: " + str(err)
print(json.dumps({"subject": subject, "same_env": dict(os.environ) == before,
                  "gitpython": "git" in sys.modules}))
"""


def _probe(repo: Path, sha: str, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(repo), sha],
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_gitpython_loads_without_touching_the_environment_and_ignores_a_hooks_git_dir(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    """Run from a hook, GIT_DIR & co. name another repo: reads still come from this one."""
    repo = tmp_path / "xla"
    git(tmp_path, "clone", "-q", upstreams.url("xla"), str(repo))
    decoy = tmp_path / "jax"
    git(tmp_path, "clone", "-q", upstreams.url("jax"), str(decoy))
    hook_env = {
        "GIT_DIR": str(decoy / ".git"),
        "GIT_WORK_TREE": str(decoy),
        "GIT_INDEX_FILE": str(decoy / ".git" / "index"),
        "GIT_OBJECT_DIRECTORY": str(decoy / ".git" / "objects"),
        "GIT_COMMON_DIR": str(decoy / ".git"),
        "GIT_PREFIX": "sub/",
    }

    found = _probe(repo, head(repo), {**os.environ, **hook_env})

    assert found == {"subject": "xla: third", "same_env": True, "gitpython": True}


def test_without_git_a_read_is_one_line_saying_so(tmp_path: Path, upstreams: Upstreams) -> None:
    repo = tmp_path / "xla"
    git(tmp_path, "clone", "-q", upstreams.url("xla"), str(repo))

    found = _probe(repo, head(repo), {**os.environ, "PATH": str(tmp_path / "empty")})

    assert found["subject"] == (
        "error: git not found on PATH (install git, or set GIT_PYTHON_GIT_EXECUTABLE to its path)"
    )
    assert found["same_env"] is True
