"""Find the newest release of a Python package on simple indexes and find-links pages.

`roll` needs "the newest acceptable version of jaxlib" without installing anything, so we
read the same sources pip reads: a PEP 503 (HTML) or PEP 691 (JSON) simple index, and
find-links pages (plain HTML pages of links to files, like JAX's nightly page). Pages are
read by `httpget` (bounded in time and size) and parsed here, for the three facts roll
uses: each file's URL, its name and its PEP 592 yanked marker. `packaging` does names
(PEP 503), file names and versions (PEP 440). Requires-Python markers and hashes are
ignored on purpose: the pin is for the project's users, not for the interpreter running
xla-tasks, and nothing is downloaded.

Every failure a user can cause or meet (bad URL, network down, unknown project, a page
that is not what it claims, nothing acceptable) is a one-line `PackageIndexError` naming
the package and the URL.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from xla_tasks.engine.model import redact
from xla_tasks.errors import PackageIndexError

if TYPE_CHECKING:
    from xla_tasks.roll.httpget import PageReader

DEFAULT_INDEX_URL = "https://pypi.org/simple"
_USER_AGENT = "xla-tasks (urllib3)"
_JSON_TYPE = "application/vnd.pypi.simple.v1+json"
_HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
# PEP 691 negotiation: JSON or HTML, as the server prefers; plain HTML only as a fallback.
_ACCEPT_INDEX = f"{_JSON_TYPE}, {_HTML_TYPES[0]}, {_HTML_TYPES[1]};q=0.01"
# Source archives pip installs; eggs, .exe and .msi files are ignored as pip ignores them.
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tgz", ".tar")
_PROJECT_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# PyPI's largest project pages are a few MB; JAX's nightly find-links page is ~1 MB.
MAX_PAGE_BYTES = 64 * 1024 * 1024
DEFAULT_DEADLINE = 120.0
# Links pip could download from; a `javascript:` (or `data:`) link is never a file.
_LINK_SCHEMES = {"http", "https", "file"}


@dataclass(frozen=True, slots=True)
class PackageChoice:
    """The newest acceptable version of a package and the configured URL that offered it
    (index URL or find-links page, as configured, with any password masked)."""

    name: str
    version: str
    source: str


@dataclass(frozen=True, slots=True)
class IndexFile:
    """A file a page links to: absolute URL, the name the page gives it, PEP 592 yanked."""

    url: str
    filename: str
    yanked: bool = False


class _Unreadable(Exception):
    """A source that cannot be read, or a page that is not what it claims; str() is why."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    version: Version
    source: str


def find_latest_version(
    name: str,
    index_url: str | None = None,
    find_links: Sequence[str] = (),
    pre: bool = False,
    timeout: float = 30.0,
    deadline: float = DEFAULT_DEADLINE,
) -> PackageChoice:
    """Newest non-yanked version of `name` over the index and every find-links page.

    The index defaults to PyPI only when no find-links page is given either. Pre-releases
    and dev releases count only with `pre`. Every source is read: one that fails makes the
    whole lookup fail, since "newest" would otherwise depend on which server was up.
    `timeout` bounds each connect and read, `deadline` the whole lookup, MAX_PAGE_BYTES
    each page.
    """
    from xla_tasks.roll.httpget import Bounds, PageReader  # urllib3: only when a lookup runs

    if not _PROJECT_NAME_RE.fullmatch(name):
        raise PackageIndexError(f"{name!r}: not a valid Python package name (PEP 508)")
    indexes = [index_url] if index_url else ([] if find_links else [DEFAULT_INDEX_URL])
    canonical = canonicalize_name(name)
    best: _Candidate | None = None
    with PageReader(Bounds(timeout, deadline, MAX_PAGE_BYTES), _USER_AGENT) as reader:
        for source, files in _read_sources(name, indexes, find_links, reader):
            for version in _acceptable_versions(files, canonical, pre):
                if best is None or version > best.version:
                    best = _Candidate(version, source)
    if best is None:
        raise PackageIndexError(_no_release_message(name, [*indexes, *find_links], pre))
    return PackageChoice(name=name, version=str(best.version), source=_shown(best.source))


