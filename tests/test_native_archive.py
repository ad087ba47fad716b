"""The `.tar.gz` archive hash computed locally, as GitHub builds it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from upstreams import git

from xla_tasks.pins.native.archive_hash import ArchiveHashError, archive_sha256


def small_repo(root: Path) -> tuple[Path, str]:
    repo = root / "xla"
    git(root, "init", "-q", str(repo))
    (repo / "xla" / "service").mkdir(parents=True)
    (repo / "xla" / "service" / "a.cc").write_text("int main() { return 0; }\n" * 50)
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("run.sh")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    return repo, git(repo, "rev-parse", "HEAD")


def shell_hash(repo: Path, sha: str, prefix: str) -> str:
    done = subprocess.run(
        ["sh", "-c", f"git archive --format=tar --prefix={prefix} {sha} | gzip -n | sha256sum"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[0]


def test_archive_hash_is_that_of_git_archive_piped_to_gzip(tmp_path: Path) -> None:
    repo, sha = small_repo(tmp_path)
    prefix = f"xla-{sha}/"
    assert archive_sha256(repo, sha, prefix) == shell_hash(repo, sha, prefix)


def test_archive_hash_from_a_bare_clone_ignores_the_users_tar_umask(tmp_path: Path) -> None:
    repo, sha = small_repo(tmp_path)
    bare = tmp_path / "xla.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    expected = shell_hash(repo, sha, f"xla-{sha}/")
    git(bare, "config", "tar.umask", "0077")
    assert archive_sha256(bare, sha, f"xla-{sha}/") == expected


def test_a_commit_the_clone_lacks_is_a_clear_error(tmp_path: Path) -> None:
    repo, _ = small_repo(tmp_path)
    missing = "1" * 40
    with pytest.raises(ArchiveHashError, match=f"git archive of {missing} in .* failed: fatal"):
        archive_sha256(repo, missing, f"xla-{missing}/")


def test_gzip_missing_from_path_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, sha = small_repo(tmp_path)
    only_git = tmp_path / "bin"
    only_git.mkdir()
    os.symlink(shutil.which("git") or "git", only_git / "git")
    monkeypatch.setenv("PATH", str(only_git))
    with pytest.raises(ArchiveHashError, match="gzip not found on PATH"):
        archive_sha256(repo, sha, f"xla-{sha}/")
