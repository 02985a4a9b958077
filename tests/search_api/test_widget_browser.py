"""The widget in a real browser: `sift serve` in its own process, Debian's headless Chromium driven by Playwright.

Nothing here downloads a browser: Playwright only drives /usr/bin/chromium. A second loopback server plays the
publisher's site (another origin), and any request off the loopback interface is aborted and fails the test.
"""

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

MIXED = Path(__file__).resolve().parents[1] / "fixtures" / "multilingual" / "mixed_corpus.jsonl"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost"}
HOSTILE = '<script>alert(1)</script> & "quotes"'


class Publisher:
    """A publisher's site on its own loopback port: pages served from `pages`, path → HTML.

    Reached as 127.0.0.1 it is the origin Sift allows; reached as localhost it is another origin, not allowed.
    (A page the browser fakes itself would count as a public site, which Chromium forbids to call loopback at all.)
    """

    def __init__(self) -> None:
        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.httpd.server_address[1]
        self.allowed, self.other = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def publisher():
    site = Publisher()
    yield site
    site.close()


@pytest.fixture(scope="module")
def server(tiny_index, publisher, launch, tmp_path_factory):
    # the widget records impressions and clicks into the store: a copy, so other tests' shared index stays unwritten
    folder = tmp_path_factory.mktemp("browser")
    index = folder / "idx"
    shutil.copytree(tiny_index, index)
    # no similarity floor over the tiny corpus of unrelated stories (see tiny_engine in conftest.py)
    running = launch(index, folder, env={"SIFT_RELATED_MIN_SIMILARITY": "-1",
                                         "SIFT_CORS_ORIGINS": json.dumps([publisher.allowed])})
    yield running.base
    running.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the widget's browser test needs Debian's Chromium; "
                    "run `apt-get install -y chromium` (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Tab:
    """A fresh page plus what it logged, and pretend responses for URLs off the loopback server."""

    def __init__(self, browser, server: str) -> None:
        self.context = browser.new_context(viewport={"width": 900, "height": 900})
        self.page = self.context.new_page()
        self.fakes: dict[str, tuple[int, str, str]] = {}
        self.blocked: list[str] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.context.route("**/*", self._route)

    def _console(self, msg) -> None:
        (self.warnings if msg.type == "warning" else self.errors if msg.type == "error" else []).append(msg.text)

    def _route(self, route) -> None:
        url = route.request.url
        if url in self.fakes:
            status, content_type, body = self.fakes[url]
            route.fulfill(status=status, content_type=content_type, body=body)
        elif urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def fake(self, url: str, body: str, *, status: int = 200, content_type: str = "text/html") -> None:
        self.fakes[url] = (status, content_type, body)

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


@pytest.fixture
def tab(browser, server):
    t = Tab(browser, server)
    yield t
    t.context.close()
    assert t.blocked == [], "the page tried to reach the network"


def _items(page) -> list[dict]:
    return page.eval_on_selector_all(
        ".sift-box .sift-item",
        "lis => lis.map(li => { const t = li.querySelector('.sift-link');"
        " return {tag: t.tagName, text: t.textContent, href: t.getAttribute('href')}; })",
    )


def test_demo_page_shows_related_posts(tab, server):
    from playwright.sync_api import expect

    expected = httpx.get(f"{server}/articles/t01/related", params={"k": 5}).json()["items"]
    tab.page.goto(f"{server}/demo/article/t01")
    tab.page.wait_for_selector(".sift-box .sift-item")
    items = _items(tab.page)
    assert len(items) == 5
    assert [i["href"] for i in items] == [e["url"] for e in expected]
    assert "https://news.example.org/t01" not in [i["href"] for i in items]
    assert [(i["tag"], i["text"]) for i in items] == [("A", e["title"]) for e in expected]
    assert tab.page.locator(".sift-title").text_content() == "Related posts"
    # The box sits right after the script tag, and widget.css applied under the page's strict CSP.
    assert tab.page.evaluate("document.querySelector('script[src=\"/widget.js\"]').nextElementSibling.className") \
        == "sift-box sift-list"
    # widget.css is a <link> the script adds: it may still be loading when the items are drawn (it was, on a busy
    # machine), so wait for it to apply
    expect(tab.page.locator(".sift-box")).to_have_css("border-top-left-radius", "8px")
    assert tab.page.locator("link#sift-css").count() == 1
    assert tab.csp_violations() == [] and tab.warnings == [] and tab.dialogs == []
    ARTIFACTS.mkdir(exist_ok=True)
    tab.page.screenshot(path=str(ARTIFACTS / "widget.png"), full_page=True)


