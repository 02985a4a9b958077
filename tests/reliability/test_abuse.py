"""Abuse: security headers, escaping of everything the widget renders, API-key handling, and errors that never
show a traceback or a server path.

Rate limiting (429 + Retry-After), body-size limits (413), the API key's 401/403 and CORS have their own tests:
tests/search_api/test_guards.py, test_live.py, test_editorial_api.py and test_widget.py.
"""

import json
import re
import shutil
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from indexer.pipeline import index_sources
from search_api.http.app import create_app
from search_api.engine import Engine
from search_api.related.policy import RelatedRules
from search_api.settings import Settings

SITE = "https://news.example.org"


@pytest.fixture(scope="module")
def client(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index), engine=tiny_engine)) as c:
        yield c


@pytest.fixture(scope="module")
def embedding_site(tiny_engine, tiny_index):
    with TestClient(create_app(Settings(index_dir=tiny_index, cors_origins=[SITE]), engine=tiny_engine)) as c:
        yield c


# -- security headers --------------------------------------------------------------------------------------------
PAGES = ["/", "/demo/article/t01", "/static/index.html"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_get_a_strict_csp_and_may_not_be_framed(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'") and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_the_search_page_has_no_inline_script_or_style(client):
    """What `default-src 'self'` would block: inline scripts, <style> blocks, style and on* attributes."""
    page = client.get("/").text
    assert re.findall(r"<script(?![^>]*\ssrc=)", page) == []
    assert "<style" not in page and not re.search(r"\s(style|on[a-z]+)\s*=", page)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        r = client.get(asset)
        assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"


def test_widget_fragment_may_be_framed_by_sift_and_the_configured_sites_only(client, embedding_site):
    own = client.get("/widget/related/t01", params={"k": 2}).headers
    assert own["content-security-policy"].endswith("frame-ancestors 'self'")
    theirs = embedding_site.get("/widget/related/t01", params={"k": 2}).headers
    assert theirs["content-security-policy"] == (
        f"default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self' {SITE}"
    )
    assert "x-frame-options" not in theirs  # it cannot name origins; frame-ancestors decides
    assert theirs["x-content-type-options"] == "nosniff" and theirs["referrer-policy"]


def test_a_malformed_origin_in_the_settings_cannot_rewrite_the_policy(tiny_engine, tiny_index):
    origins = [SITE, "https://evil.example.com; script-src *", "'unsafe-inline'", "http://ok.example.org:8080/"]
    with TestClient(create_app(Settings(index_dir=tiny_index, cors_origins=origins), engine=tiny_engine)) as c:
        csp = c.get("/widget/related/t01").headers["content-security-policy"]
    assert csp.endswith(f"frame-ancestors 'self' {SITE} http://ok.example.org:8080")
    assert "script-src" not in csp and "unsafe-inline" not in csp


def test_docs_keep_working_and_still_may_not_be_framed(client):
    """Swagger UI runs an inline script from a CDN, so /docs gets no script policy, only the framing rule."""
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'" and r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "path", ["/search?q=water", "/articles/t01/related", "/health", "/metrics", "/widget.js", "/widget.css",
             "/articles/nope", "/search?q=", "/no/such/route"],
)
def test_every_other_response_is_nosniff_and_not_given_a_page_policy(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in r.headers and "x-frame-options" not in r.headers


# -- the widget escapes everything it renders -------------------------------------------------------------------
HOSTILE_RECORDS = [
    {"id": "src", "url": f"{SITE}/src", "title": "Cocoa farm inspections in Ghana",
     "body": "Labour inspectors visited cocoa farms in Ghana to look for children working in the harvest."},
    {"id": "h-title", "url": f"{SITE}/a", "title": '"><img src=x onerror=alert(1)><script>alert(2)</script>',
     "body": "A charity opened a shelter in Ghana for children rescued from work on cocoa farms.",
     "categories": ['<b onmouseover="alert(3)">Child labour</b>']},
    {"id": "h-attr", "url": f'{SITE}/b"onmouseover="alert(5)"x="', "title": "Cocoa harvest and child labour in Ghana",
     "body": "Cocoa cooperatives in Ghana promise to keep children out of the harvest and in school."},
    {"id": "h-tag", "url": f"{SITE}/c'><script>alert(6)</script>", "title": "Ghana cocoa: schools reopen",
     "body": "Schools reopened near Ghana's cocoa farms, and children who worked the harvest went back to class."},
    # never indexed: the indexer takes only http(s) URLs (the widget would show these as plain text anyway,
    # tests/search_api/test_widget.py::test_only_http_urls_become_links)
    {"id": "h-js", "url": "javascript:alert(4)", "title": "Inspectors find children on Ghana cocoa farms",
     "body": "Ghana's labour inspectors found children working on cocoa farms during the harvest season."},
    {"id": "h-data", "url": "data:text/html,<script>alert(7)</script>", "title": "Ghana cocoa exports",
     "body": "Cocoa exports from Ghana rose this year."},
]
ALLOWED = {  # the only markup the fragment may contain: tag → attributes
    # lang and dir: the catalogue's language and its direction (ltr/rtl), never taken from an article
    "link": {"rel", "href"}, "aside": {"class", "aria-label", "lang", "dir"}, "h2": {"class"}, "ul": {"class"},
    "li": {"class"}, "a": {"class", "href", "target", "dir"}, "span": {"class", "dir"},
}


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HOSTILE_RECORDS), encoding="utf-8")
    report = index_sources([folder / "a.jsonl"], folder / "idx", embedder, progress=False)
    assert (report.added, report.skipped) == (4, 2)
    assert [e.reason for e in report.errors] == ["field 'url': must be an http(s) URL"] * 2
    engine = Engine.open(folder / "idx", embedder, related_rules=RelatedRules(min_similarity=-1.0))
    with TestClient(create_app(Settings(index_dir=folder / "idx"), engine=engine)) as c:
        yield c


