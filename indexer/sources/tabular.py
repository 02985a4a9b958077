"""Tabular readers: JSON Lines, CSV and Parquet files of article records."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.article import Article, ArticleInvalid, parse_article
from indexer.cleaning import clean_body
from indexer.errors import BadRecord


def _open_bytes(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def record_to_article(raw: Mapping[str, Any], source: str, location: str) -> Article | BadRecord:
    """Validate one raw record and clean its body; a problem becomes a BadRecord at `location`."""
    data = dict(raw)
    body = data.get("body", data.get("text"))
    if isinstance(body, str):
        try:
            data["body"] = clean_body(body)
        except ValueError as exc:  # lxml raises ParserError (a ValueError) on fragments it cannot parse
            return BadRecord(source, location, f"field 'body': unreadable HTML ({exc})")
    try:
        return parse_article(data)
    except ArticleInvalid as exc:
        return BadRecord(source, location, str(exc))


def read_jsonl(path: Path) -> Iterator[Article | BadRecord]:
    source = str(path)
    try:
        handle = _open_bytes(path)
        with handle:
            for lineno, raw_line in enumerate(handle, start=1):
                if not raw_line.strip():
                    continue
                where = f"line {lineno}"
                try:
                    line = raw_line.decode("utf-8-sig")
                except UnicodeDecodeError as exc:
                    yield BadRecord(source, where, f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8")
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield BadRecord(source, where, f"invalid JSON: {exc.msg} at column {exc.colno}")
                    continue
                if not isinstance(raw, dict):
                    yield BadRecord(source, where, f"expected a JSON object, got {type(raw).__name__}")
                    continue
                yield record_to_article(raw, source, where)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        yield BadRecord(source, "", f"cannot read file: {exc}")


def read_csv(path: Path) -> Iterator[Article | BadRecord]:
    # The csv module rather than pandas: pandas' on_bad_lines callback does not say which line was bad,
    # and a located error is the point here.
    source = str(path)
    try:
        with _open_bytes(path) as handle:
            data = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        yield BadRecord(source, "", f"cannot read file: {exc}")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        yield BadRecord(source, f"line {line}", "not valid UTF-8; re-save the file as UTF-8 (records before it are read)")
        text = data[: exc.start].decode("utf-8-sig").rsplit("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        yield BadRecord(source, "", "empty CSV file")
        return
    header = [h.strip() for h in header]
    while True:
        start_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield BadRecord(source, f"line {start_line}", f"malformed CSV: {exc}")
            break
        if not any(cell.strip() for cell in row):
            continue
        where = f"line {start_line}"
        if len(row) != len(header):
            yield BadRecord(source, where, f"expected {len(header)} columns, found {len(row)}")
            continue
        yield record_to_article(dict(zip(header, row)), source, where)


def read_parquet(path: Path) -> Iterator[Article | BadRecord]:
    import pandas as pd

    source = str(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        yield BadRecord(source, "", f"cannot read Parquet file: {exc}")
        return
    for number, raw in enumerate(frame.to_dict(orient="records"), start=1):
        yield record_to_article(raw, source, f"record {number}")