def test_cards_layout(tab, server):
    from playwright.sync_api import expect

    tab.page.goto(f"{server}/demo/article/t04?layout=cards&k=3")
    tab.page.wait_for_selector(".sift-box.sift-cards .sift-item")
    assert len(_items(tab.page)) == 3
    expect(tab.page.locator(".sift-items")).to_have_css("display", "grid")  # widget.css loads after the items
    assert tab.page.locator(".sift-meta").count() == 3
    tab.page.screenshot(path=str(ARTIFACTS / "widget-cards.png"), full_page=True)


def test_hostile_titles_render_as_text_and_only_http_urls_link(tab, server):
    related = {"article_id": "t01", "version": "x", "items": [
        {"id": "a", "title": HOSTILE, "url": "javascript:alert(1)", "score": 0.9},
        {"id": "b", "title": '<img src=x onerror="alert(2)">', "url": "https://news.example.org/b", "score": 0.8},
        {"id": "c", "title": "No address", "url": None, "score": 0.7},
    ]}
    tab.fake(f"{server}/articles/t01/related?k=5", json.dumps(related), content_type="application/json")
    tab.page.goto(f"{server}/demo/article/t01")
    tab.page.wait_for_selector(".sift-box .sift-item")
    assert _items(tab.page) == [
        {"tag": "SPAN", "text": HOSTILE, "href": None},
        {"tag": "A", "text": '<img src=x onerror="alert(2)">', "href": "https://news.example.org/b"},
        {"tag": "SPAN", "text": "No address", "href": None},
    ]
    assert tab.page.locator(".sift-box script, .sift-box img").count() == 0
    assert tab.dialogs == [] and tab.errors == []


@pytest.mark.parametrize(
    ("status", "body", "warning"),
    [
        (200, '{"article_id": "t01", "items": [], "version": "x"}', "no related posts for this article"),
        (500, '{"error": "internal error"}', "no related posts shown: HTTP 500"),
        (200, "not json", "no related posts shown"),
    ],
)
def test_nothing_is_shown_when_there_is_nothing_to_show(tab, server, status, body, warning):
    tab.fake(f"{server}/articles/t01/related?k=5", body, status=status, content_type="application/json")
    with tab.page.expect_console_message(lambda m: m.type == "warning"):
        tab.page.goto(f"{server}/demo/article/t01")
    assert tab.page.locator(".sift-box").count() == 0
    assert len(tab.warnings) == 1 and warning in tab.warnings[0]


def _host_page(server: str, attrs: str, root: str = "<html>") -> str:
    return (f'<!doctype html>{root}<head><title>Blog</title></head><body><h1>A post</h1><div id="slot"></div>'
            f'<script src="{server}/widget.js" {attrs} async></script></body></html>')


def test_configured_site_embeds_by_page_url(tab, server, publisher):
    """Cross-origin, as on a real site: the script from Sift, the page from the publisher, found by its URL."""
    attrs = 'data-url="https://news.example.org/t04" data-count="3" data-target="#slot" data-title="Read next"'
    publisher.pages["/post"] = _host_page(server, attrs)
    tab.page.goto(f"{publisher.allowed}/post")
    tab.page.wait_for_selector("#slot .sift-box .sift-item")
    expected = httpx.get(f"{server}/articles/t04/related", params={"k": 3}).json()["items"]
    assert [i["text"] for i in _items(tab.page)] == [e["title"] for e in expected]
    assert tab.page.locator("#slot .sift-title").text_content() == "Read next"
    assert tab.warnings == [] and tab.csp_violations() == []


