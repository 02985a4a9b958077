import gzip
from dataclasses import replace
from datetime import datetime, timezone

from indexer.article import Article, derive_id
from indexer.errors import BadRecord
from indexer.sources.sitemaps import SitemapSource

XML = "application/xml; charset=UTF-8"
HTML = "text/html; charset=UTF-8"
IOM = "/2025/07/iom-global-action-trafficking/"
FLOODS = "/2025/07/floods-sindh-cash-transfers/"
CHOLERA = "/2025/07/cholera-yemen/"
SOLAR = "/grants/solar-schools-burkina-faso/"


def _utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


def news_site(site):
    """The fixture site: a sitemap index, two urlsets, article pages and every kind of broken page."""
    site.file("/robots.txt", "site/robots.txt", "text/plain")
    site.file("/sitemap.xml", "site/sitemap_index.xml", XML)
    site.file("/post-sitemap.xml", "site/post_sitemap.xml", XML)
    site.file("/grant-sitemap.xml", "site/grant_sitemap.xml", XML)
    site.file(IOM, "site/article_iom.html", HTML)
    site.file(FLOODS, "site/article_floods.html", HTML)
    site.route(FLOODS, [site.reply(502, b"Bad Gateway"), site.routes[FLOODS]])  # recovers on the retry
    site.file(CHOLERA, "site/article_cholera.html", "text/html")
    site.route("/2025/07/down-for-maintenance/", site.reply(500, b"<h1>Internal Server Error</h1>"))
    site.file("/private/board-minutes/", "site/article_cholera.html", HTML)  # robots.txt: Disallow: /private/
    site.route("/2025/07/moved/", site.reply(301, b"", {"Location": "/2025/07/moved-again/"}))
    site.route("/2025/07/moved-again/", site.reply(302, b"", {"Location": site.url("/2025/07/moved/")}))
    site.file(SOLAR, "site/article_windows1252.html", "text/html; charset=windows-1252")
    site.file("/grants/", "site/grants_listing.html", HTML)
    # /grants/closed-call/ is not routed: 404



def _ids(site, *paths):
    return [derive_id(site.url(path)) for path in paths]


def test_full_crawl_extracts_articles_and_locates_every_broken_page(site, fast):
    news_site(site)
    source = SitemapSource(site.url("/sitemap.xml"), politeness=fast)
    items = list(source)
    good = [i for i in items if isinstance(i, Article)]
    assert [a.id for a in good] == _ids(site, IOM, FLOODS, CHOLERA, SOLAR)
    assert [a.title for a in good] == [
        "IOM Calls for Global Action on 125,000 Trafficking Victims",
        "Floods in Sindh: Aid Groups Scale Up Cash Transfers",
        "Cholera Cases Rise Again in Yemen as Rains Arrive",
        "\u00c9nergie solaire pour les \u00e9coles du Burkina Faso",
    ]
    iom, floods, _, solar = good
    assert iom.url == "https://news.example.org/2025/07/iom-global-action-trafficking/"  # the canonical link
    assert (iom.categories, iom.tags, iom.published_at) == (("Human Trafficking",), ("IOM", "victims"),
                                                             _utc(2025, 7, 30, 8, 15))
    assert iom.body.startswith("The International Organization for Migration has counted")
    assert iom.body.count("\n\n") == 2
    for text in (iom.body, floods.body):
        for boilerplate in ("Latest News", "Related Posts", "Football Transfer", "Donate", "Privacy Policy",
                            "Subscribe", "Share this", "All rights reserved"):
            assert boilerplate not in text
    # windows-1252 bytes, declared only in the HTTP header
    assert solar.author == "Fran\u00e7oise Ou\u00e9draogo"
    assert "lumi\u00e8re" in solar.body and "l\u2019installation" in solar.body
    bad = [(b.source.removeprefix(site.base), b.reason) for b in items if isinstance(b, BadRecord)]
    moved, again = site.url("/2025/07/moved/"), site.url("/2025/07/moved-again/")
    assert bad == [
        ("/2025/07/down-for-maintenance/", "HTTP 500 Internal Server Error (after 3 attempts)"),
        ("/private/board-minutes/", f"robots.txt disallows {site.url('/private/board-minutes/')} for SiftBot; skipped"),
        ("/2025/07/moved/", f"redirect loop: {moved} -> {again} -> {moved}"),
        ("/grants/", "no article text found (broken HTML, or a page that is not an article)"),
        ("/grants/closed-call/", "HTTP 404 Not Found"),
    ]
    assert site.count(FLOODS) == 2 and site.count("/2025/07/down-for-maintenance/") == 3
    assert "/private/board-minutes/" not in site.paths()
    assert {hit.user_agent for hit in site.hits} == {fast.user_agent}
    assert source.modified == dict(zip(_ids(site, IOM, FLOODS, CHOLERA, SOLAR), [
        _utc(2025, 7, 31, 9), _utc(2025, 7, 29), _utc(2025, 7, 20, 6), _utc(2025, 6, 10)]))
    assert source.watermark is None  # a page failed with a 500: the next pull must look at everything again


