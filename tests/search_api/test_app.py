import pytest
from fastapi.testclient import TestClient

from search_api.http.app import create_app
from search_api.settings import Settings


@pytest.fixture(scope="module")
def client(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index), engine=tiny_engine)) as c:
        yield c


def test_search_returns_typed_hits(client):
    r = client.get("/search", params={"q": "mangrove restoration grant", "k": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["hits"][0]["id"] == "t11"
    assert set(body["hits"][0]) == {
        "id", "title", "url", "score", "semantic_score", "keyword_score", "snippet", "snippet_html",
        "published_at", "categories", "countries", "regions", "similar", "deadline", "deadline_passed",
    }
    assert (body["k"], body["offset"], body["eligible"], body["facets"]) == (2, 0, 12, None)


def test_search_filters_over_http(client):
    r = client.get("/search", params=[("q", "grant"), ("category", "Health"), ("category", "WASH"),
                                      ("date_from", "2025-01-01")])
    assert sorted(h["id"] for h in r.json()["hits"]) == ["t04", "t08"]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 422, "q: Field required"),
        ({"q": ""}, 422, "q: String should have at least 1 character"),
        ({"q": "   "}, 422, "the query is empty"),
        ({"q": "x" * 513}, 422, "q: String should have at most 512 characters"),
        ({"q": "water", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"q": "water", "k": 101}, 422, "k: Input should be less than or equal to 100"),
        ({"q": "water", "k": "ten"}, 422, "k: Input should be a valid integer"),
        ({"q": "water", "offset": -1}, 422, "offset: Input should be greater than or equal to 0"),
        ({"q": "water", "date_from": "2025-13-01"}, 422, "date_from: Input should be a valid date"),
        ({"q": "water", "date_from": "2025-05-01", "date_to": "2025-01-01"}, 422, "is after date_to"),
    ],
)
def test_bad_search_requests_are_4xx_json(client, params, status, message):
    r = client.get("/search", params=params)
    assert r.status_code == status
    assert message in r.json()["error"]


def test_article_and_related(client):
    assert client.get("/articles/t04").json()["title"] == "New boreholes bring safe water to schools in Malawi"
    related = client.get("/articles/t04/related", params={"k": 4}).json()
    assert related["article_id"] == "t04" and len(related["items"]) == 4
    assert "t04" not in [i["id"] for i in related["items"]]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/articles/nope", 404, "article 'nope' is not in the index"),
        ("/articles/nope/related", 404, "article 'nope' is not in the index"),
        ("/articles/t04/related?k=0", 422, "k: Input should be greater than or equal to 1"),
        ("/articles/t04/related?k=51", 422, "k: Input should be less than or equal to 50"),
        ("/articles/" + "a" * 201, 422, "article_id: String should have at most 200 characters"),
        ("/no/such/route", 404, "no such route"),
    ],
)
def test_bad_article_requests(client, path, status, message):
    r = client.get(path)
    assert r.status_code == status and message in r.json()["error"]


def test_related_rules_per_request_hide_closed_calls(client):
    ids = lambda **params: [i["id"] for i in client.get("/articles/t04/related", params={"k": 11, **params}).json()["items"]]
    everything = ids(min_similarity=-1)
    assert "t03" in everything  # the EU call that closed on 15 March 2026
    assert ids(min_similarity=-1, hide_closed_calls="true") == [i for i in everything if i != "t03"]
    assert ids(min_similarity=-1, hide_closed_calls="false") == everything
    r = client.get("/articles/t04/related", params={"hide_closed_calls": "perhaps"})
    assert r.status_code == 422 and "hide_closed_calls: Input should be a valid boolean" in r.json()["error"]


def test_related_for_a_draft(client):
    r = client.post("/related", json={"title": "Minors freed from cocoa plantations", "body": "Police in Ghana.", "k": 3})
    assert r.status_code == 200 and r.json()["items"][0]["id"] == "t01"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"json": {"title": "", "body": ""}}, "give a title or a body"),
        ({"json": {"title": "x", "k": 99}}, "k: Input should be less than or equal to 50"),
        ({"json": {"title": "x" * 1001}}, "title: String should have at most 1000 characters"),
        ({"json": ["not", "an", "object"]}, "Input should be a valid dictionary"),
        ({"content": b"{broken", "headers": {"content-type": "application/json"}}, "JSON decode error"),
    ],
)
def test_bad_drafts(client, kwargs, message):
    r = client.post("/related", **kwargs)
    assert r.status_code == 422 and message in r.json()["error"]


def test_health_stats_page_and_openapi(client):
    assert client.get("/health").json() == {"status": "ok", "version": "000001", "articles": 12, "error": None}
    assert client.get("/stats").json()["chunks"] == 12
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text and '<script src="/static/search.js">' in page.text
    assert "/search?" in client.get("/static/search.js").text
    spec = client.get("/openapi.json").json()
    assert {"/search", "/articles/{article_id}", "/articles/{article_id}/related", "/related", "/health", "/stats"} <= set(spec["paths"])