def test_other_sites_are_refused_by_cors(tab, server, publisher):
    publisher.pages["/post"] = _host_page(server, 'data-url="https://news.example.org/t04"')
    with tab.page.expect_console_message(lambda m: m.type == "warning"):
        tab.page.goto(f"{publisher.other}/post")
    assert tab.page.locator(".sift-box").count() == 0
    assert len(tab.warnings) == 1 and "no related posts shown" in tab.warnings[0]
    assert any("blocked by CORS policy" in e for e in tab.errors)


def test_two_widgets_without_current_script_each_render_once(tab, server, publisher):
    """Old browsers have no document.currentScript: the script then starts every widget tag not yet started."""
    tab.page.add_init_script("Object.defineProperty(document, 'currentScript', {get: () => null})")
    publisher.pages["/two"] = _host_page(server, 'data-article-id="t02" data-count="2"').replace(
        "</body>", f'<script src="{server}/widget.js" data-article-id="t03" data-count="4" data-layout="cards">'
                   "</script></body>")
    tab.page.goto(f"{publisher.allowed}/two")
    tab.page.wait_for_function("document.querySelectorAll('.sift-box').length === 2")
    tab.page.wait_for_timeout(300)  # a second, duplicate start would render within this time
    assert tab.page.locator(".sift-box").count() == 2
    assert tab.page.locator(".sift-list .sift-item").count() == 2
    assert tab.page.locator(".sift-cards .sift-item").count() == 4
    assert tab.page.locator("link#sift-css").count() == 1


def test_cards_explain_and_the_widget_reports_views_and_clicks(tab, server):
    """The reasons show under each card; rendering counts a view, a click counts a click (no cookies involved)."""

    def box() -> dict:
        boxes = httpx.get(f"{server}/stats/related", params={"article_id": "t04"}).json()["articles"]
        return boxes[0] if boxes else {"views": 0, "items": []}

    def clicks_on(target: str) -> int:
        return next((i["clicks"] for i in box()["items"] if i["id"] == target), 0)

    def eventually(check) -> None:
        deadline = time.monotonic() + 10
        while not check():
            assert time.monotonic() < deadline, "the widget's event did not arrive"
            time.sleep(0.1)

    expected = httpx.get(f"{server}/articles/t04/related", params={"k": 3}).json()["items"]
    views, clicks = box()["views"], clicks_on(expected[0]["id"])
    tab.page.goto(f"{server}/demo/article/t04?layout=cards&k=3")
    tab.page.wait_for_selector(".sift-box .sift-why")
    assert tab.page.locator(".sift-why").all_text_contents() == [e["reason"] for e in expected]
    eventually(lambda: box()["views"] == views + 1)
    tab.fake(expected[0]["url"], "<!doctype html><title>The next article</title>")
    tab.page.locator(".sift-link").first.click()
    tab.page.wait_for_url(expected[0]["url"])
    eventually(lambda: clicks_on(expected[0]["id"]) == clicks + 1)


