"""A real package index on 127.0.0.1 for tests: PEP 503 HTML, PEP 691 JSON, find-links pages.

The tree is written once per session (per xdist worker) and served by a
`ThreadingHTTPServer` on an ephemeral port, so tests exercise the real HTTP client,
content negotiation, redirects, credentials and error paths without touching the network.
`/moved/...` redirects to `/...`, `/elsewhere/...` to the same path on `localhost` (another
host to a client). `index_proxy` is a forward proxy that answers every request itself.
Fixtures are defined as `fixture_<name>` with `name=<name>`, so a test module imports them
(`index_server` too, since `simple_index` needs it) without its parameters shadowing the
imported names.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
TLS_CERT = Path(__file__).parent / "data" / "tls" / "localhost.pem"
WHEEL_TAGS = "cp311-cp311-manylinux2014_x86_64.whl"

# project -> (filename, attributes of its anchor); order is deliberately not by version.
HTML_PROJECTS: dict[str, list[tuple[str, str]]] = {
    "jaxlib": [
        (f"jaxlib-0.4.10-{WHEEL_TAGS}", ""),
        (f"jaxlib-0.4.1-{WHEEL_TAGS}", ""),
        ("jaxlib-0.4.1.tar.gz", ""),
        ("jaxlib-0.4.9.tar.gz", ""),  # lexically "0.4.9" > "0.4.10"
        (f"jaxlib-0.5.0rc1-{WHEEL_TAGS}", ""),
        (f"jaxlib-0.6.0-{WHEEL_TAGS}", 'data-yanked=""'),
        ("jaxlib-latest.tar.gz", ""),  # version does not parse: skipped
        ("jaxlib-0.4.10.egg", ""),  # not installable by pip: skipped
    ],
    "iree-base-compiler": [
        ("iree-base-compiler-3.0.0.tar.gz", ""),
        ("iree_base_compiler-3.1.0-cp311-cp311-manylinux_2_28_x86_64.whl", ""),
        ("iree_base_compiler-3.2.0rc20250101-cp311-cp311-manylinux_2_28_x86_64.whl", ""),
    ],
    "onlypre": [
        ("onlypre-0.0.9.tar.gz", 'data-yanked="broken build"'),
        ("onlypre-0.1.0rc1.tar.gz", ""),
    ],
}

# Served only as PEP 691 JSON: a client that does not negotiate JSON finds nothing.
JSON_PROJECTS: dict[str, list[dict[str, object]]] = {
    "jax": [
        {"filename": "jax-0.4.30-py3-none-any.whl"},
        {"filename": "jax-0.4.31-py3-none-any.whl", "yanked": "regression"},
        {"filename": "jax-0.4.29.tar.gz"},
        {"filename": "jax-0.5.0.dev20261101-py3-none-any.whl"},
    ],
}

# Served as PEP 691 JSON that does not validate (files lack "url" and "hashes").
BROKEN_JSON_PROJECTS: dict[str, list[dict[str, object]]] = {
    "badjson": [{"filename": "badjson-1.0.tar.gz"}]
}

# A PEP 691 page of a newer major API version than the client knows (PEP 629).
FUTURE_JSON_PROJECTS = {"future": "2.0"}

NIGHTLY_PAGE = [
    f"nightly/jaxlib-0.4.11.dev20261101-{WHEEL_TAGS}",
    f"nightly/jaxlib-0.5.1.dev20261102-{WHEEL_TAGS}",
    "nightly/jax-0.9.0.dev20261102-py3-none-any.whl",  # another package: ignored
    f"nightly/jaxlib_cuda12_plugin-9.0.0.dev20261102-{WHEEL_TAGS}",  # ditto
    "https://example.invalid/docs.html",  # not a distribution
]

LOCAL_WHEELS = [f"jaxlib-0.7.0-{WHEEL_TAGS}", "jaxlib-0.7.1.dev1.tar.gz", "README.txt"]


@dataclass
class SimpleIndex:
    """Where the test index lives; `served` lists (path, content type) of each answer,
    `authorizations` (path, Authorization header or None) of each request."""

    root: Path
    base_url: str
    served: list[tuple[str, str]] = field(default_factory=list)
    authorizations: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/simple"

    @property
    def nightly_url(self) -> str:
        return f"{self.base_url}/nightly.html"

    @property
    def file_index_url(self) -> str:
        return (self.root / "simple").as_uri()

    @property
    def wheel_dir(self) -> Path:
        return self.root / "wheels"


def _anchor(href: str, attrs: str = "", text: str | None = None) -> str:
    """PEP 503 anchors show the file name; JAX's nightly page shows `nocuda/jaxlib-...whl`."""
    name = text or href.split("#")[0].rsplit("/", 1)[-1]
    return f'<a href="{href}" {attrs}>{name}</a><br/>'.replace(" >", ">")


def _page(title: str, anchors: list[str]) -> str:
    body = "\n".join(anchors)
    head = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>"
    return f"{head}\n{body}\n</body></html>\n"


