from datetime import datetime, timezone
from pathlib import Path

from indexer.article import Article, derive_id
from indexer.errors import BadRecord
from indexer.sources.feeds import FeedSource

FEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "connectors" / "feeds"
RSS = "application/rss+xml; charset=UTF-8"
ATOM = "application/atom+xml"
P101 = derive_id("https://news.example.org/?p=101")
WATER = derive_id("https://news.example.org/2025/07/water-grants-rural-schools/")
P98 = derive_id("https://news.example.org/?p=98")
G311 = derive_id("tag:grants.example.org,2025:grant-311")
G305 = derive_id("tag:grants.example.org,2025:grant-305")


def _utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


def _wordpress_feed(site, prefix=""):
    site.file(f"{prefix}/feed/", "feeds/rss_page1.xml", RSS)
    site.file(f"{prefix}/feed/?paged=2", "feeds/rss_page2.xml", RSS)
    # /feed/?paged=3 is not routed: WordPress answers 404 past the last page


def test_rss_follows_wordpress_paging_and_reads_content_encoded(site, fast):
    _wordpress_feed(site)
    source = FeedSource(site.url("/feed/"), politeness=fast)
    items = list(source)
    assert site.paths() == ["/robots.txt", "/feed/", "/feed/?paged=2", "/feed/?paged=3"]
    good = [i for i in items if isinstance(i, Article)]
    assert [a.id for a in good] == [P101, "floods-sindh-2025", WATER, P98]
    assert [a.title for a in good] == [
        "Children\u2019s Rights Fund Opens Its 2025 Call for Proposals",
        "Floods in Sindh: Aid Groups Scale Up Cash Transfers",
        "Water Grants for Rural Schools",
        "Teacher Training Fund Expands to Ten Districts of Nepal",
    ]
    fund, floods, water, _ = good
    assert fund.body == (
        "The Children\u2019s Rights Fund has opened its 2025 call for proposals, offering grants of up to USD 50,000 "
        "to community organisations that protect children from violence, exploitation and trafficking.\n\n"
        "Applicants must be registered in an eligible country and show at least two years of work with children. "
        "The deadline is 30 September 2025."
    )
    assert (fund.url, fund.author, fund.language) == (
        "https://news.example.org/2025/07/childrens-rights-fund-2025/", "Amina Yusuf", "en")
    assert fund.categories == ("Funding Opportunities", "Child Protection") and fund.tags == ()
    assert fund.published_at == _utc(2025, 7, 30, 8, 15)
    assert floods.published_at == _utc(2025, 7, 29, 9, 0)  # +0500 in the feed
    assert floods.image_url == "https://news.example.org/wp-content/uploads/2025/07/sindh.jpg"
    # no content:encoded: the description, its HTML cleaned
    assert water.body == ("A new programme funds boreholes, latrines and hand-washing stations in rural schools.\n\n"
                          "Grants range from USD 5,000 to USD 20,000.")
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert [str(b) for b in bad] == [f"{site.url('/feed/?paged=2')}:entry 2: field 'title' is empty"]
    assert source.modified[P101] == _utc(2025, 7, 30, 8, 15)
    assert source.watermark == _utc(2025, 7, 30, 8, 15)


def test_updated_after_stops_paging_at_the_first_page_with_nothing_new(site, fast):
    _wordpress_feed(site)
    source = FeedSource(site.url("/feed/"), updated_after=_utc(2025, 7, 29), politeness=fast)
    assert [a.id for a in source] == [P101, "floods-sindh-2025"]
    assert site.paths() == ["/robots.txt", "/feed/", "/feed/?paged=2"]
    assert source.watermark == _utc(2025, 7, 30, 8, 15)


