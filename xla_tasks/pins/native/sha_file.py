"""Format `sha_file`: a file that holds one 40-hex commit and nothing else.

StableHLO's `build_tools/llvm_version.txt` (llvm-project), pytorch's
`.github/ci_commit_pins/NAME.txt` (NAME). The file names no URL, so the pin carries a
`repo_hint`; the writer replaces the commit and keeps the rest (a trailing newline or not).
"""

from __future__ import annotations

import posixpath

from xla_tasks.pins.native.model import BadPin, NativePin, PinUpdate, bad_commit, is_commit
from xla_tasks.pins.native.sites import COMMIT, Site, Span, find_site, rewrite

LLVM_VERSION = "build_tools/llvm_version.txt"
CI_COMMIT_PINS = ".github/ci_commit_pins"


def hint_for(file: str) -> str:
    """llvm-project for llvm_version.txt, NAME for ci_commit_pins/NAME.txt, else the stem."""
    if file == LLVM_VERSION:
        return "llvm-project"
    return posixpath.splitext(posixpath.basename(file))[0]


def read(file: str, text: str, hint: str | None = None) -> Site | BadPin:
    hint = hint or hint_for(file)
    body = text.strip()
    line = text[: text.find(body)].count("\n") + 1 if body else 1
    if not is_commit(body):
        message = "is empty; expected a 40-hex commit" if not body else bad_commit(body, "it")
        return BadPin(file, line, None, hint, message)
    start = text.find(body)
    pin = NativePin(
        file=file, line=line, format="sha_file", url=None, repo_hint=hint, commit=body.lower()
    )
    return Site(pin, (Span(start, start + 40, COMMIT),))


def write(text: str, pin: NativePin, update: PinUpdate) -> str:
    site = read(pin.file, text, pin.repo_hint)
    return rewrite(text, find_site([site] if isinstance(site, Site) else [], pin), update)