def _read_sources(
    name: str, indexes: Sequence[str], find_links: Sequence[str], reader: PageReader
) -> Iterator[tuple[str, list[IndexFile]]]:
    """Yield (configured URL, files listed there): indexes first, then find-links pages."""
    from xla_tasks.roll.httpget import GetError

    # Like pip: with find-links pages too, a project the index lacks is no error there.
    missing_ok = bool(find_links)
    for url, is_index in [*((url, True) for url in indexes), *((url, False) for url in find_links)]:
        try:
            if is_index:
                files = _read_index(name, url, reader, missing_ok)
            else:
                files = _read_find_links(name, url, reader)
        except (GetError, _Unreadable) as err:
            raise _cannot_read(name, url, str(err)) from None
        yield url, files


def _acceptable_versions(
    packages: Iterable[IndexFile], canonical: NormalizedName, pre: bool
) -> Iterator[Version]:
    """Versions of this project's non-yanked wheels and sdists; unparsable names skipped."""
    for package in packages:
        if package.yanked or urlsplit(package.url).scheme.lower() not in _LINK_SCHEMES:
            continue
        version = _file_version(package, canonical)
        if version is not None and (pre or not version.is_prerelease):
            yield version


def _file_version(package: IndexFile, canonical: NormalizedName) -> Version | None:
    """Like pip, trust the file name in the URL first: find-links pages such as JAX's label
    their links `nocuda/jaxlib-...whl`; then the name the page gives (PEP 691 `filename`)."""
    from_url = posixpath.basename(unquote(urlsplit(package.url).path))
    for filename in dict.fromkeys((from_url, package.filename)):
        parsed = _parse_filename(filename)
        if parsed is not None and parsed[0] == canonical:
            return parsed[1]
    return None


def _parse_filename(filename: str) -> tuple[NormalizedName, Version] | None:
    """(project, version) of a wheel or sdist name; None for anything else or a bad version."""
    try:
        if filename.endswith(".whl"):
            project, version, _, _ = parse_wheel_filename(filename)
            return project, version
        for suffix in _SDIST_SUFFIXES:
            if filename.endswith(suffix) and len(filename) > len(suffix):
                # packaging knows only .tar.gz and .zip; pip also takes the older archives.
                return parse_sdist_filename(filename[: -len(suffix)] + ".tar.gz")
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _read_index(name: str, url: str, reader: PageReader, missing_ok: bool) -> list[IndexFile]:
    """Files on the project's page of a simple index (HTML or JSON, server's choice)."""
    from xla_tasks.roll.httpget import GetError

    if _scheme(url) == "file":
        page = _local_path(url) / canonicalize_name(name) / "index.html"
        if not page.is_file():
            if missing_ok:
                return []
            raise PackageIndexError(f"{name}: not found on {_shown(url)} (no {page})")
        return _html_files(_read_local(page), page.as_uri())
    project_url = f"{url.rstrip('/')}/{canonicalize_name(name)}/"
    try:
        got = reader.get(project_url, _ACCEPT_INDEX)
    except GetError as err:
        if err.status != 404:
            raise
        if missing_ok:
            return []
        raise PackageIndexError(
            f"{name}: not found on {_shown(url)} (HTTP 404 for "
            f"{_shown(project_url)}; check the package name and index_url)"
        ) from None
    return _project_files(got.body, got.content_type, got.url)


def _read_find_links(name: str, url: str, reader: PageReader) -> list[IndexFile]:
    """Files linked from a find-links page; a local directory lists its files as links."""
    if _scheme(url) == "file":
        path = _local_path(url)
        if path.is_dir():
            entries = sorted(entry for entry in path.iterdir() if entry.is_file())
            return [IndexFile(entry.as_uri(), entry.name) for entry in entries]
        return _html_files(_read_local(path), path.as_uri())
    got = reader.get(url, "text/html, */*;q=0.1")
    # Any Content-Type: pages of links are served as text/plain or octet-stream too.
    return _html_files(got.body, got.url, _charset(got.content_type))


