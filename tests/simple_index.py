"""A real package index on 127.0.0.1 for tests: PEP 503 HTML, PEP 691 JSON, find-links pages.

The tree is written once per session (per xdist worker) and served by a
`ThreadingHTTPServer` on an ephemeral port, so tests exercise the real HTTP client,
content negotiation and error paths without touching the network. Fixtures are defined as
`fixture_<name>` with `name=<name>`, so a test module imports them (`index_server` too,
since `simple_index` needs it) without its parameters shadowing the imported names.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
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
    """Where the test index lives; `served` lists (path, content type) of each answer."""

    root: Path
    base_url: str
    served: list[tuple[str, str]] = field(default_factory=list)

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


def _write_json(directory: Path, project: str, files: list[dict[str, object]]) -> None:
    document = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
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
    (root / "nightly.html").write_text(
        _page("nightlies", [_anchor(h, text=h) for h in NIGHTLY_PAGE])
    )
    (root / "wheels").mkdir()
    for name in LOCAL_WHEELS:
        (root / "wheels" / name).write_bytes(b"")


class _Handler(SimpleHTTPRequestHandler):
    """Static files, plus PEP 691 negotiation for directories holding an index.json."""

    served: list[tuple[str, str]]

    def do_GET(self) -> None:
        if self.path.startswith("/status/500/"):
            self.send_error(500, "Internal Server Error")
            return
        document = Path(self.translate_path(self.path)) / "index.json"
        if self.path.endswith("/") and document.is_file() and JSON_TYPE in self.accept():
            self._send(document.read_bytes(), JSON_TYPE)
            return
        super().do_GET()

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


@pytest.fixture(scope="session", name="index_server")
def fixture_index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleIndex]:
    root = tmp_path_factory.mktemp("index")
    write_index_tree(root)
    served: list[tuple[str, str]] = []
    handler = type("Handler", (_Handler,), {"served": served})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="simple-index", daemon=True
    )
    thread.start()
    try:
        yield SimpleIndex(root, f"http://127.0.0.1:{server.server_address[1]}", served)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(name="simple_index")
def fixture_simple_index(index_server: SimpleIndex, monkeypatch: pytest.MonkeyPatch) -> SimpleIndex:
    """The session's index, with a fresh request log and proxies bypassed for 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    index_server.served.clear()
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
