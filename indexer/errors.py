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


class IndexCorrupt(IndexMismatch):
    """A file of a published version is missing or does not match the checksum its manifest records."""


class PublishFailed(SiftError, OSError):
    """A new version could not be written (disk full, file too large, read-only folder); the previous one stays live.
    An OSError too, as the failure it reports."""


class ChunksNotEmbedded(SiftError):
    """Passages in the store have no vector yet for the model: a write landed after the embedding step."""


class StoreUnwritable(SiftError):
    """The store could not be written (SQLite: a read-only file or folder, disk full, an I/O error; PostgreSQL: a
    read-only database or replica, disk full, a role without the right); the transaction was rolled back, so nothing
    of the write landed. Not retried: it lasts until an operator frees space or fixes permissions."""


class StoreUnreachable(SiftError):
    """The store's PostgreSQL server could not be reached (refused, timed out, no such database), or the connection
    to it was lost; retry once it is back."""


class VectorsUnavailable(SiftError):
    """Passage vectors kept in PostgreSQL (SIFT_VECTOR_STORE=pgvector) cannot be used: no database URL is set, or
    the database has no pgvector extension and it cannot be created there."""


class MigrationRefused(SiftError):
    """`sift migrate` would not start: nothing to copy (no store, no live version), a target that already holds an
    index, or a live version it cannot carry (damaged files, passage vectors in a pgvector table). Nothing was
    written."""


class MigrationFailed(SiftError):
    """A migration stopped part-way (a value the target would not take, a full disk); its transaction was rolled back
    and the files it had made removed, so nothing of it is left."""


class StoreBusy(SiftError):
    """Another process held the store's write lock for longer than the busy timeout; the write can be retried."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
