"""The real thing: `sift serve` in its own process, uvicorn on a loopback port, called over HTTP."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_index):
    port = _free_port()
    # no similarity floor over the tiny corpus of unrelated stories (see tiny_engine in conftest.py)
    env = {**os.environ, "SIFT_INDEX_DIR": str(tiny_index), "SIFT_PORT": str(port), "HF_HUB_OFFLINE": "1",
           "SIFT_RELATED_MIN_SIMILARITY": "-1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "search_api.cli", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stdout.read().decode(errors='replace')}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("server did not start within 90 s")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_search_over_http(server):
    r = httpx.get(f"{server}/search", params={"q": "debt bondage on trawlers", "k": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["hits"][0]["id"] == "t10"


def test_related_over_http_has_no_self_link(server):
    items = httpx.get(f"{server}/articles/t10/related").json()["items"]
    assert len(items) == 5 and "t10" not in [i["id"] for i in items]


def test_errors_over_http_are_json_without_traces(server):
    r = httpx.get(f"{server}/search", params={"q": "x", "k": 1000})
    assert r.status_code == 422 and r.json()["error"].startswith("k: ")
    r = httpx.get(f"{server}/articles/missing")
    assert r.status_code == 404 and "Traceback" not in r.text


def test_page_and_docs_over_http(server):
    assert "Sift" in httpx.get(f"{server}/").text
    assert httpx.get(f"{server}/docs").status_code == 200
