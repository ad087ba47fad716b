"""GET one web page over HTTP(S), bounded in time and size, configured as pip and curl are.

`roll` reads package-index pages from servers it does not control. One that streams links
forever once grew roll to 21 GB in 90 s; one that trickles a byte at a time never trips a
read timeout. So each read waits at most `timeout` seconds and never past the lookup's
deadline, a body stops at `max_bytes`, and redirects stop at MAX_REDIRECTS.

The environment is read as requests (and so pip) read it: HTTP(S)_PROXY, ALL_PROXY and
NO_PROXY (names, domains and IP networks), credentials from the URL or ~/.netrc (dropped
when a redirect leaves the host), and REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE for TLS, which is
always verified (the system's CA store otherwise, the one git uses for the same hosts).
"""

from __future__ import annotations

import ipaddress
import netrc
import os
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import urllib3
from urllib3 import exceptions
from urllib3.util import make_headers

MAX_REDIRECTS = 10
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_CHUNK = 256 * 1024
_SCHEMES = ("http", "https")


class GetError(Exception):
    """A page that could not be read; str() is the reason in one line, without the URL."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Bounds:
    """Seconds per connect or read, seconds for the whole lookup from `start`, bytes a body."""

    timeout: float
    deadline: float
    max_bytes: int
    start: float = field(default_factory=time.monotonic)
    what: str = "page"  # what a body is called when it is too large ("archive")

    def read_limit(self) -> tuple[float, bool]:
        """Seconds the next wait may take, and whether the deadline (not `timeout`) set it."""
        left = self.start + self.deadline - time.monotonic()
        if left <= 0:
            raise GetError(self.late())
        return min(self.timeout, left), left < self.timeout

    def late(self) -> str:
        return f"not read within {self.deadline:g} s"


@dataclass(frozen=True, slots=True)
class Page:
    """A page as served: its final URL (after redirects), Content-Type and body."""

    url: str
    content_type: str
    body: bytes


class PageReader:
    """Reads pages one after another for one lookup, reusing connections to each host."""

    def __init__(self, bounds: Bounds, user_agent: str) -> None:
        self.bounds = bounds
        self.user_agent = user_agent
        self._pools: dict[str | None, urllib3.PoolManager] = {}

    def __enter__(self) -> PageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        for pool in self._pools.values():
            pool.clear()

    def get(self, url: str, accept: str) -> Page:
        """The body of `url` (http or https), following redirects; GetError on any failure."""
        chunks: list[bytes] = []
        final, content_type = self.stream(url, accept, chunks.append)
        return Page(final, content_type, b"".join(chunks))

    def stream(self, url: str, accept: str, sink: Callable[[bytes], None]) -> tuple[str, str]:
        """Feed the body of `url` to `sink` chunk by chunk (bounded memory, same bounds as
        `get`); return the final URL and its Content-Type. GetError on any failure."""
        _check_url(url)
        auth = _credentials(url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._open(url, accept, auth)
            location = response.get_redirect_location()
            if not location:
                content_type = response.headers.get("Content-Type", "")
                self._body(response, sink)
                return url, content_type
            response.close()
            target = urljoin(url, location)
            _check_url(target, f"redirected to {_without_credentials(target)}: ")
            if not _keeps_credentials(url, target):
                auth = _credentials(_without_credentials(target))
            url = target
        raise GetError(f"more than {MAX_REDIRECTS} redirects")

    def _open(self, url: str, accept: str, auth: str | None) -> urllib3.BaseHTTPResponse:
        wait, by_deadline = self.bounds.read_limit()
        headers = make_headers(accept_encoding=True, user_agent=self.user_agent, basic_auth=auth)
        headers["Accept"] = accept
        try:
            response = self._pool(url).request(
                "GET",
                _without_credentials(url),
                headers=headers,
                timeout=urllib3.Timeout(connect=wait, read=wait),
                retries=False,
                redirect=False,
                preload_content=False,
            )
        except (exceptions.HTTPError, OSError) as err:
            raise GetError(_reason(err, wait, by_deadline, self.bounds)) from err
        if response.status >= 400 or (
            response.status >= 300 and not response.get_redirect_location()
        ):
            response.close()
            raise GetError(
                f"HTTP {response.status} {response.reason or ''}".rstrip(), response.status
            )
        return response

    def _body(self, response: urllib3.BaseHTTPResponse, sink: Callable[[bytes], None]) -> None:
        """Read with `read1`, which returns what has arrived, each wait bounded anew."""
        size = 0
        wait, by_deadline = self.bounds.timeout, False
        try:
            while True:
                wait, by_deadline = self.bounds.read_limit()
                _set_read_timeout(response, wait)
                chunk = response.read1(_CHUNK, decode_content=True)
                if not chunk:
                    return
                size += len(chunk)
                if size > self.bounds.max_bytes:
                    raise GetError(f"{self.bounds.what} larger than {_size(self.bounds.max_bytes)}")
                sink(chunk)
        except (exceptions.HTTPError, OSError) as err:
            raise GetError(_reason(err, wait, by_deadline, self.bounds)) from err
        finally:
            response.close()

    def _pool(self, url: str) -> urllib3.PoolManager:
        proxy = _proxy_for(url)
        if proxy not in self._pools:
            self._pools[proxy] = _pool_manager(proxy)
        return self._pools[proxy]


def _size(limit: int) -> str:
    """`64 MiB`, or bytes when under one MiB (a test's small bound)."""
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit} bytes"


