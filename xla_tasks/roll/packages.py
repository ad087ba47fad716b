"""Find the newest release of a Python package on simple indexes and find-links pages.

`roll` needs "the newest acceptable version of jaxlib" without installing anything, so we
read the same sources pip reads: a PEP 503 (HTML) or PEP 691 (JSON) simple index, and
find-links pages (plain HTML pages of links to files, like JAX's nightly page). The
pypi-simple client does the content negotiation and the yanked markers; `packaging` does
names (PEP 503) and versions (PEP 440). Requires-Python markers are ignored on purpose: the
pin is for the project's users, not for the interpreter running xla-tasks.

Every failure a user can cause or meet (bad URL, network down, unknown project, nothing
acceptable) is a one-line `PackageIndexError` naming the package and the URL.

Reads are bounded: `timeout` seconds per network read, MAX_PAGE_BYTES per page and
`deadline` seconds for the whole lookup. A server that streams links forever once grew
roll to 21 GB in 90 s, and one that trickles a byte at a time never hits a read timeout.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version
from pypi_simple import DistributionPackage, ProjectPage, PyPISimple
from pypi_simple.errors import (
    NoSuchProjectError,
    UnsupportedContentTypeError,
    UnsupportedRepoVersionError,
)

from xla_tasks.engine.model import redact
from xla_tasks.errors import PackageIndexError

DEFAULT_INDEX_URL = "https://pypi.org/simple"
_USER_AGENT = "xla-tasks (pypi-simple; requests)"
# Source archives pip installs; eggs, .exe and .msi files are ignored as pip ignores them.
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tgz", ".tar")
_PROJECT_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PYDANTIC_NOISE_RE = re.compile(r" \[type=[^\]]*\]| For further information visit \S+")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
# Parse failures of a page we were served: bad JSON (pydantic's errors are ValueErrors),
# an unknown content type or a newer major API version than pypi-simple knows.
_BAD_PAGE_ERRORS = (ValueError, UnsupportedContentTypeError, UnsupportedRepoVersionError)
# PyPI's largest project pages are a few MB; JAX's nightly find-links page is ~1 MB.
MAX_PAGE_BYTES = 64 * 1024 * 1024
DEFAULT_DEADLINE = 120.0
_CHUNK = 256 * 1024
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
    """
    if not _PROJECT_NAME_RE.fullmatch(name):
        raise PackageIndexError(f"{name!r}: not a valid Python package name (PEP 508)")
    indexes = [index_url] if index_url else ([] if find_links else [DEFAULT_INDEX_URL])
    canonical = canonicalize_name(name)
    best: _Candidate | None = None
    with requests.Session() as session:
        session.headers["User-Agent"] = _USER_AGENT
        session.hooks["response"].append(_bounded_body(time.monotonic() + deadline, deadline))
        for source, packages in _read_sources(name, indexes, find_links, session, timeout):
            for version in _acceptable_versions(packages, canonical, pre):
                if best is None or version > best.version:
                    best = _Candidate(version, source)
    if best is None:
        raise PackageIndexError(_no_release_message(name, [*indexes, *find_links], pre))
    return PackageChoice(name=name, version=str(best.version), source=_shown(best.source))


def _read_sources(
    name: str,
    indexes: Sequence[str],
    find_links: Sequence[str],
    session: requests.Session,
    timeout: float,
) -> Iterator[tuple[str, list[DistributionPackage]]]:
    """Yield (configured URL, files listed there): indexes first, then find-links pages."""
    for url in indexes:
        # Like pip: with find-links pages too, a project the index lacks is no error there.
        yield url, _read_index(name, url, session, timeout, missing_ok=bool(find_links))
    for url in find_links:
        yield url, _read_find_links(name, url, session, timeout)


class _PageLimitError(requests.RequestException):
    """A page over MAX_PAGE_BYTES, or a lookup past its deadline; str() is the reason."""


def _bounded_body(ends_at: float, deadline: float) -> Callable[..., requests.Response]:
    """A response hook that reads the body itself, within the bounds.

    requests runs response hooks before it reads a non-streamed body, so this also
    bounds pypi-simple's own `get`; the body it sets is what `.content` returns.
    `read1` returns what has arrived: a trickling server cannot hold one read past the
    deadline (urllib3's `read(n)` waits for all n bytes).
    """
    from urllib3.exceptions import HTTPError

    def read(response: requests.Response, *args: object, **kwargs: object) -> requests.Response:
        chunks, size = [], 0
        try:
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                size += len(chunk)
                if size > MAX_PAGE_BYTES:
                    raise _PageLimitError(f"page larger than {MAX_PAGE_BYTES // 2**20} MiB")
                if time.monotonic() > ends_at:
                    raise _PageLimitError(f"not read within {deadline:g} s")
                chunks.append(chunk)
        except HTTPError as err:  # what requests' own body reading turns into these
            response.close()
            raise requests.ConnectionError(err) from err
        except _PageLimitError:
            response.close()
            raise
        response._content = b"".join(chunks)  # what requests itself stores for .content
        return response

    return read


