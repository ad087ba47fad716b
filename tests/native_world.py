"""Local upstreams shaped like the real OpenXLA, PyTorch/XLA and IREE repos, pinning each
other in copies of their real pin files (tests/data/native), on local commits: the real
commits, and where the files hold them the archive hashes and dates, replaced by local ones.

Every repo keeps its real GitHub URL: the files name `https://github.com/openxla/xla/...`,
the presets and registries too, and git's `url.<local>.insteadOf` (in the test's global
config) sends each of them to a bare repo here, made and routed on its first commit. So
what is tested is what a user runs.

Who pins whom in `NativeWorld.full` (as in the real projects):
- jax -> xla: `third_party/xla/revision.bzl` (+ `workspace.bzl`) and `MODULE.bazel`;
- xla -> llvm-project, stablehlo, shardy, triton: `third_party/*/workspace.bzl`;
- stablehlo -> llvm-project: `build_tools/llvm_version.txt` and `third_party/llvm/workspace.bzl`;
- torch_xla (pytorch/xla) -> pytorch: `.torch_commit`; -> xla: `WORKSPACE` (`xla_hash`);
- pytorch -> vision, torch_xla: `.github/ci_commit_pins/{vision,xla}.txt`.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path

from native_project import DATA, JAX, PINNED, PYTORCH, REVISION, STABLEHLO_ALL, TORCH_XLA, XLA
from upstreams import git

from xla_tasks.demo.upstreams import FileContent, commit, init_bare
from xla_tasks.tomlfile import dump_toml
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
    "iree": "https://github.com/iree-org/iree.git",
    "iree-llvm": "https://github.com/iree-org/llvm-project.git",  # IREE's submodule
}

BRANCH = {"torch_xla": "master"}


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


def real_file(
    name: str, commit_here: str | None = None, sha256: str | None = None, date: str | None = None
) -> str:
    """A real pin file, what it pins (PINNED) replaced everywhere by local values: the
    commit, the commit's date and the archive's hash (hex and SRI), each if given."""
    text = (DATA / name).read_text(encoding="utf-8")
    real = PINNED.get(name)
    for old, new in ((real and real.commit, commit_here), (real and real.date, date)):
        if new is not None:
            assert old, name
            assert old in text, (name, old)
            text = text.replace(old, new)
    if sha256 is not None:
        old = real and real.sha256
        assert old, name
        assert old in text or sri(old) in text, (name, old)
        text = text.replace(old, sha256).replace(sri(old), sri(sha256))
    return text


def real_files(
    layout: Mapping[str, str],
    commits: Mapping[str, str],
    sha256s: Mapping[str, str] | None = None,
    dates: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The layout's files, each pinning `commits[path]` (with `sha256s[path]`, `dates[path]`);
    the files not named keep what they pin."""
    return {
        path: real_file(name, commits.get(path), (sha256s or {}).get(path), (dates or {}).get(path))
        for path, name in layout.items()
    }


def jax_files(xla_sha: str, sha256: str | None = None) -> dict[str, str]:
    """JAX's three real files pinning XLA at `xla_sha` (with the .tar.gz hash `sha256`)."""
    pins = {REVISION: xla_sha, "MODULE.bazel": xla_sha}
    return real_files(JAX, pins, {path: sha256 for path in pins} if sha256 else None)


def torch_xla_files(xla_sha: str, xla_date: str, torch_sha: str, torch_date: str) -> dict[str, str]:
    """PyTorch/XLA's WORKSPACE (xla_hash and its date) and .torch_commit, on local commits."""
    return real_files(
        TORCH_XLA,
        {"WORKSPACE": xla_sha, ".torch_commit": torch_sha},
        dates={"WORKSPACE": xla_date, ".torch_commit": torch_date},
    )


