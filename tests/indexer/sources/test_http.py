from dataclasses import replace

import pytest
from indexer.sources.http import Fetcher, FetchError

HTML = {"Content-Type": "text/html; charset=utf-8"}



def _error(site, path, politeness) -> FetchError:
    with Fetcher(politeness) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(site.url(path))
    return caught.value


def test_rate_limit_and_user_agent_on_every_request(site, fast):
    for path in ("/a", "/b", "/c"):
        site.route(path, site.reply(200, b"ok", HTML))
    with Fetcher(replace(fast, min_interval=0.05)) as fetcher:
        for path in ("/a", "/b", "/c", "/a"):
            assert fetcher.get(site.url(path)).content == b"ok"
    assert site.paths() == ["/robots.txt", "/a", "/b", "/c", "/a"]
    assert {hit.user_agent for hit in site.hits} == {fast.user_agent}
    gaps = [later.at - earlier.at for earlier, later in zip(site.hits, site.hits[1:])]
    assert min(gaps) >= 0.05, gaps


def test_crawl_delay_in_robots_txt_outranks_a_shorter_interval(site, fast):
    # urllib.robotparser reads whole seconds only, as sites write them
    site.route("/robots.txt", site.reply(200, b"User-agent: *\nCrawl-delay: 1\n", {"Content-Type": "text/plain"}))
    site.route("/a", site.reply(200, b"ok", HTML))
    with Fetcher(fast) as fetcher:
        fetcher.get(site.url("/a"))
    robots, page = site.hits
    assert (robots.path, page.path) == ("/robots.txt", "/a")
    assert page.at - robots.at >= 1.0


def test_robots_txt_disallow_is_honoured_without_a_request(site, fast):
    site.route("/robots.txt", site.reply(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"}))
    error = _error(site, "/private/minutes.html", fast)
    assert str(error) == (f"{site.url('/private/minutes.html')}: robots.txt disallows "
                          f"{site.url('/private/minutes.html')} for SiftBot; skipped")
    assert site.paths() == ["/robots.txt"]
    site.route("/private/minutes.html", site.reply(200, b"minutes", HTML))
    with Fetcher(replace(fast, respect_robots=False)) as fetcher:
        assert fetcher.get(site.url("/private/minutes.html")).content == b"minutes"
    assert site.paths() == ["/robots.txt", "/private/minutes.html"]


def test_unreachable_robots_txt_means_crawl_nothing(site, fast):
    site.route("/robots.txt", site.reply(503, b"busy"))
    site.route("/a", site.reply(200, b"ok", HTML))
    error = _error(site, "/a", fast)
    assert error.reason == (f"{site.base}/robots.txt is unavailable (HTTP 503 Service Unavailable (after 3 attempts)); "
                            "nothing on this site is fetched until it answers")
    assert error.transient
    assert site.paths() == ["/robots.txt"] * 3


def test_500_that_recovers_is_retried(site, fast):
    site.route("/flaky", [site.reply(500, b"oops"), site.reply(200, b"fine", HTML)])
    with Fetcher(fast) as fetcher:
        page = fetcher.get(site.url("/flaky"))
    assert (page.status, page.content) == (200, b"fine")
    assert site.count("/flaky") == 2


@pytest.mark.parametrize(
    ("status", "reason", "attempts", "transient"),
    [
        (500, "HTTP 500 Internal Server Error (after 3 attempts)", 3, True),
        (503, "HTTP 503 Service Unavailable (after 3 attempts)", 3, True),
        (429, "HTTP 429 Too Many Requests (after 3 attempts)", 3, True),
        (404, "HTTP 404 Not Found", 1, False),
        (403, "HTTP 403 Forbidden", 1, False),
        (410, "HTTP 410 Gone", 1, False),
    ],
)
def test_server_errors_are_retried_client_errors_are_not(site, fast, status, reason, attempts, transient):
    site.route("/x", site.reply(status, b"no", {**HTML, "Retry-After": "0"}))
    error = _error(site, "/x", fast)
    assert str(error) == f"{site.url('/x')}: {reason}"
    assert (error.status, error.transient, site.count("/x")) == (status, transient, attempts)


def test_timeout_is_retried_then_reported(site, fast):
    site.route("/slow", site.reply(200, b"late", HTML, delay=0.5))
    error = _error(site, "/slow", replace(fast, timeout=0.1, retries=1))
    assert str(error) == f"{site.url('/slow')}: timed out after 0.1 s (after 2 attempts)"
    assert error.transient and site.count("/slow") == 2


def test_redirects_are_followed_and_loops_reported(site, fast):
    site.route("/old", site.reply(301, b"", {"Location": "/new"}))
    site.route("/new", site.reply(200, b"here", HTML))
    site.route("/loop-a", site.reply(302, b"", {"Location": site.url("/loop-b")}))
    site.route("/loop-b", site.reply(302, b"", {"Location": "/loop-a"}))
    with Fetcher(fast) as fetcher:
        assert fetcher.get(site.url("/old")).url == site.url("/new")
    error = _error(site, "/loop-a", fast)
    a, b = site.url("/loop-a"), site.url("/loop-b")
    assert str(error) == f"{a}: redirect loop: {a} -> {b} -> {a}"
    assert not error.transient


def test_too_many_redirects(site, fast):
    for n in range(5):
        site.route(f"/r{n}", site.reply(302, b"", {"Location": f"/r{n + 1}"}))
    error = _error(site, "/r0", replace(fast, max_redirects=3))
    assert error.reason == f"more than 3 redirects (last to {site.url('/r4')})"
    assert site.paths() == ["/robots.txt", "/r0", "/r1", "/r2", "/r3"]


@pytest.mark.parametrize("declared", [True, False])
def test_responses_over_the_size_limit_are_refused(site, fast, declared):
    site.route("/big", site.reply(200, b"x" * 5000, HTML, content_length=declared))
    error = _error(site, "/big", replace(fast, max_bytes=1000))
    size = "5,000 bytes, " if declared else ""  # without a Content-Length, reading stops at the limit
    assert error.reason == f"response is {size}over the 1,000-byte limit"
    assert site.count("/big") == 1


def test_declared_charset_decodes_non_utf8_text(site, fast):
    body = "Fran\u00e7oise \u2019".encode("windows-1252")
    site.route("/fr", site.reply(200, body, {"Content-Type": "text/html; charset=windows-1252"}))
    with Fetcher(fast) as fetcher:
        page = fetcher.get(site.url("/fr"))
    assert (page.content_type, page.charset, page.text()) == ("text/html", "windows-1252", "Fran\u00e7oise \u2019")


def test_connection_refused_is_a_transient_error(fast):
    with Fetcher(replace(fast, retries=1)) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get("http://127.0.0.1:9/feed/")  # the discard port: nothing listens on loopback
    assert caught.value.transient
    assert caught.value.reason.startswith("http://127.0.0.1:9/robots.txt is unavailable (connection failed (")


def test_a_body_that_is_not_the_gzip_it_claims(site, fast):
    site.route("/z", site.reply(200, b"not gzip at all", {**HTML, "Content-Encoding": "gzip"}))
    error = _error(site, "/z", fast)
    assert error.reason.startswith("unreadable response (") and not error.transient
    assert site.count("/z") == 1


def test_a_redirect_off_the_web_is_refused(site, fast):
    site.route("/ftp", site.reply(302, b"", {"Location": "ftp://files.example.org/report.pdf"}))
    error = _error(site, "/ftp", fast)
    assert error.reason == "redirects to ftp://files.example.org/report.pdf, which is not an http(s) URL"
