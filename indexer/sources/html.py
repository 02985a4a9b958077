"""Saved HTML pages: boilerplate (menus, sidebars, footers) removed with trafilatura, metadata from the page head."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import trafilatura

from indexer.article import Article, ArticleInvalid, parse_article
from indexer.cleaning import UndecodableBytes, decode_bytes, normalise_text
from indexer.errors import BadRecord

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_MIN_BODY_CHARS = 80


def _head_metadata(html: str) -> dict[str, object]:
    """Open Graph / article:* metadata that WordPress themes put in <head>."""
    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return {}
    meta: dict[str, object] = {}

    def content(xpath: str) -> list[str]:
        return [v.strip() for v in root.xpath(xpath) if isinstance(v, str) and v.strip()]

    for key, xpath in (
        ("published_at", "//meta[@property='article:published_time']/@content"),
        ("title", "//meta[@property='og:title']/@content"),
        ("url", "//link[@rel='canonical']/@href"),
        ("author", "//meta[@name='author']/@content"),
        ("image_url", "//meta[@property='og:image']/@content"),
    ):
        values = content(xpath)
        if values:
            meta[key] = values[0]
    sections = content("//meta[@property='article:section']/@content")
    tags = content("//meta[@property='article:tag']/@content")
    if sections:
        meta["categories"] = sections
    if tags:
        meta["tags"] = tags
    lang = content("/html/@lang")
    if lang:
        meta["language"] = lang[0].split("-")[0].lower()
    return meta


def _id_from_name(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._~:-]+", "-", path.stem).strip("-._~:")
    return stem[:200] or "page"


def html_to_article(data: bytes, source: str, *, article_id: str, url: str | None = None) -> Article | BadRecord:
    """Extract one article from a page's bytes; a page with no article text or bad metadata is a BadRecord."""
    declared = _META_CHARSET.search(data[:4096])
    try:
        html = decode_bytes(data, declared.group(1).decode("ascii") if declared else None)
    except UndecodableBytes as exc:
        return BadRecord(source, "", str(exc))
    if "\ufffd" in html[:20000] and html.count("\ufffd") > 20:
        return BadRecord(source, "", "page text is garbled (many undecodable characters); check its encoding")
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    # trafilatura puts one newline between paragraphs; keep them as paragraphs for chunking.
    body = normalise_text((doc.text or "").replace("\n", "\n\n")) if doc is not None else ""
    if len(body) < _MIN_BODY_CHARS:
        return BadRecord(source, "", "no article text found (broken HTML, or a page that is not an article)")
    head = _head_metadata(html)
    record: dict[str, object] = {
        "id": article_id,
        "url": head.get("url") or url or (doc.url if doc.url and doc.url.startswith("http") else None),
        "title": head.get("title") or doc.title,
        "body": body,
        "published_at": head.get("published_at") or doc.date,
        "categories": head.get("categories") or doc.categories or [],
        "tags": head.get("tags") or doc.tags or [],
        "author": head.get("author") or doc.author,
        "language": head.get("language") or doc.language,
        "image_url": head.get("image_url") or doc.image,
    }
    try:
        return parse_article(record)
    except ArticleInvalid as exc:
        return BadRecord(source, "", str(exc))


def read_html_file(path: Path) -> Iterator[Article | BadRecord]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield BadRecord(str(path), "", f"cannot read file: {exc}")
        return
    yield html_to_article(data, str(path), article_id=_id_from_name(path))
