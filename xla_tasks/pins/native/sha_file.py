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
# pytorch's ci_commit_pins/NAME.txt whose repository is not named NAME, or whose NAME other
# repos bear too (xla.txt pins pytorch/xla, not openxla/xla): those are matched by URL.
PYTORCH_CI_REPOS = {
    "xla": "https://github.com/pytorch/xla.git",
    "vision": "https://github.com/pytorch/vision.git",
    "audio": "https://github.com/pytorch/audio.git",
    "text": "https://github.com/pytorch/text.git",
    "data": "https://github.com/pytorch/data.git",
    "torchao": "https://github.com/pytorch/ao.git",
    "torchbench": "https://github.com/pytorch/benchmark.git",
    "torchrec": "https://github.com/pytorch/torchrec.git",
    "torchtitan": "https://github.com/pytorch/torchtitan.git",
}


def hint_for(file: str) -> str:
    """llvm-project for llvm_version.txt, NAME for ci_commit_pins/NAME.txt, else the stem."""
    if file == LLVM_VERSION:
        return "llvm-project"
    return posixpath.splitext(posixpath.basename(file))[0]


def url_for(file: str) -> str | None:
    """The repository a one-line file pins, when its path says it (PYTORCH_CI_REPOS)."""
    if posixpath.dirname(file) != CI_COMMIT_PINS:
        return None
    return PYTORCH_CI_REPOS.get(posixpath.splitext(posixpath.basename(file))[0])


def read(file: str, text: str, hint: str | None = None) -> Site | BadPin:
    hint = hint or hint_for(file)
    url = url_for(file)
    body = text.strip()
    line = text[: text.find(body)].count("\n") + 1 if body else 1
    if not is_commit(body):
        message = "is empty; expected a 40-hex commit" if not body else bad_commit(body, "it")
        return BadPin(file, line, url, hint, message)
    start = text.find(body)
    pin = NativePin(
        file=file, line=line, format="sha_file", url=url, repo_hint=hint, commit=body.lower()
    )
    return Site(pin, (Span(start, start + 40, COMMIT),))


def write(text: str, pin: NativePin, update: PinUpdate) -> str:
    site = read(pin.file, text, pin.repo_hint)
    return rewrite(text, find_site([site] if isinstance(site, Site) else [], pin), update)
