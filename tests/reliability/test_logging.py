"""Request ids and structured logs: every response names its request, every request writes one access line, and
the JSON formatter writes one parseable object per line. (`sift serve`'s own log output is checked in
test_shutdown.py, where a real server writes it.)"""

import io
import json
import logging
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search_api.http.app import create_app
from search_api.http.logs import JsonFormatter, RequestIdFilter, log_format_for, request_id
from search_api.settings import Settings


@pytest.fixture(scope="module")
def client(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index, max_body_bytes=2048), engine=tiny_engine)) as c:
        yield c


def _access(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "sift.access"]


def test_a_request_without_an_id_gets_a_fresh_one(client):
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


@pytest.mark.parametrize("incoming", ["abc-123", "01J9ZK3M:proxy/7", "f" * 128])
def test_a_sane_incoming_id_is_kept(client, incoming):
    assert client.get("/health", headers={"X-Request-ID": incoming}).headers["x-request-id"] == incoming


@pytest.mark.parametrize(
    "incoming", ["", "has space", 'quote"', "f" * 129, "{\"level\": \"ERROR\"}", "é", "a;b", "<script>"],
)
def test_an_odd_incoming_id_is_replaced(client, incoming):
    got = client.get("/health", headers={"X-Request-ID": incoming.encode("utf-8")}).headers["x-request-id"]
    assert got != incoming and re.fullmatch(r"[0-9a-f]{32}", got)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/search?q=water", {}, 200),
        ("get", "/articles/nope", {}, 404),
        ("get", "/search?q=", {}, 422),
        ("post", "/related", {"content": b"x" * 4096, "headers": {"content-type": "application/json"}}, 413),
    ],
)
def test_every_request_writes_one_access_line(client, caplog, method, path, kwargs, status):
    caplog.set_level(logging.INFO, logger="sift.access")
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status
    (line,) = _access(caplog)
    expected = (method.upper(), path.split("?")[0], status, "testclient")
    assert (line.method, line.path, line.status, line.client) == expected
    assert line.request_id == r.headers["x-request-id"] and line.duration_ms >= 0
    assert "water" not in line.getMessage()  # the query string (what a reader searched for) is never logged


def test_a_rate_limited_request_is_logged_and_named_too(tiny_engine, tiny_index, caplog):
    caplog.set_level(logging.INFO, logger="sift.access")
    settings = Settings(index_dir=tiny_index, rate_limit_per_minute=1, rate_limit_burst=2)  # no refill mid-test
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        responses = [c.get("/articles/t01/related") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [(r.status, r.request_id) for r in _access(caplog)] == [
        (r.status_code, r.headers["x-request-id"]) for r in responses
    ]


def test_the_json_formatter_writes_one_object_per_line_with_the_request_id():
    formatter, stamp = JsonFormatter(), RequestIdFilter()
    token = request_id.set("req-42")
    try:
        record = logging.makeLogRecord({"name": "sift.test", "levelno": logging.INFO, "levelname": "INFO",
                                        "msg": "served %s", "args": ("a\nb",), "duration_ms": 1.5})
        stamp.filter(record)
        try:
            raise ValueError("boom")
        except ValueError:
            failed = logging.makeLogRecord({"name": "sift.test", "levelno": logging.ERROR, "levelname": "ERROR",
                                            "msg": "failed", "exc_info": sys.exc_info()})
        stamp.filter(failed)
    finally:
        request_id.reset(token)
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "served a\nb" and entry["level"] == "INFO" and entry["logger"] == "sift.test"
    assert entry["request_id"] == "req-42" and entry["duration_ms"] == 1.5 and entry["time"].endswith("+00:00")
    error = json.loads(formatter.format(failed))
    assert error["request_id"] == "req-42" and "ValueError: boom" in error["exc_info"]


def test_outside_a_request_there_is_no_request_id():
    record = logging.makeLogRecord({"msg": "startup"})
    RequestIdFilter().filter(record)
    assert "request_id" not in json.loads(JsonFormatter().format(record))


def test_the_log_format_follows_the_stream_unless_set():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert log_format_for(Terminal()) == "text" and log_format_for(io.StringIO()) == "json"
    assert log_format_for(Terminal(), "json") == "json" and log_format_for(io.StringIO(), "text") == "text"


def test_serve_writes_readable_lines_to_a_terminal(tiny_index):
    """A person running `sift serve` in a terminal reads text lines; the servers the other tests start write to a
    file and log JSON (test_shutdown.py)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller, terminal = pty.openpty()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SIFT_INDEX_DIR": str(tiny_index), "SIFT_PORT": str(port)}
    env.pop("SIFT_LOG_FORMAT", None)
    proc = subprocess.Popen([sys.executable, "-m", "search_api.cli", "serve"], env=env, stdin=subprocess.DEVNULL,
                            stdout=terminal, stderr=terminal, cwd=Path(__file__).resolve().parents[2])
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 120
        while b"Uvicorn running" not in seen and b"Application startup complete" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen.decode(errors="replace")
            if select.select([controller], [], [], 1.0)[0]:
                seen += os.read(controller, 65536)
    finally:
        proc.terminate()
        proc.wait(30)
        os.close(controller)
    lines = [line for line in seen.decode(errors="replace").splitlines() if line.strip()]
    serving = next(line for line in lines if "serving" in line)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO sift\.serve: serving \d+ articles", serving), serving
    assert not any(line.lstrip().startswith("{") for line in lines), lines
