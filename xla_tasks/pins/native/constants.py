"""Formats `starlark` and `workspace_hash`: a string constant holds the commit.

- `XLA_COMMIT = "<40 hex>"` (and `XLA_SHA256 = "<64 hex>"`), top-level in JAX's
  `revision.bzl`, indented inside `def repo()` in XLA's `third_party/*/workspace.bzl`;
- `xla_hash = '<40 hex>'  # Committed on YYYY-MM-DD.` in PyTorch/XLA's `WORKSPACE`.

The repo is the one the block using the constant fetches (same file, or the other file of
the unit); the hash is the one that block's `sha256`/`integrity` names, else `KEY_SHA256`.
"""

from __future__ import annotations

import re

from xla_tasks.pins.native.bazel import Block, Source, Unit, block_source, hash_at, refs
from xla_tasks.pins.native.digest import hex_of_sri
from xla_tasks.pins.native.model import BadPin, NativePin, PinUpdate, bad_commit, is_commit
from xla_tasks.pins.native.sites import COMMIT, DATE, HEX, SRI, Site, Span, find_site, rewrite
from xla_tasks.pins.native.starlark import STR, BzlFile, Constant

_DATE_IN_COMMENT = re.compile(r"[ \t]*#[^\n]*?(\d{4}-\d{2}-\d{2})")
_COMMIT_NAME = re.compile(r"[A-Za-z0-9_]*_(?:COMMIT|commit)")


def read(unit: Unit, also_line: int | None = None) -> list[Site | BadPin]:
    """Every commit constant of the unit (and, for a writer, whatever is at `also_line`)."""
    used = _commit_uses(unit)
    commits = commit_constants(unit, used)
    out: list[Site | BadPin] = []
    for name, assignments in unit.constants.items():
        if name in commits or assignments[0].line == also_line:
            out.append(_site(unit, assignments, used.get(name, [])))
    return out


def commit_constants(unit: Unit, used: dict[str, list[Block]] | None = None) -> set[str]:
    """Names that hold a commit: `*_COMMIT`, or a `_hash`/40-hex constant a URL is built from.

    Blocks built from these belong to this format, not to `blocks`.
    """
    used = _commit_uses(unit) if used is None else used
    return {
        name
        for name, assignments in unit.constants.items()
        if _COMMIT_NAME.fullmatch(name)
        or (name in used and (name.endswith("_hash") or is_commit(assignments[0].value)))
    }


def write(text: str, pin: NativePin, update: PinUpdate) -> str:
    unit = Unit([BzlFile.parse(pin.file, text)])
    sites = [found for found in read(unit, pin.line) if isinstance(found, Site)]
    site = find_site(sites, pin)
    spans = [span for span in site.spans if span.holds in (COMMIT, DATE)]
    if pin.sha256 is not None:
        spans.append(_hash_span_on_line(unit.files[0], pin))
    return rewrite(text, Site(site.pin, tuple(spans)), update)


def _commit_uses(unit: Unit) -> dict[str, list[Block]]:
    """Constant name -> the blocks that build a URL, prefix or commit from it."""
    used: dict[str, list[Block]] = {}
    for block in unit.blocks:
        templates = [
            t for key in ("urls", "url", "strip_prefix", "commit") for t in block.templates(key)
        ]
        for name in refs(templates):
            used.setdefault(name, []).append(block)
    return used


