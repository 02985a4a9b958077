"""The related-posts widget over HTTP: widget.js, the HTML fragment, lookup by URL, caching, CORS, escaping and
the language of its words."""

import json
from datetime import datetime, timezone
from html import escape

import pytest
from fastapi.testclient import TestClient

from search_api.http.app import create_app
from search_api.schemas import RelatedItem, RelatedResults
from search_api.settings import Settings
from search_api.http.messages import catalogue
from search_api.http.widget import is_http_url, render_fragment

HOSTILE = '<script>alert(1)</script> & "quotes"'
ALLOWED = "https://news.example.org"
ENGLISH = catalogue("en")


@pytest.fixture(scope="module")
def client(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index), engine=tiny_engine)) as c:
        yield c


def _client_over(records: list[dict], folder, embedder):
    """A TestClient over an index built from `records`."""
    from indexer.pipeline import index_sources
    from search_api.engine import Engine
    from search_api.related.policy import RelatedRules

    source = folder / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    report = index_sources([source], folder / "idx", embedder, progress=False)
    assert report.added == len(records) and report.skipped == 0
    engine = Engine.open(folder / "idx", embedder, related_rules=RelatedRules(min_similarity=-1.0))  # no floor
    return TestClient(create_app(Settings(index_dir=folder / "idx"), engine=engine))


SOURCE = {"id": "h01", "url": "https://news.example.org/h01", "title": "Cocoa farm inspections in Ghana",
          "body": "Labour inspectors visited cocoa farms in Ghana to look for children working in the harvest."}


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory, embedder):
    """The source article and one whose title is an HTML injection attempt (it has an https URL)."""
    hostile = {"id": "h02", "url": "https://news.example.org/h02", "title": HOSTILE,
               "body": "A charity opened a shelter for children rescued from farm work in West Africa."}
    with _client_over([SOURCE, hostile], tmp_path_factory.mktemp("hostile"), embedder) as c:
        yield c


# -- widget.js --------------------------------------------------------------------------------------------------
def test_widget_js_is_small_plain_javascript(client):
    r = client.get("/widget.js")
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == "application/javascript"
    # 5 KB until it chose a language and formatted dates (+1.2 KB); its words are in the catalogues, loaded apart
    assert len(r.content) < 7 * 1024, f"widget.js is {len(r.content)} bytes; keep it under 7 KB"
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "innerHTML" not in r.text and "textContent" in r.text


def test_widget_js_knows_the_catalogues_and_the_site_language(client, tiny_engine, tiny_index):
    """The script picks the host page's language itself: it is served with the languages that have a catalogue and
    the site's own (SIFT_UI_LANGUAGE) for pages in any other."""
    assert 'var LANGS = ["ar", "en", "es", "fr", "pt"], SITE_LANG = "en";' in client.get("/widget.js").text
    with TestClient(create_app(Settings(index_dir=tiny_index, ui_language="pt"), engine=tiny_engine)) as pt:
        portuguese = pt.get("/widget.js")
    assert 'SITE_LANG = "pt";' in portuguese.text
    assert portuguese.headers["etag"] != client.get("/widget.js").headers["etag"]


