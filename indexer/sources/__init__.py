"""Readers: one per input kind, each yielding Articles or BadRecords located by file and line/record (or URL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from indexer.article import Article
from indexer.errors import BadRecord
from indexer.sources.base import Source
from indexer.sources.feeds import FeedSource
from indexer.sources.html import read_html_file
from indexer.sources.http import Politeness
from indexer.sources.sitemaps import SitemapSource
from indexer.sources.tabular import read_csv, read_jsonl, read_parquet
from indexer.sources.wordpress import WordPressSource

READERS = {
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".csv": read_csv,
    ".parquet": read_parquet,
    ".html": read_html_file,
    ".htm": read_html_file,
}

SUPPORTED = tuple(sorted(READERS))


def _reader_for(path: Path):
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return READERS.get(Path(name).suffix)


def iter_files(path: Path) -> Iterator[Path]:
    """Files Sift can read under `path` (a file, or a directory walked recursively in sorted order)."""
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*")):
        if child.is_file() and not child.name.startswith(".") and _reader_for(child) is not None:
            yield child


def read_path(path: str | Path) -> Iterator[Article | BadRecord]:
    """Read every supported file under `path`; unreadable inputs become BadRecords, never exceptions."""
    root = Path(path)
    if not root.exists():
        yield BadRecord(str(root), "", "no such file or directory")
        return
    found = False
    for file in iter_files(root):
        reader = _reader_for(file)
        if reader is None:
            yield BadRecord(str(file), "", f"unsupported file type; Sift reads {', '.join(SUPPORTED)} (optionally .gz)")
            continue
        found = True
        yield from reader(file)
    if root.is_dir() and not found:
        yield BadRecord(str(root), "", f"no readable files ({', '.join(SUPPORTED)}) in this directory")


FEED_SUFFIXES = (".xml", ".rss", ".atom")
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_PREFIXED = re.compile(r"^(wp|sitemap|feed)\+(.*)$", re.IGNORECASE)
SPEC_HELP = (
    "a file or folder, an RSS/Atom feed (https://site/feed/ or a .xml/.rss/.atom file), "
    "wp+https://site (WordPress REST API) or sitemap+https://site/sitemap.xml"
)


def read_source(spec: str | Path, *, since: datetime | None = None, politeness: Politeness | None = None) -> Source:
    """The source a command-line argument names. Iterate it for Articles and BadRecords; it never raises for bad input.

    `since` asks connectors for what changed at or after it (WordPress modified_gmt, sitemap lastmod, feed updated);
    files and folders are always read whole. `politeness` applies to every HTTP request (default: `Politeness()`).
    """
    text = str(spec).strip()
    prefixed = _PREFIXED.match(text)
    if prefixed:
        kind, target = prefixed.group(1).lower(), prefixed.group(2)
        if not _URL.match(target):
            return _Unsupported(text, f"{kind}+ needs an http(s) URL after it, e.g. {kind}+https://site.example.org")
    elif _URL.match(text):
        kind, target = "feed", text
    elif "://" in text:
        return _Unsupported(text, f"unsupported source; Sift reads {SPEC_HELP}")
    else:
        path = Path(text)
        return FeedSource(path, updated_after=since) if path.suffix.lower() in FEED_SUFFIXES else _PathSource(path)
    if kind == "wp":
        return WordPressSource(target, modified_after=since, politeness=politeness)
    if kind == "sitemap":
        return SitemapSource(target, lastmod_after=since, politeness=politeness)
    return FeedSource(target, updated_after=since, politeness=politeness)


class _PathSource(Source):
    """Files and folders, read whole by `read_path`; nothing says when they changed, so `watermark` stays None."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _pull(self) -> Iterator[Article | BadRecord]:
        yield from read_path(self.path)


class _Unsupported(Source):
    def __init__(self, spec: str, reason: str) -> None:
        super().__init__()
        self.spec, self.reason = spec, reason

    def _pull(self) -> Iterator[Article | BadRecord]:
        yield BadRecord(self.spec, "", self.reason)
