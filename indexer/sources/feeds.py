"""RSS 2.0 and Atom feeds (feedparser), from a file or a URL, following the feed's pages."""

from __future__ import annotations

import io
import re
import xml.sax
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import httpx

from indexer.article import _ID_RE, Article, ArticleInvalid, derive_id, parse_article
from indexer.cleaning import clean_body, html_fragment_to_text, normalise_text
from indexer.errors import BadRecord
from indexer.sources.base import Source
from indexer.sources.http import Fetcher, FetchError, Politeness

# Entries whose closing tag is in the document. feedparser's lenient fallback also returns an entry cut off by
# truncation, with whatever fields it had reached (often the summary but not the body): those must not be indexed.
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
_HTML_TYPES = {"text/html", "application/xhtml+xml", "html", "xhtml"}


class FeedSource(Source):
    """Entries of an RSS/Atom feed at `location` (an http(s) URL or a file path).

    A URL's feed is followed page by page: Atom/RFC 5005 `<link rel="next">`, or `?paged=N` for a WordPress feed,
    up to `max_pages`. With `updated_after`, only entries updated at or after it are yielded, and paging stops at
    the first page with nothing that new (feeds list the newest first). A file is read alone.
    """

    def __init__(
        self,
        location: str | Path,
        *,
        updated_after: datetime | None = None,
        max_pages: int | None = None,
        fetcher: Fetcher | None = None,
        politeness: Politeness | None = None,
    ) -> None:
        super().__init__(since=updated_after)
        self.location = str(location)
        self.max_pages = max_pages
        self._fetcher = fetcher
        self._politeness = politeness

    def _pull(self) -> Iterator[Article | BadRecord]:
        if not re.match(r"^https?://", self.location, re.IGNORECASE):
            yield from self._read_file(Path(self.location))
            return
        fetcher = self._fetcher or Fetcher(self._politeness)
        try:
            yield from self._read_pages(fetcher)
        finally:
            if self._fetcher is None:
                fetcher.close()

    def _read_file(self, path: Path) -> Iterator[Article | BadRecord]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield BadRecord(str(path), "", f"cannot read file: {exc}")
            return
        items, _ = self._parse(data, str(path), set())
        yield from items

    def _read_pages(self, fetcher: Fetcher) -> Iterator[Article | BadRecord]:
        url, number, visited, seen = self.location, 1, set(), set()
        wordpress = False
        while url is not None and url not in visited:
            visited.add(url)
            try:
                page = fetcher.get(url)
            except FetchError as exc:
                if number > 1 and wordpress and exc.status == 404:
                    return  # WordPress answers 404 past its last page
                self._incomplete |= exc.transient
                yield BadRecord(url, "", exc.reason)
                return
            items, parsed = self._parse(page.content, url, seen, content_type=page.headers.get("content-type"))
            yield from items
            # Stop on a page with nothing new: past `updated_after`, or a site that ignores ?paged= and repeats.
            fresh = any(isinstance(i, Article) or i.location.startswith("entry ") for i in items)
            if parsed is None or not fresh:
                return
            number += 1
            url = _next_link(parsed, page.url)
            generator = str(parsed.feed.get("generator", "")) + str(parsed.feed.get("generator_detail", ""))
            wordpress = "wordpress" in generator.lower()
            if url is None and wordpress:
                url = str(httpx.URL(self.location).copy_set_param("paged", str(number)))
            if url is not None and self.max_pages is not None and number > self.max_pages:
                self._incomplete = True  # older pages were left out: the next pull must not start after them
                return

    def _parse(
        self, data: bytes, source: str, seen: set[str], *, content_type: str | None = None
    ) -> tuple[list[Article | BadRecord], Any]:
        """The page's new entries (as Articles or located BadRecords) and the parsed feed (None if unusable)."""
        headers = {"content-type": content_type} if content_type else {}
        # Bytes in a stream: feedparser would fetch a str that looks like a URL itself, bypassing the Fetcher.
        # No content-location either: feedparser would then resolve relative atom:ids ("grant-312") into URLs.
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=True)
        error = parsed.get("bozo_exception") if parsed.get("bozo") else None
        malformed = isinstance(error, xml.sax.SAXException)
        if not parsed.get("version") and not parsed.entries:
            why = f"malformed XML: {error.getMessage()}" if malformed else "no RSS or Atom feed found"
            hint = "; for a site's web pages use sitemap+URL, for a WordPress site wp+URL"
            return [BadRecord(source, _line(error), why + ("" if malformed else hint))], None
        entries = parsed.entries
        out: list[Article | BadRecord] = []
        if malformed:
            entries = entries[: len(_ENTRY_END.findall(data))]
            kept = f"{len(entries)} complete entr{'y' if len(entries) == 1 else 'ies'}"
            out.append(BadRecord(source, _line(error),
                                 f"malformed XML ({error.getMessage()}); kept the {kept} before it, lost the rest"))
        language = str(parsed.feed.get("language") or "").split("-")[0].lower() or None
        for number, entry in enumerate(entries, start=1):
            item = self._entry(entry, source, f"entry {number}", language)
            if item is None:
                continue
            if isinstance(item, Article):
                if item.id in seen:  # a post published during the pull pushes older ones onto the next page
                    continue
                seen.add(item.id)
            out.append(item)
        return out, parsed

    def _entry(self, entry: Any, source: str, where: str, language: str | None) -> Article | BadRecord | None:
        # dict.get: feedparser's own get() maps a missing "updated" to "published", with a DeprecationWarning
        updated = _when(dict.get(entry, "updated_parsed"))
        published = _when(entry.get("published_parsed")) or updated
        modified = updated or published
        if not self._take(modified):
            return None
        link = urljoin(source, entry["link"]) if entry.get("link") and source.startswith("http") else entry.get("link")
        raw_id = str(entry.get("id") or link or "").strip()
        try:
            record = {
                "id": raw_id if _ID_RE.match(raw_id) and "://" not in raw_id else derive_id(raw_id) if raw_id else None,
                "url": link,
                "title": _text(entry.get("title"), entry.get("title_detail")),
                "body": _body(entry),
                "published_at": published or entry.get("published") or dict.get(entry, "updated"),
                "author": (entry.get("author_detail") or {}).get("name") or entry.get("author"),
                "language": language,
                "image_url": _image(entry),
                **_terms(entry.get("tags") or []),
            }
            article = parse_article(record)
        except (ArticleInvalid, ValueError) as exc:  # lxml's ParserError is a ValueError
            return BadRecord(source, where, str(exc))
        if modified is not None:
            self.modified[article.id] = modified
        return article