@pytest.mark.parametrize("layout", ["list", "cards"])
def test_the_fragment_contains_only_its_own_markup(hostile, layout):
    r = hostile.get("/widget/related/src", params={"k": 3, "layout": layout, "title": '"><script>alert(8)</script>'})
    assert r.status_code == 200
    markup = _Markup()
    markup.feed(r.text)
    assert [t for t, _ in markup.tags].count("li") == 3
    for tag, attrs in markup.tags:
        assert tag in ALLOWED and set(attrs) <= ALLOWED[tag], (tag, attrs)
        if tag == "a":
            assert attrs["href"].startswith(f"{SITE}/") and attrs["target"] == "_top"
    # a URL with quotes in it stays one attribute value: a link to an odd path, never a handler or a tag
    links = {attrs["href"] for tag, attrs in markup.tags if tag == "a"}
    assert links == {f"{SITE}/a", f'{SITE}/b"onmouseover="alert(5)"x="', f"{SITE}/c'><script>alert(6)</script>"}
    text = "".join(markup.text)
    assert '"><img src=x onerror=alert(1)><script>alert(2)</script>' in text  # shown, as text
    assert '"><script>alert(8)</script>' in text
    if layout == "cards":
        assert '<b onmouseover="alert(3)">Child labour</b>' in text


@pytest.mark.parametrize("article_id", ["h-title", "h-attr", "h-tag"])
def test_the_demo_page_shows_hostile_articles_as_text(hostile, article_id):
    r = hostile.get(f"/demo/article/{article_id}")
    assert r.status_code == 200
    markup = _Markup()
    markup.feed(r.text)
    scripts = [attrs for tag, attrs in markup.tags if tag == "script"]
    assert scripts == [{"src": "/widget.js", "data-article-id": article_id, "data-count": "5", "data-layout": "list",
                        "async": None}]  # the heading comes from the widget's catalogue, in the page's language
    assert not [tag for tag, _ in markup.tags if tag in ("img", "iframe", "object", "b")]
    assert all(not name.startswith("on") for _, attrs in markup.tags for name in attrs)
    assert [attrs["href"] for tag, attrs in markup.tags if tag == "a"] == [
        next(r["url"] for r in HOSTILE_RECORDS if r["id"] == article_id)
    ]


