"""The git index read in pure Python (v2, v3, v4, worktrees), against `git ls-files --stage`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from upstreams import git

from xla_tasks.engine.disk import git_dir_of
from xla_tasks.errors import ConfigError
from xla_tasks.pins.native.find import find_native_pins
from xla_tasks.pins.native.gitindex import read_gitlinks, read_index

SUB_URL = "https://github.com/iree-org/llvm-project.git"


def make_repo(root: Path, long_path: bool = True) -> tuple[Path, str]:
    """A repo with files in folders, two gitlinks, an intent-to-add file and a very long path."""
    repo = root / "repo"
    git(root, "init", "-q", str(repo))
    for number in range(40):
        path = repo / f"dir{number % 4}" / f"file{number}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"{number}\n")
    (repo / ".gitmodules").write_text(
        f'[submodule "llvm"]\n\tpath = third_party/llvm-project\n\turl = {SUB_URL}\n'
        '[submodule "rel"]\n\tpath = third_party/rel\n\turl = ../rel.git\n'
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "files")
    sha = git(repo, "rev-parse", "HEAD")
    blob = git(repo, "rev-parse", "HEAD:dir0/file0.txt")
    for path in ("third_party/llvm-project", "third_party/rel"):
        git(repo, "update-index", "--add", "--cacheinfo", f"160000,{sha},{path}")
    if long_path:  # over 4095 bytes: the entry's name length reads 0xFFF
        path = "/".join(["d" * 200] * 22) + "/long.txt"
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    (repo / "new.txt").write_text("new\n")
    git(repo, "add", "-N", "new.txt")  # intent-to-add: an extended flag in v3
    return repo, sha


def ls_files_stage(repo: Path) -> list[tuple[int, str, int, str]]:
    out = subprocess.run(
        ["git", "ls-files", "--stage", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout.decode()
    rows = []
    for entry in out.split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            mode, oid, stage = meta.split()
            rows.append((int(mode, 8), oid, int(stage), path))
    return rows


@pytest.mark.parametrize("version", [2, 3, 4])
def test_index_entries_match_git_ls_files(tmp_path: Path, version: int) -> None:
    repo, sha = make_repo(tmp_path)
    git(repo, "update-index", "--index-version", str(version))
    entries = read_index(repo)
    assert entries is not None
    assert [(e.mode, e.oid, e.stage, e.path) for e in entries] == ls_files_stage(repo)
    assert read_gitlinks(str(repo / ".git")) == {
        "third_party/llvm-project": sha,
        "third_party/rel": sha,
    }


def test_gitlinks_through_a_worktree_gitdir_file(tmp_path: Path) -> None:
    repo, sha = make_repo(tmp_path, long_path=False)
    git(repo, "commit", "-qm", "links")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    assert (tmp_path / "wt" / ".git").is_file()
    assert read_gitlinks(git_dir_of(str(tmp_path / "wt")) or "") == {
        "third_party/llvm-project": sha,
        "third_party/rel": sha,
    }


def test_submodule_pins_take_their_url_from_gitmodules(tmp_path: Path) -> None:
    repo, sha = make_repo(tmp_path)
    pins = {pin.file: pin for pin in find_native_pins(repo)}
    assert set(pins) == {"third_party/llvm-project", "third_party/rel"}
    llvm, rel = pins["third_party/llvm-project"], pins["third_party/rel"]
    assert (llvm.format, llvm.commit, llvm.url) == ("gitlink", sha, SUB_URL)
    assert rel.url == "../rel.git"  # relative to the project's remote: kept as given


def corrupt(repo: Path, at: int, value: bytes) -> None:
    index = repo / ".git" / "index"
    data = bytearray(index.read_bytes())
    data[at : at + len(value)] = value
    index.write_bytes(bytes(data))


def test_a_corrupt_index_is_declined_and_git_says_why(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    corrupt(repo, 200, b"\x00\x00\x00")
    assert read_gitlinks(str(repo / ".git")) is None
    with pytest.raises(ConfigError, match=r"\.git/index: cannot read the submodule commits: "):
        find_native_pins(repo)


def test_an_unknown_index_version_is_declined(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    corrupt(repo, 4, (5).to_bytes(4, "big"))
    assert read_index(repo) is None


def test_a_truncated_index_is_declined(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    index = repo / ".git" / "index"
    index.write_bytes(index.read_bytes()[:300])
    assert read_index(repo) is None


def test_a_split_index_is_declined_and_pins_come_from_git(tmp_path: Path) -> None:
    repo, sha = make_repo(tmp_path)
    git(repo, "update-index", "--split-index")
    assert read_index(repo) is None
    assert {pin.file: pin.commit for pin in find_native_pins(repo)} == {
        "third_party/llvm-project": sha,
        "third_party/rel": sha,
    }


def test_a_gitmodules_outside_a_checkout_pins_nothing(tmp_path: Path) -> None:
    project = tmp_path / "export"
    project.mkdir()
    (project / ".gitmodules").write_text(f'[submodule "s"]\n\tpath = s\n\turl = {SUB_URL}\n')
    assert find_native_pins(project) == []
