"""The pin readers' bounds: a FIFO or a huge file named like a pin file, pins read at a
commit with the disk's limits, the git dir found once, start-up without the native readers.

Commands that could hang run in a child process with a timeout: a hang fails the test
instead of stopping the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from native_project import JAX, XLA_COMMIT, make_project
from syncing import clone_project, repin
from upstreams import Upstreams, git, head

from xla_tasks.commands.sync import sync
from xla_tasks.errors import ConfigError
from xla_tasks.gitobjects import object_reader
from xla_tasks.pins.native.at_commit import CommitTree
from xla_tasks.pins.native.find import read_native_pins
from xla_tasks.pins.project import save_pin_files
from xla_tasks.pins.sync_deps_toml import load_pin_file
from xla_tasks.tomlfile import MAX_FILE_BYTES
from xla_tasks.workspace.settings import TaskOptions

HANG = 20  # seconds: far above any run here, below the per-test timeout


def xla_tasks(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`xla-tasks ARGS` in a child process that may not block (raises TimeoutExpired)."""
    return subprocess.run(
        [sys.executable, "-m", "xla_tasks", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )


# -- a FIFO or an oversized file named like a pin file ------------------------------------


def test_a_fifo_named_like_a_native_pin_file_is_passed_over(isolated_env: Path) -> None:
    """Copies of JAX's real pin files, plus a FIFO `WORKSPACE` and a FIFO
    `.github/ci_commit_pins/xla.txt`: never opened for a read that would wait for a
    writer; status and pin --check read the real files as before."""
    jax = make_project(isolated_env / "ws" / "jax", JAX)
    git(jax, "init", "-q")
    git(jax, "add", ".")
    git(jax, "commit", "-q", "-m", "jax")
    os.mkfifo(jax / "WORKSPACE")
    (jax / ".github" / "ci_commit_pins").mkdir(parents=True)
    os.mkfifo(jax / ".github" / "ci_commit_pins" / "xla.txt")

    shown = xla_tasks("status", cwd=jax)
    checked = xla_tasks("pin", "--check", cwd=jax)

    files = "MODULE.bazel, third_party/xla/revision.bzl"
    assert shown.returncode == 0, shown.stderr
    assert f"xla: missing, pinned at {XLA_COMMIT[:12]} (at xla; pinned by jax: {files})" in (
        shown.stdout
    )
    assert checked.returncode == 0, checked.stderr
    assert f"native pins agree: 1 dep(s) in {files}" in checked.stdout


@pytest.fixture
def project(workspace: Path, upstreams: Upstreams) -> Path:
    """The demo project cloned into a workspace, its sync_deps.py rendered beside the TOML."""
    project = clone_project(upstreams, workspace)
    save_pin_files(project, load_pin_file(project / "sync_deps.toml"))
    return project


def test_a_fifo_sync_deps_py_beside_the_toml_is_missing_not_a_hang(project: Path) -> None:
    script = project / "sync_deps.py"
    script.unlink()
    os.mkfifo(script)

    checked = xla_tasks("pin", "--check", cwd=project)
    shown = xla_tasks("status", "--json", cwd=project)

    assert checked.returncode == 1
    missing = f"{script} is missing (run `xla-tasks pin --from-toml` to generate it)"
    assert checked.stderr.strip().splitlines()[-1].endswith(missing)
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr


def test_a_sync_deps_py_over_4_mib_is_not_parsed_and_sync_refuses_it(project: Path) -> None:
    """Its rendering with 4 MiB of comments after it: too large to read as data, so it may
    hide other pins; sync refuses, status warns, pin --check fails, none reads past 4 MiB."""
    script = project / "sync_deps.py"
    padding = "# " + "x" * MAX_FILE_BYTES + "\n"
    script.write_text(script.read_text() + padding)

    synced = xla_tasks("sync", cwd=project)
    shown = xla_tasks("status", cwd=project)
    checked = xla_tasks("pin", "--check", cwd=project)

    unreadable = (
        f"{script} was rewritten by another tool and cannot be read as data "
        "(larger than 4 MiB, too large for a pin file or registry)"
    )
    assert synced.returncode == 1
    assert unreadable in synced.stderr
    assert not any((project.parent / name).exists() for name in ("iree", "jax", "xla"))
    assert shown.returncode == 0, shown.stderr
    assert f"warning: {unreadable}" in shown.stderr
    assert checked.returncode == 1
    assert unreadable in checked.stderr


def test_a_sync_deps_py_that_is_not_utf8_is_stale_not_a_traceback(project: Path) -> None:
    """Our rendering with a stray byte appended: the TOML's pins are used, with a warning
    (before, parsing the undecodable text raised UnicodeEncodeError)."""
    script = project / "sync_deps.py"
    script.write_bytes(script.read_bytes() + b"# \xff\n")

    shown = xla_tasks("status", cwd=project)
    checked = xla_tasks("pin", "--check", cwd=project)

    assert shown.returncode == 0, shown.stderr
    assert f"warning: {script} is stale: not the rendering of" in shown.stderr
    assert checked.returncode == 1
    assert "Traceback" not in shown.stderr + checked.stderr
    assert f"{script} is stale" in checked.stderr


# -- a dep's pin file read at its pinned commit: the disk's limits ------------------------


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("over 4 MiB", "larger than 4 MiB, too large for a pin file or registry"),
        ("not UTF-8", "cannot read: 'utf-8' codec can't decode byte 0xff in position "),
    ],
)
def test_a_dep_pin_file_at_its_pinned_commit_is_refused_as_on_disk(
    workspace: Path, upstreams: Upstreams, cli, kind: str, reason: str
) -> None:
    """jax's sync_deps.toml at the commit the project pins is too large, or not UTF-8: read
    from git's objects (jax checked out elsewhere) it is refused with the reason the same
    file gets on disk, named `FILE@<sha12>` (before: the blob was read whole, its bad bytes
    replaced, and the text parsed)."""
    project = clone_project(upstreams, workspace)
    valid = "schema = 1\n"
    data = (
        (valid + "# " + "x" * MAX_FILE_BYTES + "\n").encode()
        if kind == "over 4 MiB"
        else (valid.encode() + b"# \xff\n")
    )
    scratch = workspace.parent / "scratch"
    git(workspace.parent, "clone", "-q", upstreams.url("jax"), str(scratch))
    (scratch / "sync_deps.toml").write_bytes(data)
    git(scratch, "add", "sync_deps.toml")
    git(scratch, "commit", "-q", "-m", f"jax: a pin file {kind}")
    git(scratch, "push", "-q", "origin", "HEAD:main")
    odd = head(scratch)
    repin(project, upstreams, jax=odd)
    sync(project, TaskOptions())
    pin_file = workspace / "jax" / "sync_deps.toml"

    git(workspace / "jax", "checkout", "-q", "--detach", f"{odd}~1")
    at_commit = cli("status", "--check", cwd=project)
    git(workspace / "jax", "checkout", "-q", "--detach", odd)
    on_disk = cli("status", "--check", cwd=project)

    assert at_commit.code == 1
    assert f"jax: {pin_file}@{odd[:12]}: {reason}" in at_commit.err
    assert on_disk.code == 1
    assert f"jax: {pin_file}: {reason}" in on_disk.err


