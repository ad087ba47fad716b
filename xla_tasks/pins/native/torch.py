"""Formats `torch_commit` and `torch_pin`: how PyTorch/XLA pins pytorch.

`.torch_commit` is `# YYYY-MM-DD` then the 40-hex commit, with no trailing newline; the
writer keeps that shape. `.torch_pin`, when present, wins: a ref (`release/2.8`), a commit,
or `#<PR number>` meaning the pull request's head. It is read, never written.
"""

from __future__ import annotations

import re

from xla_tasks.pins.native.model import DATE_RE, BadPin, NativePin, PinUpdate, bad_commit, is_commit
from xla_tasks.pins.native.sites import COMMIT, DATE, Site, Span, find_site, rewrite

TORCH_COMMIT, TORCH_PIN = ".torch_commit", ".torch_pin"
HINT = "pytorch"
_DATE_LINE = re.compile(r"#\s*(\d{4}-\d{2}-\d{2})")
_SAFE_REF = re.compile(r"[A-Za-z0-9._/+@-]+")


def read_commit(file: str, text: str) -> Site | BadPin | None:
    """The commit (and the date above it) in a `.torch_commit`."""
    date: Span | None = None
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        body = line.strip()
        found = _DATE_LINE.match(body)
        if found and date is None and DATE_RE.fullmatch(found.group(1)):
            start = offset + line.index(found.group(1))
            date = Span(start, start + len(found.group(1)), DATE)
        elif body and not body.startswith("#"):
            if not is_commit(body):
                return BadPin(file, number, None, HINT, bad_commit(body, "the pinned commit"))
            start = offset + line.index(body)
            spans = (Span(start, start + 40, COMMIT), *([date] if date else []))
            pin = NativePin(
                file=file,
                line=number,
                format="torch_commit",
                url=None,
                repo_hint=HINT,
                commit=body.lower(),
                date=text[date.start : date.end] if date else None,
            )
            return Site(pin, spans)
        offset += len(line)
    return BadPin(file, 1, None, HINT, "holds no commit")


def read_pin(file: str, text: str) -> NativePin | BadPin | None:
    """`.torch_pin`: a commit, a ref, or `#N` for refs/pull/N/head; empty means no override."""
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        return None
    number, value = lines[0]
    commit: str | None = None
    ref: str | None = None
    if is_commit(value):
        commit = value.lower()
    elif value.startswith("#") and value[1:].isdigit():
        ref = f"refs/pull/{int(value[1:])}/head"
    elif len(lines) == 1 and _SAFE_REF.fullmatch(value) and not value.startswith("-"):
        ref = value
    if ".." in value or (commit is None and ref is None):
        message = f"holds {value[:60]!r}: expected a commit, a ref or #<PR number>"
        return BadPin(file, number, None, HINT, message)
    return NativePin(file, number, "torch_pin", None, HINT, commit, ref=ref)


def write(text: str, pin: NativePin, update: PinUpdate) -> str:
    if pin.format != "torch_commit":
        raise ValueError(f"{pin.file} is read, never written")
    site = read_commit(pin.file, text)
    sites = [site] if isinstance(site, Site) else []
    return rewrite(text, find_site(sites, pin), update)
