"""The WordPress REST API (`/wp-json/wp/v2/posts`): posts with their terms, author and featured image embedded."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from indexer.article import Article, ArticleInvalid, parse_article
from indexer.cleaning import UndecodableBytes, html_fragment_to_text
from indexer.errors import BadRecord
from indexer.sources.base import Source, as_utc
from indexer.sources.http import Fetcher, FetchError, Page, Politeness

# Some WordPress versions compare `modified_after` with the site-local `post_modified` column, not the GMT one, so
# on a site west of UTC the newest edits would be missed. Ask for a day more and filter on modified_gmt here.
_SERVER_MARGIN = timedelta(days=1)


class WordPressSource(Source):
    """Published posts of the WordPress site at `base_url`, oldest modification first.

    Ids are `wp-<post id>`. `modified` gets each post's `modified_gmt`. With `modified_after`, only posts modified at
    or after it are pulled. Titles, bodies and term names are HTML cleaned to text.
    """

    def __init__(
        self,
        base_url: str,
        *,
        modified_after: datetime | None = None,
        per_page: int = 100,
        fetcher: Fetcher | None = None,
        politeness: Politeness | None = None,
    ) -> None:
        super().__init__(since=modified_after)
        self.base_url = base_url.rstrip("/")
        self.endpoint = self.base_url + "/wp-json/wp/v2/posts"
        self.per_page = per_page
        self._fetcher = fetcher
        self._politeness = politeness

    def _pull(self) -> Iterator[Article | BadRecord]:
        fetcher = self._fetcher or Fetcher(self._politeness)
        try:
            yield from self._pages(fetcher)
        finally:
            if self._fetcher is None:
                fetcher.close()

    def _pages(self, fetcher: Fetcher) -> Iterator[Article | BadRecord]:
        params: dict[str, str | int] = {"per_page": self.per_page, "_embed": 1, "orderby": "modified", "order": "asc"}
        if self.since is not None:
            params["modified_after"] = (self.since - _SERVER_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")
        number, total_pages = 0, None
        while total_pages is None or number < total_pages:
            number += 1
            params["page"] = number
            try:
                page = fetcher.get(self.endpoint, params)
            except FetchError as exc:
                if exc.status == 400 and number > 1 and total_pages is None:
                    return  # past the last page ("rest_post_invalid_page_number"): the paging headers were stripped
                hint = "; is this a WordPress site with the REST API enabled?" if exc.status == 404 else ""
                posts: list[Any] | BadRecord = BadRecord(exc.url, "", exc.reason + hint)
            else:
                header = page.headers.get("x-wp-totalpages", "")
                total_pages = int(header) if header.isdigit() else total_pages
                posts = _posts(page)
            if isinstance(posts, BadRecord):
                self._incomplete = True  # its posts are unknown: the watermark must not move past them
                yield posts
                if total_pages is None:
                    return
                continue  # the page count is known, so later pages can still be read
            if not posts:
                return
            for position, post in enumerate(posts, start=1):
                item = self._post(post, page.url, position)
                if item is not None:
                    yield item

    def _post(self, post: Any, url: str, position: int) -> Article | BadRecord | None:
        if not isinstance(post, dict) or not isinstance(post.get("id"), int):
            return BadRecord(url, f"record {position}", "not a post object with a numeric id")
        where = f"post {post['id']}"
        modified = _gmt(post.get("modified_gmt"))
        if not self._take(modified):
            return None
        content = post.get("content") or {}
        if content.get("protected"):
            return BadRecord(url, where, "post is password-protected; its content is not public")
        embedded = post.get("_embedded") or {}
        terms = [t for group in embedded.get("wp:term") or [] for t in group if isinstance(t, dict)]
        record = {
            "id": f"wp-{post['id']}",
            "url": post.get("link"),
            "title": _rendered(post.get("title")),
            "body": _rendered(content),
            "published_at": _gmt(post.get("date_gmt")) or post.get("date"),
            "categories": [_term(t) for t in terms if t.get("taxonomy") == "category"],
            "tags": [_term(t) for t in terms if t.get("taxonomy") == "post_tag"],
            "author": _first(embedded.get("author"), "name"),
            "image_url": _first(embedded.get("wp:featuredmedia"), "source_url"),
        }
        try:
            article = parse_article(record)
        except (ArticleInvalid, ValueError) as exc:
            return BadRecord(url, where, str(exc))
        if modified is not None:
            self.modified[article.id] = modified
        return article


def _posts(page: Page) -> list[Any] | BadRecord:
    try:
        posts = json.loads(page.text())
    except json.JSONDecodeError as exc:
        return BadRecord(page.url, "", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except UndecodableBytes as exc:
        return BadRecord(page.url, "", str(exc))
    if isinstance(posts, dict) and "code" in posts:  # a plugin or firewall answering with a WordPress error
        return BadRecord(page.url, "", f"WordPress error {posts['code']}: {posts.get('message', '')}".rstrip(": "))
    if not isinstance(posts, list):
        return BadRecord(page.url, "", f"expected a JSON list of posts, got {type(posts).__name__}")
    return posts


def _rendered(field: Any) -> str | None:
    """`{"rendered": "<p>…</p>"}` as text; entities like &#8217; decoded."""
    value = field.get("rendered") if isinstance(field, dict) else None
    if not isinstance(value, str):
        return None
    return html_fragment_to_text(value) if value.strip() else ""


def _term(term: dict[str, Any]) -> str:
    return html.unescape(str(term.get("name", ""))).strip()  # WordPress escapes term names: "Energy &amp; Climate"


def _first(embedded: Any, key: str) -> str | None:
    # An author or image the site hides comes back as an error object ({"code": "rest_forbidden", ...}).
    if isinstance(embedded, list) and embedded and isinstance(embedded[0], dict):
        value = embedded[0].get(key)
        return value if isinstance(value, str) and value.strip() else None
    return None


def _gmt(value: Any) -> datetime | None:
    """WordPress's *_gmt fields are UTC without an offset: "2025-07-30T08:15:00"."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None