def _write_json(
    directory: Path, project: str, files: list[dict[str, object]], version: str = "1.1"
) -> None:
    document = {"meta": {"api-version": version}, "name": project, "files": files}
    directory.mkdir(parents=True)
    (directory / "index.json").write_text(json.dumps(document))


def write_index_tree(root: Path) -> None:
    """Write the HTML and JSON project pages, the nightly page and a directory of wheels."""
    for project, files in HTML_PROJECTS.items():
        anchors = [_anchor(f"../../files/{name}#sha256=00", attrs) for name, attrs in files]
        (root / "simple" / project).mkdir(parents=True)
        (root / "simple" / project / "index.html").write_text(_page(project, anchors))
    for project, files in JSON_PROJECTS.items():
        entries = [{"url": f"../../files/{f['filename']}", "hashes": {}, **f} for f in files]
        _write_json(root / "simple" / project, project, entries)
    for project, files in BROKEN_JSON_PROJECTS.items():
        _write_json(root / "simple" / project, project, files)
    for project, version in FUTURE_JSON_PROJECTS.items():
        files = [{"filename": f"{project}-1.0.tar.gz", "url": "x", "hashes": {}}]
        _write_json(root / "simple" / project, project, files, version)
    (root / "nightly.html").write_text(
        _page("nightlies", [_anchor(h, text=h) for h in NIGHTLY_PAGE])
    )
    (root / "wheels").mkdir()
    for name in LOCAL_WHEELS:
        (root / "wheels" / name).write_bytes(b"")


class _Handler(SimpleHTTPRequestHandler):
    """Static files, plus PEP 691 negotiation for directories holding an index.json."""

    served: list[tuple[str, str]]
    authorizations: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.authorizations.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/status/500/"):
            self.send_error(500, "Internal Server Error")
            return
        for prefix, host in (("/moved/", ""), ("/elsewhere/", "localhost")):
            if self.path.startswith(prefix):
                port = self.server.server_address[1]
                where = f"http://{host}:{port}" if host else ""
                self._redirect(f"{where}/{self.path.removeprefix(prefix)}")
                return
        document = Path(self.translate_path(self.path)) / "index.json"
        if self.path.endswith("/") and document.is_file() and JSON_TYPE in self.accept():
            self._send(document.read_bytes(), JSON_TYPE)
            return
        super().do_GET()

    def _redirect(self, location: str) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def accept(self) -> str:
        return self.headers.get("Accept", "")

    def _send(self, payload: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "content-type":
            self.served.append((self.path, value))
        super().send_header(keyword, value)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        pass  # keep pytest output clean


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer, scheme: str = "http") -> Iterator[str]:
    """Serve on a thread until the block ends; yields the server's base URL."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _index_server(root: Path) -> tuple[ThreadingHTTPServer, SimpleIndex]:
    index = SimpleIndex(root, "")
    attributes = {"served": index.served, "authorizations": index.authorizations}
    handler = functools.partial(type("Handler", (_Handler,), attributes), directory=str(root))
    return ThreadingHTTPServer(("127.0.0.1", 0), handler), index


@pytest.fixture(scope="session", name="index_server")
def fixture_index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleIndex]:
    root = tmp_path_factory.mktemp("index")
    write_index_tree(root)
    server, index = _index_server(root)
    with serving(server) as index.base_url:
        yield index


@pytest.fixture(name="tls_index")
def fixture_tls_index(index_server: SimpleIndex) -> Iterator[SimpleIndex]:
    """The same tree over HTTPS, with a certificate for 127.0.0.1 that no CA store trusts
    (tests/data/tls: self-signed, valid for a century; test-only key)."""
    server, index = _index_server(index_server.root)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS_CERT, TLS_CERT.with_suffix(".key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server, "https") as index.base_url:
        yield index


@pytest.fixture(name="simple_index")
def fixture_simple_index(index_server: SimpleIndex, monkeypatch: pytest.MonkeyPatch) -> SimpleIndex:
    """The session's index, with a fresh request log and proxies bypassed for 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    index_server.served.clear()
    index_server.authorizations.clear()
    return index_server


@pytest.fixture(name="silent_port")
def fixture_silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: for timeouts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture(name="closed_port")
def fixture_closed_port() -> int:
    """A port nobody listens on (bound then released): connection refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class IndexProxy:
    """A forward proxy on 127.0.0.1; `seen` lists (request target, Proxy-Authorization)."""

    url: str
    seen: list[tuple[str, str | None]]


class _ProxyHandler(BaseHTTPRequestHandler):
    """Answers every proxied GET with a page linking `jaxlib-7.7.7.tar.gz` (no upstream)."""

    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        body = _page("proxied", [_anchor("/files/jaxlib-7.7.7.tar.gz")]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        pass


@pytest.fixture(name="index_proxy")
def fixture_index_proxy() -> Iterator[IndexProxy]:
    seen: list[tuple[str, str | None]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("P", (_ProxyHandler,), {"seen": seen}))
    with serving(server) as url:
        yield IndexProxy(url, seen)
