"""A real HTTP server on loopback that serves the connector fixtures and records every request it gets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from indexer.sources.http import Politeness

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "connectors"
UA = "SiftBot/0.1 (+https://sift.example.org/bot)"
# Tests run fast: no delay between requests (one test measures the rate limit), quick retries.
FAST = Politeness(user_agent=UA, min_interval=0.0, retries=2, backoff=0.01, timeout=2.0)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, for timeouts
    content_length: bool = True


@dataclass(frozen=True)
class Hit:
    path: str  # with the query string
    user_agent: str
    at: float  # time.monotonic() when the handler started


Route = Callable[[dict[str, str]], Reply]


class FixtureSite:
    """Routes are exact paths (query included, else the path alone) to a Reply, a list of Replies served in turn
    (the last one repeats), or a function of the query parameters. Anything else is a 404."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.routes: dict[str, Reply | list[Reply] | Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()

    @staticmethod
    def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None, **options: object) -> Reply:
        return Reply(status, body, headers or {}, **options)

    def route(self, path: str, reply: Reply | list[Reply] | Route) -> None:
        self.routes[path] = list(reply) if isinstance(reply, list) else reply

    def file(self, path: str, name: str, content_type: str, *, status: int = 200, **headers: str) -> None:
        """Serve a fixture file, with {{BASE}} replaced by this server's base URL."""
        body = (FIXTURES / name).read_bytes().replace(b"{{BASE}}", self.base.encode())
        self.route(path, Reply(status, body, {"Content-Type": content_type, **headers}))

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    def reply_for(self, target: str) -> Reply:
        parts = urlsplit(target)
        with self._lock:
            route = self.routes.get(target, self.routes.get(parts.path))
            if isinstance(route, list):
                return route.pop(0) if len(route) > 1 else route[0]
        if callable(route):
            return route(dict(parse_qsl(parts.query)))
        return route or Reply(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})


def _handler(site: FixtureSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with site._lock:
                site.hits.append(Hit(self.path, self.headers.get("User-Agent", ""), time.monotonic()))
            reply = site.reply_for(self.path)
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.content_length:
                self.send_header("Content-Length", str(len(reply.body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, size limit)
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fast() -> Politeness:
    return FAST


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    fixture = FixtureSite("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fixture))
    server.daemon_threads = True
    fixture.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fixture
    finally:
        server.shutdown()
        server.server_close()