def _site(unit: Unit, assignments: list[Constant], blocks: list[Block]) -> Site | BadPin:
    constant = assignments[0]
    block = blocks[0] if blocks else None
    source = (
        block_source(unit, block, constant.name, constant.value.lower()) if block else Source(None)
    )
    hint = None if source.url else _hint(constant.name)
    if len(assignments) > 1:
        other = assignments[1]
        return BadPin(
            constant.file,
            other.line,
            source.url,
            hint,
            f"{constant.name} is assigned again (first at {constant.file}:{constant.line}); "
            "keep one assignment",
        )
    if not is_commit(constant.value):
        return BadPin(
            constant.file,
            constant.line,
            source.url,
            hint,
            bad_commit(constant.value, constant.name),
        )
    bzl = unit.file(constant.file)
    spans = [Span(*bzl.string_span(constant.token), COMMIT)]
    found_hash = _hash_of(unit, constant, block)
    if isinstance(found_hash, BadPin):
        return BadPin(found_hash.file, found_hash.line, source.url, hint, found_hash.message)
    sha256, sha256_line, sha256_form = None, None, None
    if found_hash:
        span, sha256, sha256_line = found_hash
        sha256_form = span.holds
        spans.append(span)
    date = _date_span(bzl, constant)
    if date:
        spans.append(date)
    fmt = "workspace_hash" if constant.name.endswith("_hash") else "starlark"
    pin = NativePin(
        file=constant.file,
        line=constant.line,
        format=fmt,
        url=source.url,
        repo_hint=hint,
        commit=constant.value.lower(),
        sha256=sha256,
        sha256_line=sha256_line,
        sha256_form=sha256_form,
        archive=source.archive,
        archive_urls=source.archive_urls,
        archive_prefix=source.archive_prefix,
        date=bzl.text[date.start : date.end] if date else None,
        bazel_name=source.bazel_name,
    )
    return Site(pin, tuple(spans))


def _hint(name: str) -> str:
    """`XLA_COMMIT` -> `xla`: names the repo when no URL does."""
    key = name.rsplit("_", 1)[0]
    return key.lower().replace("_", "-")


def _hash_of(
    unit: Unit, constant: Constant, block: Block | None
) -> tuple[Span, str, int] | BadPin | None:
    """The hash that goes with the commit: the block's `sha256`/`integrity`, or KEY_SHA256."""
    bzl = unit.file(constant.file)
    if block is not None:
        for key, holds in (("sha256", HEX), ("integrity", SRI)):
            where = block.call.kwargs.get(key)
            if not where:
                continue
            start, end = where
            if end - start != 1:
                return None  # built some other way: not ours to write
            token_file, token = block.file, start
            if block.file.kinds[start] != STR:  # a name: the constant holding the hash
                name = block.file.word(start)
                if name not in unit.constants:
                    return None
                held = unit.constants[name][0]
                token_file, token = unit.file(held.file), held.token
            if token_file.path != constant.file:
                line = token_file.line_of(token_file.starts[token])
                return BadPin(
                    token_file.path,
                    line,
                    None,
                    None,
                    f"the hash for {constant.name} is written in another file than "
                    f"{constant.file}; keep them in one file",
                )
            return hash_at(token_file, token, holds, key)
    key_hash = constant.name.rsplit("_", 1)[0] + "_SHA256"
    if key_hash in unit.constants:
        held = unit.constants[key_hash][0]
        if held.file == constant.file:
            return hash_at(bzl, held.token, HEX, key_hash)
    return None


def _hash_span_on_line(bzl: BzlFile, pin: NativePin) -> Span:
    """The string on the pin's hash line that holds its hash, hex or SRI."""
    for token in bzl.string_tokens(0, len(bzl.kinds)):
        if bzl.line_of(bzl.starts[token]) != pin.sha256_line:
            continue
        value = bzl.string_value(token)
        if value.lower() == pin.sha256:
            return Span(*bzl.string_span(token), HEX)
        if hex_of_sri(value) == pin.sha256:
            return Span(*bzl.string_span(token), SRI)
    raise ValueError(f"{pin.file}:{pin.sha256_line} no longer holds the hash {pin.sha256}")


def _date_span(bzl: BzlFile, constant: Constant) -> Span | None:
    """`# Committed on YYYY-MM-DD.` after the value, on the same line."""
    end = bzl.ends[constant.token]
    line_end = bzl.text.find("\n", end)
    rest = bzl.text[end : line_end if line_end >= 0 else len(bzl.text)]
    found = _DATE_IN_COMMENT.match(rest)
    if not found:
        return None
    return Span(end + found.start(1), end + found.end(1), DATE)