def test_search_page_works_under_its_content_security_policy(tab, server):
    """The page's script and stylesheet are files from /static: nothing inline for `default-src 'self'` to block."""
    expected = httpx.get(f"{server}/search", params={"q": "mangrove restoration grant", "k": 10}).json()["hits"]
    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "mangrove restoration grant")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector(".hit")
    titles = tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")
    assert titles == [h["title"] for h in expected]
    assert tab.page.eval_on_selector("body", "b => getComputedStyle(b).maxWidth") != "none"  # search.css applied
    tab.page.locator(".hit button.link").first.click()
    tab.page.wait_for_selector(".hit .related li")
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_refines_by_a_facet_and_undoes_it(tab, server):
    from playwright.sync_api import expect

    api = httpx.get(f"{server}/search", params={"q": "grant", "k": 10, "facets": "true"}).json()
    region = api["facets"]["regions"][0]["value"]
    narrowed = httpx.get(f"{server}/search", params={"q": "grant", "k": 10, "region": region}).json()["hits"]
    assert 0 < len(narrowed) < len(api["hits"])
    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "grant")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector("#facets button[data-facet=regions]")
    chips = tab.page.eval_on_selector_all("#facets button", "bs => bs.map(b => b.textContent)")
    assert f"{region} {api['facets']['regions'][0]['count']}" in chips
    tab.page.locator("#facets button[data-facet=regions]").first.click()
    expect(tab.page.locator(".hit")).to_have_count(len(narrowed))  # polls without eval (the CSP forbids it)
    titles = tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")
    assert titles == [h["title"] for h in narrowed]
    assert tab.page.text_content("#active") == f"{region} \u00d7"
    tab.page.locator("#active button").click()  # remove the filter: the first results come back
    expect(tab.page.locator(".hit")).to_have_count(len(api["hits"]))
    assert tab.page.text_content("#active") == ""
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_sorts_newest_first(tab, server):
    from playwright.sync_api import expect

    newest = httpx.get(f"{server}/search", params={"q": "grant", "k": 10, "sort": "date"}).json()
    assert newest["relevant"] and newest["hits"]
    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "grant")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector(".hit")
    tab.page.select_option("#sort", "date")  # changing the order searches again
    expect(tab.page.locator("#status")).to_contain_text("newest first")
    titles = tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")
    assert titles == [h["title"] for h in newest["hits"]]
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_suggests_completions_as_the_reader_types(tab, server):
    from playwright.sync_api import expect

    expected = httpx.get(f"{server}/suggest", params={"q": "mangr"}).json()["suggestions"]
    assert expected
    tab.page.goto(f"{server}/")
    tab.page.type("#q", "mangr", delay=30)
    expect(tab.page.locator("#suggestions option")).to_have_count(len(expected))
    values = tab.page.eval_on_selector_all("#suggestions option", "os => os.map(o => o.value)")
    assert values == expected
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_offers_the_words_without_quotes_when_no_article_holds_the_phrase(tab, server):
    from playwright.sync_api import expect

    loose = httpx.get(f"{server}/search", params={"q": "restoration mangrove", "k": 10}).json()["hits"]
    tab.page.goto(f"{server}/")
    tab.page.fill("#q", '"restoration mangrove"')  # the words, never in this order
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#status")).to_have_text("No articles match.")
    tab.page.click("#unquote")
    expect(tab.page.locator(".hit")).to_have_count(len(loose))
    assert tab.page.input_value("#q") == "restoration mangrove"
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_says_when_nothing_matches_well_and_can_show_the_nearest(tab, server):
    from playwright.sync_api import expect

    nearest = httpx.get(f"{server}/search", params={"q": "premier league transfer window", "k": 10, "floor": 0}).json()
    assert nearest["hits"]
    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "premier league transfer window")
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#status")).to_have_text("No article matches this well.")
    assert tab.page.locator(".hit").count() == 0
    tab.page.click("#nearest")
    expect(tab.page.locator(".hit")).to_have_count(len(nearest["hits"]))
    titles = tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")
    assert titles == [h["title"] for h in nearest["hits"]]
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_shows_a_spelling_correction_and_searches_as_typed(tab, server):
    from playwright.sync_api import expect

    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "mangorve restoration")
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#corrected")).to_have_text(
        "Showing results for mangroves restoration. Search instead for mangorve restoration")
    assert tab.page.text_content(".hit h2") == "Mangrove restoration grant for coastal communities in Indonesia"
    tab.page.locator("#corrected button").click()
    expect(tab.page.locator("#corrected")).to_be_hidden()
    assert tab.csp_violations() == [] and tab.errors == []


