"""Real bare "upstream" repos for tests, with verbs a scenario reads naturally with.

Built on the demo's fast-import writer (fixed dates: the same commits every run), so the
README demo and the tests exercise the same shapes. The commits that name no URL are built
once per test process (`Template`) and copied; the few that record the upstreams' URLs are
written into each copy, so a copy holds exactly the commits a fresh build there would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.demo.upstreams import FileContent, commit, init_bare, pin_upstreams, start_upstreams


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git in a test and return stripped stdout; failures fail the test loudly."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} in {cwd} failed: {done.stderr}")
    return done.stdout.strip()


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def is_detached(repo: Path) -> bool:
    return git(repo, "symbolic-ref", "-q", "HEAD", check=False) == ""


@dataclass(frozen=True)
class Template:
    """The upstreams' URL-free commits (`start_upstreams`), built once under `root`."""

    root: Path
    shas: Mapping[str, str]

    @classmethod
    def build(cls, root: Path) -> Template:
        return cls(root, start_upstreams(root))


class Upstreams:
    """The OpenXLA-shaped upstreams of the demo, owned by one test."""

    def __init__(self, root: Path, template: Template) -> None:
        self.root = root
        shutil.copytree(template.root, root, symlinks=True, dirs_exist_ok=True)
        self.urls = pin_upstreams(root, template.shas)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def url(self, name: str) -> str:
        return self.urls[name]

    def head(self, name: str, branch: str = "main") -> str:
        return git(self.path(name), "rev-parse", f"refs/heads/{branch}")

    def commit(
        self,
        name: str,
        files: Mapping[str, FileContent],
        message: str = "change",
        branch: str = "main",
        parent: str | None = None,
    ) -> str:
        return commit(self.path(name), files, message, branch=branch, parent=parent)

    def create(self, name: str, files: Mapping[str, FileContent] | None = None) -> str:
        """A new bare repo with one commit; returns its URL."""
        self.urls[name] = init_bare(self.path(name))
        self.commit(name, files or {"README.md": f"{name}\n"}, f"{name}: start")
        return self.urls[name]

    def fork(self, name: str) -> str:
        """A bare copy standing for the user's fork on a hosting site; returns its URL."""
        fork = self.root / "forks" / f"{name}.git"
        fork.parent.mkdir(exist_ok=True)
        git(self.root, "clone", "--quiet", "--bare", str(self.path(name)), str(fork))
        return fork.resolve().as_uri()

    def break_url(self, name: str) -> None:
        """Make the upstream unreachable (as if the server were down)."""
        shutil.move(self.path(name), self.root / f"{name}.git.gone")

    def restore_url(self, name: str) -> None:
        shutil.move(self.root / f"{name}.git.gone", self.path(name))
