"""A real smart-HTTP git server on 127.0.0.1 for tests and the benchmark.

`git http-backend` (the CGI that ships with git) behind a small threaded stdlib HTTP
server, serving every bare repo under one directory, over protocol v2 (the client's
`Git-Protocol` header is passed on as `GIT_PROTOCOL`). Rules per repo (or for all) make it
behave like the servers users meet:

- `sha_wants=False`: refuses to send a commit no ref points at. Protocol v2 upload-pack
  sends any object it has, so such a repo speaks protocol v0 with
  `uploadpack.allowAnySHA1InWant` and `allowReachableSHA1InWant` off: the client says
  "Server does not allow request for unadvertised object".
- `filters=False`: `uploadpack.allowFilter=false`; the client warns "filtering not
  recognized by server, ignoring" and takes everything.
- `shallow=False`: a request carrying `deepen` (read from the request's pkt-lines) is
  answered with an ERR packet: "remote error: shallow fetches are refused here".
- `mode`: "serve"; "stall" (read the request, never answer); "stall-headers" (answer
  200 and its headers, then send nothing); "refuse" (HTTP 500); "reset" (close the
  connection without a word). `stall_after_bytes=N` sends N bytes of a served answer,
  then stalls. A stalled request holds until the server stops. `trickle=N` sends a served
  answer at about N bytes a second (a slow network: git shows its byte counts).

It counts, per repo, the requests and the bytes of the answers it sent (what the client
received), so a test or the benchmark can tell "fetched nothing" from "fetched a pack".
`closed_url()` gives a URL where nothing listens (connection refused).

Used by the `git_http_server` fixture (below, imported by conftest.py) and by
bench/bench.py, which puts this folder on sys.path.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

MODES = ("serve", "stall", "stall-headers", "refuse", "reset")
SHALLOW_REFUSED = "shallow fetches are refused here"
_SERVICE = re.compile(r"^/(?P<repo>.+?)/(?:info/refs|git-upload-pack|git-receive-pack|HEAD)$")
_CHUNK = 64 * 1024


# In the environment of the server side's git processes: they belong to the fixture, which
# ends them, not to the tool under test.
SERVER_MARK = "XLA_TASKS_TEST_SERVER"
# In the environment of a run a fixture starts and ends in its own teardown.
FIXTURE_MARK = "XLA_TASKS_TEST_FIXTURE"


@dataclasses.dataclass(frozen=True)
class Rules:
    """How the server treats one repo."""

    sha_wants: bool = True
    filters: bool = True
    shallow: bool = True
    push: bool = False
    mode: str = "serve"
    stall_after_bytes: int | None = None
    trickle: int | None = None  # bytes a second

    def config(self) -> dict[str, str]:
        """The git config upload-pack (and receive-pack) run with under these rules."""
        sha = "true" if self.sha_wants else "false"
        return {
            "uploadpack.allowAnySHA1InWant": sha,
            "uploadpack.allowReachableSHA1InWant": sha,
            "uploadpack.allowTipSHA1InWant": sha,
            "uploadpack.allowFilter": "true" if self.filters else "false",
            "http.receivepack": "true" if self.push else "false",
        }


class GitHttpServer:
    """Serves the bare repos under `root` at `http://127.0.0.1:PORT/NAME.git`."""

    def __init__(self, root: Path, rules: Rules | None = None) -> None:
        self.root = Path(root).resolve()
        self.default = rules or Rules()
        self.per_repo: dict[str, Rules] = {}
        self.bytes_sent: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.stalled: Counter[str] = Counter()
        self.errors: list[str] = []  # http-backend's stderr, for a failing test's message
        self._lock = threading.Condition()  # guards the counters; notified on each count
        self._stop = threading.Event()
        self._live: set[Any] = set()  # sockets and processes to end on stop
        self._httpd = _Httpd(("127.0.0.1", 0), _Handler, self)
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None

    # --- life ---------------------------------------------------------------------------

    def start(self) -> GitHttpServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled requests, end running backends, join every thread."""
        self._stop.set()
        with self._lock:
            live = list(self._live)
        for thing in live:
            _end(thing)
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()  # joins the request threads (block_on_close)

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        """The URL of repo `name` (`root/NAME.git`, or `root/NAME` if that is the folder)."""
        path = f"{name}.git" if (self.root / f"{name}.git").is_dir() else name
        return f"{self.base_url}/{path}"

    def urls(self, names: Iterable[str]) -> dict[str, str]:
        """name -> URL for each of `names` (e.g. `server.urls(upstreams.urls)`)."""
        return {name: self.url(name) for name in names}

    def set(self, repo: str | None = None, **changes: Any) -> None:
        """Change the rules of one repo (by name, without `.git`) or, with none, of all."""
        if changes.get("mode", "serve") not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if repo is None:
            self.default = dataclasses.replace(self.default, **changes)
            self.per_repo = {k: dataclasses.replace(v, **changes) for k, v in self.per_repo.items()}
        else:
            self.per_repo[repo] = dataclasses.replace(self.rules(repo), **changes)

    def rules(self, repo: str) -> Rules:
        return self.per_repo.get(repo, self.default)

    def reset_counts(self) -> None:
        with self._lock:
            self.bytes_sent.clear()
            self.requests.clear()
            self.stalled.clear()

    @staticmethod
    def closed_url(name: str = "gone") -> str:
        """A URL on 127.0.0.1 where nothing listens: connecting is refused."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}/{name}.git"

    # --- bookkeeping for the handler ----------------------------------------------------

    def wait_stalled(self, repo: str, timeout: float = 30) -> bool:
        """Block until a request of `repo` is stalled (a client is stuck on it)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.stalled[repo] > 0, timeout)

    def _count(self, counter: Counter[str], repo: str, amount: int = 1) -> None:
        with self._lock:
            counter[repo] += amount
            self._lock.notify_all()

    def _track(self, thing: Any, alive: bool) -> None:
        with self._lock:
            if alive:
                self._live.add(thing)
            else:
                self._live.discard(thing)
        if alive and self._stop.is_set():
            _end(thing)


