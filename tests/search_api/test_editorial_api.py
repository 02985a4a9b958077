"""Editorial control and feedback over HTTP: API-key auth, pins and excludes (surviving re-indexing), widget events
and click-through. Writes go to an index of their own, never the shared session fixtures."""

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.pipeline import index_sources
from search_api.http.app import create_app
from search_api.http.editorial import MAX_EVENT_BYTES
from search_api.engine import Engine
from search_api.related.policy import RelatedRules
from search_api.settings import Settings

KEY = "correct horse battery staple"
AUTH = {"Authorization": f"Bearer {KEY}"}
TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_corpus.jsonl"
TINY_IDS = [f"t{i:02d}" for i in range(1, 13)]


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory):
    src = tmp_path_factory.mktemp("editorial-src")
    shutil.copy(TINY, src / "tiny.jsonl")
    return src


@pytest.fixture(scope="module")
def built(source_dir, tmp_path_factory, embedder):
    idx = tmp_path_factory.mktemp("editorial") / "idx"
    index_sources([source_dir], idx, embedder, progress=False)
    return idx


def _client(idx, embedder, **settings):
    # no similarity floor: the tiny corpus's lists stay full, so positions are easy to check
    engine = Engine.open(idx, embedder, related_rules=RelatedRules(min_similarity=-1))
    return TestClient(create_app(Settings(index_dir=idx, **settings), engine=engine))


@pytest.fixture
def client(built, embedder):
    with _client(built, embedder, api_key=KEY) as c:
        yield c
        # leave the module's index as it was found
        for kind in ("pins", "excludes"):
            for aid in TINY_IDS:
                for pinned in c.get(f"/articles/{aid}/related/curation").json()[kind]:
                    other = pinned["id"] if kind == "pins" else pinned
                    c.delete(f"/articles/{aid}/related/{kind}/{other}", headers=AUTH)


def related_ids(client, aid, k=3):
    return [i["id"] for i in client.get(f"/articles/{aid}/related", params={"k": k}).json()["items"]]


# -- auth -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "headers", "status", "message"),
    [
        (None, AUTH, 403, "writes are disabled on this server; set SIFT_API_KEY to enable them"),
        (KEY, {}, 401, "this route needs the API key: send `Authorization: Bearer <key>`"),
        (KEY, {"Authorization": f"Basic {KEY}"}, 401, "this route needs the API key: send `Authorization: Bearer <key>`"),
        (KEY, {"Authorization": "Bearer wrong"}, 403, "the API key is wrong"),
        (KEY, {"Authorization": f"Bearer {KEY}x"}, 403, "the API key is wrong"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/articles/t11/related/pins/t02"), ("delete", "/articles/t11/related/pins/t02"),
     ("put", "/articles/t11/related/excludes/t02"), ("delete", "/articles/t11/related/excludes/t02")],
)
def test_writes_need_the_api_key(built, embedder, key, headers, status, message, method, path):
    with _client(built, embedder, api_key=key) as c:
        r = c.request(method, path, headers=headers)
        assert r.status_code == status and r.json() == {"error": message}
        if status == 401:
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/articles/t11/related/curation").json() == {"article_id": "t11", "pins": [], "excludes": []}


# -- pins and excludes ------------------------------------------------------------------------------------------
def test_pin_puts_an_article_at_its_position(client):
    before = related_ids(client, "t11")
    assert "t02" not in before
    r = client.put("/articles/t11/related/pins/t02", params={"position": 2}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"article_id": "t11", "pins": [{"id": "t02", "position": 2}], "excludes": []}
    items = client.get("/articles/t11/related", params={"k": 3}).json()["items"]
    assert [i["id"] for i in items] == [before[0], "t02", before[1]]
    assert items[1]["pinned"] is True and items[1]["reason"] == "Chosen by the editors"
    # the widget's routes serve the same curated list
    assert 'href="https://news.example.org/t02"' in client.get("/widget/related/t11", params={"k": 3}).text
    by_url = client.get("/widget/related", params={"url": "https://news.example.org/t11", "k": 3}).json()
    assert [i["id"] for i in by_url["items"]] == [before[0], "t02", before[1]]
    r = client.delete("/articles/t11/related/pins/t02", headers=AUTH)
    assert r.status_code == 200 and r.json()["pins"] == []
    assert related_ids(client, "t11") == before


