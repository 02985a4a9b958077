"""Graceful shutdown of `sift serve` (uvicorn in its own process): on SIGTERM it stops taking connections, finishes
the requests in flight, publishes the writes it acknowledged, and exits with 0. Its log is JSON lines throughout."""

import json
import signal
import socket
import time

import httpx
import pandas as pd

from indexer.publish import current_version


def _post_in_two_halves(base: str, path: str, body: bytes, request_id: str = "half-sent") -> tuple[socket.socket, bytes]:
    """Open a connection and send a request with only half its body: the request is in flight until the rest."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-ID: {request_id}\r\n\r\n").encode()
    half = len(body) // 2
    sock.sendall(head + body[:half])
    return sock, body[half:]


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int({k.strip().lower(): v for k, v in headers.items()}[b"content-length"])
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(head.split()[1]), json.loads(rest[:length])


def test_sigterm_finishes_requests_in_flight_publishes_acknowledged_writes_and_exits_0(tiny_copy, serve, auth):
    server = serve(tiny_copy)
    draft = json.dumps({"title": "Minors freed from cocoa plantations", "body": "Police in Ghana. " * 400, "k": 3})
    sock, rest = _post_in_two_halves(server.base, "/related", draft.encode())
    article = {"id": "n01", "title": "Beekeeping cooperative in Rwanda wins export grant",
               "body": "A women's beekeeping cooperative near Huye will use a new grant to reach honey buyers abroad."}
    assert httpx.post(f"{server.base}/articles", json={"articles": [article]}, headers=auth).status_code == 202
    # three complete requests that each embed a dozen passages (a few hundred ms of work), sent on connections
    # opened before the signal, so they are in flight whatever the machine's load
    slow = []
    for n in range(3):
        conn, tail = _post_in_two_halves(server.base, "/related", draft.encode(), request_id=f"slow-{n}")
        conn.sendall(tail)
        slow.append(conn)
    time.sleep(0.3)  # the server has accepted them and is working

    server.proc.send_signal(signal.SIGTERM)  # the publish of the write above is still pending (0.5 s coalescing)
    time.sleep(0.5)
    try:  # no new connections once shutdown began
        httpx.get(f"{server.base}/health", timeout=2)
        refused = False
    except httpx.TransportError:
        refused = True
    sock.sendall(rest)  # the half-sent request completes after SIGTERM
    status, body = _read_response(sock)
    sock.close()
    slow_results = []
    for conn in slow:
        slow_results.append(_read_response(conn)[0])
        conn.close()
    signalled = time.monotonic()
    assert server.proc.wait(30) == 0
    exit_seconds = time.monotonic() - signalled

    assert refused
    assert status == 200 and body["items"][0]["id"] == "t01"
    assert slow_results == [200, 200, 200]
    assert exit_seconds < 15
    # the write acknowledged before SIGTERM was published on the way out, completely
    assert current_version(tiny_copy) == "000002"
    assert sorted(p.name for p in (tiny_copy / "versions").iterdir()) == ["000001", "000002"]
    ids = pd.read_parquet(tiny_copy / "versions" / "000002" / "articles.parquet", columns=["id"])["id"].tolist()
    assert "n01" in ids and len(ids) == 13

    log = server.json_log()  # every line of the server's output is one JSON object
    access = [e for e in log if e["logger"] == "sift.access"]
    assert {"method", "path", "status", "duration_ms", "client", "request_id"} <= set(access[0])
    half_sent = [e for e in access if e["request_id"] == "half-sent"]
    assert [(e["method"], e["path"], e["status"]) for e in half_sent] == [("POST", "/related", 200)]
    assert [e["status"] for e in access if e["path"] == "/related"].count(200) == 4
    messages = [e["message"] for e in log]
    assert "now serving version 000002 (was 000001)" in messages
    assert messages[-1].startswith("Finished server process")
    assert not [e for e in log if e["level"] in ("ERROR", "CRITICAL")]


def test_stopping_the_app_publishes_writes_it_acknowledged(tiny_copy):
    """The write's publish waits 0.5 s for more writes; a shutdown within that time publishes it before leaving."""
    from fastapi.testclient import TestClient

    from search_api.http.app import create_app
    from search_api.settings import Settings

    article = {"id": "n02", "title": "Solar pumps for farms in Mali", "body": "Farmers near Ségou irrigate with solar pumps."}
    with TestClient(create_app(Settings(index_dir=tiny_copy, api_key="k"))) as c:
        r = c.post("/articles", json={"articles": [article]}, headers={"Authorization": "Bearer k"})
        assert r.status_code == 202
        assert current_version(tiny_copy) == "000001"
    assert current_version(tiny_copy) == "000002"
    assert not list((tiny_copy / "versions").glob(".building-*"))
