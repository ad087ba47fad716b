"""One entry point for writers: the pin's format picks the module that wrote it down."""

from __future__ import annotations

from collections.abc import Callable

from xla_tasks.pins.native import blocks, constants, sha_file, torch
from xla_tasks.pins.native.model import NativePin, PinUpdate

Writer = Callable[[str, NativePin, PinUpdate], str]
WRITERS: dict[str, Writer] = {
    "starlark": constants.write,
    "workspace_hash": constants.write,
    "module_bazel": blocks.write,
    "git_repository": blocks.write,
    "http_archive": blocks.write,
    "torch_commit": torch.write,
    "sha_file": sha_file.write,
}


def rewrite_pin(
    text: str,
    pin: NativePin,
    commit: str,
    sha256: str | None = None,
    date: str | None = None,
) -> str:
    """`text` (the pin's file as read) with only this pin's commit, hash and date replaced.

    Raises ValueError when the file no longer holds the pin as read, when the pin carries a
    hash or a date and the new one is not given, or for a format that is never written
    (`.torch_pin`; gitlinks are staged with git). A hash or date given for a pin that
    carries none is not written: the file has no place for it.
    """
    writer = WRITERS.get(pin.format)
    if pin.format == "gitlink":
        raise ValueError(f"{pin.file}: a gitlink is staged with git, not written as text")
    if writer is None:
        raise ValueError(f"{pin.file}: {pin.format} is read, never written")
    return writer(text, pin, PinUpdate(commit, sha256, date))
