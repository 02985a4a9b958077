"""The live index: authenticated writes become searchable, and a running server swaps versions without failing."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from indexer.pipeline import index_sources
from search_api.http.app import create_app
from search_api.settings import Settings

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_corpus.jsonl"
KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
NEW = {"id": "n01", "title": "Beekeeping cooperative in Rwanda wins export grant",
       "body": "A women's beekeeping cooperative near Huye will use a new grant to reach honey buyers abroad.",
       "categories": ["Livelihoods"], "published_at": "2026-03-01"}


@pytest.fixture()
def client(tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    settings = Settings(index_dir=idx, api_key=KEY, related_min_similarity=-1)
    with TestClient(create_app(settings)) as c:
        yield c


def _ids(client, q):
    return [h["id"] for h in client.get("/search", params={"q": q, "k": 3}).json()["hits"]]


def _settle(client):
    assert client.app.state.publisher.wait_idle(60)
    client.get("/health")  # the reload runs in the publisher thread; this request sees the swapped engine


def test_writes_become_searchable_then_deletes_disappear(client):
    r = client.post("/articles", json={"articles": [NEW]}, headers=AUTH)
    assert r.status_code == 202 and r.json()["added"] == 1 and r.json()["publish"] == "scheduled"
    _settle(client)
    assert _ids(client, "honey exports from Rwanda")[0] == "n01"
    assert client.get("/health").json()["version"] == "000002"

    r = client.put("/articles/n01", json={**NEW, "id": None, "title": "Beekeepers in Rwanda sell honey to Europe"},
                   headers=AUTH)
    assert r.status_code == 202 and r.json()["updated"] == 1
    _settle(client)
    assert client.get("/articles/n01").json()["title"] == "Beekeepers in Rwanda sell honey to Europe"

    assert client.delete("/articles/n01", headers=AUTH).status_code == 202
    _settle(client)
    assert client.get("/articles/n01").status_code == 404
    assert "n01" not in _ids(client, "honey exports from Rwanda")


def test_a_burst_of_writes_is_published_once(client):
    for n in range(5):
        rec = {**NEW, "id": f"b{n}", "title": f"Grant round {n} for beekeepers in Rwanda"}
        assert client.post("/articles", json={"articles": [rec]}, headers=AUTH).status_code == 202
    _settle(client)
    assert client.app.state.publisher.publishes == 1
    assert client.get("/stats").json()["articles"] == 17


def test_unchanged_write_schedules_nothing(client):
    record = json.loads(TINY.read_text().splitlines()[0])
    r = client.post("/articles", json={"articles": [record]}, headers=AUTH)
    assert r.json() == {"added": 0, "updated": 0, "unchanged": 1, "deleted": 0, "publish": "not needed",
                        "visible_within_seconds": 0}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message"),
    [
        ("post", "/articles", {"json": {"articles": [NEW]}}, 401, "needs the API key"),
        ("post", "/articles", {"json": {"articles": [NEW]}, "headers": {"Authorization": "Bearer nope"}}, 403,
         "the API key is wrong"),
        ("post", "/articles", {"json": {"articles": [NEW, {"id": "x", "body": "b"}]}, "headers": AUTH}, 422,
         "articles.1.title: Field required"),
        ("post", "/articles", {"json": {"articles": [NEW, NEW]}, "headers": AUTH}, 422, "same id twice"),
        ("post", "/articles", {"json": {"articles": []}, "headers": AUTH}, 422, "at least 1 item"),
        ("post", "/articles", {"json": {"articles": [{**NEW, "published_at": "soon"}]}, "headers": AUTH}, 422,
         "unparseable date"),
        ("put", "/articles/n01", {"json": {**NEW, "id": "other"}, "headers": AUTH}, 422, "differs from the URL"),
        ("delete", "/articles/ghost", {"headers": AUTH}, 404, "'ghost' is not in the store"),
    ],
)
def test_bad_writes(client, method, path, kwargs, status, message):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status and message in r.json()["error"]
    assert client.get("/stats").json()["articles"] == 12  # nothing was written


def test_writes_are_disabled_without_a_key(tmp_path, tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index), engine=tiny_engine)) as c:
        r = c.post("/articles", json={"articles": [NEW]}, headers=AUTH)
        assert r.status_code == 403 and "writes are disabled" in r.json()["error"]


@pytest.mark.slow
def test_server_swaps_versions_under_load_without_failing_a_request(tmp_path, embedder, launch):
    corpus = tmp_path / "corpus.jsonl"
    shutil.copy(TINY, corpus)
    idx = tmp_path / "idx"
    index_sources([corpus], idx, embedder, progress=False)
    env = {**os.environ, "SIFT_INDEX_DIR": str(idx), "HF_HUB_OFFLINE": "1"}
    server = launch(idx, tmp_path)
    base = server.base
    try:
        stop = threading.Event()
        outcomes: list[tuple[int, str]] = []

        def hammer() -> None:
            with httpx.Client(timeout=30) as http:
                while not stop.is_set():
                    r = http.get(f"{base}/search", params={"q": "grants for mangroves", "k": 3})
                    outcomes.append((r.status_code, r.json().get("version", "")))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for n in range(3):  # another process publishes three new versions meanwhile
            rows = [json.loads(line) for line in corpus.read_text().splitlines()]
            rows[0]["body"] += f" Update {n}."
            corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
            subprocess.run([sys.executable, "-m", "search_api.cli", "index", str(corpus), "-q"], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and httpx.get(f"{base}/health").json()["version"] != "000004":
            time.sleep(0.2)
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
    finally:
        server.close()
    assert len(outcomes) > 50
    assert {status for status, _ in outcomes} == {200}, "a request failed during a swap"
    versions = [v for _, v in outcomes]
    assert versions[0] == "000001" and versions[-1] == "000004"


def test_a_write_says_when_it_will_be_searchable_from_how_long_publishing_takes(client):
    publisher = client.app.state.publisher
    r = client.post("/articles", json={"articles": [{**NEW, "id": "v1"}]}, headers=AUTH)
    assert r.json()["visible_within_seconds"] == 30  # the tiny index publishes in well under a second
    _settle(client)
    assert 0 < publisher.last_seconds < 10
    # a site whose publishes take 100 s: the delay, one publish that may be running, then ours (+5 s of slack)
    publisher.last_seconds = None
    assert publisher.visible_within(100.0) == 206  # before any publish here, from the live version's manifest
    publisher.last_seconds = 40.0
    assert publisher.visible_within(100.0) == 86  # a publish in this process is the better guide
    assert publisher.visible_within(None) == 86
    publisher.last_seconds = None
    assert publisher.visible_within(None) == 30


def test_the_manifest_records_how_long_the_version_took(client):
    _settle(client)
    seconds = client.app.state.live.engine.manifest["publish_seconds"]
    assert isinstance(seconds, float) and 0 <= seconds < 60


def test_synonyms_are_read_with_each_version_and_a_broken_file_keeps_the_running_one(tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([TINY], idx, embedder, progress=False)
    rules = tmp_path / "synonyms.txt"
    rules.write_text("apiculture => beekeeping\n", encoding="utf-8")
    settings = Settings(index_dir=idx, api_key=KEY, related_min_similarity=-1, synonyms=rules)
    with TestClient(create_app(settings)) as c:
        assert c.get("/search", params={"q": "apiculture"}).json()["synonyms"] == ["beekeeping"]
        rules.write_text("apiculture => beekeeping, honey\n", encoding="utf-8")  # read with the next version
        assert c.post("/articles", json={"articles": [NEW]}, headers=AUTH).status_code == 202
        _settle(c)
        assert c.get("/health").json()["version"] == "000002"
        body = c.get("/search", params={"q": "apiculture"}).json()
        assert body["synonyms"] == ["beekeeping", "honey"] and body["hits"][0]["id"] == "n01"
        rules.write_text("apiculture\n", encoding="utf-8")  # broken: the next version cannot load with it
        assert c.delete("/articles/n01", headers=AUTH).status_code == 202
        _settle(c)
        health = c.get("/health").json()
        assert health["version"] == "000002" and "synonyms.txt, line 1" in json.dumps(health)
        assert c.get("/search", params={"q": "apiculture"}).json()["synonyms"] == ["beekeeping", "honey"]
