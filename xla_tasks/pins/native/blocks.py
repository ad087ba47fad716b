"""Formats `module_bazel`, `git_repository` and `http_archive`: a call writes the commit.

- `archive_override(module_name = "xla", integrity = "sha256-...", strip_prefix =
  "xla-<sha>", urls = [".../archive/<sha>.tar.gz"])` and `git_override(module_name, commit,
  remote)` in `MODULE.bazel`;
- `git_repository(name, commit = "<sha>", remote = "...")`;
- `http_archive(...)`/`tf_http_archive(...)` whose archive URL holds the commit literally
  (JAX's `WORKSPACE` pins rules_ml_toolchain so, next to MODULE.bazel's archive_override).

Every occurrence of the commit inside the call is the pin, and so is its hash. A call that
builds its URL from a commit constant belongs to `constants` instead.
"""

from __future__ import annotations

import re

from xla_tasks.pins.native.bazel import OVERRIDES, Block, Unit, block_source, hash_at, refs
from xla_tasks.pins.native.constants import commit_constants
from xla_tasks.pins.native.model import BadPin, NativePin, PinUpdate, bad_commit, is_commit
from xla_tasks.pins.native.sites import COMMIT, HEX, SRI, Site, Span, find_site, rewrite
from xla_tasks.pins.native.starlark import STR, BzlFile

_HEX40 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{40}(?![0-9a-fA-F])")
_GIT_RULES = ("git_repository", "new_git_repository")


def read(unit: Unit) -> list[Site | BadPin]:
    constants = commit_constants(unit)
    out: list[Site | BadPin] = []
    for block in unit.blocks:
        used = refs(
            [t for key in ("urls", "url", "strip_prefix", "commit") for t in block.templates(key)]
        )
        if used & constants:
            continue
        found = _read_block(unit, block)
        if found is not None:
            out.append(found)
    return out


def write(text: str, pin: NativePin, update: PinUpdate) -> str:
    unit = Unit([BzlFile.parse(pin.file, text)])
    sites = [found for found in read(unit) if isinstance(found, Site)]
    return rewrite(text, find_site(sites, pin), update)


def _read_block(unit: Unit, block: Block) -> Site | BadPin | None:
    if block.kind == "git_override" or block.kind in _GIT_RULES:
        return _git_block(unit, block)
    return _archive_block(unit, block)


def _git_block(unit: Unit, block: Block) -> Site | BadPin | None:
    """`commit = "<sha>"` next to `remote`; a branch or tag pins nothing we can write."""
    where = block.call.kwargs.get("commit")
    bzl = block.file
    remote = unit.value(block, "remote")
    source = block_source(unit, block, None, "")
    if where is None or where[1] - where[0] != 1 or bzl.kinds[where[0]] != STR:
        if block.kind == "git_override" and unit.value(block, "module_name"):
            return BadPin(
                bzl.path,
                block.line,
                source.url,
                None,
                f"git_override of {unit.value(block, 'module_name')!r} has no literal commit",
            )
        return None
    token = where[0]
    value = bzl.string_value(token)
    line = bzl.line_of(bzl.starts[token])
    if not is_commit(value):
        return BadPin(bzl.path, line, source.url, None, bad_commit(value, "commit"))
    if remote is None:
        return None
    fmt = "module_bazel" if block.kind in OVERRIDES else "git_repository"
    pin = NativePin(
        file=bzl.path,
        line=line,
        format=fmt,
        url=source.url,
        repo_hint=None,
        commit=value.lower(),
        bazel_name=source.bazel_name,
    )
    return Site(pin, (Span(*bzl.string_span(token), COMMIT),))


def _archive_block(unit: Unit, block: Block) -> Site | BadPin | None:
    """An archive whose URLs (or strip_prefix) spell the commit out."""
    bzl = block.file
    commits = _literal_commits(block)
    module = unit.value(block, "module_name") if block.kind == "archive_override" else None
    if len(commits) != 1:
        if not module:
            return None
        source = block_source(unit, block, None, "")
        what = "no recognisable commit" if not commits else "more than one commit"
        return BadPin(
            bzl.path,
            block.line,
            source.url,
            None,
            f"archive_override of {module!r} has {what} in its urls or strip_prefix",
        )
    commit, first = next(iter(commits.items()))
    source = block_source(unit, block, None, commit)
    if not source.archive_urls and not module:
        return None  # a 40-hex string that is no archive's commit
    spans = _commit_spans(bzl, block, commit)
    found_hash = _literal_hash(block)
    if isinstance(found_hash, BadPin):
        return BadPin(found_hash.file, found_hash.line, source.url, None, found_hash.message)
    if found_hash:
        spans.append(found_hash[0])
    pin = NativePin(
        file=bzl.path,
        line=bzl.line_of(bzl.starts[first]),
        format="module_bazel" if block.kind in OVERRIDES else "http_archive",
        url=source.url,
        repo_hint=None,
        commit=commit,
        sha256=found_hash[1] if found_hash else None,
        sha256_line=found_hash[2] if found_hash else None,
        sha256_form=found_hash[0].holds if found_hash else None,
        archive=source.archive,
        archive_urls=source.archive_urls,
        archive_prefix=source.archive_prefix,
        bazel_name=source.bazel_name,
    )
    return Site(pin, tuple(spans))


def _literal_commits(block: Block) -> dict[str, int]:
    """Lowercase 40-hex strings in urls and strip_prefix -> the first token holding each."""
    bzl = block.file
    commits: dict[str, int] = {}
    for key in ("urls", "url", "strip_prefix"):
        where = block.call.kwargs.get(key)
        if not where:
            continue
        for token in bzl.string_tokens(*where):
            for found in _HEX40.finditer(bzl.string_value(token)):
                key_ = found.group().lower()
                commits[key_] = min(token, commits.get(key_, token))
    return commits


def _commit_spans(bzl: BzlFile, block: Block, commit: str) -> list[Span]:
    """Every occurrence of the commit in the call's strings (strip_prefix, urls, ...)."""
    spans = []
    for token in bzl.string_tokens(block.call.open, block.call.close):
        start, end = bzl.string_span(token)
        body = bzl.text[start:end].lower()
        at = body.find(commit)
        while at >= 0:
            spans.append(Span(start + at, start + at + len(commit), COMMIT))
            at = body.find(commit, at + len(commit))
    return spans


def _literal_hash(block: Block) -> tuple[Span, str, int] | BadPin | None:
    """The block's own `sha256 = "<hex>"` or `integrity = "sha256-..."`."""
    for key, holds in (("sha256", HEX), ("integrity", SRI)):
        where = block.call.kwargs.get(key)
        if where and where[1] - where[0] == 1 and block.file.kinds[where[0]] == STR:
            return hash_at(block.file, where[0], holds, key)
    return None
