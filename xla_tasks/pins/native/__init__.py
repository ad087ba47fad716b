"""Native pins: the files in which JAX, XLA, StableHLO, PyTorch/XLA and IREE pin their deps.

Readers and byte-exact writers for each format of contract 6.1, read as text (nothing is
executed). Each format module has a reader that records where a pin's bytes are (`sites`)
and a writer `write(text, pin, update) -> text` that reads the file again and replaces only
those bytes. Modules:

- `model`: NativePin, BadPin, PinUpdate; `files`: bounded UTF-8 reads inside the project
- `starlark`: tokens, constants, calls of Bazel files; `bazel`: files read as one unit
- formats: `constants` (starlark, workspace_hash), `blocks` (module_bazel, git_repository,
  http_archive), `torch` (torch_commit, torch_pin), `sha_file`, `gitlinks` (+ `gitindex`)
- `find`: where pins are looked for, in the work tree (`DiskTree`) or in a commit
  (`at_commit.CommitTree`, from git's objects); `agree`: grouping and agreement; `rewrite`:
  the writer for a pin's format; `sites`: spans and the one splice
- `urls`: matching pins to registry repos; `digest`: hex and SRI; `archive_hash`: the
  `.tar.gz` hash from a local clone
"""

from __future__ import annotations

from xla_tasks.pins.native.agree import check_agreement, group_pins
from xla_tasks.pins.native.archive_hash import ArchiveHashError, archive_sha256
from xla_tasks.pins.native.digest import hex_of_sri, sri_of
from xla_tasks.pins.native.files import read_pin_file
from xla_tasks.pins.native.find import find_native_pins, read_native_pins
from xla_tasks.pins.native.gitindex import read_gitlinks, read_index
from xla_tasks.pins.native.model import FORMATS, BadPin, NativePin, PinUpdate
from xla_tasks.pins.native.rewrite import rewrite_pin
from xla_tasks.pins.native.urls import normalize_repo_url

__all__ = [
    "FORMATS",
    "ArchiveHashError",
    "BadPin",
    "NativePin",
    "PinUpdate",
    "archive_sha256",
    "check_agreement",
    "find_native_pins",
    "group_pins",
    "hex_of_sri",
    "normalize_repo_url",
    "read_gitlinks",
    "read_index",
    "read_native_pins",
    "read_pin_file",
    "rewrite_pin",
    "sri_of",
]