def test_widget_css_is_scoped(client):
    r = client.get("/widget.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    rules = [line for line in r.text.splitlines() if "{" in line]
    assert rules and all(line.lstrip().startswith(".sift-") for line in rules)


@pytest.mark.parametrize("path", ["/widget.js", "/widget.css", "/widget/related/t01?k=3"])
def test_etag_answers_304_when_unchanged(client, path):
    first = client.get(path)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == first.headers["cache-control"]
    assert client.get(path, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_etag_depends_on_the_request(client):
    tags = {client.get(p).headers["etag"] for p in
            ["/widget/related/t01?k=3", "/widget/related/t01?k=4", "/widget/related/t02?k=3",
             "/widget/related/t01?k=3&layout=cards"]}
    assert len(tags) == 4


# -- the HTML fragment ------------------------------------------------------------------------------------------
def test_fragment_lists_k_related_posts_without_the_article(client):
    r = client.get("/widget/related/t01", params={"k": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"]
    expected = [i["id"] for i in client.get("/articles/t01/related", params={"k": 3}).json()["items"]]
    assert r.text.count('<li class="sift-item">') == 3
    for aid in expected:
        assert f'href="https://news.example.org/{aid}"' in r.text
    assert "news.example.org/t01\"" not in r.text
    assert '<h2 class="sift-title">Related posts</h2>' in r.text
    assert '<aside class="sift-box sift-list" lang="en" dir="ltr" aria-label="Related posts">' in r.text


def test_fragment_and_json_say_when_a_listed_grant_call_closed(client):
    items = client.get("/articles/t11/related", params={"k": 5}).json()["items"]
    call = next(i for i in items if i["id"] == "t03")  # the EU climate call, deadline 15 March 2026
    assert (call["deadline"], call["deadline_passed"]) == ("2026-03-15", True)
    assert all(i["deadline"] is None for i in items if i["id"] != "t03")
    assert '<span class="sift-date">Closed 2026-03-15</span>' in client.get("/widget/related/t11", params={"k": 5}).text
    assert "2025-12-01 · Funding Opportunities · deadline 2026-03-15" in client.get("/demo/article/t03").text


@pytest.mark.parametrize(
    ("lang", "box", "heading", "closed"),
    [
        ("ar", 'lang="ar" dir="rtl" aria-label="منشورات ذات صلة"', "منشورات ذات صلة", "أُغلقت في 2026-03-15"),
        ("fr-CA", 'lang="fr" dir="ltr" aria-label="Articles liés"', "Articles liés", "Clos le 2026-03-15"),
        ("pt_BR", 'lang="pt" dir="ltr"', "Artigos relacionados", "Encerrada em 2026-03-15"),
        ("de", 'lang="en" dir="ltr"', "Related posts", "Closed 2026-03-15"),  # no catalogue: the site's language
    ],
)
def test_fragment_in_the_language_asked_for(client, lang, box, heading, closed):
    r = client.get("/widget/related/t11", params={"k": 5, "lang": lang})
    assert r.status_code == 200
    assert box in r.text and f'<h2 class="sift-title">{heading}</h2>' in r.text
    assert f'<span class="sift-date">{closed}</span>' in r.text
    # every title takes the direction of its own text: these English titles stay left to right in an Arabic box
    assert r.text.count('class="sift-link" dir="auto"') == 5


def test_fragment_layout_and_title(client):
    r = client.get("/widget/related/t04", params={"k": 2, "layout": "cards", "title": "More <b>stories</b>"})
    assert 'class="sift-box sift-cards"' in r.text and 'class="sift-meta"' in r.text
    assert "<h2 class=\"sift-title\">More &lt;b&gt;stories&lt;/b&gt;</h2>" in r.text
    untitled = client.get("/widget/related/t04", params={"title": ""}).text
    assert "<h2" not in untitled and 'aria-label="Related posts"' in untitled  # the box still has a name


def test_fragment_escapes_a_hostile_title(hostile_client):
    r = hostile_client.get("/widget/related/h01", params={"k": 1})
    assert r.status_code == 200
    assert "<script" not in r.text
    assert ('<a class="sift-link" dir="auto" href="https://news.example.org/h02" target="_top">'
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;</a>") in r.text


def test_fragment_shows_an_article_without_url_as_text(tmp_path, embedder):
    no_url = {"id": "h03", "title": "Grant round for school feeding in Malawi",
              "body": "Donors announced a grant round for school meals programmes in rural Malawi."}
    with _client_over([SOURCE, no_url], tmp_path, embedder) as c:
        r = c.get("/widget/related/h01", params={"k": 1})
    assert r.status_code == 200
    assert ('<li class="sift-item"><span class="sift-link" dir="auto">Grant round for school feeding in Malawi</span>'
            in r.text)


def test_demo_page_escapes_the_article_and_embeds_the_widget(hostile_client):
    r = hostile_client.get("/demo/article/h02")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;</h1>" in r.text
    assert r.text.count("<script") == 1
    assert '<script src="/widget.js" data-article-id="h02" data-count="5" data-layout="list"' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"]


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://news.example.org/a", True),
        ("HTTP://news.example.org/a", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" https://news.example.org/a", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//news.example.org/a", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_urls_become_links(url, linked):
    assert is_http_url(url) is linked
    item = RelatedItem(id="x", title="T", url=url, score=0.5, published_at=datetime(2025, 1, 2, tzinfo=timezone.utc))
    html = render_fragment(RelatedResults(article_id="a", items=[item], version="1"), layout="list", title="R",
                           stylesheet="/widget.css", words=ENGLISH)
    assert ("<a " in html) is linked and ('<span class="sift-link" dir="auto">T</span>' in html) is not linked
    if url:
        assert (escape(url) in html) is linked  # an unsafe URL is dropped, never printed
    assert '<span class="sift-date">2025-01-02</span>' in html


def test_fragment_of_an_empty_list_is_empty():
    assert render_fragment(RelatedResults(article_id="a", items=[], version="1"), layout="list", title="R",
                           stylesheet="/widget.css", words=ENGLISH) == ""


def test_cards_show_the_reason_escaped_and_lists_leave_it_out():
    item = RelatedItem(id="b", title="B", url="https://news.example.org/b", score=0.5, reason="Both mention <b>")
    related = RelatedResults(article_id="a", items=[item], version="1")
    cards = render_fragment(related, layout="cards", title="", stylesheet="/widget.css", words=ENGLISH)
    assert '<span class="sift-why">Both mention &lt;b&gt;</span>' in cards
    assert "sift-why" not in render_fragment(related, layout="list", title="", stylesheet="/widget.css", words=ENGLISH)


# -- lookup by page URL -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    ["https://news.example.org/t04", "https://news.example.org/t04/", "https://NEWS.Example.org/t04#comments"],
)
def test_related_by_page_url(client, url):
    r = client.get("/widget/related", params={"url": url, "k": 3})
    assert r.status_code == 200
    assert r.json() == client.get("/articles/t04/related", params={"k": 3}).json()
    assert r.headers["cache-control"] == "public, max-age=300" and r.headers["etag"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/widget/related?url=https://news.example.org/nope", 404,
         "no article in the index has the url 'https://news.example.org/nope'; index that page"),
        ("/widget/related", 422, "url: Field required"),
        ("/widget/related?url=https://x.org/t01&k=0", 422, "k: Input should be greater than or equal to 1"),
        ("/widget/related/nope", 404, "article 'nope' is not in the index"),
        ("/widget/related/t01?k=51", 422, "k: Input should be less than or equal to 50"),
        ("/widget/related/t01?layout=grid", 422, "layout: Input should be 'list' or 'cards'"),
        ("/widget/related/t01?title=" + "x" * 101, 422, "title: String should have at most 100 characters"),
        ("/demo/article/nope", 404, "article 'nope' is not in the index"),
    ],
)
def test_bad_widget_requests_are_json_errors(client, path, status, message):
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert message in r.json()["error"]


# -- CORS -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cors_client(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index, cors_origins=[ALLOWED]), engine=tiny_engine)) as c:
        yield c


@pytest.mark.parametrize("path", ["/articles/t01/related?k=2", "/widget/related?url=https://news.example.org/t01"])
def test_cors_allows_configured_origins_only(cors_client, client, path):
    allowed = cors_client.get(path, headers={"Origin": ALLOWED})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in allowed.headers["vary"]
    other = cors_client.get(path, headers={"Origin": "https://evil.example.com"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    # The default is no cross-origin access at all.
    assert "access-control-allow-origin" not in client.get(path, headers={"Origin": ALLOWED}).headers


def test_cors_preflight_allows_get_only(cors_client):
    ok = cors_client.options("/articles/t01/related",
                             headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    post = cors_client.options("/related", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    assert post.status_code == 400 and "POST" not in post.headers["access-control-allow-methods"]


def test_cors_origins_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("SIFT_CORS_ORIGINS", raising=False)
    assert Settings().cors_origins == []
    monkeypatch.setenv("SIFT_CORS_ORIGINS", '["https://a.example.org", "https://b.example.org"]')
    assert Settings().cors_origins == ["https://a.example.org", "https://b.example.org"]