def test_exclude_removes_an_article_and_the_next_one_moves_up(client):
    before = related_ids(client, "t11", k=4)
    r = client.put(f"/articles/t11/related/excludes/{before[0]}", headers=AUTH)
    assert r.status_code == 200 and r.json()["excludes"] == [before[0]]
    assert related_ids(client, "t11") == before[1:4]
    assert client.delete(f"/articles/t11/related/excludes/{before[0]}", headers=AUTH).status_code == 200
    assert related_ids(client, "t11", k=4) == before


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("put", "/articles/nope/related/pins/t02", 404, "article 'nope' is not in the index"),
        ("put", "/articles/t11/related/excludes/nope", 404, "article 'nope' is not in the index"),
        ("put", "/articles/t11/related/pins/t11", 422, "cannot be pinned to or excluded from its own related posts"),
        ("put", "/articles/t11/related/pins/t02?position=0", 422, "position: Input should be greater than or equal to 1"),
        ("put", "/articles/t11/related/pins/t02?position=51", 422, "position: Input should be less than or equal to 50"),
        ("delete", "/articles/t11/related/pins/t02", 404, "'t02' is not pinned to 't11''s related posts"),
        ("delete", "/articles/t11/related/excludes/t02", 404, "'t02' is not excluded from 't11''s related posts"),
    ],
)
def test_bad_editorial_requests(client, method, path, status, message):
    r = client.request(method, path, headers=AUTH)
    assert r.status_code == status and message in r.json()["error"]