@pytest.mark.parametrize(
    ("query", "site", "root"),
    [
        ("", "en", '<html lang="en" dir="ltr">'),
        ("?lang=es", "en", '<html lang="es" dir="ltr">'),
        ("?lang=ar", "en", '<html lang="ar" dir="rtl">'),
        ("?lang=pt-BR", "en", '<html lang="pt" dir="ltr">'),  # a regional tag gets its language's catalogue
        ("?lang=xx", "en", '<html lang="en" dir="ltr">'),  # no catalogue: the site's language, no error
        ("", "pt", '<html lang="pt" dir="ltr">'),
        ("?lang=xx", "ar", '<html lang="ar" dir="rtl">'),
        ("?lang=fr", "ar", '<html lang="fr" dir="ltr">'),
    ],
)
def test_search_page_is_served_in_the_language_asked_for_else_the_sites(tiny_engine, tiny_index, query, site, root):
    with TestClient(create_app(Settings(index_dir=tiny_index, ui_language=site), engine=tiny_engine)) as c:
        page = c.get("/" + query)
    assert page.status_code == 200 and page.text.splitlines()[1] == root
    assert page.headers["content-language"] == root.split('"')[1]


def test_search_page_refuses_an_overlong_language_tag(client):
    r = client.get("/", params={"lang": "x" * 36})
    assert r.status_code == 422 and r.json()["error"] == "lang: String should have at most 35 characters"


def test_missing_index_gives_503_with_the_reason(tmp_path):
    with TestClient(create_app(Settings(index_dir=tmp_path / "empty"))) as c:
        assert c.get("/health").json()["status"] == "no index"
        r = c.get("/search", params={"q": "water"})
        assert r.status_code == 503
        assert "run `sift index SOURCE" in r.json()["error"]


def test_place_filters_over_http(client):
    # "news" matches nothing well: floor=0 lists every article the place filters let through
    r = client.get("/search", params=[("q", "news"), ("region", "Sahel"), ("floor", "0")])
    assert [h["id"] for h in r.json()["hits"]] == ["t06"]  # Nigeria
    r = client.get("/search", params=[("q", "news"), ("country", "KEN"), ("country", "Malawi"), ("floor", "0")])
    assert sorted(h["id"] for h in r.json()["hits"]) == ["t02", "t04", "t08"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "x", "region": "Narnia"}, "unknown region 'Narnia'"),
        ({"q": "x", "country": "Atlantis"}, "unknown country 'Atlantis'"),
        ({"q": "x", "mode": "fuzzy"}, "mode: Input should be 'hybrid', 'semantic' or 'keyword'"),
        ({"q": "x", "floor": "1.5"}, "floor: Input should be less than or equal to 1"),
        ({"q": "x", "floor": "-0.1"}, "floor: Input should be greater than or equal to 0"),
    ],
)
def test_bad_place_and_mode_parameters(client, params, message):
    r = client.get("/search", params=params)
    assert r.status_code == 422 and message in r.json()["error"]


def test_a_search_nothing_matches_well_says_so_over_http(client):
    off = client.get("/search", params={"q": "premier league transfer window"}).json()
    assert off["weak_only"] is True and off["hits"] == [] and off["eligible"] == 12
    nearest = client.get("/search", params={"q": "premier league transfer window", "floor": "0", "k": 3}).json()
    assert nearest["weak_only"] is False and len(nearest["hits"]) == 3
    on = client.get("/search", params={"q": "mangrove restoration grant"}).json()
    assert on["weak_only"] is False and on["hits"][0]["id"] == "t11"


def test_search_facets_over_http(client):
    plain = client.get("/search", params={"q": "mangrove restoration grant"}).json()
    assert plain["facets"] is None
    body = client.get("/search", params={"q": "mangrove restoration grant", "facets": "true"}).json()
    facets = body["facets"]
    assert set(facets) == {"counted", "categories", "countries", "regions", "languages", "years", "calls"}
    assert 0 < facets["counted"] <= 12  # the tiny index holds 12 articles
    assert all(set(v) == {"value", "count"} for v in facets["categories"])
    r = client.get("/search", params={"q": "water", "facets": "perhaps"})
    assert r.status_code == 422 and "facets" in r.json()["error"]


def test_search_sorted_by_date_over_http(client):
    by_score = client.get("/search", params={"q": "grant", "k": 12, "facets": "true"}).json()
    body = client.get("/search", params={"q": "grant", "k": 12, "sort": "date"}).json()
    assert (by_score["sort"], by_score["relevant"], body["sort"]) == ("relevance", None, "date")
    assert body["relevant"] == by_score["facets"]["counted"] == len(body["hits"])
    days = [h["published_at"] for h in body["hits"] if h["published_at"]]
    assert days == sorted(days, reverse=True)
    r = client.get("/search", params={"q": "grant", "sort": "oldest"})
    assert r.status_code == 422 and "sort" in r.json()["error"]


