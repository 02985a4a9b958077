"""Domain errors shared by the indexer and the engine; only the CLI and the API turn them into messages/exits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read, located by file and line/record number (or URL)."""

    source: str
    location: str  # "line 12", "record 3", "row 7" or "" for a whole file
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.location}" if self.location else self.source
        return f"{where}: {self.reason}"


class SiftError(Exception):
    """Base class for errors a user can act on."""


class ArticleNotFound(SiftError):
    def __init__(self, article_id: str) -> None:
        super().__init__(f"article {article_id!r} is not in the index")
        self.article_id = article_id


class IndexNotFound(SiftError):
    """No published version at the index path."""


class IndexMismatch(SiftError):
    """The index was built with another model or format than the one asked to read it."""


class InvalidQuery(SiftError):
    """A query or filter that cannot be answered (empty after cleaning, impossible date range)."""
