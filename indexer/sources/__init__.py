"""Readers: one per input kind, each yielding Articles or BadRecords located by file and line/record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indexer.article import Article
from indexer.errors import BadRecord
from indexer.sources.html import read_html_file
from indexer.sources.tabular import read_csv, read_jsonl, read_parquet

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