def _framing_page(server: str) -> str:
    return (f'<!doctype html><html><body><h1>A post</h1>'
            f'<iframe id="box" src="{server}/widget/related/t04?k=3" width="600" height="300"></iframe></body></html>')


def test_the_fragment_may_be_framed_by_the_configured_site(tab, server, publisher):
    publisher.pages["/framed"] = _framing_page(server)
    tab.page.goto(f"{publisher.allowed}/framed")
    frame = tab.page.frame_locator("#box")
    frame.locator(".sift-item").first.wait_for()
    assert frame.locator(".sift-item").count() == 3
    assert tab.csp_violations() == []


def test_other_sites_may_not_frame_the_fragment(tab, server, publisher):
    publisher.pages["/framed"] = _framing_page(server)
    with tab.page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        tab.page.goto(f"{publisher.other}/framed")
    assert tab.page.frame_locator("#box").locator(".sift-item").count() == 0


def test_search_page_reads_latest_as_newest_first_and_can_rank_instead(tab, server):
    from playwright.sync_api import expect

    latest = httpx.get(f"{server}/search", params={"q": "latest grants", "k": 10}).json()
    ranked = httpx.get(f"{server}/search", params={"q": "latest grants", "k": 10, "sort": "relevance"}).json()
    assert latest["recency"] == "latest" and [h["id"] for h in latest["hits"]] != [h["id"] for h in ranked["hits"]]
    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "latest grants")
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#status")).to_contain_text("newest first (\u201clatest\u201d)")
    assert tab.page.input_value("#sort") == "date"  # the menu shows the order the query asked for
    titles = tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")
    assert titles == [h["title"] for h in latest["hits"]]
    tab.page.select_option("#sort", "relevance")  # the reader's choice wins
    expect(tab.page.locator("#status")).to_contain_text("best first")
    titles = tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")
    assert titles == [h["title"] for h in ranked["hits"]]
    tab.page.fill("#q", "grants in the past 999 months")  # a time span: said under the results
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#status")).to_contain_text("\u00b7 published since ")
    expect(tab.page.locator("#status")).to_contain_text("(\u201cin the past 999 months\u201d)")
    tab.page.fill("#q", "latest news")  # nothing else asked: the newest articles, listed without scores
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#status")).to_contain_text("newest articles")
    assert tab.page.input_value("#sort") == "date"
    assert "score" not in tab.page.text_content(".hit .meta")
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_shows_grant_deadlines_and_filters_by_them(tab, server):
    from playwright.sync_api import expect

    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "climate grants")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector("#facets button[data-facet=calls]")
    metas = tab.page.eval_on_selector_all(".hit .meta", "ms => ms.map(m => m.textContent)")
    assert sum("closed Mar 15, 2026" in m for m in metas) == 1  # t03, the EU climate call, only
    tab.page.locator("#facets button[data-facet=calls]").first.click()  # "closed 1"
    expect(tab.page.locator(".hit")).to_have_count(1)
    assert tab.page.text_content("#active") == "closed calls \u00d7"
    tab.page.locator("#active button").click()
    expect(tab.page.locator(".hit")).not_to_have_count(1)
    tab.page.select_option("#sort", "deadline")
    expect(tab.page.locator("#status")).to_contain_text("soonest deadline first")
    assert "closed Mar 15, 2026" in tab.page.text_content(".hit .meta")  # the only call comes first
    assert tab.csp_violations() == [] and tab.errors == []


@pytest.mark.parametrize(("query", "status"), [
    ("open calls", "Showing 1 of 1 call that has closed"),  # nothing else to search for: every closed call (one)
    ("climate grants closing soon", "closed calls only (\u201cclosing soon\u201d)"),  # ranked, closed ones only
])
def test_search_page_offers_the_closed_calls_when_none_is_open(tab, server, query, status):
    from playwright.sync_api import expect

    tab.page.goto(f"{server}/")
    tab.page.fill("#q", query)
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#status")).to_have_text("No open calls right now.")  # t03 closed on 15 March 2026
    expect(tab.page.locator(".hit")).to_have_count(0)
    tab.page.click("#closed-calls")
    expect(tab.page.locator("#status")).to_contain_text(status)
    assert tab.page.text_content("#active") == "closed calls \u00d7"
    assert tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")[0].startswith("EU opens")
    assert tab.csp_violations() == [] and tab.errors == []


