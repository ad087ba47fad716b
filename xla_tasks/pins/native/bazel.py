"""Bazel pin files read together: a unit is the files whose names refer to each other.

JAX writes `XLA_COMMIT` in `revision.bzl` and uses it in the archive URL of the
`workspace.bzl` beside it, so the two are read as one unit: constants from either, blocks
(calls that name a URL or a commit) from either. `MODULE.bazel` and `WORKSPACE` are units of
their own. The formats living in these files are read by `constants` (a string constant
holds the commit) and `blocks` (a call writes the commit literally).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from xla_tasks.pins.native.digest import hex_of_sri
from xla_tasks.pins.native.model import SHA256_RE, BadPin, bad_hash
from xla_tasks.pins.native.sites import HEX, SRI, Span
from xla_tasks.pins.native.starlark import BzlFile, Call, Constant, Ref, Template
from xla_tasks.pins.native.urls import archive_repo, repo_url

# keyword arguments whose values say what a block fetches
URL_KEYS = ("urls", "url", "remote")
OVERRIDES = ("archive_override", "git_override")
WORKSPACE_NAMES = ("WORKSPACE", "WORKSPACE.bazel")


@dataclass
class Block:
    """A call that names a URL or a commit: `http_archive(...)`, `archive_override(...)`."""

    file: BzlFile
    call: Call

    @property
    def kind(self) -> str:
        return self.call.callee.rsplit(".", 1)[-1]

    def templates(self, key: str) -> list[Template]:
        where = self.call.kwargs.get(key)
        return self.file.templates(*where) if where else []

    def literal(self, key: str) -> str | None:
        """The keyword's value when it is one string literal."""
        found = self.templates(key)
        if len(found) == 1 and len(found[0]) == 1 and isinstance(found[0][0], str):
            return found[0][0]
        return None

    def url_templates(self) -> list[Template]:
        return [t for key in ("urls", "url") for t in self.templates(key)]

    @property
    def line(self) -> int:
        return self.file.line_of(self.file.starts[self.call.open])


class Unit:
    """The files read together, their constants by name, and their blocks."""

    def __init__(self, files: list[BzlFile]) -> None:
        self.files = files
        self.constants: dict[str, list[Constant]] = {}
        for bzl in files:
            for constant in bzl.constants:
                self.constants.setdefault(constant.name, []).append(constant)
        self.blocks = [
            Block(bzl, call)
            for bzl in files
            for call in bzl.calls
            if call.callee.rsplit(".", 1)[-1] in OVERRIDES
            or any(key in call.kwargs for key in (*URL_KEYS, "commit"))
        ]

    def file(self, path: str) -> BzlFile:
        return next(bzl for bzl in self.files if bzl.path == path)

    def render(self, template: Template, overrides: Mapping[str, str] | None = None) -> str:
        """The string a template builds, names replaced by their constants' values."""
        out = []
        for part in template:
            if isinstance(part, str):
                out.append(part)
            elif overrides and part.name in overrides:
                out.append(overrides[part.name])
            elif part.name in self.constants:
                out.append(self.constants[part.name][0].value)
            else:
                out.append("{" + part.name + "}")
        return "".join(out)

    def value(self, block: Block, key: str) -> str | None:
        """A keyword's value when it is one literal or one known constant."""
        found = block.templates(key)
        if len(found) == 1 and len(found[0]) == 1:
            part = found[0][0]
            if isinstance(part, str):
                return part
            if part.name in self.constants:
                return self.constants[part.name][0].value
        return None


def refs(templates: list[Template]) -> set[str]:
    return {part.name for template in templates for part in template if isinstance(part, Ref)}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a pin says which repo it is: URL, archive URLs and kind, prefix, Bazel name."""

    url: str | None
    archive: str | None = None
    archive_urls: tuple[str, ...] = ()
    archive_prefix: str | None = None
    bazel_name: str | None = None


def block_source(unit: Unit, block: Block, commit_ref: str | None, commit: str) -> Source:
    """What `block` fetches when its commit is `commit` (written as `commit_ref` or literally)."""
    fill = {commit_ref: commit} if commit_ref else None
    url: str | None = None
    archives: list[str] = []
    kind: str | None = None
    prefix: str | None = None
    for template in block.url_templates():
        rendered = unit.render(template, fill)
        if len(rendered) > 4096:
            continue
        found = archive_repo(rendered)
        if found and commit.lower() in rendered.lower():
            url = url or found[0]
            kind = kind or found[2] or None
            if found[2]:  # GitHub's /archive/ folder; other downloads name theirs otherwise
                prefix = prefix or f"{found[1]}-{commit}/"
            archives.append(rendered)
        elif url is None and found is None:
            url = repo_url(rendered)
    remote = unit.value(block, "remote")
    if remote and len(remote) <= 4096:
        url = repo_url(remote) or url
    strip = (
        unit.render(block.templates("strip_prefix")[0], fill)
        if block.templates("strip_prefix")
        else None
    )
    if strip and commit.lower() in strip.split("/", 1)[0].lower():
        prefix = strip.split("/", 1)[0] + "/"
    name_key = "module_name" if block.kind in OVERRIDES else "name"
    return Source(url, kind, tuple(archives), prefix, unit.value(block, name_key))


def unit_key(path: str) -> str:
    """Files in one folder of a `third_party/NAME/` layout read together; others alone."""
    base = posixpath.basename(path)
    if base.endswith(".bzl"):
        return posixpath.dirname(path) + "/"
    return path


def is_bazel_file(path: str) -> bool:
    base = posixpath.basename(path)
    return base.endswith((".bzl", ".bazel")) or base in WORKSPACE_NAMES


def hash_at(bzl: BzlFile, token: int, holds: str, what: str) -> tuple[Span, str, int] | BadPin:
    """The hash a string token holds, hex or SRI, with its span; a BadPin if it is none."""
    value = bzl.string_value(token)
    line = bzl.line_of(bzl.starts[token])
    digest = value.lower() if holds == HEX and SHA256_RE.fullmatch(value) else None
    if holds == SRI:
        digest = hex_of_sri(value)
    if digest is None:
        message = bad_hash(value, what)
        if holds == SRI:
            message = f"{what} is {value[:80]!r}, not `sha256-` and the base64 of 32 bytes"
        return BadPin(bzl.path, line, None, None, message)
    return Span(*bzl.string_span(token), holds), digest, line
