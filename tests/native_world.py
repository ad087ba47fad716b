"""Local upstreams shaped like the real OpenXLA and PyTorch/XLA repos, pinning each other in
copies of their real pin files (tests/data/native), commits replaced by local ones.

Every repo keeps its real GitHub URL: the files name `https://github.com/openxla/xla/...`,
the presets and registries too, and git's `url.<local>.insteadOf` (in the test's global
config) sends each of them to a bare repo here. So what is tested is what a user runs.

Who pins whom (as in the real projects):
- jax -> xla: `third_party/xla/revision.bzl` (+ `workspace.bzl`) and `MODULE.bazel`;
- xla -> llvm-project, stablehlo, shardy, triton: `third_party/*/workspace.bzl`;
- stablehlo -> llvm-project: `build_tools/llvm_version.txt` and `third_party/llvm/workspace.bzl`;
- torch_xla (pytorch/xla) -> pytorch: `.torch_commit`; -> xla: `WORKSPACE` (`xla_hash`);
- pytorch -> vision, torch_xla: `.github/ci_commit_pins/{vision,xla}.txt`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from native_project import DATA, JAX, PINNED, PYTORCH, STABLEHLO_ALL, TORCH_XLA, XLA
from upstreams import git

from xla_tasks.demo.upstreams import FileContent, commit, init_bare
from xla_tasks.workspace.registry import WORKSPACE_FILE, preset_text

GITHUB = {
    "jax": "https://github.com/jax-ml/jax.git",
    "xla": "https://github.com/openxla/xla.git",
    "stablehlo": "https://github.com/openxla/stablehlo.git",
    "shardy": "https://github.com/openxla/shardy.git",
    "triton": "https://github.com/triton-lang/triton.git",
    "llvm-project": "https://github.com/llvm/llvm-project.git",
    "pytorch": "https://github.com/pytorch/pytorch.git",
    "vision": "https://github.com/pytorch/vision.git",
    "torch_xla": "https://github.com/pytorch/xla.git",
}

BRANCH = {"torch_xla": "master"}


def real_file(name: str, commit_here: str | None) -> str:
    """A real pin file, the commit it pins (PINNED) replaced everywhere by a local one."""
    text = (DATA / name).read_text(encoding="utf-8")
    if commit_here is None:
        return text
    real_commit = PINNED[name].commit
    assert real_commit in text, (name, real_commit)
    return text.replace(real_commit, commit_here)


def real_files(layout: Mapping[str, str], commits: Mapping[str, str]) -> dict[str, FileContent]:
    """The layout's files, each pinning `commits[path]` (files not named keep no pin change)."""
    return {path: real_file(name, commits.get(path)) for path, name in layout.items()}


