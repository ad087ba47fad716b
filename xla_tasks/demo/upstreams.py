"""The offline demo: local "upstream" repos shaped like the OpenXLA set, then the real tasks.

`build_upstreams` writes bare repos with `git fast-import` (fixed dates, so the same commits
every time); the tests copy what `start_upstreams` builds once and add `pin_upstreams`.
Shape: a leaf project `openxla-pjrt-plugin` pins iree (with a submodule), jax and xla;
jax pins an older xla, so sync shows how the pin closest to the project wins.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.tomlfile import dump_toml

BASE_DATE = 1767225600  # 2026-01-01T00:00:00Z
AUTHOR = "xla-tasks demo <demo@example.com>"


@dataclass(frozen=True, slots=True)
class Gitlink:
    """A submodule entry in a tree: the commit the superproject records."""

    sha: str


FileContent = str | Gitlink | None  # None deletes the file


def _git(args: list[str], cwd: Path, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode().strip()}")
    return done.stdout.decode().strip()


def init_bare(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    _git(["init", "--quiet", "--bare", "--initial-branch=main", str(path)], path.parent)
    return _url(path)


def _url(path: Path) -> str:
    return path.resolve().as_uri()


def commit(
    bare: Path,
    files: Mapping[str, FileContent],
    message: str,
    branch: str = "main",
    parent: str | None = None,
) -> str:
    """Add one commit on `branch` (child of its tip, or of `parent`) with these file changes."""
    tip = (
        parent or _git(["rev-parse", "--verify", "-q", f"refs/heads/{branch}"], bare)
        if _has_branch(bare, branch) or parent
        else None
    )
    count = int(_git(["rev-list", "--count", "--all"], bare) or 0) if tip else 0
    when = f"{BASE_DATE + 3600 * count} +0000"
    body = message.encode()
    stream = [
        f"commit refs/heads/{branch}\n".encode(),
        f"author {AUTHOR} {when}\ncommitter {AUTHOR} {when}\n".encode(),
        f"data {len(body)}\n".encode(),
        body,
        b"\n",
    ]
    if tip:
        stream.append(f"from {tip}\n".encode())
    for path, content in files.items():
        if content is None:
            stream.append(f"D {path}\n".encode())
        elif isinstance(content, Gitlink):
            stream.append(f"M 160000 {content.sha} {path}\n".encode())
        else:
            data = content.encode()
            stream += [f"M 100644 inline {path}\ndata {len(data)}\n".encode(), data, b"\n"]
    _git(["fast-import", "--quiet", "--date-format=raw", "--force"], bare, b"".join(stream))
    return _git(["rev-parse", f"refs/heads/{branch}"], bare)


def _has_branch(bare: Path, branch: str) -> bool:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
        cwd=bare,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def pin_file_text(
    pins: Mapping[str, tuple[str, str, bool]], schedules: Mapping[str, object] | None = None
) -> str:
    """A canonical sync_deps.toml for `name -> (rev, url, submodules)`."""
    deps = {
        name: {"rev": rev, "url": url, "branch": "main", "submodules": subs}
        for name, (rev, url, subs) in sorted(pins.items())
    }
    data: dict[str, object] = {"schema": 1, "deps": deps}
    if schedules:
        data["schedules"] = dict(schedules)
    return dump_toml(data)


UPSTREAMS = ("xla", "stablehlo", "iree-stablehlo", "iree", "jax", "openxla-pjrt-plugin")


def build_upstreams(root: Path, recorded: Mapping[str, str] | None = None) -> dict[str, str]:
    """Create the demo's bare upstreams under `root`; return name -> file:// URL.

    `recorded`: the URLs the commits write into pin files and .gitmodules (default those
    file:// URLs). Stable ones (the README test's GitHub URLs, which git's
    `url.<local>.insteadOf` sends here) give the same commits whatever `root` is."""
    return pin_upstreams(root, start_upstreams(root), recorded)


def start_upstreams(root: Path) -> dict[str, str]:
    """The part of the upstreams that names no URL, so a copy of it anywhere holds the same
    commits (the tests build it once and copy it); returns the shas `pin_upstreams` needs."""
    for name in UPSTREAMS:
        init_bare(root / f"{name}.git")
    xla1 = commit(root / "xla.git", {"README.md": "XLA\n", "xla/BUILD": "# v1\n"}, "xla: start")
    commit(root / "xla.git", {"xla/BUILD": "# v2\n"}, "xla: second")
    xla3 = commit(root / "xla.git", {"xla/service.cc": "int main() {}\n"}, "xla: third")
    hlo = commit(root / "stablehlo.git", {"README.md": "StableHLO\n"}, "stablehlo: start")
    # IREE's submodule is its own fork (iree-org/stablehlo), as in the real IREE: not the
    # registered stablehlo, so it is iree's submodule and not a dep of the workspace.
    commit(root / "iree-stablehlo.git", {"README.md": "StableHLO\n"}, "stablehlo: start")
    commit(root / "iree.git", {"README.md": "IREE\n"}, "iree: start")
    return {"xla1": xla1, "xla3": xla3, "stablehlo": hlo}


def pin_upstreams(
    root: Path, start: Mapping[str, str], recorded: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Add the commits that record the upstreams' URLs (iree's submodule, the pin files) to
    what `start_upstreams` made under `root`; return name -> file:// URL. `recorded`: as
    for `build_upstreams`."""
    found = {name: _url(root / f"{name}.git") for name in UPSTREAMS}
    urls = dict(recorded or found)
    iree = commit(
        root / "iree.git",
        {
            ".gitmodules": '[submodule "third_party/stablehlo"]\n\tpath = third_party/stablehlo\n'
            f"\turl = {urls['iree-stablehlo']}\n",
            "third_party/stablehlo": Gitlink(start["stablehlo"]),
        },
        "iree: add stablehlo submodule",
    )
    jax_pins = pin_file_text({"xla": (start["xla1"], urls["xla"], False)})
    jax = commit(
        root / "jax.git", {"README.md": "JAX\n", "sync_deps.toml": jax_pins}, "jax: pin xla"
    )
    plugin_pins = pin_file_text(
        {
            "iree": (iree, urls["iree"], True),
            "jax": (jax, urls["jax"], False),
            "xla": (start["xla3"], urls["xla"], False),
        },
        schedules={"nightly": {"deps": ["iree", "jax", "xla"]}},
    )
    commit(
        root / "openxla-pjrt-plugin.git",
        {"README.md": "OpenXLA PJRT plugin\n", "sync_deps.toml": plugin_pins},
        "plugin: pin iree, jax, xla",
    )
    return found