# -- in the site's language -------------------------------------------------------------------------------------
def _box(page) -> dict:
    """The widget box's language and direction, its heading, and each item's title direction and dates."""
    return page.eval_on_selector(
        ".sift-box",
        "box => ({lang: box.lang, dir: box.dir, direction: getComputedStyle(box).direction,"
        " heading: box.querySelector('.sift-title').textContent,"
        " label: box.getAttribute('aria-label'),"
        " titles: [...box.querySelectorAll('.sift-link')].map(t => [t.dir, getComputedStyle(t).direction]),"
        " dates: [...box.querySelectorAll('.sift-date')].map(d => d.textContent)})",
    )


@pytest.mark.parametrize(
    ("root", "attrs", "lang", "direction", "heading", "closed"),
    [
        ('<html lang="fr">', "", "fr", "ltr", "Articles liés", "Clos le 15 mars 2026"),
        # day/month/year, each part marked right to left
        ('<html lang="ar" dir="rtl">', "", "ar", "rtl", "منشورات ذات صلة", "أُغلقت في 15\u200f/03\u200f/2026"),
        ('<html lang="pt-BR">', "", "pt", "ltr", "Artigos relacionados", "Encerrada em 15 de mar. de 2026"),
        ('<html lang="ar" dir="rtl">', 'data-lang="es"', "es", "ltr", "Artículos relacionados",
         "Cerrada el 15 mar 2026"),  # data-lang on the script tag wins over the page's language
        ('<html lang="fr">', 'data-lang="de"', "fr", "ltr", "Articles liés", "Clos le 15 mars 2026"),  # no German
        ('<html lang="xx">', "", "en", "ltr", "Related posts", "Closed Mar 15, 2026"),  # no catalogue: the site's
        ("<html>", "", "en", "ltr", "Related posts", "Closed Mar 15, 2026"),
    ],
)
def test_widget_speaks_the_host_pages_language(tab, server, publisher, root, attrs, lang, direction, heading, closed):
    publisher.pages["/lang"] = _host_page(server, f'data-article-id="t11" data-count="5" {attrs}', root)
    tab.page.goto(f"{publisher.allowed}/lang")
    tab.page.wait_for_selector(".sift-box .sift-item")
    box = _box(tab.page)
    assert (box["lang"], box["dir"], box["direction"]) == (lang, direction, direction)
    assert box["heading"] == box["label"] == heading
    assert closed in box["dates"]  # t03, the EU climate call, closed on 15 March 2026
    # the English titles keep reading left to right inside an Arabic box
    assert box["titles"] == [["auto", "ltr"]] * 5
    assert tab.warnings == [] and tab.errors == []
    if lang == "ar":
        tab.page.screenshot(path=str(ARTIFACTS / "widget-ar.png"), full_page=True)


def test_search_page_in_spanish(tab, server):
    from playwright.sync_api import expect

    tab.page.goto(f"{server}/?lang=es")
    expect(tab.page.locator("button[type=submit]")).to_have_text("Buscar")
    assert tab.page.title() == "Búsqueda Sift"
    assert tab.page.get_attribute("#q", "placeholder") == "p. ej., financiación contra la trata infantil en África"
    assert tab.page.get_attribute("#q", "aria-label") == "Buscar en los artículos"
    assert tab.page.eval_on_selector_all("#sort option", "os => os.map(o => o.textContent)") == [
        "Más relevantes", "Más recientes", "Cierre próximo"]
    tab.page.fill("#q", "climate grants")
    tab.page.click("button[type=submit]")
    expect(tab.page.locator("#status")).to_contain_text("Mostrando")
    assert "cerrada el 15 mar 2026" in tab.page.text_content("#results")
    assert tab.page.locator(".hit button.link").first.text_content() == "Artículos relacionados"
    names = tab.page.eval_on_selector_all("#facets span.name", "ns => ns.map(n => n.textContent)")
    assert "Regiones:" in names and "Convocatorias:" in names
    assert tab.csp_violations() == [] and tab.errors == []


