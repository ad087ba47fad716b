"""Real trees (contract 7.2): clones at the pin, nested layouts that converge, error lines
that keep git's cause, and submodules that a failed run left behind, with real git and the
smart-HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from gitserver import GitHttpServer
from pin_setup import commit_local
from syncing import demo_pins, nested_world, pinned_project
from upstreams import Upstreams, git, head, is_detached

from xla_tasks.demo.upstreams import Gitlink, commit, init_bare, pin_file_text
from xla_tasks.workspace.registry import WORKSPACE_FILE, preset_text

# --- error lines keep the cause --------------------------------------------------------


def _corrupt_upstream(root: Path, name: str) -> tuple[str, str]:
    """A bare repo served with one blob missing (loose objects, one deleted): a server
    that breaks mid-clone with `remote: fatal: unable to read ...`. Returns (head, blob)."""
    work = root / f"{name}-work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for number in range(3):
        (work / f"file{number}.c").write_text(f"int f{number};\n")
        git(work, "add", ".")
        git(work, "commit", "-q", "-m", f"change {number}")
    bare = root / f"{name}.git"
    git(root, "init", "-q", "--bare", str(bare))
    git(work, "push", "-q", str(bare), "main")  # few objects: stored loose, not packed
    blob = git(bare, "rev-parse", "main~1:file1.c")
    (bare / "objects" / blob[:2] / blob[2:]).unlink()
    return git(bare, "rev-parse", "main"), blob


def test_a_clone_the_server_breaks_names_the_servers_reason(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path, cli
) -> None:
    rev, blob = _corrupt_upstream(upstreams.root, "broken")
    project = pinned_project(
        tmp_path / "ws", {"broken": (rev, git_http_server.url("broken"), False)}
    )

    result = cli("sync", cwd=project)

    assert result.code == 1
    line = next(line for line in result.err.splitlines() if line.startswith("FAILED broken"))
    assert f"remote: fatal: unable to read {blob}" in line
    assert "aborting due to possible repository corruption on the remote side" in line
    assert "fatal: early EOF" in line
    assert not (project.parent / "broken").exists()


# --- nested layouts (pytorch-xla preset: torch_xla at pytorch/xla) ----------------------


@pytest.fixture
def pytorch_xla(upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path) -> Path:
    """A workspace made from the pytorch-xla preset, its URLs on the test server."""
    upstreams.create("pytorch", {"setup.py": "# pytorch\n"})
    upstreams.create("vision", {"setup.py": "# vision\n"})
    upstreams.create("torch_xla", {"README.md": "torch_xla\n"})
    upstreams.commit("torch_xla", {"setup.py": "# torch_xla\n"}, branch="master")
    text = preset_text("pytorch-xla")
    for name, real in (("pytorch", "pytorch/pytorch"), ("vision", "pytorch/vision")):
        text = text.replace(f"https://github.com/{real}.git", git_http_server.url(name))
    text = text.replace("https://github.com/pytorch/xla.git", git_http_server.url("torch_xla"))
    root = tmp_path / "pt"
    root.mkdir()
    (root / WORKSPACE_FILE).write_text(text)
    return root


def _failed_line(err: str, name: str) -> str:
    return next(line for line in err.splitlines() if line.startswith(f"FAILED {name}:"))


def test_nested_repo_is_skipped_when_its_container_fails_and_a_rerun_converges(
    pytorch_xla: Path, upstreams: Upstreams, git_http_server: GitHttpServer, cli
) -> None:
    git_http_server.set("pytorch", mode="refuse")

    failed = cli("checkout", "torch_xla", cwd=pytorch_xla)

    assert failed.code == 1
    assert _failed_line(failed.err, "pytorch")
    assert _failed_line(failed.err, "torch_xla") == (
        "FAILED torch_xla: skipped: it lives inside pytorch, which failed; "
        "run again once that one is cloned"
    )
    assert not (pytorch_xla / "pytorch").exists()  # neither a clone nor an empty folder
    git_http_server.set("pytorch", mode="serve")

    again = cli("checkout", "torch_xla", cwd=pytorch_xla)

    assert again.code == 0, again.err
    assert head(pytorch_xla / "pytorch") == upstreams.head("pytorch")
    assert head(pytorch_xla / "pytorch" / "xla") == upstreams.head("torch_xla", "master")
    assert head(pytorch_xla / "vision") == upstreams.head("vision")


def test_a_container_folder_holding_a_hand_made_clone_is_completed_around_it(
    pytorch_xla: Path, upstreams: Upstreams, git_http_server: GitHttpServer, cli
) -> None:
    """Users clone torch_xla first, by hand: it stays, with its commits and files."""
    nested = pytorch_xla / "pytorch" / "xla"
    git(pytorch_xla, "clone", "-q", git_http_server.url("torch_xla"), str(nested))
    mine = commit_local(nested, "my work")
    (nested / "scratch.txt").write_text("not committed\n")

    result = cli("checkout", "torch_xla", cwd=pytorch_xla)

    assert result.code == 0, result.err
    assert "pytorch: cloned" in result.out
    assert "moved in the clone(s) it already held: xla" in result.out
    assert "torch_xla: present, left as it is" in result.out
    assert head(pytorch_xla / "pytorch") == upstreams.head("pytorch")
    assert head(nested) == mine
    assert (nested / "scratch.txt").read_text() == "not committed\n"
    assert git(nested, "rev-parse", "--show-toplevel") == str(nested)
    assert not list(pytorch_xla.glob(".*.clone-*"))

    again = cli("checkout", "torch_xla", cwd=pytorch_xla)

    assert again.code == 0, again.err
    assert "pytorch: present, left as it is" in again.out
    assert head(nested) == mine


def test_a_completed_container_keeps_the_nested_clone_when_its_tree_has_that_path(
    pytorch_xla: Path, upstreams: Upstreams, git_http_server: GitHttpServer, cli
) -> None:
    upstreams.commit("pytorch", {"xla/README.md": "in pytorch's own tree\n"})
    nested = pytorch_xla / "pytorch" / "xla"
    git(pytorch_xla, "clone", "-q", git_http_server.url("torch_xla"), str(nested))
    mine = commit_local(nested, "my work")

    result = cli("checkout", "torch_xla", cwd=pytorch_xla)

    assert result.code == 1
    assert "holds a clone at xla, where its own tree has a file or folder" in _failed_line(
        result.err, "pytorch"
    )
    assert head(nested) == mine
    assert not (pytorch_xla / "pytorch" / ".git").exists()
    assert not list(pytorch_xla.glob(".*.clone-*"))


def test_a_container_folder_holding_a_file_is_refused_and_left_as_it_is(
    pytorch_xla: Path, git_http_server: GitHttpServer, cli
) -> None:
    nested = pytorch_xla / "pytorch" / "xla"
    git(pytorch_xla, "clone", "-q", git_http_server.url("torch_xla"), str(nested))
    (pytorch_xla / "pytorch" / "notes.txt").write_text("mine\n")

    result = cli("checkout", "torch_xla", cwd=pytorch_xla)

    assert result.code == 1
    assert "exists and is not a git repository; move it away" in _failed_line(result.err, "pytorch")
    assert (pytorch_xla / "pytorch" / "notes.txt").read_text() == "mine\n"
    assert (nested / ".git").is_dir()


def test_a_killed_completion_gives_the_nested_clone_back(
    pytorch_xla: Path, upstreams: Upstreams, git_http_server: GitHttpServer, cli
) -> None:
    """A run killed between moving torch_xla into pytorch's temporary clone and renaming
    that clone into place: the next run restores torch_xla, never deletes it."""
    stale = pytorch_xla / ".pytorch.clone-k1ll3d"
    git(pytorch_xla, "clone", "-q", git_http_server.url("pytorch"), str(stale))
    git(stale, "clone", "-q", git_http_server.url("torch_xla"), "xla")
    mine = commit_local(stale / "xla", "my work")
    record = {"folder": str(pytorch_xla / "pytorch"), "moved": ["xla"]}
    (stale / ".git" / "xla-tasks-moved-in.json").write_text(json.dumps(record))

    result = cli("checkout", "torch_xla", cwd=pytorch_xla)

    assert result.code == 0, result.err
    assert head(pytorch_xla / "pytorch" / "xla") == mine
    assert not stale.exists()


def test_a_failed_nested_clone_leaves_no_empty_container_folder(
    pytorch_xla: Path, upstreams: Upstreams, git_http_server: GitHttpServer, cli
) -> None:
    rev = upstreams.head("torch_xla", "master")
    project = pinned_project(
        pytorch_xla, {"torch_xla": (rev, git_http_server.url("torch_xla"), False)}
    )
    git_http_server.set("torch_xla", mode="reset")

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert _failed_line(result.err, "torch_xla")
    assert not (pytorch_xla / "pytorch").exists()


# --- a clone is done when its submodules are (issue 18, item 13) -------------------------


def test_checkout_finishes_the_submodules_a_failed_run_left_empty(
    upstreams: Upstreams, git_http_server: GitHttpServer, workspace: Path, cli
) -> None:
    """`checkout iree` failed in a submodule and kept the clone: the next checkout completes
    the submodule instead of calling the clone present with exit 0."""
    upstreams.create("sub", {"README.md": "the submodule\n"})
    modules = f'[submodule "sub"]\n\tpath = third_party/sub\n\turl = {git_http_server.url("sub")}\n'
    upstreams.commit(
        "iree", {".gitmodules": modules, "third_party/sub": Gitlink(upstreams.head("sub"))}
    )
    git_http_server.set("sub", mode="refuse")

    failed = cli("checkout", "iree", "--no-deps", cwd=workspace)

    assert failed.code == 1
    assert "submodule third_party/sub" in _failed_line(failed.err, "iree")
    iree = workspace / "iree"
    assert not (iree / "third_party" / "sub" / "README.md").exists()
    git_http_server.set("sub", mode="serve")

    again = cli("checkout", "iree", "--no-deps", cwd=workspace)

    assert again.code == 0, again.err
    assert "iree: present, its submodules completed" in again.out
    assert (iree / "third_party" / "sub" / "README.md").read_text() == "the submodule\n"
    assert head(iree) == upstreams.head("iree")

    third = cli("checkout", "iree", "--no-deps", cwd=workspace)

    assert third.code == 0, third.err
    assert "iree: present, left as it is" in third.out


# --- checkout --sync clones each dep once, at its pin -----------------------------------


def _repo_lines(out: str, name: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"{name}: ")]


def _lacks(repo: Path, sha: str) -> bool:
    """True when object `sha` is not in `repo`. A partial clone would fetch what it is asked
    for: there, only objects reachable from its refs are asked about, without fetching."""
    if git(repo, "config", "--get", "remote.origin.promisor", check=False) == "true":
        listed = git(repo, "rev-list", "--objects", "--missing=print", "--all").split()
        assert f"?{sha}" in listed or sha in listed, "ask only about objects a ref reaches"
        return f"?{sha}" in listed
    return subprocess.run(["git", "cat-file", "-e", sha], cwd=repo, check=False).returncode != 0


@pytest.mark.parametrize("mode", ["full", "blobless", "shallow"])
def test_checkout_sync_clones_each_dep_once_at_its_pin(
    mode: str, workspace: Path, upstreams: Upstreams, cli
) -> None:
    """xla's and iree's branches run far past the plugin's pins, as they always do: the
    tips are never checked out, nor the tip's submodule commit fetched."""
    pins = demo_pins(upstreams)
    for name in ("iree", "xla"):
        git(upstreams.path(name), "config", "uploadpack.allowFilter", "true")
    upstreams.commit("xla", {"xla/tip_only.cc": "int tip_only;\n"}, "xla: far ahead")
    tip_blob = git(upstreams.path("xla"), "rev-parse", "main:xla/tip_only.cc")
    new_hlo = upstreams.commit("stablehlo", {"README.md": "StableHLO, later\n"}, branch="next")
    upstreams.commit("iree", {"third_party/stablehlo": Gitlink(new_hlo)}, "iree: bump stablehlo")

    result = cli("checkout", "--sync", "--history", mode, "openxla-pjrt-plugin", cwd=workspace)

    assert result.code == 0, result.err
    for name in ("iree", "jax", "xla"):
        assert head(workspace / name) == pins[name][0], name
        assert is_detached(workspace / name)
        (line,) = _repo_lines(result.out, name)  # one line: cloned, never moved after
        assert line.startswith(f"{name}: cloned {pins[name][0][:12]}")
    sub = workspace / "iree" / "third_party" / "stablehlo"
    assert (sub / "README.md").read_text() == "StableHLO\n"
    assert _lacks(sub, new_hlo)
    if mode != "full":
        assert _lacks(workspace / "xla", tip_blob)
    if mode == "shallow":
        assert _lacks(workspace / "xla", upstreams.head("xla"))
    else:  # the branch is where the server's is, and there is a local branch to switch to
        xla_tip = upstreams.head("xla")
        assert git(workspace / "xla", "rev-parse", "refs/remotes/origin/main") == xla_tip
        assert git(workspace / "xla", "rev-parse", "refs/heads/main") == xla_tip