def test_pins_and_excludes_survive_reindexing(source_dir, tmp_path, embedder):
    idx = tmp_path / "idx"
    index_sources([source_dir], idx, embedder, progress=False)
    with _client(idx, embedder, api_key=KEY) as c:
        assert c.put("/articles/t11/related/pins/t02", headers=AUTH).status_code == 200
        assert c.put("/articles/t11/related/excludes/t03", headers=AUTH).status_code == 200
    # a changed article makes the next run publish a new version from the same store
    changed = tmp_path / "src"
    changed.mkdir()
    records = [json.loads(line) for line in (source_dir / "tiny.jsonl").read_text().splitlines()]
    records[0]["body"] += " Inspections continue."
    (changed / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = index_sources([changed], idx, embedder, progress=False)
    assert report.updated == 1 and report.published
    with _client(idx, embedder) as c:
        related = c.get("/articles/t11/related", params={"k": 3}).json()
        assert related["version"] == "000002"
        ids = [i["id"] for i in related["items"]]
        assert ids[0] == "t02" and "t03" not in ids


def test_rules_can_be_tuned_per_request(client):
    assert client.get("/articles/t11/related", params={"min_similarity": 0.99}).json()["items"] == []
    assert len(client.get("/articles/t11/related", params={"k": 11}).json()["items"]) == 11
    plain = client.get("/articles/t11/related", params={"k": 5}).json()["items"]
    diverse = client.get("/articles/t11/related", params={"k": 5, "mmr_lambda": 0.3}).json()["items"]
    assert len(diverse) == 5 and diverse[0] == plain[0] and diverse != plain
    r = client.get("/articles/t11/related", params={"mmr_lambda": 2})
    assert r.status_code == 422 and "mmr_lambda: Input should be less than or equal to 1" in r.json()["error"]


# -- feedback ---------------------------------------------------------------------------------------------------
def test_widget_events_feed_click_through(tmp_path, embedder, source_dir):
    idx = tmp_path / "idx"
    index_sources([source_dir], idx, embedder, progress=False)
    with _client(idx, embedder) as c:
        shown = {"article_id": "t11", "shown": ["t03", "t08"], "clicked": None}
        for _ in range(4):
            # sendBeacon-style: a text/plain body is read as JSON too
            r = c.post("/widget/events", content=json.dumps(shown), headers={"content-type": "text/plain;charset=UTF-8"})
            assert r.status_code == 204 and r.content == b"" and "set-cookie" not in r.headers
        assert c.post("/widget/events", json={"article_id": "t11", "clicked": "t03"}).status_code == 204
        # ids no longer in the index (a page from before a re-index) are not counted
        assert c.post("/widget/events", json={"article_id": "t11", "shown": ["gone"], "clicked": "gone"}).status_code == 204
        stats = c.get("/stats/related").json()
        assert (stats["views"], stats["clicks"], stats["ctr"]) == (4, 1, 0.25)
        box = stats["articles"][0]
        assert (box["article_id"], box["views"], box["clicks"], box["ctr"]) == ("t11", 4, 1, 0.25)
        assert box["items"] == [
            {"id": "t03", "impressions": 4, "clicks": 1, "ctr": 0.25},
            {"id": "t08", "impressions": 4, "clicks": 0, "ctr": 0.0},
        ]
        assert c.get("/stats/related", params={"article_id": "t01"}).json()["articles"] == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("{broken", 422, "Invalid JSON"),
        (json.dumps({"shown": ["t03"]}), 422, "article_id: Field required"),
        (json.dumps({"article_id": "t11", "shown": "t03"}), 422, "shown: Input should be a valid array"),
        (json.dumps({"article_id": "t11", "shown": [], "ip": "1.2.3.4"}), 422, "ip: Extra inputs are not permitted"),
        (json.dumps({"article_id": "t11", "shown": ["t01"] * 51}), 422, "shown: List should have at most 50 items"),
        (json.dumps({"article_id": "", "shown": []}), 422, "article_id: String should have at least 1 character"),
        (json.dumps({"article_id": "nope", "shown": ["t11"]}), 404, "article 'nope' is not in the index"),
        (json.dumps({"article_id": "t11", "shown": [], "clicked": "x" * 200 + "y"}), 422, "clicked: String should have at most 200"),
        (json.dumps({"article_id": "t11", "shown": ["t01"] * 50}).ljust(MAX_EVENT_BYTES + 1), 413,
         f"the event is larger than {MAX_EVENT_BYTES} bytes; send the ids of one box only"),
    ],
)
def test_bad_widget_events(client, body, status, message):
    r = client.post("/widget/events", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and message in r.json()["error"]


def test_the_largest_valid_event_fits(client):
    largest = {"article_id": "t11", "shown": ["t01"] * 50, "clicked": "t02"}
    assert len(json.dumps({**largest, "shown": ["x" * 200] * 50, "clicked": "x" * 200})) < MAX_EVENT_BYTES
    assert client.post("/widget/events", json=largest).status_code == 204


def test_an_oversized_event_without_content_length_is_cut_off(client):
    def chunks():
        for _ in range(MAX_EVENT_BYTES // 1000 + 2):
            yield b" " * 1000

    r = client.post("/widget/events", content=chunks(), headers={"content-type": "text/plain"})
    assert r.status_code == 413


def test_editorial_routes_are_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"put", "delete"} <= set(paths["/articles/{article_id}/related/pins/{other}"])
    assert "requestBody" in paths["/widget/events"]["post"] and "/stats/related" in paths


# -- search insights ----------------------------------------------------------------------------------------------
def test_searches_are_counted_for_the_site_and_shown_only_with_the_key(tmp_path, embedder, source_dir):
    idx = tmp_path / "idx"
    index_sources([source_dir], idx, embedder, progress=False)
    with _client(idx, embedder, api_key=KEY) as c:
        for q in ["Mangrove restoration grant", "mangrove  restoration grant", "premier league transfer window"]:
            assert c.get("/search", params={"q": q}).status_code == 200
        c.get("/search", params={"q": "mangrove restoration grant", "offset": 10})  # a next page is not a search …
        c.get("/search", params={"q": "premier league transfer window", "floor": 0})  # … nor "show the nearest"
        assert c.get("/stats/search").status_code == 401
        stats = c.get("/stats/search", headers=AUTH).json()
        assert (stats["days"], stats["searches"], stats["unanswered"]) == (30, 3, 1)
        assert stats["queries"][0] == {"query": "mangrove restoration grant", "searches": 2, "unanswered": 0}
        assert stats["unanswered_queries"] == [
            {"query": "premier league transfer window", "searches": 1, "unanswered": 1}
        ]
        assert len(c.get("/stats/search", params={"limit": 1}, headers=AUTH).json()["queries"]) == 1
        assert c.get("/stats/search", params={"days": 0}, headers=AUTH).status_code == 422
    with _client(idx, embedder) as c:  # no key configured: readers' queries are not served at all
        r = c.get("/stats/search", headers=AUTH)
        assert r.status_code == 403 and "sift insights" in r.json()["error"]
    with _client(idx, embedder, api_key=KEY, search_log_days=0) as c:  # counting turned off
        c.get("/search", params={"q": "cholera"})
        assert c.get("/stats/search", headers=AUTH).json()["searches"] == 3
