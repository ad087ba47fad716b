"""Projects for the native pin tests, laid out from the real files in tests/data/native."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data" / "native"

REVISION = "third_party/xla/revision.bzl"  # JAX's XLA pin (with MODULE.bazel)

# project path -> copy of the real file (see tests/data/native/README.md)
JAX = {
    REVISION: "jax.third_party.xla.revision.bzl",
    "third_party/xla/workspace.bzl": "jax.third_party.xla.workspace.bzl",
    "MODULE.bazel": "jax.MODULE.bazel",
}
XLA_LLVM = {"third_party/llvm/workspace.bzl": "xla.third_party.llvm.workspace.bzl"}
XLA = {
    **XLA_LLVM,
    "third_party/stablehlo/workspace.bzl": "xla.third_party.stablehlo.workspace.bzl",
    "third_party/shardy/workspace.bzl": "xla.third_party.shardy.workspace.bzl",
    "third_party/triton/workspace.bzl": "xla.third_party.triton.workspace.bzl",
    "third_party/triton/intel_xpu/workspace.bzl": "xla.third_party.triton.intel_xpu.workspace.bzl",
}
# llvm_version.txt alone (a pin that names no URL); STABLEHLO_ALL adds its workspace.bzl
STABLEHLO = {"build_tools/llvm_version.txt": "stablehlo.build_tools.llvm_version.txt"}
STABLEHLO_ALL = {
    **STABLEHLO,
    "third_party/llvm/workspace.bzl": "stablehlo.third_party.llvm.workspace.bzl",
}
TORCH_XLA = {"WORKSPACE": "torch_xla.WORKSPACE", ".torch_commit": "torch_xla.torch_commit"}
PYTORCH = {
    ".github/ci_commit_pins/xla.txt": "pytorch.github.ci_commit_pins.xla.txt",
    ".github/ci_commit_pins/vision.txt": "pytorch.github.ci_commit_pins.vision.txt",
}

XLA_COMMIT = "753e5e56a0e465dbf7ee166573122564d83a1746"
XLA_SHA256 = "36fd883a02fbdabd8c105cf28a973374208a72b17d3849bee9572670d8dd2809"
XLA_SRI = "sha256-Nv2IOgL72r2MEFzyipczdCCKcrF9OEm+6VcmcNjdKAk="
TORCH_XLA_HASH = "9a9aa0e11e4fcda8d6a9c3267dca6776ddbdb0ca"  # xla_hash in torch_xla.WORKSPACE
TORCH_XLA_DATE = "2025-10-01"
TORCH_COMMIT = "21fec65781bebe867faf209f89bb687ffd236ca4"  # in torch_xla.torch_commit
TORCH_COMMIT_DATE = "2025-09-29"


@dataclass(frozen=True)
class RealPin:
    """What a copy pins: the commit, and the archive's hex SHA-256 and the commit's date
    where the file holds them (MODULE.bazel holds the hash as SRI)."""

    commit: str
    sha256: str | None = None
    date: str | None = None


# copy of the real file -> what it pins (jax.third_party.xla.workspace.bzl pins nothing)
PINNED = {
    "jax.third_party.xla.revision.bzl": RealPin(XLA_COMMIT, XLA_SHA256),
    "jax.MODULE.bazel": RealPin(XLA_COMMIT, XLA_SHA256),
    "xla.third_party.llvm.workspace.bzl": RealPin("0220c07a94012b9dce9250addac6a8ee1f674b21"),
    "xla.third_party.stablehlo.workspace.bzl": RealPin("dfd577489d880bad4ec2f474ddfc961e91ef44a6"),
    "xla.third_party.shardy.workspace.bzl": RealPin("90748c8ba796024601560a14983c2d511f2ef269"),
    "xla.third_party.triton.workspace.bzl": RealPin("72259b1cc3c543c361dcd185a6ff89662e8ed52f"),
    "xla.third_party.triton.intel_xpu.workspace.bzl": RealPin(
        "4ebe8309f671a08b94360e73ba9f3b99dd0e344a"
    ),
    "stablehlo.build_tools.llvm_version.txt": RealPin("6d1ace547c9f9ecf7df9ab87e2db74b5bd3f199d"),
    "stablehlo.third_party.llvm.workspace.bzl": RealPin("6d1ace547c9f9ecf7df9ab87e2db74b5bd3f199d"),
    "torch_xla.WORKSPACE": RealPin(TORCH_XLA_HASH, date=TORCH_XLA_DATE),
    "torch_xla.torch_commit": RealPin(TORCH_COMMIT, date=TORCH_COMMIT_DATE),
    "pytorch.github.ci_commit_pins.xla.txt": RealPin("b3342319e96a0becd139019620d8665605b78475"),
    "pytorch.github.ci_commit_pins.vision.txt": RealPin("6aee5eddc8f9b397b45d076bd336c030518b7626"),
}
NEW_COMMIT = "0123456789abcdef0123456789abcdef01234567"
NEW_SHA256 = "ab" * 32


def make_project(
    root: Path, copies: Mapping[str, str], texts: Mapping[str, str] | None = None
) -> Path:
    """A project folder holding copies of real pin files and any extra texts."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, name in copies.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / name, root / rel)
    for rel, text in (texts or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())
    return root


def texts(project: Path, files: Iterable[str] = JAX) -> dict[str, str]:
    """The project's files (JAX's three by default), byte for byte: no newline translation."""
    return {rel: (project / rel).read_bytes().decode() for rel in files}


def changed_lines(old: str, new: str) -> list[int]:
    """1-based numbers of the lines that differ (the files keep their line count)."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    assert len(old_lines) == len(new_lines)
    return [n for n, (a, b) in enumerate(zip(old_lines, new_lines, strict=True), 1) if a != b]