def test_atom_follows_rel_next_and_splits_categories_from_tags(site, fast):
    site.file("/atom/", "feeds/atom_page1.xml", ATOM)
    site.file("/atom/?page=2", "feeds/atom_page2.xml", ATOM)
    source = FeedSource(site.url("/atom/"), politeness=fast)
    items = list(source)
    assert site.paths() == ["/robots.txt", "/atom/", "/atom/?page=2"]
    assert [(a.id, a.title) for a in items] == [
        (G311, "Solar Mini-Grids for Rural Clinics & Schools"),
        ("grant-312", "Youth Employment Challenge"),
        (G305, "Mangrove Restoration Small Grants"),
    ]
    solar, youth, mangroves = items
    assert (solar.categories, solar.tags, solar.author) == (("Energy",), ("solar", "Kenya"), "Grace Wanjiru")
    assert solar.body == ("A new call funds solar mini-grids for rural clinics and schools in Kenya and Uganda.\n\n"
                          "Grants cover equipment, installation and five years of maintenance.")
    assert solar.published_at == _utc(2025, 7, 30, 7, 0)
    assert youth.body == "Prizes for projects that help young people in West Africa find decent work."
    assert youth.published_at == _utc(2025, 7, 20, 8, 0)  # no <published>: <updated>
    assert mangroves.body == ("Coastal communities in Mozambique can apply for small grants to restore "
                              "mangrove forests.")
    assert source.modified == {
        G311: _utc(2025, 7, 31, 10), "grant-312": _utc(2025, 7, 20, 8), G305: _utc(2025, 6, 2, 8)}


def test_a_feed_file_is_read_alone():
    source = FeedSource(FEEDS / "rss_page1.xml")
    assert [a.id for a in source] == [P101, "floods-sindh-2025", WATER]


def test_truncated_feed_keeps_complete_entries_and_reports_the_line(site, fast):
    site.file("/broken/feed/", "feeds/rss_truncated.xml", RSS)
    site.route("/broken/feed/?paged=2", site.reply(404))
    items = list(FeedSource(site.url("/broken/feed/"), politeness=fast))
    # The cut second item has its summary but not its body: feedparser would return it; it must not be indexed.
    assert [i.id for i in items if isinstance(i, Article)] == [P101]
    assert [str(i) for i in items if isinstance(i, BadRecord)] == [
        f"{site.url('/broken/feed/')}:line 42: malformed XML (unclosed CDATA section); "
        "kept the 1 complete entry before it, lost the rest"
    ]
    assert site.paths() == ["/robots.txt", "/broken/feed/", "/broken/feed/?paged=2"]


def test_a_web_page_is_not_a_feed(site, fast):
    site.route("/news/", site.reply(200, b"<html><body><p>Hello</p></body></html>", {"Content-Type": "text/html"}))
    (bad,) = list(FeedSource(site.url("/news/"), politeness=fast))
    assert str(bad) == (f"{site.url('/news/')}: no RSS or Atom feed found; for a site's web pages use sitemap+URL, "
                        "for a WordPress site wp+URL")


def test_a_failing_feed_is_one_located_error_and_holds_the_watermark(site, fast):
    site.route("/feed/", site.reply(500, b"oops"))
    since = _utc(2025, 7, 1)
    source = FeedSource(site.url("/feed/"), updated_after=since, politeness=fast)
    assert [str(i) for i in source] == [f"{site.url('/feed/')}: HTTP 500 Internal Server Error (after 3 attempts)"]
    assert source.watermark == since


def test_missing_feed_file_is_reported(tmp_path):
    (bad,) = list(FeedSource(tmp_path / "nope.rss"))
    assert bad.source == str(tmp_path / "nope.rss") and bad.reason.startswith("cannot read file:")


def test_a_site_that_ignores_paged_does_not_loop(site, fast):
    site.file("/feed/", "feeds/rss_page1.xml", RSS)  # served for every ?paged=N
    assert [a.id for a in FeedSource(site.url("/feed/"), politeness=fast)] == [P101, "floods-sindh-2025", WATER]
    assert site.paths() == ["/robots.txt", "/feed/", "/feed/?paged=2"]


def test_max_pages_caps_the_pull_and_holds_the_watermark(site, fast):
    _wordpress_feed(site)
    source = FeedSource(site.url("/feed/"), max_pages=1, politeness=fast)
    assert [a.id for a in source] == [P101, "floods-sindh-2025", WATER]
    assert site.paths() == ["/robots.txt", "/feed/"]
    assert source.watermark is None
