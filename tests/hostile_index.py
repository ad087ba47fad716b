"""Package indexes that misbehave, served for real on 127.0.0.1 (issue 9 item 3).

`/endless/P/` streams `<a>` links until the client goes away (bounded at 16 MiB over
the client's page limit, so a client without the limit fails instead of running away),
`/trickle/P/` sends one link every 50 ms (bounded at 60 s), `/stall/P/` sends its
headers and half a page, then nothing until the server stops, `/js/P/` is a normal
page with a `javascript:` link that names a newer file, `/loop/P/` redirects to itself
and `/tofile/P/` redirects to a file:// URL.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from simple_index import serving

from xla_tasks.roll.packages import MAX_PAGE_BYTES

_LINK = '<a href="/files/{p}-0.0.{n}.tar.gz">{p}-0.0.{n}.tar.gz</a><br/>\n'


class _Handler(BaseHTTPRequestHandler):
    stop: threading.Event

    def do_GET(self) -> None:
        kind, _, rest = self.path.strip("/").partition("/")
        project = rest.strip("/") or "x"
        redirect = {"loop": self.path, "tofile": "file:///etc/passwd"}.get(kind)
        if redirect is not None:
            self.send_response(302)
            self.send_header("Location", redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            getattr(self, f"_{kind}", self._js)(project)

    def _endless(self, project: str) -> None:
        block = "".join(_LINK.format(p=project, n=n) for n in range(1000)).encode()
        for _ in range((MAX_PAGE_BYTES + (16 << 20)) // len(block)):
            if self.stop.is_set():
                return
            self.wfile.write(block)

    def _trickle(self, project: str) -> None:
        for n in range(1200):
            if self.stop.wait(0.05):
                return
            self.wfile.write(_LINK.format(p=project, n=n).encode())
            self.wfile.flush()

    def _stall(self, project: str) -> None:
        self.wfile.write(f"<html><body>{_LINK.format(p=project, n=1)}".encode())
        self.wfile.flush()
        self.stop.wait(60)

    def _js(self, project: str) -> None:
        self.wfile.write(
            f'<a href="javascript:/{project}-99.0.tar.gz">{project}-99.0.tar.gz</a>\n'
            f'<a href="/files/{project}-1.0.tar.gz">{project}-1.0.tar.gz</a>\n'.encode()
        )

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        pass


@pytest.fixture(name="hostile_index")
def fixture_hostile_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The base URL of the misbehaving index; proxies bypassed for 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    stop = threading.Event()
    handler = type("Handler", (_Handler,), {"stop": stop})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    with serving(server) as url:
        try:
            yield url
        finally:
            stop.set()  # before the server stops: its handlers are still streaming
