"""Sitemaps (index + urlsets): every listed page fetched politely and extracted like a saved HTML page."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

from lxml import etree

from indexer.article import Article, derive_id
from indexer.cleaning import UndecodableBytes
from indexer.errors import BadRecord
from indexer.sources.base import Source, as_utc
from indexer.sources.html import html_to_article
from indexer.sources.http import Fetcher, FetchError, Page, Politeness

_MAX_DEPTH = 3  # an index of indexes is not in the protocol, but some plugins nest one level
_HTML_TYPES = {"", "text/html", "application/xhtml+xml"}


class _Entry(NamedTuple):
    kind: str  # "url" (a page) or "sitemap" (a child sitemap of an index)
    loc: str
    lastmod: str | None


class SitemapSource(Source):
    """Pages listed by the sitemap at `url` (an index or a urlset; `https://site/` alone finds it via robots.txt).

    Ids are derived from each page's sitemap URL. With `lastmod_after`, only pages (and child sitemaps) whose
    `<lastmod>` is at or after it are fetched; pages without a lastmod always are. `max_pages` caps the fetches.
    """

    def __init__(
        self,
        url: str,
        *,
        lastmod_after: datetime | None = None,
        max_pages: int | None = None,
        fetcher: Fetcher | None = None,
        politeness: Politeness | None = None,
    ) -> None:
        super().__init__(since=lastmod_after)
        self.url = url
        self.max_pages = max_pages
        self._fetcher = fetcher
        self._politeness = politeness

    def _pull(self) -> Iterator[Article | BadRecord]:
        fetcher = self._fetcher or Fetcher(self._politeness)
        try:
            yield from self._crawl(fetcher)
        finally:
            if self._fetcher is None:
                fetcher.close()

    def _crawl(self, fetcher: Fetcher) -> Iterator[Article | BadRecord]:
        fetched, seen = 0, set()
        for entry in self._walk(fetcher, self._roots(fetcher), 0, set()):
            if isinstance(entry, BadRecord):
                yield entry
                continue
            loc, lastmod = entry
            if loc in seen:
                continue
            seen.add(loc)
            if self.max_pages is not None and fetched >= self.max_pages:
                self._incomplete = True  # pages were left out: the next pull must not start after them
                return
            fetched += 1
            item = self._page(fetcher, loc)
            if isinstance(item, Article) and lastmod is not None:
                self.modified[item.id] = lastmod
            yield item

    def _roots(self, fetcher: Fetcher) -> list[str]:
        if urlsplit(self.url).path not in ("", "/"):
            return [self.url]
        listed = fetcher.robots(self.url).site_maps() if fetcher.politeness.respect_robots else None
        return listed or [urljoin(self.url, "/sitemap.xml")]

    def _walk(
        self, fetcher: Fetcher, sitemaps: list[str], depth: int, visited: set[str]
    ) -> Iterator[BadRecord | tuple[str, datetime | None]]:
        """(page URL, lastmod) for every fresh page under these sitemaps, and a BadRecord for each unreadable one."""
        for sitemap in sitemaps:
            if sitemap in visited:
                continue
            visited.add(sitemap)
            try:
                page = fetcher.get(sitemap)
            except FetchError as exc:
                self._incomplete |= exc.transient
                yield BadRecord(sitemap, "", exc.reason)
                continue
            children: list[str] = []
            for entry in _entries(page, sitemap, fetcher.politeness.max_bytes):
                if isinstance(entry, BadRecord):
                    self._incomplete = True  # the pages after the error are unknown, so the next pull must look again
                    yield entry
                elif self._fresh(entry.lastmod):
                    if entry.kind == "sitemap":
                        children.append(urljoin(page.url, entry.loc))
                    else:
                        yield urljoin(page.url, entry.loc), _parse_lastmod(entry.lastmod)
            if children and depth >= _MAX_DEPTH:
                yield BadRecord(sitemap, "", f"sitemap indexes nested more than {_MAX_DEPTH} deep; not followed")
            elif children:
                yield from self._walk(fetcher, children, depth + 1, visited)

    def _fresh(self, lastmod: str | None) -> bool:
        when = _parse_lastmod(lastmod)
        if when is not None and self.since is not None and len(lastmod.strip()) == 10:
            # A date without a time: anything changed that day may be newer than `since`.
            if when.date() >= self.since.date():
                when = max(when, self.since)
        return self._take(when)

    def _page(self, fetcher: Fetcher, loc: str) -> Article | BadRecord:
        try:
            page = fetcher.get(loc)
        except FetchError as exc:
            self._incomplete |= exc.transient
            return BadRecord(loc, "", exc.reason)
        if page.content_type not in _HTML_TYPES:
            return BadRecord(loc, "", f"not an HTML page ({page.content_type})")
        data = page.content
        charset = (page.charset or "").lower().replace("_", "-")
        if charset and charset not in ("utf-8", "utf8"):
            # The HTTP header outranks a <meta charset>, which html_to_article would otherwise read. A "utf-8"
            # header is left to it: servers send that by default, even for pages saved as windows-1252.
            try:
                data = page.text().encode("utf-8")
            except UndecodableBytes as exc:
                return BadRecord(loc, "", str(exc))
        return html_to_article(data, loc, article_id=derive_id(loc), url=page.url)


def _entries(page: Page, source: str, max_bytes: int) -> Iterator[_Entry | BadRecord]:
    """The sitemap's entries in document order, and a BadRecord where the XML breaks.

    iterparse yields each <url> only once its end tag is parsed, so a truncated file gives every complete entry.
    """
    data = page.content
    if data[:2] == b"\x1f\x8b":  # a .xml.gz served as a file rather than with Content-Encoding
        inflater = zlib.decompressobj(wbits=31)
        data = inflater.decompress(data, max_bytes + 1)
        if len(data) > max_bytes:
            yield BadRecord(source, "", f"decompressed sitemap is over the {max_bytes:,}-byte limit")
            return
    root_kind, count = None, 0
    parser = etree.iterparse(io.BytesIO(data), events=("start", "end"), resolve_entities=False, no_network=True)
    try:
        for event, element in parser:
            name = etree.QName(element).localname if isinstance(element.tag, str) else ""
            if event == "start":
                if root_kind is None:
                    root_kind = name
                    if name not in ("urlset", "sitemapindex"):
                        why = f"not a sitemap: root element <{name}>, not <urlset> or <sitemapindex>"
                        yield BadRecord(source, "", why)
                        return
                continue
            if name in ("url", "sitemap") and element.getparent() is not None:
                loc = _child_text(element, "loc")
                if loc:
                    count += 1
                    yield _Entry(name, loc, _child_text(element, "lastmod"))
                element.clear()
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else None)
        kept = f"; the {count} entries before it are read" if count else ""
        yield BadRecord(source, f"line {line}" if line else "", f"malformed sitemap XML: {exc.msg}{kept}")


def _child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def _parse_lastmod(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None  # an unreadable lastmod: the page is fetched as if it had none

