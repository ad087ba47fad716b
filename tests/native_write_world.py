"""Local upstreams whose pin files are the real ones (tests/data/native), on local commits.

Each upstream is a bare repo built with fast-import. Git reaches it through
`url.<local>.insteadOf=https://github.com/ORG/REPO` in the test's global git config, so the
copied files keep their real `https://github.com/` URLs and the registry names the real
repos, as a JAX or PyTorch/XLA developer's would. The real commits and hashes in the
copies are replaced by those of local commits (`jax_files`, `torch_xla_files`).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path

from native_project import (
    DATA,
    JAX,
    TORCH_COMMIT,
    TORCH_COMMIT_DATE,
    TORCH_XLA_DATE,
    TORCH_XLA_HASH,
    XLA_COMMIT,
    XLA_SHA256,
    XLA_SRI,
)
from upstreams import git

from xla_tasks.demo.upstreams import FileContent, commit, init_bare
from xla_tasks.tomlfile import dump_toml
from xla_tasks.workspace.registry import WORKSPACE_FILE

GITHUB = {
    "xla": "https://github.com/openxla/xla.git",
    "jax": "https://github.com/jax-ml/jax.git",
    "stablehlo": "https://github.com/openxla/stablehlo.git",
    "llvm-project": "https://github.com/llvm/llvm-project.git",
    "pytorch": "https://github.com/pytorch/pytorch.git",
    "torch_xla": "https://github.com/pytorch/xla.git",
    "iree": "https://github.com/iree-org/iree.git",
    "iree-llvm": "https://github.com/iree-org/llvm-project.git",  # IREE's submodule
}


def tar_gz_sha256(repo: Path, sha: str, name: str) -> str:
    """GitHub's /archive/<sha>.tar.gz hash, by the shell pipeline the contract names."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", f"--prefix={name}-{sha}/", sha],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    gzipped = subprocess.run(["gzip", "-cn"], input=archive, capture_output=True, check=True)
    return hashlib.sha256(gzipped.stdout).hexdigest()


def sri(hex_digest: str) -> str:
    return "sha256-" + base64.b64encode(bytes.fromhex(hex_digest)).decode()


def committer_day(repo: Path, sha: str) -> str:
    return git(repo, "log", "-1", "--format=%cs", sha)


class NativeWorld:
    """Upstreams under `root/upstreams`, a workspace at `root/ws` naming them by GitHub URL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.upstreams = root / "upstreams"
        self.ws = root / "ws"
        self.ws.mkdir(parents=True, exist_ok=True)
        self.made: set[str] = set()

    def bare(self, name: str) -> Path:
        return self.upstreams / f"{name}.git"

    def commit(self, name: str, files: Mapping[str, FileContent], message: str = "") -> str:
        """A commit on `main` of upstream `name` (created, and routed to, on first use)."""
        if name not in self.made:
            local = init_bare(self.bare(name))
            git(self.root, "config", "--global", f"url.{local}.insteadOf", GITHUB[name])
            self.made.add(name)
        return commit(self.bare(name), files, message or f"{name}: change")

    def registry(
        self, *names: str, extra: Mapping[str, Mapping[str, object]] | None = None
    ) -> None:
        """xla-workspace.toml naming these repos by their GitHub URLs (`extra`: more keys)."""
        repos: dict[str, dict[str, object]] = {}
        for name in names:
            repos[name] = {"url": GITHUB[name]}
            if name == "torch_xla":
                repos[name].update(branch="master", path="pytorch/xla")
            repos[name].update((extra or {}).get(name, {}))
        (self.ws / WORKSPACE_FILE).write_text(dump_toml({"schema": 1, "repos": repos}))

    def clone(self, name: str, at: str | None = None) -> Path:
        """A clone of `name` in the workspace (through the insteadOf route), at `at`."""
        path = self.ws / ("pytorch/xla" if name == "torch_xla" else name)
        path.parent.mkdir(parents=True, exist_ok=True)
        git(self.ws, "clone", "--quiet", GITHUB[name], str(path))
        if at:
            git(path, "checkout", "--quiet", "--detach", at)
        return path


def jax_files(xla_sha: str, sha256: str) -> dict[str, str]:
    """JAX's three real files pinning XLA, at `xla_sha` with the .tar.gz hash `sha256`."""
    out = {}
    for rel, name in JAX.items():
        text = (DATA / name).read_text()
        text = text.replace(XLA_COMMIT, xla_sha).replace(XLA_SHA256, sha256)
        out[rel] = text.replace(XLA_SRI, sri(sha256))
    return out


def torch_xla_files(xla_sha: str, xla_date: str, torch_sha: str, torch_date: str) -> dict[str, str]:
    """PyTorch/XLA's WORKSPACE (xla_hash and its date) and .torch_commit, on local commits."""
    workspace = (DATA / "torch_xla.WORKSPACE").read_text()
    workspace = workspace.replace(TORCH_XLA_HASH, xla_sha).replace(TORCH_XLA_DATE, xla_date)
    torch = (DATA / "torch_xla.torch_commit").read_text()
    torch = torch.replace(TORCH_COMMIT, torch_sha).replace(TORCH_COMMIT_DATE, torch_date)
    return {"WORKSPACE": workspace, ".torch_commit": torch}


def xla_tree(version: int) -> dict[str, FileContent]:
    """A few files of an XLA-like tree, different for each version."""
    return {
        "README.md": "XLA\n",
        "xla/BUILD": f"# v{version}\n",
        "xla/service/gpu/fusion.cc": f"int fusion_v{version}() {{ return {version}; }}\n",
    }


def jax_world(root: Path, xla_commits: int = 2) -> tuple[NativeWorld, list[str], Path, Path]:
    """XLA with `xla_commits` commits, JAX pinning the first (hash right), both cloned; the
    xla clone at the first commit. Returns the world, XLA's commits, jax's and xla's clones."""
    world = NativeWorld(root)
    shas = [world.commit("xla", xla_tree(n), f"xla: change {n}") for n in range(1, xla_commits + 1)]
    first = shas[0]
    world.commit("jax", {"README.md": "JAX\n", **jax_files(first, _hash_of(world, first))})
    world.registry("jax", "xla")
    jax = world.clone("jax")
    xla = world.clone("xla", at=first)
    return world, shas, jax, xla


def _hash_of(world: NativeWorld, sha: str) -> str:
    return tar_gz_sha256(world.bare("xla"), sha, "xla")