def test_search_page_in_an_unknown_language_is_english(tab, server):
    from playwright.sync_api import expect

    tab.page.goto(f"{server}/?lang=xx")
    expect(tab.page.locator("button[type=submit]")).to_have_text("Search")
    assert tab.page.eval_on_selector("html", "h => [h.lang, h.dir]") == ["en", "ltr"]
    assert tab.page.title() == "Sift search" and tab.errors == []


def test_search_page_in_arabic_mirrors_and_keeps_the_marks(tab, server):
    """An Arabic hit's snippet keeps its <mark>s (text only: an escaped tag stays text); each title takes its own
    direction; the counts take Arabic's dual; the facet chips' margins mirror."""
    from playwright.sync_api import expect

    answer = httpx.get(f"{server}/search", params={"q": "grant", "k": 10, "offset": 0, "facets": "true"}).json()
    arabic, english = answer["hits"][:2]
    arabic.update(title="منحة لإعادة تأهيل المدارس في غزة", deadline=None,
                  snippet_html="أعلنت المنظمة عن <mark>منحة</mark> جديدة &lt;b&gt;لإعادة بناء <mark>المدارس</mark>")
    answer.update(hits=[arabic, english], relevant=None, eligible=2)
    answer["facets"]["counted"] = 2
    tab.fake(f"{server}/search?q=grant&k=10&offset=0&facets=true", json.dumps(answer), content_type="application/json")
    tab.page.goto(f"{server}/?lang=ar")
    root = tab.page.eval_on_selector("html", "h => [h.lang, h.dir, getComputedStyle(h).direction]")
    assert root == ["ar", "rtl", "rtl"]
    expect(tab.page.locator("button[type=submit]")).to_have_text("بحث")
    tab.page.fill("#q", "grant")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector(".hit")
    snippet = tab.page.locator(".hit .snippet").first
    assert snippet.locator("mark").all_text_contents() == ["منحة", "المدارس"]
    assert snippet.text_content() == "أعلنت المنظمة عن منحة جديدة <b>لإعادة بناء المدارس"
    assert snippet.locator("b").count() == 0
    directions = tab.page.eval_on_selector_all(
        ".hit h2, .hit .snippet", "es => es.map(e => [e.tagName, e.dir, getComputedStyle(e).direction])")
    assert directions[:2] == [["H2", "auto", "rtl"], ["P", "auto", "rtl"]]  # the Arabic hit
    assert directions[2] == ["H2", "auto", "ltr"]  # the English title, left to right in the Arabic page
    expect(tab.page.locator("#status")).to_contain_text("من مقالين، الأفضل أولًا")  # two: the dual
    assert tab.page.text_content("#facets .name") == "تنقيح — ضمن أفضل نتيجتين:"
    chip = tab.page.eval_on_selector("#facets button", "b => [getComputedStyle(b).marginLeft,"
                                                       " getComputedStyle(b).marginRight]")
    assert chip == ["3.2px", "0px"]  # margin-inline-end is the left one, right to left
    assert tab.csp_violations() == [] and tab.errors == []
    tab.page.screenshot(path=str(ARTIFACTS / "search-ar.png"), full_page=True)


@pytest.fixture(scope="module")
def pt_server(tiny_index, embedder, publisher, tmp_path_factory):
    """A second site, whose language is Portuguese (SIFT_UI_LANGUAGE=pt), over its own copy of the index. uvicorn in a
    thread with the model this process already holds: a second `sift serve` would spend ~20 s loading it again."""
    import uvicorn

    from search_api.http.app import create_app
    from search_api.settings import Settings

    index = tmp_path_factory.mktemp("browser-pt") / "idx"
    shutil.copytree(tiny_index, index)
    settings = Settings(index_dir=index, ui_language="pt", related_min_similarity=-1, cors_origins=[publisher.allowed])
    app = create_app(settings, engine=settings.open_engine(embedder))
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the Portuguese site did not start"
        time.sleep(0.05)
    port = running.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(15)