def test_a_link_at_a_commit_is_read_within_a_bound(tmp_path: Path) -> None:
    """A commit holding `MODULE.bazel` as a link whose target is 5000 bytes (no checkout
    can make one; git stores any blob): refused, its size asked before its bytes are read,
    like a pin file over 4 MiB."""
    repo = tmp_path / "xla"
    git(tmp_path, "init", "-q", str(repo))
    target = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=repo,
        input="a/" * 2500,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"120000,{target},MODULE.bazel")
    git(repo, "commit", "-q", "-m", "xla: a long link")
    commit = head(repo)

    with object_reader(repo, "xla") as objects, pytest.raises(ConfigError) as caught:
        read_native_pins(repo, tree=CommitTree(objects, commit, repo))

    limit = "is 5000 bytes; a link may hold 4096 bytes at most"
    assert str(caught.value) == f"{repo / 'MODULE.bazel'}@{commit[:12]}: {limit}"


# -- start-up ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["--list"]])
def test_help_and_list_do_not_load_the_native_pin_readers(args: list[str]) -> None:
    """The registry needs the pins' types, not their readers (~25 ms of imports)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xla_tasks", *args],
        capture_output=True,
        text=True,
        timeout=HANG,
        check=True,
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "xla_tasks.workspace.registry" in modules  # what pulled them in before
    assert not {name for name in modules if name.startswith("xla_tasks.pins.native")}
