"""The real thing: `sift serve` in its own process, uvicorn on a loopback port, called over HTTP."""

import httpx
import pytest


@pytest.fixture(scope="module")
def server(tiny_index, launch, tmp_path_factory):
    # no similarity floor over the tiny corpus of unrelated stories (see tiny_engine in conftest.py)
    running = launch(tiny_index, tmp_path_factory.mktemp("http"), env={"SIFT_RELATED_MIN_SIMILARITY": "-1"})
    yield running.base
    running.close()


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
    page = httpx.get(f"{server}/")
    assert '<html lang="en" dir="ltr">' in page.text and '<script src="/static/search.js">' in page.text
    assert httpx.get(f"{server}/docs").status_code == 200
