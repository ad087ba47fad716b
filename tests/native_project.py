"""Projects for the native pin tests, laid out from the real files in tests/data/native."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

DATA = Path(__file__).parent / "data" / "native"

# project path -> copy of the real file (see tests/data/native/README.md)
JAX = {
    "third_party/xla/revision.bzl": "jax.third_party.xla.revision.bzl",
    "third_party/xla/workspace.bzl": "jax.third_party.xla.workspace.bzl",
    "MODULE.bazel": "jax.MODULE.bazel",
}
XLA_LLVM = {"third_party/llvm/workspace.bzl": "xla.third_party.llvm.workspace.bzl"}
TORCH_XLA = {"WORKSPACE": "torch_xla.WORKSPACE", ".torch_commit": "torch_xla.torch_commit"}
STABLEHLO = {"build_tools/llvm_version.txt": "stablehlo.build_tools.llvm_version.txt"}

XLA_COMMIT = "753e5e56a0e465dbf7ee166573122564d83a1746"
XLA_SHA256 = "36fd883a02fbdabd8c105cf28a973374208a72b17d3849bee9572670d8dd2809"
XLA_SRI = "sha256-Nv2IOgL72r2MEFzyipczdCCKcrF9OEm+6VcmcNjdKAk="
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


def changed_lines(old: str, new: str) -> list[int]:
    """1-based numbers of the lines that differ (the files keep their line count)."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    assert len(old_lines) == len(new_lines)
    return [n for n, (a, b) in enumerate(zip(old_lines, new_lines, strict=True), 1) if a != b]
