"""The SHA-256 of GitHub's `/archive/<sha>.tar.gz`, computed from a local clone.

GitHub builds the file as `git archive --format=tar --prefix=REPO-<sha>/ <sha> | gzip -cn`
with GNU gzip; git's own `--format=tar.gz` and Python's gzip give other bytes. So: two
processes piped to each other (no shell), gzip's output streamed into hashlib in fixed
chunks (bounded memory), both exit codes checked. Settings that would change the tar bytes
on a user's machine (`tar.umask`, line-ending conversion) are pinned to git's defaults.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO

from xla_tasks.engine.process import GIT_COMMAND, git_env
from xla_tasks.errors import XlaTasksError
from xla_tasks.pins.native.model import COMMIT_RE

_CHUNK = 1 << 20
# What GitHub's servers run with; a user's config must not change the tar stream.
_ARCHIVE_CONFIG = ("-c", "tar.umask=0002", "-c", "core.autocrlf=false", "-c", "core.eol=lf")


class ArchiveHashError(XlaTasksError):
    """The archive could not be built: git or gzip failed, or gzip is missing."""


def archive_sha256(repo: Path, commit: str, prefix: str) -> str:
    """Hex SHA-256 of `git archive --format=tar --prefix=PREFIX COMMIT | gzip -cn`.

    `repo` is a work tree or a git dir holding the commit; `prefix` is GitHub's top folder,
    `REPO-<sha>/`.
    """
    if not COMMIT_RE.fullmatch(commit):
        raise ValueError(f"not a 40-hex commit: {commit!r}")
    if not prefix.endswith("/") or prefix.startswith(("/", "-")) or "\0" in prefix:
        raise ValueError(f"not an archive prefix like 'REPO-<sha>/': {prefix!r}")
    gzip = shutil.which("gzip")
    if gzip is None:
        raise ArchiveHashError("gzip not found on PATH: install GNU gzip to compute archive hashes")
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as git_err, tempfile.TemporaryFile() as gzip_err:
        try:
            archive = subprocess.Popen(
                [
                    *GIT_COMMAND,
                    *_ARCHIVE_CONFIG,
                    "archive",
                    "--format=tar",
                    f"--prefix={prefix}",
                    commit,
                ],
                cwd=repo,
                env=git_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=git_err,
            )
        except OSError as err:  # no git on PATH, or no such folder
            raise ArchiveHashError(f"cannot run git archive in {repo}: {err.strerror}") from None
        assert archive.stdout is not None
        try:
            compress = subprocess.Popen(
                [gzip, "-cn"], stdin=archive.stdout, stdout=subprocess.PIPE, stderr=gzip_err
            )
        except OSError:
            archive.kill()
            archive.wait()
            raise
        finally:
            archive.stdout.close()  # gzip holds it now; git sees EPIPE if gzip dies
        output = compress.stdout
        assert output is not None
        with output:
            for chunk in iter(lambda: output.read(_CHUNK), b""):
                digest.update(chunk)
        archive_code, gzip_code = archive.wait(), compress.wait()
        if archive_code != 0:
            raise ArchiveHashError(
                f"git archive of {commit} in {repo} failed: {_first_line(git_err)}"
            )
        if gzip_code != 0:
            raise ArchiveHashError(f"gzip failed: {_first_line(gzip_err)}")
    return digest.hexdigest()


def _first_line(stream: IO[bytes]) -> str:
    stream.seek(0)
    lines = [line.strip() for line in stream.read(4096).decode(errors="replace").splitlines()]
    return next((line for line in lines if line), "no message")