def test_latest_news_over_http(client):
    latest = client.get("/search", params={"q": "latest grants", "k": 12}).json()
    dated = client.get("/search", params={"q": "grants", "k": 12, "sort": "date"}).json()
    assert (latest["sort"], latest["recency"]) == ("date", "latest")
    assert [h["id"] for h in latest["hits"]] == [h["id"] for h in dated["hits"]]
    ranked = client.get("/search", params={"q": "latest grants", "sort": "relevance"}).json()
    assert (ranked["sort"], ranked["recency"], ranked["relevant"]) == ("relevance", "latest", None)
    newest = client.get("/search", params={"q": "Latest news", "k": 20}).json()
    assert newest["recency"] == "Latest news" and newest["relevant"] == len(newest["hits"]) > 0
    days = [h["published_at"] for h in newest["hits"] if h["published_at"]]
    assert days == sorted(days, reverse=True)
    assert client.get("/search", params={"q": "grants"}).json()["recency"] is None


def test_time_span_over_http(client):
    from datetime import date, datetime, timedelta, timezone

    body = client.get("/search", params={"q": "grants in the past 30 days"}).json()
    today = datetime.now(timezone.utc).date()
    assert body["time_window"]["words"] == "in the past 30 days" and body["time_window"]["date_to"] is None
    assert date.fromisoformat(body["time_window"]["date_from"]) in (today - timedelta(days=30), today - timedelta(days=31))
    wide = client.get("/search", params={"q": "grants in the past 999 months"}).json()  # every dated article
    assert wide["hits"] and all(h["published_at"] >= wide["time_window"]["date_from"] for h in wide["hits"])
    assert client.get("/search", params={"q": "grants"}).json()["time_window"] is None


def test_grant_calls_over_http(client):
    # t03, the EU climate call, names its deadline ("Proposals must be submitted by 15 March 2026"); the rest none
    closed = client.get("/search", params={"q": "climate grants", "calls": "closed"}).json()
    assert [h["id"] for h in closed["hits"]] == ["t03"] and closed["eligible"] == 1
    assert (closed["hits"][0]["deadline"], closed["hits"][0]["deadline_passed"]) == ("2026-03-15", True)
    plain = client.get("/search", params={"q": "climate grants", "sort": "deadline", "facets": "true"}).json()
    assert plain["sort"] == "deadline" and plain["hits"][0]["id"] == "t03"  # no open call: the closed one, then
    assert all(h["deadline"] is None for h in plain["hits"][1:])  # the others by relevance
    assert plain["facets"]["calls"] == [{"value": "closed", "count": 1}]
    asked = client.get("/search", params={"q": "climate grants closing soon"}).json()
    assert (asked["calls"], asked["sort"], asked["hits"]) == ("closing soon", "deadline", [])  # none open now
    assert client.get("/articles/t03").json()["deadlines"] == ["2026-03-15"]
    r = client.get("/search", params={"q": "grants", "calls": "soon"})
    assert r.status_code == 422 and "calls: Input should be 'open' or 'closed'" in r.json()["error"]


def test_search_phrases_and_excluded_words_over_http(client):
    free = client.get("/search", params={"q": "restoration grant", "k": 12}).json()
    quoted = client.get("/search", params={"q": '"mangrove restoration" grant', "k": 12}).json()
    assert 0 < quoted["eligible"] == len(quoted["hits"]) < free["eligible"]
    assert quoted["hits"][0]["id"] == "t11"
    without = client.get("/search", params={"q": "restoration grant -mangrove", "k": 12}).json()
    assert "t11" not in [h["id"] for h in without["hits"]] and without["eligible"] < free["eligible"]
    r = client.get("/search", params={"q": "-mangrove -grant"})
    assert r.status_code == 422 and "only excludes words" in r.json()["error"]


def test_suggest_over_http(client):
    body = client.get("/suggest", params={"q": "mangr"}).json()
    assert body["query"] == "mangr" and body["suggestions"] and body["suggestions"][0].startswith("mangrove")
    assert client.get("/suggest", params={"q": ""}).json()["suggestions"] == []
    assert client.get("/suggest", params={"q": "mangrove "}).json()["suggestions"] == []
    r = client.get("/suggest", params={"q": "mangr", "k": 0})
    assert r.status_code == 422 and "k" in r.json()["error"]


def test_search_corrects_spelling_and_searches_as_typed_on_request(client):
    body = client.get("/search", params={"q": "mangorve restoration", "k": 2}).json()
    assert body["query"] == "mangorve restoration" and body["corrected_query"] == "mangroves restoration"
    assert body["hits"][0]["id"] == "t11"
    as_typed = client.get("/search", params={"q": "mangorve restoration", "spellcheck": "false"}).json()
    assert as_typed["corrected_query"] is None
