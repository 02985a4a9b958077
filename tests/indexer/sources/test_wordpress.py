import json
from datetime import datetime, timezone
from pathlib import Path

from indexer.article import Article
from indexer.errors import BadRecord
from indexer.sources.wordpress import WordPressSource

WP = Path(__file__).resolve().parents[2] / "fixtures" / "connectors" / "wordpress"
POSTS = [*json.loads((WP / "posts_page1.json").read_text()), *json.loads((WP / "posts_page2.json").read_text())]
API = "/wp-json/wp/v2/posts"
QUERY = "per_page={per_page}&_embed=1&orderby=modified&order=asc"


def _utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


def fake_wordpress(site, queries):
    """Answers like WordPress: modified_after (exclusive), orderby=modified asc, per_page/page, X-WP-* headers."""

    def answer(query):
        queries.append(query)
        posts = sorted(POSTS, key=lambda p: p["modified_gmt"])
        if "modified_after" in query:
            after = datetime.fromisoformat(query["modified_after"]).replace(tzinfo=None)
            posts = [p for p in posts if datetime.fromisoformat(p["modified_gmt"]) > after]
        per_page, page = int(query["per_page"]), int(query["page"])
        pages = max(1, -(-len(posts) // per_page))
        if page > pages:
            body = {"code": "rest_post_invalid_page_number", "message": "The page number requested is larger than "
                    "the number of pages available.", "data": {"status": 400}}
            return site.reply(400, json.dumps(body).encode(), {"Content-Type": "application/json; charset=UTF-8"})
        chunk = posts[(page - 1) * per_page: page * per_page]
        headers = {"Content-Type": "application/json; charset=UTF-8", "X-WP-Total": str(len(posts)),
                   "X-WP-TotalPages": str(pages), "Link": f'<{site.url(API)}?page={page + 1}>; rel="next"'}
        return site.reply(200, json.dumps(chunk).encode(), headers)

    return answer


def test_full_pull_over_two_pages_with_embedded_terms(site, fast):
    queries = []
    site.route(API, fake_wordpress(site, queries))
    source = WordPressSource(site.url(""), per_page=3, politeness=fast)
    items = list(source)
    assert [q["page"] for q in queries] == ["1", "2"]
    assert {k: v for k, v in queries[0].items() if k != "page"} == {
        "per_page": "3", "_embed": "1", "orderby": "modified", "order": "asc"}
    good = [i for i in items if isinstance(i, Article)]
    assert [(a.id, a.title) for a in good] == [
        ("wp-4398", "Cholera Cases Rise Again in Yemen as Rains Arrive"),
        ("wp-4405", "Solar Mini-Grid Grants Open for Rural Clinics in Kenya"),
        ("wp-4411", "IOM\u2019s Call for Global Action on 125,000 Trafficking Victims"),
        ("wp-4415", "Children\u2019s Rights Fund & Partners Open 2025 Call"),
    ]
    cholera, solar, iom, fund = good
    assert solar.categories == ("Funding Opportunities", "Energy & Climate") and solar.tags == ("solar",)
    assert solar.body == ("A new call funds solar mini-grids for rural clinics in Kenya.\n\n"
                          "Grants cover equipment, installation & five years of maintenance.")
    assert (solar.author, solar.image_url) == ("Grace Wanjiru", None)
    assert cholera.author is None  # the site hides the author: an error object in _embedded
    assert iom.image_url == "https://news.example.org/wp-content/uploads/2025/07/iom.jpg"
    assert iom.body == ("The International Organization for Migration has counted more than 125,000 identified victims "
                        "of trafficking.\n\nThe agency urged governments to fund shelters \u201cwithout delay\u201d.")
    assert (iom.url, iom.published_at) == ("https://news.example.org/2025/07/iom-global-action-trafficking/",
                                           _utc(2025, 7, 30, 8, 15))
    assert fund.body == ("The Children\u2019s Rights Fund offers grants of up to USD 50,000.\n\n"
                         "The deadline is 30 September 2025.")  # the <script> dropped
    page2 = site.url(API + "?" + QUERY.format(per_page=3) + "&page=2")
    assert [str(i) for i in items if isinstance(i, BadRecord)] == [
        f"{page2}:post 4420: post is password-protected; its content is not public"]
    assert source.modified == {"wp-4398": _utc(2025, 7, 20, 6), "wp-4405": _utc(2025, 7, 28, 12),
                               "wp-4411": _utc(2025, 7, 30, 9), "wp-4415": _utc(2025, 7, 31, 7, 30)}
    assert source.watermark == _utc(2025, 7, 31, 8)  # the protected post counts: editing it will move it on


def test_incremental_pull_asks_for_a_day_more_and_filters_on_modified_gmt(site, fast):
    queries = []
    site.route(API, fake_wordpress(site, queries))
    source = WordPressSource(site.url(""), modified_after=_utc(2025, 7, 30, 9, 30), politeness=fast)
    items = list(source)
    assert [q["modified_after"] for q in queries] == ["2025-07-29T09:30:00Z"]
    assert [i.id if isinstance(i, Article) else i.location for i in items] == ["wp-4415", "post 4420"]
    assert source.watermark == _utc(2025, 7, 31, 8)


def test_missing_paging_headers_stop_at_the_invalid_page_error(site, fast):
    calls = []

    def without_headers(query):
        reply = fake_wordpress(site, calls)(query)
        headers = {k: v for k, v in reply.headers.items() if not k.startswith("X-WP")}
        return site.reply(reply.status, reply.body, headers)

    site.route(API, without_headers)
    items = list(WordPressSource(site.url(""), per_page=3, politeness=fast))
    assert [q["page"] for q in calls] == ["1", "2", "3"]
    assert sum(isinstance(i, Article) for i in items) == 4


def test_invalid_json_page_is_located_and_later_pages_still_read(site, fast):
    json_type = {"Content-Type": "application/json; charset=UTF-8"}
    headers = {**json_type, "X-WP-Total": "8", "X-WP-TotalPages": "3"}
    truncated = (WP / "posts_truncated.json").read_bytes()
    pages = {"1": (WP / "posts_page1.json").read_bytes(), "2": truncated, "3": (WP / "posts_page2.json").read_bytes()}
    site.route("/news" + API, lambda query: site.reply(200, pages[query["page"]], headers))
    since = _utc(2025, 1, 1)
    source = WordPressSource(site.url("/news/"), modified_after=since, politeness=fast)
    items = list(source)
    try:
        json.loads(truncated)
    except json.JSONDecodeError as exc:
        expected = f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    url = site.url("/news" + API + "?" + QUERY.format(per_page=100) + "&modified_after=2024-12-31T00%3A00%3A00Z")
    assert [str(i) for i in items if isinstance(i, BadRecord)] == [
        f"{url}&page=2: {expected}",
        f"{url}&page=3:post 4420: post is password-protected; its content is not public",
    ]
    assert [i.id for i in items if isinstance(i, Article)] == ["wp-4398", "wp-4405", "wp-4411", "wp-4415"]
    assert source.watermark == since  # page 2's posts are unknown: the next pull asks for the same window


def test_a_site_without_the_rest_api(site, fast):
    (bad,) = list(WordPressSource(site.url("/blog"), politeness=fast))
    assert bad.source.startswith(site.url("/blog" + API + "?per_page=100"))
    assert bad.reason == "HTTP 404 Not Found; is this a WordPress site with the REST API enabled?"


def test_an_error_object_instead_of_posts(site, fast):
    body = {"code": "rest_disabled", "message": "The REST API is disabled on this site.", "data": {"status": 200}}
    site.route(API, site.reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"}))
    (bad,) = list(WordPressSource(site.base, politeness=fast))
    assert bad.reason == "WordPress error rest_disabled: The REST API is disabled on this site."
