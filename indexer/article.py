"""The Article record and its validation: every reader produces these, or a message naming the bad field."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from dateutil import parser as date_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~:-]{0,199}$")
_LIST_SPLIT = re.compile(r"\s*[;|,]\s*")


class ArticleInvalid(ValueError):
    """Raised by `parse_article`; the message names each bad field."""


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                loaded = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"looks like a JSON list but is not valid JSON ({exc.msg})") from exc
            return _as_list(loaded)
        return [part for part in _LIST_SPLIT.split(text) if part]
    if hasattr(value, "tolist"):  # numpy arrays from parquet list columns
        value = value.tolist()
    if isinstance(value, (list, tuple, set)):
        out = []
        for item in value:
            if not isinstance(item, (str, int, float)):
                raise ValueError(f"list items must be strings, got {type(item).__name__}")
            text = str(item).strip()
            if text:
                out.append(text)
        return out
    raise ValueError(f"expected a list of strings, got {type(value).__name__}")


def _parse_date(value: Any) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, (str, list, dict)) and value != value:  # NaN, pandas NaT
        return None
    if isinstance(value, datetime):
        parsed = value
    elif hasattr(value, "to_pydatetime"):  # pandas Timestamp
        parsed = value.to_pydatetime()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(float(value), tz=timezone.utc)
    elif isinstance(value, str):
        try:  # ISO 8601 (what the store writes, and most feeds and APIs) without dateutil's slower general parser
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            try:
                parsed = date_parser.parse(value.strip())
            except (ValueError, OverflowError) as exc:
                raise ValueError(f"unparseable date {value.strip()[:40]!r}") from exc
    else:
        raise ValueError(f"expected a date, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0)


class Article(BaseModel):
    """One article as Sift stores it. `published_at` is UTC; list fields are deduplicated, order kept."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    id: str
    url: str | None = None
    title: str = Field(min_length=1, max_length=1000)
    body: str = Field(min_length=1)
    published_at: datetime | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    author: str | None = None
    language: str | None = None
    image_url: str | None = None
    # a grant call's application deadline, when the source has a field for it (else read from the text at publish)
    deadline: date | None = None

    @field_validator("title", "body", "author", "language", "categories", "tags", "countries", mode="before")
    @classmethod
    def _drop_nul(cls, value: Any) -> Any:
        """NUL characters go: they carry nothing a reader sees, and PostgreSQL refuses them in text (a record the
        SQLite store would keep must not fail a batch on a PostgreSQL one)."""
        if isinstance(value, str):
            return value.replace("\x00", "")
        if isinstance(value, (list, tuple)):
            return [v.replace("\x00", "") if isinstance(v, str) else v for v in value]
        return value

    @field_validator("id", mode="before")
    @classmethod
    def _check_id(cls, value: Any) -> str:
        if isinstance(value, (int,)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _ID_RE.match(value.strip()):
            raise ValueError(
                "must be 1-200 characters of letters, digits and . _ ~ : - (starting with a letter or digit)"
            )
        return value.strip()

    @field_validator("url", "image_url", mode="before")
    @classmethod
    def _check_url(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()) or value != value:
            return None
        if not isinstance(value, str) or not re.match(r"^https?://\S+$", value.strip()):
            raise ValueError("must be an http(s) URL")
        return value.strip()

    @field_validator("published_at", mode="before")
    @classmethod
    def _check_date(cls, value: Any) -> datetime | None:
        return _parse_date(value)

    @field_validator("deadline", mode="before")
    @classmethod
    def _check_deadline(cls, value: Any) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        parsed = _parse_date(value)  # "2026-05-15", "15 May 2026", a timestamp: its UTC day
        return parsed.date() if parsed else None

    @field_validator("categories", "tags", "countries", mode="before")
    @classmethod
    def _check_list(cls, value: Any) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_as_list(value)))

    @field_validator("author", "language", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> str | None:
        if value is None or value != value:
            return None
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        return value.strip() or None

    def content_hash(self) -> str:
        """Changes whenever anything stored about the article changes."""
        payload = self.model_dump(mode="json")
        if payload["deadline"] is None:  # added later: articles without one keep the hash they had
            del payload["deadline"]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def derive_id(url: str) -> str:
    """A stable id for records that only have a URL."""
    return "u-" + hashlib.sha1(url.encode()).hexdigest()[:16]


def parse_article(raw: Mapping[str, Any]) -> Article:
    """Validate a raw mapping; raise ArticleInvalid with one message naming every bad field."""
    data = {k: v for k, v in raw.items() if isinstance(k, str)}
    for key in ("title", "body"):
        if isinstance(data.get(key), str):
            data[key] = data[key].strip()
    if data.get("body") is None and isinstance(data.get("text"), str):
        data["body"] = data["text"]  # BEIR and many exports call the body "text"
    if data.get("id") in (None, "") and isinstance(data.get("url"), str) and data["url"].strip():
        data["id"] = derive_id(data["url"].strip())
    try:
        return Article.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "record"
            if err["type"] == "missing":
                problems.append(f"field '{field}' is missing")
            elif err["type"] == "string_too_short":
                problems.append(f"field '{field}' is empty")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"field '{field}': {msg}")
        raise ArticleInvalid("; ".join(problems)) from None
