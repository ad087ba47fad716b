"""Set a package's pinned version in requirements text, touching nothing else.

`roll` moves `jaxlib==0.4.30` to the newest release in files people also edit by hand, so
the rewrite is surgical: only the version (or the operator and version) of the matching
requirement changes; leading whitespace, extras, environment markers, comments, line
endings and every other line stay byte-for-byte.

Which lines match: requirement lines whose name equals the package under PEP 503
normalisation (`IREE_Base.Compiler` is `iree-base-compiler`); option lines (`-r`, `-e`,
`--index-url`, `-f`), comments and blank lines never do. Lines continued with a trailing
backslash are read as one requirement, as pip reads them. What happens to a matching line:

- `name==X` or `name===X`: the version becomes the new one (`===` becomes `==`).
- `name` with no version, `name>=X` or `name>X` (a floor the newest release satisfies):
  becomes `name==NEW`, extras, markers and comments kept. `old` is None for these.
- any other specifier (`~=`, `<`, `<=`, `!=`, or several clauses such as `>=1,<2`): a
  `ConfigError`, since pinning past an upper bound or an exclusion would silently defeat
  it; the message says to write an `==` pin or take the package out of the schedule.
- `--hash=` anywhere on the logical line: a `ConfigError`, since the new version's hashes
  are unknown here; regenerate the file with pip-compile or remove the hashes.
- `name @ URL`: a `ConfigError`; a direct reference has no version to set.

No matching line: `name==version` is appended on a new line, in the file's line-ending
style, unless the file uses `--hash` (or `--require-hashes`) anywhere: pip's hash-checking
mode is all or nothing, so one unhashed line would make `pip install -r` fail; that is a
`ConfigError` with the same pip-compile advice. When every matching line already pins the
version, the text is returned unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from xla_tasks.errors import ConfigError

_OP = r"(?:===|==|~=|!=|>=|<=|>|<)"
_CLAUSE = rf"{_OP}\s*[^\s;,#\\]+"
_REQUIREMENT_RE = re.compile(
    rf"""
    (?P<lead>\ufeff?\s*)
    (?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)
    (?P<extras>\s*\[[^\]]*\])?
    (?P<spec>\s*{_CLAUSE}(?:\s*,\s*{_CLAUSE})*)?
    (?P<rest>.*)
    """,
    re.VERBOSE | re.DOTALL,
)
_CLAUSE_RE = re.compile(rf"(?P<op>{_OP})\s*(?P<version>[^\s;,#\\]+)")
# What may follow a requirement: a marker, options such as --hash, a comment, a backslash.
_REST_RE = re.compile(r"\s*(?:;.*|\\)?|\s+--.*", re.DOTALL)
# pip's COMMENT_RE: a `#` starts a comment at the start of a line or after whitespace.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_HASH_OPTION_RE = re.compile(r"(^|\s)--(hash|require-hashes)\b")
_HASH_HINT = "regenerate the file with pip-compile --generate-hashes, or remove the hashes"
_REWRITABLE_OPS = frozenset({"==", "===", ">=", ">"})
_PIN_OPS = frozenset({"==", "==="})


@dataclass(frozen=True, slots=True)
class RequirementChange:
    """What `set_requirement_version` did: `old` is the first matching pin, None if unpinned."""

    name: str
    old: str | None
    new: str
    appended: bool


@dataclass(frozen=True, slots=True)
class _Line:
    body: str
    eol: str


def set_requirement_version(
    text: str, name: str, version: str, path: str
) -> tuple[str, RequirementChange]:
    """Pin `name` to `version` in requirements `text`; raises before changing anything.

    `path` only names the file in error messages. Raises ValueError for a `version` that is
    not PEP 440 (a caller bug: versions come from the index).
    """
    Version(version)  # raises InvalidVersion (a ValueError) early
    lines = _split_lines(text)
    target = canonicalize_name(name)
    found = False
    old: str | None = None
    for start, end in _logical_lines(lines):
        match = _match_requirement(lines, start, end, target, path)
        if match is None:
            continue
        line_old, body = _rewrite(match, version, path, start + 1)
        if not found:
            found, old = True, line_old
        lines[start] = _Line(body, lines[start].eol)
    if not found:
        _refuse_unhashed_line(lines, name, path)
        return _append(text, name, version), RequirementChange(name, None, version, True)
    new_text = "".join(line.body + line.eol for line in lines)
    return new_text, RequirementChange(name, old, version, False)


def _split_lines(text: str) -> list[_Line]:
    """Physical lines, each with its own ending (`\\r\\n` or `\\n`) kept apart from the body."""
    lines = []
    for chunk in _LINE_RE.findall(text):
        eol = "\r\n" if chunk.endswith("\r\n") else "\n" if chunk.endswith("\n") else ""
        lines.append(_Line(chunk[: len(chunk) - len(eol)], eol))
    return lines


def _logical_lines(lines: list[_Line]) -> list[tuple[int, int]]:
    """Index ranges [start, end) of lines pip joins: a trailing `\\` continues, unless commented."""
    ranges = []
    start = 0
    for index, line in enumerate(lines):
        continued = line.body.endswith("\\") and not _COMMENT_RE.search(line.body)
        if not continued or index == len(lines) - 1:
            ranges.append((start, index + 1))
            start = index + 1
    return ranges


def _match_requirement(
    lines: list[_Line], start: int, end: int, target: NormalizedName, path: str
) -> re.Match[str] | None:
    """The first physical line's match when this logical line requires `target`, else None."""
    joined = "".join(_COMMENT_RE.sub("", line.body).removesuffix("\\") for line in lines[start:end])
    whole = _REQUIREMENT_RE.fullmatch(joined)
    if whole is None or canonicalize_name(whole["name"]) != target:
        return None
    number = start + 1
    if whole["rest"].lstrip().startswith("@"):
        raise ConfigError(
            path,
            f"{whole['name']} is a direct reference (name @ URL); there is no version to set",
            line=number,
            hint=f"write {whole['name']}==VERSION instead, or drop the package from the schedule",
        )
    if "--hash" in joined:
        raise ConfigError(
            path,
            f"{whole['name']} carries --hash; hashed requirements can't be rewritten, "
            "the new version's hashes are unknown here",
            line=number,
            hint=_HASH_HINT,
        )
    if not _REST_RE.fullmatch(whole["rest"]):
        return None  # not a requirement line for this package (a path such as `jaxlib/`)
    first = _REQUIREMENT_RE.fullmatch(lines[start].body)
    if first is None or _squash(first, "name", "extras", "spec") != _squash(
        whole, "name", "extras", "spec"
    ):
        raise ConfigError(
            path,
            f"{whole['name']}: requirement is split over several lines",
            line=number,
            hint="put the name, extras and version on the first line",
        )
    return first