def test_checkout_sync_gives_pinned_clones_the_push_url_as_origin(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """checkout clones from `push_url` unless --ro; a dep cloned at its pin by --sync too."""
    fork = upstreams.fork("xla")
    text = (workspace / WORKSPACE_FILE).read_text()
    text = text.replace(
        f'url = "{upstreams.url("xla")}"', f'url = "{upstreams.url("xla")}"\npush_url = "{fork}"'
    )
    (workspace / WORKSPACE_FILE).write_text(text)

    result = cli("checkout", "--sync", "openxla-pjrt-plugin", cwd=workspace)

    assert result.code == 0, result.err
    xla = workspace / "xla"
    assert head(xla) == demo_pins(upstreams)["xla"][0]
    assert git(xla, "remote", "get-url", "origin") == fork
    again = cli("sync", cwd=workspace / "openxla-pjrt-plugin")
    assert again.code == 0, again.err
    assert "xla: already at pin" in again.out


@pytest.mark.parametrize("mode", ["full", "blobless"])
def test_a_pin_whose_branch_the_server_lacks_is_still_cloned(
    mode: str, upstreams: Upstreams, tmp_path: Path, cli
) -> None:
    """torch_xla's branch is master; a pin file that names none means main."""
    bare = upstreams.root / "tx.git"
    url = init_bare(bare)
    rev = commit(bare, {"setup.py": "# tx\n"}, "tx: start", branch="master")
    project = pinned_project(tmp_path / "ws", {"tx": (rev, url, False)})

    result = cli("sync", "--history", mode, cwd=project)

    assert result.code == 0, result.err
    assert head(project.parent / "tx") == rev
    assert f"no branch main at {url}: its default branch" in result.out


def test_checkout_sync_from_a_warm_cache_asks_pinned_deps_upstreams_nothing(
    upstreams: Upstreams, git_http_server: GitHttpServer, tmp_path: Path, cli
) -> None:
    """Only the named project, which has no pin, is asked for its branch tip."""
    pins = {
        name: (rev, git_http_server.url(name), subs)
        for name, (rev, _, subs) in demo_pins(upstreams).items()
    }
    upstreams.create("proj", {"sync_deps.toml": pin_file_text(pins)})
    for name in ("iree", "jax", "xla"):  # the branches run ahead of the pins
        upstreams.commit(name, {"ahead.txt": f"{name} moved on\n"}, f"{name}: ahead")
    registry = f'schema = 1\n[repos.proj]\nurl = "{git_http_server.url("proj")}"\n'
    cache = tmp_path / "cache"
    for number in (1, 2):
        root = tmp_path / f"ws{number}"
        root.mkdir()
        (root / WORKSPACE_FILE).write_text(registry)
        git_http_server.reset_counts()

        result = cli("checkout", "--sync", "--cache", str(cache), "proj", cwd=root)

        assert result.code == 0, result.err
        for name in ("iree", "jax", "xla"):
            assert head(root / name) == pins[name][0]
    assert {name for name, count in git_http_server.requests.items() if count} == {"proj"}


# --- moving a pin where one submodule moves touches that submodule only -------------------


def _worktrees_touched(trace: Path) -> set[str]:
    """The work trees git processes ran in, from trace2's `def_repo` events (repo 1: the
    process's own; git status also opens submodules' repos to read their HEAD, in-process)."""
    found = set()
    for path in trace.iterdir():
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "def_repo" and event.get("repo") == 1:
                found.add(str(Path(event["worktree"]).resolve()))
    return found


def test_moving_a_pin_where_one_submodule_moves_runs_git_in_that_submodule_only(
    upstreams: Upstreams, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    shas = nested_world(upstreams)
    other_next = upstreams.commit("other", {"next.c": "int next;\n"}, "other: next")
    moved = upstreams.commit("top", {"deps/other": Gitlink(other_next)}, "top: bump other")
    project = pinned_project(tmp_path / "ws", {"top": (shas["top"], upstreams.url("top"), True)})
    assert cli("sync", cwd=project).code == 0
    top = project.parent / "top"
    (top / "deps" / "mid" / "scratch.txt").write_text("untracked: not the tool's business\n")
    (project / "sync_deps.toml").write_text(
        pin_file_text({"top": (moved, upstreams.url("top"), True)})
    )
    trace = tmp_path / "trace"
    trace.mkdir()
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))

    result = cli("sync", cwd=project)
    monkeypatch.delenv("GIT_TRACE2_EVENT")

    assert result.code == 0, result.err
    assert "submodules: 1 updated, 2 already there" in result.out
    assert head(top / "deps" / "other") == other_next
    assert head(top / "deps" / "mid") == shas["mid"]
    assert head(top / "deps" / "mid" / "third_party" / "leaf") == shas["leaf"]
    assert _worktrees_touched(trace) == {
        str(top.resolve()),
        str((top / "deps" / "other").resolve()),
    }