class NativeWorld:
    """Bare upstreams for every repo of GITHUB, with their history, reached by GitHub URL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.urls: dict[str, str] = {}
        self.github = dict(GITHUB)
        for name, url in GITHUB.items():
            self.urls[name] = init_bare(self.path(name))
            git(root, "config", "--global", f"url.{self.urls[name]}.insteadOf", url)
        # pytorch/xla's branch is master (the pytorch-xla preset says so)
        git(self.path("torch_xla"), "symbolic-ref", "HEAD", "refs/heads/master")
        self.llvm = [
            self.commit("llvm-project", {"README.md": "LLVM\n"}, "llvm: start"),
            self.commit("llvm-project", {"mlir/README.md": "MLIR\n"}, "llvm: mlir"),
        ]
        self.shardy = self.commit("shardy", {"README.md": "Shardy\n"}, "shardy: start")
        self.triton = self.commit("triton", {"README.md": "Triton\n"}, "triton: start")
        self.vision = self.commit("vision", {"README.md": "vision\n"}, "vision: start")
        self.stablehlo = self.commit(
            "stablehlo",
            {
                "README.md": "StableHLO\n",
                **real_files(
                    STABLEHLO_ALL,
                    {path: self.llvm[0] for path in STABLEHLO_ALL},
                ),
            },
            "stablehlo: pin llvm",
        )
        xla_pins = {
            "third_party/llvm/workspace.bzl": self.llvm[1],
            "third_party/stablehlo/workspace.bzl": self.stablehlo,
            "third_party/shardy/workspace.bzl": self.shardy,
            "third_party/triton/workspace.bzl": self.triton,
        }
        self.xla = [
            self.commit("xla", {"README.md": "XLA\n", **real_files(XLA, xla_pins)}, "xla: start"),
            self.commit("xla", {"xla/service.cc": "int main() {}\n"}, "xla: service"),
        ]
        self.jax = self.commit(
            "jax",
            {"README.md": "JAX\n", **real_files(JAX, self._jax_pins(self.xla[0]))},
            "jax: pin xla",
        )
        self.pytorch = [
            self.commit(
                "pytorch",
                {
                    "README.md": "PyTorch\n",
                    **real_files(
                        {k: v for k, v in PYTORCH.items() if "vision" in k},
                        {".github/ci_commit_pins/vision.txt": self.vision},
                    ),
                },
                "pytorch: pin vision",
            )
        ]
        self.torch_xla = self.commit(
            "torch_xla",
            {
                "README.md": "PyTorch/XLA\n",
                **real_files(
                    TORCH_XLA, {"WORKSPACE": self.xla[1], ".torch_commit": self.pytorch[0]}
                ),
            },
            "torch_xla: pin pytorch and xla",
        )
        self.pytorch.append(
            self.commit(
                "pytorch",
                real_files(
                    PYTORCH,
                    {
                        ".github/ci_commit_pins/xla.txt": self.torch_xla,
                        ".github/ci_commit_pins/vision.txt": self.vision,
                    },
                ),
                "pytorch: pin xla",
            )
        )

    @staticmethod
    def _jax_pins(xla: str) -> dict[str, str]:
        return {"third_party/xla/revision.bzl": xla, "MODULE.bazel": xla}

    def path(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def commit(self, name: str, files: Mapping[str, FileContent], message: str) -> str:
        return commit(self.path(name), files, message, branch=BRANCH.get(name, "main"))

    def head(self, name: str) -> str:
        return git(self.path(name), "rev-parse", f"refs/heads/{BRANCH.get(name, 'main')}")

    def pin_jax_to(self, xla: str, message: str = "jax: move xla") -> str:
        """A new jax commit pinning XLA at `xla` in both of its files."""
        self.jax = self.commit("jax", real_files(JAX, self._jax_pins(xla)), message)
        return self.jax

    def create(self, name: str, url: str, files: Mapping[str, FileContent]) -> str:
        """One more upstream, reached by `url`; returns its first commit."""
        self.github[name] = url
        self.urls[name] = init_bare(self.path(name))
        git(self.root, "config", "--global", f"url.{self.urls[name]}.insteadOf", url)
        return self.commit(name, files, f"{name}: start")

    def clone(self, name: str, where: Path) -> Path:
        """The developer's clone of `name`, from its GitHub URL (sent here by insteadOf)."""
        subprocess.run(
            ["git", "clone", "--quiet", self.github[name], str(where)],
            check=True,
            capture_output=True,
        )
        return where


LLVM_ENTRY = (
    '# [repos.llvm-project]\n# url = "https://github.com/llvm/llvm-project.git"\n'
    '# bazel_name = "llvm-raw"\n'
)


def registry(ws: Path, preset: str = "openxla", llvm: bool = False, extra: str = "") -> None:
    """The preset's registry, as `xla-tasks init` writes it (llvm-project uncommented)."""
    text = preset_text(preset)
    if llvm:
        assert LLVM_ENTRY in text
        text = text.replace(LLVM_ENTRY, LLVM_ENTRY.replace("# ", ""))
    (ws / WORKSPACE_FILE).write_text(text + extra)


def pytorch_layout(world: NativeWorld, ws: Path) -> Path:
    """`init --preset pytorch-xla`, then torch_xla cloned where PyTorch/XLA wants it."""
    registry(ws, "pytorch-xla")
    world.clone("pytorch", ws / "pytorch")
    git(ws / "pytorch", "checkout", "-q", "--detach", world.pytorch[0])
    return world.clone("torch_xla", ws / "pytorch" / "xla")
