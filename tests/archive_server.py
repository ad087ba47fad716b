"""GitHub-like `.zip` archives served for real on 127.0.0.1, and ways of serving them badly.

`/MODE/github.com/ORG/REPO/archive/<sha>.zip` answers with `git archive --format=zip` of
`<upstreams>/REPO.git` at `<sha>` (a mirror's URL shape: the part after MODE names the
GitHub repository, as XLA's `storage.googleapis.com/mirror.tensorflow.org/github.com/...`
URLs do). MODE is `serve`; `stall` (headers and a few bytes, then nothing until the test
ends); `huge` (an endless body, bounded at 64 MiB); `gone` (404). Requests are counted.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from simple_index import serving


class _Handler(BaseHTTPRequestHandler):
    stop: threading.Event
    upstreams: Path
    counts: Counter[str]

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        mode = parts[0]
        self.counts[mode] += 1
        if mode == "gone" or len(parts) != 6 or not parts[5].endswith(".zip"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            if mode == "stall":
                self.wfile.write(b"PK\x03\x04")
                self.wfile.flush()
                self.stop.wait(60)
            elif mode == "huge":
                block = b"\0" * (1 << 20)
                for _ in range(64):
                    if self.stop.is_set():
                        return
                    self.wfile.write(block)
            else:
                self.wfile.write(self._zip(parts[3], parts[5].removesuffix(".zip")))

    def _zip(self, repo: str, sha: str) -> bytes:
        return subprocess.run(
            ["git", "archive", "--format=zip", f"--prefix={repo}-{sha}/", sha],
            cwd=self.upstreams / f"{repo}.git",
            capture_output=True,
            check=True,
        ).stdout

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        pass


class ArchiveServer:
    def __init__(self, url: str, counts: Counter[str]) -> None:
        self.url = url
        self.counts = counts

    def archive_url(self, mode: str, org_repo: str) -> str:
        """The `.zip` URL template for `{commit}.format(...)`, as a Bazel file writes it."""
        return f"{self.url}/{mode}/github.com/{org_repo}/archive/{{commit}}.zip"


@pytest.fixture(name="archive_server")
def fixture_archive_server(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ArchiveServer]:
    """Archives of the bare repos under `<tmp>/upstreams`; proxies bypassed for 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    stop = threading.Event()
    counts: Counter[str] = Counter()
    handler = type(
        "Handler",
        (_Handler,),
        {"stop": stop, "upstreams": isolated_env / "upstreams", "counts": counts},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    with serving(server) as url:
        try:
            yield ArchiveServer(url, counts)
        finally:
            stop.set()