def _acceptable_versions(
    packages: Iterable[DistributionPackage], canonical: NormalizedName, pre: bool
) -> Iterator[Version]:
    """Versions of this project's non-yanked wheels and sdists; unparsable names skipped."""
    for package in packages:
        if package.is_yanked or urlsplit(package.url).scheme.lower() not in _LINK_SCHEMES:
            continue
        version = _file_version(package, canonical)
        if version is not None and (pre or not version.is_prerelease):
            yield version


def _file_version(package: DistributionPackage, canonical: NormalizedName) -> Version | None:
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


def _read_index(
    name: str, url: str, session: requests.Session, timeout: float, missing_ok: bool = False
) -> list[DistributionPackage]:
    """Files on the project's page of a simple index (HTML or JSON, server's choice)."""
    scheme = _scheme(name, url)
    if scheme == "file":
        page = _local_path(url) / canonicalize_name(name) / "index.html"
        if not page.is_file():
            if missing_ok:
                return []
            raise PackageIndexError(f"{name}: not found on {_shown(url)} (no {page})")
        return _parse_html(name, url, _read_local(name, url, page), page.as_uri())
    client = PyPISimple(endpoint=url, session=session)
    try:
        return client.get_project_page(name, timeout=timeout).packages
    except NoSuchProjectError:
        if missing_ok:
            return []
        raise PackageIndexError(
            f"{name}: not found on {_shown(url)} (HTTP 404 for "
            f"{_shown(client.get_project_url(name))}; check the package name and index_url)"
        ) from None
    except (requests.RequestException, *_BAD_PAGE_ERRORS) as err:
        raise _cannot_read(name, url, _reason(err, timeout)) from err


def _read_find_links(
    name: str, url: str, session: requests.Session, timeout: float
) -> list[DistributionPackage]:
    """Files linked from a find-links page; a local directory lists its files as links."""
    if _scheme(name, url) == "file":
        path = _local_path(url)
        if path.is_dir():
            return _directory_packages(name, path)
        return _parse_html(name, url, _read_local(name, url, path), path.as_uri())
    try:
        response = session.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as err:
        raise _cannot_read(name, url, _reason(err, timeout)) from err
    charset = response.encoding if "charset" in response.headers.get("content-type", "") else None
    return _parse_html(name, url, response.content, response.url, charset)


def _parse_html(
    name: str, url: str, html: bytes, base_url: str, charset: str | None = None
) -> list[DistributionPackage]:
    try:
        return ProjectPage.from_html(name, html, base_url=base_url, from_encoding=charset).packages
    except _BAD_PAGE_ERRORS as err:
        raise _cannot_read(name, url, _reason(err, 0)) from err


def _read_local(name: str, url: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise _cannot_read(name, url, err.strerror or str(err)) from None


def _directory_packages(name: str, directory: Path) -> list[DistributionPackage]:
    """pip treats a local find-links directory as a page linking every file in it."""
    files = sorted(entry for entry in directory.iterdir() if entry.is_file())
    links = "".join(
        f'<a href="{escape(entry.as_uri())}">{escape(entry.name)}</a>\n' for entry in files
    )
    return _parse_html(name, directory.as_uri(), links.encode(), directory.as_uri())


def _scheme(name: str, url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in {"http", "https", "file"}:
        raise _cannot_read(name, url, "only http://, https:// and file:// URLs are supported")
    return scheme


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in {"", "localhost"}:
        return Path(url2pathname(f"//{parts.netloc}{parts.path}"))
    return Path(url2pathname(parts.path))


def _reason(err: Exception, timeout: float) -> str:
    """requests' messages run to 300 characters of pool internals; keep the cause."""
    if isinstance(err, _PageLimitError):
        return str(err)
    if isinstance(err, requests.Timeout) or _is_read_timeout(err):
        return f"no answer within {timeout:g} s"
    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code} {err.response.reason}".rstrip()
    text = " ".join(str(err).split())  # pydantic's validation errors span several lines
    text = _PYDANTIC_NOISE_RE.sub("", text)
    found = _ERRNO_RE.search(text)
    if found:
        return found.group(0).strip()
    return text if len(text) <= 200 else text[:197] + "..."


def _is_read_timeout(err: Exception) -> bool:
    """A stall mid-body: requests wraps urllib3's ReadTimeoutError in a ConnectionError."""
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(arg, ReadTimeoutError) for arg in err.args)


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
