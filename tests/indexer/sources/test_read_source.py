import json
from pathlib import Path

import pytest

from indexer.article import Article
from indexer.sources import read_path, read_source
from indexer.sources.feeds import FeedSource
from indexer.sources.sitemaps import SitemapSource
from indexer.sources.wordpress import WordPressSource

CONNECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "connectors"


@pytest.mark.parametrize(
    ("spec", "kind", "target"),
    [
        ("https://news.example.org/feed/", FeedSource, "https://news.example.org/feed/"),
        ("feed+https://news.example.org/?feed=atom", FeedSource, "https://news.example.org/?feed=atom"),
        ("news.rss", FeedSource, "news.rss"),
        ("exports/grants.atom", FeedSource, "exports/grants.atom"),
        ("exports/feed.XML", FeedSource, "exports/feed.XML"),
        ("wp+https://news.example.org", WordPressSource, "https://news.example.org"),
        ("WP+https://news.example.org/blog/", WordPressSource, "https://news.example.org/blog"),
        ("sitemap+https://news.example.org/sitemap.xml", SitemapSource, "https://news.example.org/sitemap.xml"),
    ],
)
def test_specs_pick_their_connector(spec, kind, target):
    source = read_source(spec)
    assert type(source) is kind
    assert getattr(source, {FeedSource: "location", WordPressSource: "base_url", SitemapSource: "url"}[kind]) == target


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("wp+news.example.org", "wp+ needs an http(s) URL after it, e.g. wp+https://site.example.org"),
        ("sitemap+", "sitemap+ needs an http(s) URL after it, e.g. sitemap+https://site.example.org"),
        ("ftp://news.example.org/feed/", "unsupported source; Sift reads a file or folder, an RSS/Atom feed "
         "(https://site/feed/ or a .xml/.rss/.atom file), wp+https://site (WordPress REST API) or "
         "sitemap+https://site/sitemap.xml"),
    ],
)
def test_bad_specs_are_one_located_error(spec, reason):
    (bad,) = list(read_source(spec))
    assert (bad.source, bad.location, bad.reason) == (spec, "", reason)


def test_paths_read_as_before(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "a1", "title": "T", "body": "B"}) + "\n")
    source = read_source(tmp_path)
    assert [a.id for a in source] == [a.id for a in read_path(tmp_path)] == ["a1"]
    assert source.watermark is None
    (missing,) = list(read_source(tmp_path / "nope"))
    assert missing.reason == "no such file or directory"


def test_feed_file_by_suffix():
    assert sum(isinstance(i, Article) for i in read_source(CONNECTORS / "feeds" / "atom_page1.xml")) == 2


def test_connectors_share_the_politeness_settings(site, fast):
    site.file("/feed/", "feeds/atom_page2.xml", "application/atom+xml")
    site.route("/wp-json/wp/v2/posts", site.reply(200, b"[]", {"Content-Type": "application/json"}))
    site.file("/sitemap.xml", "site/grant_sitemap.xml", "application/xml")
    for spec in (site.url("/feed/"), f"wp+{site.base}", f"sitemap+{site.url('/sitemap.xml')}"):
        list(read_source(spec, politeness=fast))
    assert {hit.user_agent for hit in site.hits} == {fast.user_agent}
    assert site.paths()[:5] == ["/robots.txt", "/feed/", "/robots.txt",
                                "/wp-json/wp/v2/posts?per_page=100&_embed=1&orderby=modified&order=asc&page=1",
                                "/robots.txt"]