def _project_files(body: bytes, content_type: str, base_url: str) -> list[IndexFile]:
    """A PEP 691 JSON or PEP 503 HTML project page, by its Content-Type (HTML if none)."""
    media_type = content_type.partition(";")[0].strip().lower() or "text/html"
    if media_type == _JSON_TYPE:
        return _json_files(body, base_url)
    if media_type in _HTML_TYPES:
        return _html_files(body, base_url, _charset(content_type))
    raise _Unreadable(f"unsupported Content-Type {content_type!r}")


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _json_files(body: bytes, base_url: str) -> list[IndexFile]:
    """The `files` of a PEP 691 project page; relative URLs resolved against the page."""
    try:
        document = json.loads(body)
    except ValueError as err:
        raise _Unreadable(f"invalid JSON: {err}") from None
    meta = document.get("meta") if isinstance(document, dict) else None
    version = meta.get("api-version") if isinstance(meta, dict) else None
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(version, str) or not isinstance(files, list):
        raise _Unreadable('validation error: not a PEP 691 page ("meta.api-version", "files")')
    _check_api_version(version)
    found = []
    for number, entry in enumerate(files):
        for key in ("url", "filename"):
            if not isinstance(entry, dict) or not isinstance(entry.get(key), str):
                raise _Unreadable(f"validation error: files[{number}].{key} is not a string")
        yanked = entry.get("yanked", False)  # true, or a string giving the reason
        is_yanked = yanked is True or isinstance(yanked, str)
        found.append(IndexFile(urljoin(base_url, entry["url"]), entry["filename"], is_yanked))
    return found


def _html_files(body: bytes, base_url: str, charset: str | None = None) -> list[IndexFile]:
    """The links of a PEP 503 page or find-links page, resolved against `<base href>`."""
    try:
        text = body.decode(charset or "utf-8-sig", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8-sig", errors="replace")
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = urljoin(base_url, parser.base) if parser.base else base_url
    return [
        IndexFile(urljoin(base, href), label.strip(), yanked)
        for href, label, yanked in parser.links
    ]


class _LinkParser(HTMLParser):
    """Collects `<a href>` (href, text, data-yanked present), the first `<base href>`, and
    checks PEP 629's `pypi:repository-version` meta tag."""

    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.links: list[tuple[str, str, bool]] = []
        self._anchor: tuple[str, list[str], bool] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a":
            self._end_anchor()
            if found.get("href"):
                self._anchor = (found["href"] or "", [], "data-yanked" in found)
        elif tag == "base" and found.get("href") and self.base is None:
            self.base = found["href"]
        elif tag == "meta" and found.get("name") == "pypi:repository-version":
            _check_api_version(found.get("content") or "")

    def handle_data(self, data: str) -> None:
        if self._anchor is not None:
            self._anchor[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._end_anchor()

    def close(self) -> None:
        super().close()
        self._end_anchor()

    def _end_anchor(self) -> None:
        if self._anchor is not None:
            href, text, yanked = self._anchor
            self.links.append((href, "".join(text), yanked))
            self._anchor = None


def _check_api_version(version: str) -> None:
    """PEP 629: a page of a newer major version may mean something else; refuse it."""
    major, _, _ = version.partition(".")
    if not major.isdigit():
        raise _Unreadable(f"repository version {version!r} is not a version")
    if int(major) > 1:
        raise _Unreadable(f"repository version {version} is newer than the 1.x this reader knows")


def _read_local(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise _Unreadable(err.strerror or str(err)) from None


def _scheme(url: str) -> str:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as err:  # such as an unclosed `[` of an IPv6 address
        raise _Unreadable(f"not a valid URL ({err})") from None
    if scheme not in {"http", "https", "file"}:
        raise _Unreadable("only http://, https:// and file:// URLs are supported")
    return scheme


def _local_path(url: str) -> Path:
    from urllib.request import url2pathname  # urllib.request costs ~25 ms to import

    parts = urlsplit(url)
    if parts.netloc not in {"", "localhost"}:
        return Path(url2pathname(f"//{parts.netloc}{parts.path}"))
    return Path(url2pathname(parts.path))


def _cannot_read(name: str, url: str, reason: str) -> PackageIndexError:
    return PackageIndexError(f"{name}: cannot read {_shown(url)}: {reason}")


def _shown(url: str) -> str:
    """The URL with its secrets masked: messages end up in CI logs and commit messages."""
    return redact(url)


def _no_release_message(name: str, urls: Sequence[str], pre: bool) -> str:
    where = " or ".join(_shown(url) for url in urls)
    if pre:
        return f"{name}: no release on {where} (yanked files and unparsable file names skipped)"
    return f"{name}: no release on {where} (pre-releases excluded; set pre = true to allow them)"