class _Httpd(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins them: nothing outlives the server
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: type, owner: GitHttpServer) -> None:
        self.owner = owner
        super().__init__(address, handler)


def _end(thing: Any) -> None:
    """Unblock whatever a request thread waits on: its client socket or its backend."""
    try:
        if isinstance(thing, socket.socket):
            thing.shutdown(socket.SHUT_RDWR)
        else:
            thing.kill()
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Httpd
    protocol_version = "HTTP/1.0"  # one request per connection: the answer ends at close

    timeout = 60  # seconds a silent client may hold a request thread

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: tests read counts, not access logs."""

    def handle(self) -> None:
        owner = self.server.owner
        owner._track(self.connection, True)
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the client went away (killed by a watchdog or a `timeout`)
        finally:
            owner._track(self.connection, False)

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        self._serve(self._read_body())

    def _serve(self, body: bytes) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        match = _SERVICE.match(path)
        repo = match["repo"].removesuffix(".git") if match else path.strip("/")
        rules = owner.rules(repo)
        owner._count(owner.requests, repo)
        self._answer(repo, rules, body)

    def _answer(self, repo: str, rules: Rules, body: bytes) -> None:
        if rules.mode == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif rules.mode == "stall":
            self._stall(repo)
        elif rules.mode == "refuse":
            self.send_error(500, "refused by the test server")
        elif not rules.shallow and _asks_deepen(body, self.headers.get("Content-Encoding")):
            self._send(200, {"Content-Type": _result_type(self.path)}, [_pkt_err()], repo, rules)
        else:
            self._backend(repo, rules, body)

    def _stall(self, repo: str) -> None:
        owner = self.server.owner
        owner._count(owner.stalled, repo)
        self.wfile.flush()
        owner._stop.wait()
        self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return b"".join(_chunks(self.rfile))
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _backend(self, repo: str, rules: Rules, body: bytes) -> None:
        """Run http-backend for this request and relay its answer as it comes."""
        owner = self.server.owner
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                ["git", "http-backend"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=self._cgi_env(rules, len(body)),
            )
            owner._track(process, True)
            try:
                feeder = threading.Thread(target=_feed, args=(process.stdin, body))
                feeder.start()
                out = process.stdout
                assert out is not None
                status, headers = _cgi_headers(out)
                self._send(status, headers, iter(lambda: out.read1(_CHUNK), b""), repo, rules)
                feeder.join()
            finally:
                process.kill()
                process.wait()
                owner._track(process, False)
                errors.seek(0)
                if text := errors.read().decode(errors="replace").strip():
                    owner.errors.append(f"{repo}: {text}")

    def _send(
        self, status: int, headers: dict[str, str], chunks: Any, repo: str, rules: Rules
    ) -> None:
        """Send an answer, counting its body bytes; stall where the rules say so."""
        owner = self.server.owner
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if rules.mode == "stall-headers":
            self._stall(repo)
            return
        budget = rules.stall_after_bytes
        if rules.trickle:
            chunks = _trickled(chunks, rules.trickle)
        for chunk in chunks:
            if budget is not None and len(chunk) >= budget:
                chunk = chunk[:budget]
                self.wfile.write(chunk)
                owner._count(owner.bytes_sent, repo, len(chunk))
                self._stall(repo)
                return
            self.wfile.write(chunk)
            owner._count(owner.bytes_sent, repo, len(chunk))
            budget = None if budget is None else budget - len(chunk)

    def _cgi_env(self, rules: Rules, length: int) -> dict[str, str]:
        path, _, query = self.path.partition("?")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
        env[SERVER_MARK] = "1"  # the server's own git (conftest's leak check leaves it alone)
        config = rules.config()
        env.update(
            GIT_PROJECT_ROOT=str(self.server.owner.root),
            GIT_HTTP_EXPORT_ALL="1",
            PATH_INFO=path,
            QUERY_STRING=query,
            REQUEST_METHOD=self.command,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(length),
            REMOTE_ADDR=self.client_address[0],
            REMOTE_USER="test",
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_COUNT=str(len(config)),
        )
        for number, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{number}"] = key
            env[f"GIT_CONFIG_VALUE_{number}"] = value
        encoding = self.headers.get("Content-Encoding")
        if encoding:
            env["HTTP_CONTENT_ENCODING"] = encoding
        protocol = self.headers.get("Git-Protocol")
        if protocol and rules.sha_wants:
            env["GIT_PROTOCOL"] = protocol
        else:
            env.pop("GIT_PROTOCOL", None)
        return env


def _trickled(chunks: Iterable[bytes], rate: int) -> Iterator[bytes]:
    """The same bytes, in pieces of a twentieth of `rate`, one every 50 ms."""
    piece = max(1, rate // 20)
    for chunk in chunks:
        for at in range(0, len(chunk), piece):
            time.sleep(0.05)
            yield chunk[at : at + piece]


def _feed(pipe: BinaryIO | None, body: bytes) -> None:
    assert pipe is not None
    try:
        pipe.write(body)
        pipe.close()
    except (BrokenPipeError, ValueError):
        pass


def _cgi_headers(stdout: BinaryIO) -> tuple[int, dict[str, str]]:
    """A CGI answer opens with header lines and a blank line; `Status:` sets the code."""
    status, headers = 200, {}
    for raw in iter(stdout.readline, b""):
        line = raw.decode("latin-1").rstrip("\r\n")
        if not line:
            break
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.split()[0])
        else:
            headers[key] = value.strip()
    return status, headers


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while size := int(stream.readline().split(b";")[0].strip() or b"0", 16):
        yield stream.read(size)
        stream.readline()
    while stream.readline().strip():
        pass  # trailers


def _pkt_lines(data: bytes) -> Iterator[bytes]:
    at = 0
    while at + 4 <= len(data):
        try:
            size = int(data[at : at + 4], 16)
        except ValueError:
            return
        if size < 4:  # flush, delim, response-end
            at += 4
            continue
        yield data[at + 4 : at + size]
        at += size


def _asks_deepen(body: bytes, encoding: str | None) -> bool:
    """True when a fetch request asks for a shallow history (`deepen`, `deepen-since` ...)."""
    if encoding and "gzip" in encoding:
        body = gzip.decompress(body)
    return any(line.startswith(b"deepen") for line in _pkt_lines(body))


def _pkt_err() -> bytes:
    text = f"ERR {SHALLOW_REFUSED}\n".encode()
    return f"{len(text) + 4:04x}".encode() + text


def _result_type(path: str) -> str:
    service = path.rsplit("/", 1)[-1]
    return f"application/x-{service}-result"


# --- the pytest fixture ------------------------------------------------------------------

try:
    import pytest
except ImportError:  # the benchmark imports this module without pytest installed
    pass
else:

    @pytest.fixture
    def git_http_server(isolated_env: Path) -> Iterator[GitHttpServer]:
        """A smart-HTTP server on 127.0.0.1 serving the test's `upstreams` folder (the
        bare repos the `upstreams` fixture builds, and any made there); stopped after."""
        root = isolated_env / "upstreams"
        root.mkdir(exist_ok=True)
        with GitHttpServer(root) as server:
            yield server