def _pool_manager(proxy: str | None) -> urllib3.PoolManager:
    """Connections verified against REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE or the system store."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    tls: dict[str, Any] = {}
    if bundle:
        tls["ca_cert_dir" if Path(bundle).is_dir() else "ca_certs"] = bundle
    if proxy is None:
        return urllib3.PoolManager(cert_reqs="CERT_REQUIRED", **tls)
    auth = _credentials(proxy)
    proxy_headers = make_headers(proxy_basic_auth=auth) if auth else None
    try:
        return urllib3.ProxyManager(
            _without_credentials(proxy),
            proxy_headers=proxy_headers,
            cert_reqs="CERT_REQUIRED",
            **tls,
        )
    except exceptions.ProxySchemeUnknown:
        raise GetError(
            f"proxy {_without_credentials(proxy)}: only http:// and https:// proxies are supported"
        ) from None


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for this URL's scheme, unless NO_PROXY covers it."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme.lower()) or proxies.get("all")
    host = parts.hostname or ""
    if not proxy or _bypasses_proxy(host, parts.port, proxies.get("no", "")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """NO_PROXY as requests reads it: `*`, names and `.domains` (urllib's rules), and, for an
    IP address, networks such as 10.0.0.0/8."""
    if urllib.request.proxy_bypass(f"{host}:{port}" if port else host):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in no_proxy.replace(" ", "").split(","):
        try:
            if "/" in entry and address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _check_url(url: str, context: str = "") -> None:
    """An http(s) URL with a host and a numeric port, or GetError saying what is wrong."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as err:
        raise GetError(f"{context}not a valid URL ({err})") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise GetError(f"{context}not http(s)")
    if not parts.hostname:
        raise GetError(f"{context}no host in the URL")


def _credentials(url: str) -> str | None:
    """`user:password` for Basic auth: from the URL, else from ~/.netrc (or $NETRC)."""
    parts = urlsplit(url)
    if parts.username is not None:
        return f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        found = netrc.netrc(path).authenticators(parts.hostname or "")
    except (OSError, netrc.NetrcParseError):
        return None
    if not found:
        return None
    login, account, password = found
    return f"{login or account}:{password}"


def _keeps_credentials(url: str, target: str) -> bool:
    """As requests: credentials follow a redirect on the same host, or http -> https."""
    old, new = urlsplit(url), urlsplit(target)
    if old.hostname != new.hostname:
        return False
    if old.scheme == new.scheme:
        return old.port == new.port
    return old.scheme == "http" and new.scheme == "https" and old.port in (None, 80)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _set_read_timeout(response: urllib3.BaseHTTPResponse, seconds: float) -> None:
    """Bound the next socket read: urllib3 sets the read timeout once per request."""
    sock = getattr(response.connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _reason(err: Exception, wait: float, by_deadline: bool, bounds: Bounds) -> str:
    """The cause in a few words: urllib3's messages run to 300 characters of pool internals."""
    if isinstance(err, exceptions.TimeoutError) and not isinstance(
        err,
        exceptions.NewConnectionError,  # a refused connection, though a subclass
    ):
        return bounds.late() if by_deadline else f"no answer within {wait:g} s"
    text = " ".join(str(err).split())
    found = _ERRNO_RE.search(text)
    if found:
        return found.group(0).strip()
    return text if len(text) <= 200 else text[:197] + "..."