class NativeWorld:
    """Bare upstreams under `root`, each made and routed (its GitHub URL sent to it) on its
    first commit; the developer's workspace at `ws`, beside `root`."""

    # the commits of `full`'s upstreams, oldest first where a list
    llvm: list[str]
    shardy: str
    triton: str
    vision: str
    stablehlo: str
    xla: list[str]
    jax: str
    pytorch: list[str]
    torch_xla: str

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ws = root.parent / "ws"
        self.github = dict(GITHUB)
        self.made: set[str] = set()

    @classmethod
    def full(cls, root: Path) -> NativeWorld:
        """Nine upstreams pinning each other as the real projects do (see the module's
        docstring), their commits kept as attributes (`world.xla[0]`, ...)."""
        world = cls(root)
        world.llvm = [
            world.commit("llvm-project", {"README.md": "LLVM\n"}, "llvm: start"),
            world.commit("llvm-project", {"mlir/README.md": "MLIR\n"}, "llvm: mlir"),
        ]
        world.shardy = world.commit("shardy", {"README.md": "Shardy\n"}, "shardy: start")
        world.triton = world.commit("triton", {"README.md": "Triton\n"}, "triton: start")
        world.vision = world.commit("vision", {"README.md": "vision\n"}, "vision: start")
        world.stablehlo = world.commit(
            "stablehlo",
            {
                "README.md": "StableHLO\n",
                **real_files(STABLEHLO_ALL, {path: world.llvm[0] for path in STABLEHLO_ALL}),
            },
            "stablehlo: pin llvm",
        )
        xla_pins = {
            "third_party/llvm/workspace.bzl": world.llvm[1],
            "third_party/stablehlo/workspace.bzl": world.stablehlo,
            "third_party/shardy/workspace.bzl": world.shardy,
            "third_party/triton/workspace.bzl": world.triton,
        }
        world.xla = [
            world.commit("xla", {"README.md": "XLA\n", **real_files(XLA, xla_pins)}, "xla: start"),
            world.commit("xla", {"xla/service.cc": "int main() {}\n"}, "xla: service"),
        ]
        world.jax = world.commit(
            "jax", {"README.md": "JAX\n", **jax_files(world.xla[0])}, "jax: pin xla"
        )
        world.pytorch = [
            world.commit(
                "pytorch",
                {
                    "README.md": "PyTorch\n",
                    **real_files(
                        {k: v for k, v in PYTORCH.items() if "vision" in k},
                        {".github/ci_commit_pins/vision.txt": world.vision},
                    ),
                },
                "pytorch: pin vision",
            )
        ]
        world.torch_xla = world.commit(
            "torch_xla",
            {
                "README.md": "PyTorch/XLA\n",
                **real_files(
                    TORCH_XLA, {"WORKSPACE": world.xla[1], ".torch_commit": world.pytorch[0]}
                ),
            },
            "torch_xla: pin pytorch and xla",
        )
        world.pytorch.append(
            world.commit(
                "pytorch",
                real_files(
                    PYTORCH,
                    {
                        ".github/ci_commit_pins/xla.txt": world.torch_xla,
                        ".github/ci_commit_pins/vision.txt": world.vision,
                    },
                ),
                "pytorch: pin xla",
            )
        )
        return world

    def bare(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def commit(self, name: str, files: Mapping[str, FileContent], message: str = "") -> str:
        """A commit on the branch of upstream `name` (made, and routed to, on first use)."""
        branch = BRANCH.get(name, "main")
        if name not in self.made:
            local = init_bare(self.bare(name))
            if branch != "main":  # pytorch/xla's is master (the pytorch-xla preset says so)
                git(self.bare(name), "symbolic-ref", "HEAD", f"refs/heads/{branch}")
            git(self.bare(name), "config", "--global", f"url.{local}.insteadOf", self.github[name])
            self.made.add(name)
        return commit(self.bare(name), files, message or f"{name}: change", branch=branch)

    def create(self, name: str, url: str, files: Mapping[str, FileContent]) -> str:
        """One more upstream, reached by `url`; returns its first commit."""
        self.github[name] = url
        return self.commit(name, files, f"{name}: start")

    def head(self, name: str) -> str:
        return git(self.bare(name), "rev-parse", f"refs/heads/{BRANCH.get(name, 'main')}")

    def pin_jax_to(self, xla: str, message: str = "jax: move xla") -> str:
        """A new jax commit pinning XLA at `xla` in both of its files."""
        self.jax = self.commit("jax", jax_files(xla), message)
        return self.jax

    def registry(
        self, *names: str, extra: Mapping[str, Mapping[str, object]] | None = None
    ) -> None:
        """ws's xla-workspace.toml naming these repos by their GitHub URLs (`extra`: more
        keys); torch_xla on its branch, where PyTorch/XLA wants it."""
        repos: dict[str, dict[str, object]] = {}
        for name in names:
            repos[name] = {"url": self.github[name]}
            if name == "torch_xla":
                repos[name].update(branch=BRANCH[name], path="pytorch/xla")
            repos[name].update((extra or {}).get(name, {}))
        self.ws.mkdir(parents=True, exist_ok=True)
        (self.ws / WORKSPACE_FILE).write_text(dump_toml({"schema": 1, "repos": repos}))

    def clone(self, name: str, where: Path | None = None, at: str | None = None) -> Path:
        """The developer's clone of `name` from its GitHub URL (sent here by insteadOf), at
        `where` (else where the registry puts it in ws), detached at `at` if given."""
        if where is None:
            where = self.ws / ("pytorch/xla" if name == "torch_xla" else name)
        where.parent.mkdir(parents=True, exist_ok=True)
        git(where.parent, "clone", "--quiet", self.github[name], str(where))
        if at:
            git(where, "checkout", "--quiet", "--detach", at)
        return where


def pinned_jax_files(world: NativeWorld, xla_sha: str) -> dict[str, str]:
    """JAX's files pinning XLA at `xla_sha` with that commit's right .tar.gz hash."""
    return jax_files(xla_sha, tar_gz_sha256(world.bare("xla"), xla_sha, "xla"))


def xla_tree(version: int) -> dict[str, FileContent]:
    """A few files of an XLA-like tree, different for each version."""
    return {
        "README.md": "XLA\n",
        "xla/BUILD": f"# v{version}\n",
        "xla/service/gpu/fusion.cc": f"int fusion_v{version}() {{ return {version}; }}\n",
    }


def jax_world(root: Path, xla_commits: int = 3) -> tuple[NativeWorld, list[str], Path, Path]:
    """Upstreams under `root/upstreams`: XLA with `xla_commits` commits, JAX pinning the
    first (hash right); the registry naming both and both cloned in `root/ws`, the xla clone
    at the first commit. Returns the world, XLA's commits, jax's and xla's clones."""
    world = NativeWorld(root / "upstreams")
    shas = [world.commit("xla", xla_tree(n), f"xla: change {n}") for n in range(1, xla_commits + 1)]
    world.commit("jax", {"README.md": "JAX\n", **pinned_jax_files(world, shas[0])})
    world.registry("jax", "xla")
    jax = world.clone("jax")
    xla = world.clone("xla", at=shas[0])
    return world, shas, jax, xla


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
    world.clone("pytorch", ws / "pytorch", at=world.pytorch[0])
    return world.clone("torch_xla", ws / "pytorch" / "xla")