# -- the API key --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({"Authorization": "Bearer"}, {}, 401),
        ({"Authorization": "Basic a2V5OmtleQ=="}, {}, 401),
        ({"Authorization": "Token the-key"}, {}, 401),
        ({}, {"api_key": "the-key"}, 401),  # never from the query string: URLs end up in logs
        ({"X-API-Key": "the-key"}, {}, 401),
        ({"Authorization": "Bearer the-key-2"}, {}, 403),
        ({"Authorization": "Bearer THE-KEY"}, {}, 403),
        ({"Authorization": "Bearer " + "k" * 10_000}, {}, 403),
    ],
)
def test_the_api_key_is_taken_only_as_a_bearer_token(tiny_engine, tiny_index, tmp_path, headers, params, status):
    index = shutil.copytree(tiny_index, tmp_path / "idx")
    with TestClient(create_app(Settings(index_dir=index, api_key="the-key"), engine=tiny_engine)) as c:
        r = c.post("/articles", params=params, headers=headers,
                   json={"articles": [{"id": "n1", "title": "t", "body": "b"}]})
    assert r.status_code == status and r.json()["error"]
    assert "the-key" not in r.text


# -- errors never show a traceback or where files live ----------------------------------------------------------
def _assert_clean(r, *paths) -> None:
    assert r.headers["content-type"] == "application/json"
    for leak in ("Traceback", 'File "', ".py", *map(str, paths)):
        assert leak not in r.text, (leak, r.text)


ERROR_PATHS = ["/search?q=water", "/articles/t01", "/articles/t01/related", "/widget/related/t01",
               "/widget/related?url=https://x.org", "/demo/article/t01", "/stats", "/stats/related", "/ready"]


def test_a_server_without_an_index_names_no_path(tmp_path):
    missing = tmp_path / "secret-location" / "idx"
    with TestClient(create_app(Settings(index_dir=missing))) as c:
        for path in ERROR_PATHS:
            r = c.get(path)
            assert r.status_code == 503, path
            _assert_clean(r, tmp_path)
            assert "$SIFT_INDEX_DIR" in r.json()["error"]  # the variable to fix, not the folder it points at
        assert "run `sift index SOURCE --index $SIFT_INDEX_DIR` first" in c.get("/health").json()["error"]


def test_a_corrupt_index_names_no_path(tiny_copy, embedder):
    (tiny_copy / "versions" / "000001" / "passages.arrow").write_bytes(b"garbage")
    with TestClient(create_app(Settings(index_dir=tiny_copy, model_path=None))) as c:
        for path in ERROR_PATHS:
            r = c.get(path)
            assert r.status_code == 503, path
            _assert_clean(r, tiny_copy.parent)
            assert "passages.arrow does not match its checksum" in r.json()["error"]


def test_a_bug_is_a_500_with_a_request_id_and_nothing_else(tiny_engine, tiny_index, tmp_path, caplog):
    app = create_app(Settings(index_dir=tiny_index), engine=tiny_engine)

    def broken() -> dict:
        raise RuntimeError(f"secret state in {tmp_path}/internal.py")

    app.add_api_route("/broken", broken)
    with TestClient(app) as c:
        r = c.get("/broken", headers={"X-Request-ID": "bug-report-1"})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error; the server log has the details under request id bug-report-1"}
    assert r.headers["x-request-id"] == "bug-report-1" and r.headers["x-content-type-options"] == "nosniff"
    _assert_clean(r, tmp_path)
    logged = [rec for rec in caplog.records if rec.levelname == "ERROR" and rec.exc_info]
    assert len(logged) == 1 and logged[0].request_id == "bug-report-1"
    assert "secret state" in str(logged[0].exc_info[1])  # the details are in the server's log