def test_the_sites_language_when_the_page_asks_for_none(tab, pt_server, publisher):
    from playwright.sync_api import expect

    tab.page.goto(f"{pt_server}/")
    expect(tab.page.locator("button[type=submit]")).to_have_text("Pesquisar")
    assert tab.page.eval_on_selector("html", "h => h.lang") == "pt"
    headings = {}
    for root in ("<html>", '<html lang="de">', '<html lang="en">'):  # no language, one without a catalogue, English
        publisher.pages["/site"] = _host_page(pt_server, 'data-article-id="t11" data-count="2"', root)
        tab.page.goto(f"{publisher.allowed}/site")
        tab.page.wait_for_selector(".sift-box .sift-item")
        headings[root] = tab.page.text_content(".sift-title")
    assert headings == {"<html>": "Artigos relacionados", '<html lang="de">': "Artigos relacionados",
                        '<html lang="en">': "Related posts"}
    assert tab.warnings == [] and tab.errors == []


@pytest.fixture(scope="module")
def mixed_server(embedder, launch, tmp_path_factory):
    """A site in English, French and Spanish (tests/fixtures/multilingual/mixed_corpus.jsonl), served as `sift serve`."""
    from indexer.pipeline import index_sources

    folder = tmp_path_factory.mktemp("browser-mixed")
    report = index_sources([MIXED], folder / "idx", embedder, progress=False)
    assert report.added == 9 and report.skipped == 0
    running = launch(folder / "idx", folder)
    yield running.base
    running.close()


def test_search_page_narrows_to_a_language_named_in_the_pages_own(tab, mixed_server):
    """A site in several languages has a languages facet; its values are named in the page's language ("French" on
    an English page, "francés" on a Spanish one), and choosing one searches with `language=` (here the newest
    articles, narrowed to the French ones)."""
    from playwright.sync_api import expect

    api = httpx.get(f"{mixed_server}/search", params={"q": "latest news", "k": 10, "facets": "true"}).json()
    counts = {v["value"]: v["count"] for v in api["facets"]["languages"]}
    assert set(counts) == {"en", "fr", "es"}, counts
    french = httpx.get(f"{mixed_server}/search", params={"q": "latest news", "k": 10, "language": "fr"}).json()["hits"]
    assert 0 < len(french) < len(api["hits"])
    for lang, name in (("en", "French"), ("es", "francés")):
        tab.page.goto(f"{mixed_server}/?lang={lang}")
        tab.page.fill("#q", "latest news")
        tab.page.click("button[type=submit]")
        tab.page.wait_for_selector("#facets button[data-facet=languages]")
        chips = tab.page.eval_on_selector_all("#facets button[data-facet=languages]", "bs => bs.map(b => b.textContent)")
        assert f"{name} {counts['fr']}" in chips, chips
    tab.page.locator("#facets button[data-facet=languages]", has_text="francés").click()
    expect(tab.page.locator(".hit")).to_have_count(len(french))
    titles = tab.page.eval_on_selector_all(".hit h2", "hs => hs.map(h => h.textContent)")
    assert titles == [h["title"] for h in french]
    assert tab.page.text_content("#active") == "francés \u00d7"
    tab.page.locator("#active button").click()
    expect(tab.page.locator(".hit")).to_have_count(len(api["hits"]))
    assert tab.csp_violations() == [] and tab.errors == []


def test_a_site_in_one_language_has_no_languages_facet(tab, server):
    tab.page.goto(f"{server}/")
    tab.page.fill("#q", "grant")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector("#facets button[data-facet=regions]")
    assert tab.page.locator("#facets button[data-facet=languages]").count() == 0