def _refuse_unhashed_line(lines: list[_Line], name: str, path: str) -> None:
    """Adding `name==V` to a file in pip's hash-checking mode would break `pip install -r`."""
    for number, line in enumerate(lines, start=1):
        if _HASH_OPTION_RE.search(_COMMENT_RE.sub("", line.body)):
            raise ConfigError(
                path,
                f"{name} is not in this file, and adding it without hashes would break "
                f"`pip install -r`: the file uses --hash (line {number}), and pip checks "
                "hashes for every line or none",
                hint=_HASH_HINT,
            )


def _squash(match: re.Match[str], *groups: str) -> str:
    return "".join(re.sub(r"\s+", "", match[group] or "") for group in groups)


def _rewrite(match: re.Match[str], version: str, path: str, number: int) -> tuple[str | None, str]:
    """(old pinned version or None, the line with `==version` in place)."""
    body = match.string
    if match["spec"] is None:
        cut = match.end("extras") if match["extras"] else match.end("name")
        return None, f"{body[:cut]}=={version}{body[cut:]}"
    clauses = list(_CLAUSE_RE.finditer(body, match.start("spec"), match.end("spec")))
    if len(clauses) != 1 or clauses[0]["op"] not in _REWRITABLE_OPS:
        raise ConfigError(
            path,
            f"{match['name']}{match['spec'].strip()} limits the version; "
            "roll only rewrites ==, >=, > or unversioned requirements",
            line=number,
            hint=f"write {match['name']}==VERSION, or remove the package from the schedule",
        )
    clause = clauses[0]
    old = clause["version"] if clause["op"] in _PIN_OPS else None
    if old is not None and _same_version(old, version):
        return old, body
    spacing = body[clause.end("op") : clause.start("version")]
    return old, f"{body[: clause.start()]}=={spacing}{version}{body[clause.end() :]}"


def _same_version(written: str, version: str) -> bool:
    """True when the pin already names `version` (`0.4.10.0` is `0.4.10`)."""
    try:
        return Version(written) == Version(version)
    except InvalidVersion:
        return False


def _append(text: str, name: str, version: str) -> str:
    eol = "\r\n" if "\r\n" in text else "\n"
    if text and not text.endswith("\n"):
        text += eol
    return f"{text}{name}=={version}{eol}"