def registry_text(urls: Mapping[str, str]) -> str:
    repos: dict[str, dict[str, object]] = {
        "xla": {"url": urls["xla"]},
        "stablehlo": {"url": urls["stablehlo"]},
        "jax": {"url": urls["jax"], "deps": ["xla"]},
        "iree": {"url": urls["iree"], "submodules": True},
        "openxla-pjrt-plugin": {"url": urls["openxla-pjrt-plugin"], "deps": ["iree", "jax", "xla"]},
    }
    return dump_toml({"schema": 1, "repos": repos})


LOCAL_SUBMODULES_NOTE = (
    "git refuses file:// submodules by default (protocol.file.allow); the demo allows them "
    "for its own git commands only, through GIT_CONFIG_* variables of its process, not in "
    "your git config. With your own local upstreams: "
    "git config --global protocol.file.allow always"
)


def allow_local_submodules() -> None:
    """The demo's submodules live on file:// URLs, which git refuses by default since 2.38.1:
    allowed for this process and its children only (LOCAL_SUBMODULES_NOTE says so)."""
    count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    os.environ[f"GIT_CONFIG_KEY_{count}"] = "protocol.file.allow"
    os.environ[f"GIT_CONFIG_VALUE_{count}"] = "always"
    os.environ["GIT_CONFIG_COUNT"] = str(count + 1)
