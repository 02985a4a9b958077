"""Hostile and malformed input: every route answers a 4xx JSON error with a message, or a real answer; never a 500.

Complements tests/search_api/test_app.py (limits on q, k, offset, dates, places and drafts, one route at a time)
with what a public search box meets: control characters, invisible and bidi characters, emoji, mixed scripts,
very long tokens, queries with nothing left to search, and broken bodies on every route that takes one.
"""

import shutil

import pytest
from fastapi.testclient import TestClient

from indexer.store import Store
from search_api.http.app import create_app
from search_api.settings import Settings

KEY = "input-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def index(tiny_index, tmp_path_factory):
    """A copy: the write routes are called here, and the shared tiny index must stay as it is."""
    return shutil.copytree(tiny_index, tmp_path_factory.mktemp("input") / "idx")


@pytest.fixture(scope="module")
def client(tiny_engine, index):
    settings = Settings(index_dir=index, api_key=KEY, related_min_similarity=-1)
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        yield c


def _assert_json_error(r, status: int, message: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert message in r.json()["error"]


@pytest.mark.parametrize(
    ("q", "searched"),
    [
        ("water\x00grant", "water grant"),  # NUL and other control characters become spaces
        ("water\x1b[31mgrant\x07", "water [31mgrant"),
        ("\u202egrant water", "grant water"),  # a bidi override cannot reorder what is echoed back
        ("wa\u200bter \ufeffgrant", "water grant"),  # zero-width space and BOM dropped
        ("🌊 floods 💧", "🌊 floods 💧"),
        ("🌊", "🌊"),  # emoji carry meaning for the semantic leg
        ("вода water 水 مياه", "вода water 水 مياه"),
        ("e\u0301cole", "\u00e9cole"),  # NFC: one way to write é
        ("'; DROP TABLE articles;--", "'; DROP TABLE articles;--"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("x" * 512, "x" * 512),  # one 512-character token: the longest query allowed
    ],
)
def test_hostile_queries_are_cleaned_and_answered(client, q, searched):
    # floor=0: most of these match nothing well (weak_only); the point here is that they are cleaned and answered
    r = client.get("/search", params={"q": q, "k": 3, "floor": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == searched
    assert len(body["hits"]) == 3  # the tiny corpus always has three hits to give
    for hit in body["hits"]:
        assert "<script" not in hit["snippet_html"]


@pytest.mark.parametrize(
    "q", ["?!...", "\x01\x02\x1f", "\u200b\u200b", "\ufeff", "%", "$ €", "\ufffd\ufffd", " -- "],
)
def test_queries_with_nothing_to_search_are_422(client, q):
    r = client.get("/search", params={"q": q})
    _assert_json_error(r, 422, "the query is empty once control characters and punctuation are removed")


@pytest.mark.parametrize(
    ("q", "status"),
    [
        ('"' * 511 + "a", 200),  # 255 empty phrases and a stray quote: "a" is searched
        ('"water" ' * 64, 200),  # 64 phrases, all the same: one
        (" ".join(f'"water {i}"' for i in range(6)), 422),  # six different phrases: at most five
        ('"-water" grant', 200),  # a minus inside quotes is part of the phrase
        ("-" * 200 + "water", 200),  # not a word after a minus: "---…water" is free text
        ("water " + "-a " * 100, 200),  # 100 excluded one-letter words: stop words and short tokens exclude nothing
        ('"\x00" water', 200),  # a control character quoted: a space
        ('"🌊🌊" water', 200),  # a phrase with no word restricts nothing
        ("-water -grant", 422),  # only exclusions
        ('-water ""', 422),
    ],
)
def test_hostile_operators_are_answered_or_refused_with_a_reason(client, q, status):
    r = client.get("/search", params={"q": q, "k": 3})
    assert r.status_code == status, r.text
    if status == 422:
        _assert_json_error(r, 422, "only excludes words" if q.startswith("-") else "at most 5 quoted phrases")


def test_undecodable_query_bytes_are_422(client):
    _assert_json_error(client.get("/search?q=%ff%fe%fd"), 422, "the query is empty")


def test_a_10k_character_token_is_refused_before_any_work(client):
    r = client.get("/search", params={"q": "a" * 10_000})
    _assert_json_error(r, 422, "q: String should have at most 512 characters")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2025-02-30"}, "date_from: Input should be a valid date"),
        ({"date_to": "0000-01-01"}, "date_to: Input should be a valid date"),
        ({"date_from": "yesterday"}, "date_from: Input should be a valid date"),
        ({"date_from": "2025-12-31", "date_to": "2025-01-01"}, "date_from 2025-12-31 is after date_to 2025-01-01"),
        ({"country": "Atlantis"}, "unknown country 'Atlantis'"),
        ({"region": "Middle Earth"}, "unknown region 'Middle Earth'"),
        ({"mode": "telepathic"}, "mode: Input should be 'hybrid', 'semantic' or 'keyword'"),
        ({"k": "1e3"}, "k: Input should be a valid integer"),
        ({"offset": "1001"}, "offset: Input should be less than or equal to 1000"),
        ({"category": ["x"] * 21}, "category: List should have at most 20 items"),
    ],
)
def test_impossible_filters_are_422_with_the_reason(client, params, message):
    _assert_json_error(client.get("/search", params={"q": "water", **params}), 422, message)


def test_an_unknown_category_matches_nothing_rather_than_failing(client):
    """Categories are the site's own data, and a new one may have no article yet: an empty answer, not an error
    (unknown countries and regions are 422: their names are fixed, so a typo gets suggestions)."""
    r = client.get("/search", params={"q": "water", "category": "No such category"})
    assert r.status_code == 200 and (r.json()["eligible"], r.json()["hits"]) == (0, [])


@pytest.mark.parametrize(
    "path",
    [
        "/articles/%00", "/articles/..%2F..%2Fetc%2Fpasswd", "/articles/%F0%9F%8C%8A", "/articles/" + "a" * 201,
        "/articles/t01/related?k=-1", "/articles/t01/related?mmr_lambda=NaN",
        "/articles/t01/related?half_life_days=inf", "/widget/related/%3Cscript%3E",
        "/widget/related/t01?layout=%22%3E%3Cscript%3E", "/widget/related?url=javascript:alert(1)",
        "/widget/related?url=" + "x" * 2049, "/demo/article/%27%22%3E", "/stats/related?limit=0",
        "/stats/related?article_id=" + "b" * 201, "/articles/t01/related/curation/extra", "/search?q=water&k=",
    ],
)
def test_hostile_paths_and_parameters_are_4xx_json(client, path):
    r = client.get(path)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/json" and r.json()["error"]


# Every route that takes a body, with bodies that are not what it takes.
BODY_ROUTES = [
    ("post", "/related"),
    ("post", "/articles"),
    ("put", "/articles/n01"),
    ("post", "/widget/events"),
]
BAD_BODIES = [
    pytest.param(b'{"title": "x", "body": ', "application/json", id="truncated-json"),
    pytest.param(b"\xff\xfe\x00{", "application/json", id="invalid-utf8"),
    pytest.param(b"", "application/json", id="empty"),
    pytest.param(b"null", "application/json", id="null"),
    pytest.param(b'["not", "an", "object"]', "application/json", id="array"),
    pytest.param(b'{"title": NaN, "k": Infinity}', "application/json", id="nan-literals"),
    pytest.param(b"[" * 50_000 + b"]" * 50_000, "application/json", id="deeply-nested"),
    pytest.param(b'{"title": "x", "body": "y"}', "text/plain", id="text-plain"),
    pytest.param(b"title=x&body=y", "application/x-www-form-urlencoded", id="form"),
    pytest.param(b"<article><title>x</title></article>", "application/xml", id="xml"),
    pytest.param(b'{"title": "x"}', "multipart/form-data; boundary=zzz", id="multipart"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_malformed_bodies_and_wrong_content_types_are_4xx_json(client, method, path, body, content_type):
    r = client.request(method.upper(), path, content=body, headers={"content-type": content_type, **AUTH})
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert error and "Traceback" not in error


def test_nothing_was_written_by_the_bad_bodies(client, index):
    with Store(index / "store.sqlite") as store:
        assert store.count_articles() == 12 and store.get_article("n01") is None
    assert client.get("/stats/related").json()["articles"] == []  # no widget event was counted either