def test_a_submodule_with_edits_is_not_moved_when_its_commit_changes(
    upstreams: Upstreams, tmp_path: Path, cli
) -> None:
    shas = nested_world(upstreams)
    other_next = upstreams.commit("other", {"other.c": "int other_next;\n"}, "other: next")
    moved = upstreams.commit("top", {"deps/other": Gitlink(other_next)}, "top: bump other")
    project = pinned_project(tmp_path / "ws", {"top": (shas["top"], upstreams.url("top"), True)})
    assert cli("sync", cwd=project).code == 0
    other = project.parent / "top" / "deps" / "other"
    (other / "other.c").write_text("my edit\n")
    (project / "sync_deps.toml").write_text(
        pin_file_text({"top": (moved, upstreams.url("top"), True)})
    )

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert "left submodule(s) with local changes as they are: deps/other" in result.out
    assert head(other) == shas["other"]
    assert (other / "other.c").read_text() == "my edit\n"


def test_a_moved_submodule_follows_its_new_url(upstreams: Upstreams, tmp_path: Path, cli) -> None:
    """The pin's .gitmodules points `other` somewhere else: its commit is only there."""
    shas = nested_world(upstreams)
    elsewhere = upstreams.fork("other")
    fork = Path(elsewhere.removeprefix("file://"))
    only_there = commit(fork, {"moved.c": "int moved;\n"}, "other: only in the new home")
    top_modules = (
        f'[submodule "mid"]\n\tpath = deps/mid\n\turl = {upstreams.url("mid")}\n'
        f'[submodule "other"]\n\tpath = deps/other\n\turl = {elsewhere}\n'
    )
    moved = upstreams.commit(
        "top", {".gitmodules": top_modules, "deps/other": Gitlink(only_there)}, "top: move other"
    )
    project = pinned_project(tmp_path / "ws", {"top": (shas["top"], upstreams.url("top"), True)})
    assert cli("sync", cwd=project).code == 0
    (project / "sync_deps.toml").write_text(
        pin_file_text({"top": (moved, upstreams.url("top"), True)})
    )

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    other = project.parent / "top" / "deps" / "other"
    assert head(other) == only_there
    assert git(other, "remote", "get-url", "origin") == elsewhere