def test_incremental_crawl_skips_old_urlsets_and_pages_politely(site, fast):
    news_site(site)
    source = SitemapSource(site.url("/sitemap.xml"), lastmod_after=_utc(2025, 7, 29, 12),
                           politeness=replace(fast, min_interval=0.05))
    assert [a.id for a in source] == _ids(site, IOM, FLOODS)  # FLOODS: lastmod is the date alone, 2025-07-29
    assert site.paths() == ["/robots.txt", "/sitemap.xml", "/post-sitemap.xml", IOM, FLOODS, FLOODS]
    gaps = [later.at - earlier.at for earlier, later in zip(site.hits, site.hits[1:])]
    assert min(gaps) >= 0.05, gaps
    assert source.watermark == _utc(2025, 7, 31, 9)


def test_bare_site_url_finds_the_sitemap_in_robots_txt(site, fast):
    news_site(site)
    source = SitemapSource(site.base, lastmod_after=_utc(2025, 7, 30), politeness=fast)
    assert [a.id for a in source] == _ids(site, IOM)
    assert site.paths()[:3] == ["/robots.txt", "/sitemap.xml", "/post-sitemap.xml"]


def test_truncated_sitemap_keeps_the_complete_entries(site, fast):
    news_site(site)
    site.file("/broken-sitemap.xml", "site/truncated_sitemap.xml", XML)
    since = _utc(2025, 1, 1)
    source = SitemapSource(site.url("/broken-sitemap.xml"), lastmod_after=since, politeness=fast)
    items = list(source)
    assert [i.id for i in items if isinstance(i, Article)] == _ids(site, IOM, FLOODS)
    (bad,) = [i for i in items if isinstance(i, BadRecord)]
    assert (bad.source, bad.location) == (site.url("/broken-sitemap.xml"), "line 13")
    assert bad.reason.startswith("malformed sitemap XML: Premature end of data in tag loc")
    assert bad.reason.endswith("; the 2 entries before it are read")
    assert source.watermark == since


def test_a_page_that_is_not_a_sitemap(site, fast):
    site.route("/sitemap.xml", site.reply(200, b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>",
                                          {"Content-Type": XML}))
    (bad,) = list(SitemapSource(site.url("/sitemap.xml"), politeness=fast))
    assert str(bad) == f"{site.url('/sitemap.xml')}: not a sitemap: root element <rss>, not <urlset> or <sitemapindex>"


def test_gzipped_sitemap_file(site, fast):
    news_site(site)
    body = site.routes["/post-sitemap.xml"].body
    site.route("/post-sitemap.xml.gz", site.reply(200, gzip.compress(body), {"Content-Type": "application/x-gzip"}))
    source = SitemapSource(site.url("/post-sitemap.xml.gz"), lastmod_after=_utc(2025, 7, 29, 12), politeness=fast)
    assert [a.id for a in source] == _ids(site, IOM, FLOODS)


def test_max_pages_caps_the_crawl_and_holds_the_watermark(site, fast):
    news_site(site)
    source = SitemapSource(site.url("/sitemap.xml"), max_pages=1, politeness=fast)
    assert [a.id for a in source] == _ids(site, IOM)
    assert site.paths() == ["/robots.txt", "/sitemap.xml", "/post-sitemap.xml", IOM]
    assert source.watermark is None
