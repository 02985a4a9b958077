"""Which store a location names: a PostgreSQL URL (indexer.pg_store, indexer.pg_editorial) or a SQLite file
(indexer.store, indexer.editorial)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from indexer.editorial import EditorialStore
from indexer.store import DEFAULT_BUSY_TIMEOUT, Store

if TYPE_CHECKING:
    from indexer.pg_editorial import PostgresEditorialStore
    from indexer.pg_store import PostgresStore

URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def _needs_psycopg(exc: ImportError) -> ImportError:
    # psycopg is the `postgres` extra: a SQLite-only install has none
    return ImportError(f"a PostgreSQL store needs psycopg ({exc}); pip install 'sift-search[postgres]'")


def open_store(location: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Store | PostgresStore:
    """A PostgresStore for a postgresql:// or postgres:// URL, else a Store on the SQLite file at that path."""
    if not is_database_url(location):
        return Store(location, busy_timeout=busy_timeout)
    try:
        from indexer.pg_store import PostgresStore
    except ImportError as exc:
        raise _needs_psycopg(exc) from exc
    return PostgresStore(str(location), busy_timeout=busy_timeout)


def open_editorial(
    location: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> EditorialStore | PostgresEditorialStore:
    """The editorial state beside the store at `location`: a PostgresEditorialStore for a postgresql:// or
    postgres:// URL, else an EditorialStore on the SQLite file at that path."""
    if not is_database_url(location):
        return EditorialStore(location, busy_timeout=busy_timeout)
    try:
        from indexer.pg_editorial import PostgresEditorialStore
    except ImportError as exc:
        raise _needs_psycopg(exc) from exc
    return PostgresEditorialStore(str(location), busy_timeout=busy_timeout)