def _next_link(parsed: Any, base: str) -> str | None:
    for link in parsed.feed.get("links", []):
        if link.get("rel") == "next" and link.get("href"):
            return urljoin(base, link["href"])
    return None


def _line(error: object) -> str:
    line = error.getLineNumber() if isinstance(error, xml.sax.SAXParseException) else None
    return f"line {line}" if line else ""


def _when(parsed_time: Any) -> datetime | None:
    """feedparser's UTC struct_time as a datetime."""
    return datetime(*parsed_time[:6], tzinfo=timezone.utc) if parsed_time else None


def _text(value: Any, detail: Any) -> str | None:
    if not isinstance(value, str):
        return None
    kind = (detail or {}).get("type", "text/plain")
    return html_fragment_to_text(value) if kind in _HTML_TYPES and value.strip() else normalise_text(value)


def _body(entry: Any) -> str | None:
    # content:encoded / atom:content is the full post; description / summary is often an excerpt.
    for content in entry.get("content") or []:
        if content.get("value", "").strip():
            return clean_body(content["value"])
    summary = entry.get("summary")
    return clean_body(summary) if isinstance(summary, str) and summary.strip() else None


def _terms(tags: list[Any]) -> dict[str, list[str]]:
    """RSS <category> and Atom category terms; those whose scheme/domain says "tag" are tags, the rest categories.

    WordPress's RSS puts categories and tags alike in <category> with no scheme: they all become categories.
    """
    out: dict[str, list[str]] = {"categories": [], "tags": []}
    for tag in tags:
        term = normalise_text(str(tag.get("term") or tag.get("label") or ""))
        if term:
            out["tags" if "tag" in str(tag.get("scheme") or "").lower() else "categories"].append(term)
    return out


def _image(entry: Any) -> str | None:
    for media in [*(entry.get("media_content") or []), *(entry.get("media_thumbnail") or [])]:
        if media.get("url") and media.get("medium", "image") == "image":
            return media["url"]
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            return enclosure["href"]
    return None
