"""Which store a location names: a PostgreSQL URL (indexer.pg_store) or a SQLite file (indexer.store)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from indexer.store import DEFAULT_BUSY_TIMEOUT, Store

if TYPE_CHECKING:
    from indexer.pg_store import PostgresStore

URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def open_store(location: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Store | PostgresStore:
    """A PostgresStore for a postgresql:// or postgres:// URL, else a Store on the SQLite file at that path."""
    if not is_database_url(location):
        return Store(location, busy_timeout=busy_timeout)
    try:  # psycopg is the `postgres` extra: a SQLite-only install has none
        from indexer.pg_store import PostgresStore
    except ImportError as exc:
        raise ImportError(f"a PostgreSQL store needs psycopg ({exc}); pip install 'sift-search[postgres]'") from exc
    return PostgresStore(str(location), busy_timeout=busy_timeout)
