"""Which store a location names: a PostgreSQL URL (indexer.pg_store, indexer.pg_editorial) or a SQLite file
(indexer.store, indexer.editorial); and where an index lives (IndexHome: a folder, or a database and a folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.editorial import EditorialStore
from indexer.publish import STORE_FILE
from indexer.store import DEFAULT_BUSY_TIMEOUT, Store

if TYPE_CHECKING:
    from indexer.pg_editorial import PostgresEditorialStore
    from indexer.pg_versions import DatabaseVersions
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
    location: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, lazy: bool = False
) -> EditorialStore | PostgresEditorialStore:
    """The editorial state beside the store at `location`: a PostgresEditorialStore for a postgresql:// or
    postgres:// URL (with `lazy`, connecting at its first use), else an EditorialStore on the SQLite file at that
    path."""
    if not is_database_url(location):
        return EditorialStore(location, busy_timeout=busy_timeout)
    try:
        from indexer.pg_editorial import PostgresEditorialStore
    except ImportError as exc:
        raise _needs_psycopg(exc) from exc
    return PostgresEditorialStore(str(location), busy_timeout=busy_timeout, lazy=lazy)


@dataclass(frozen=True)
class IndexHome:
    """Where an index lives. `folder`: its published versions and CURRENT, and without a database its store. With
    `database` (a PostgreSQL URL) the store, the editorial data and the published versions are in that database, which
    any number of machines share, and `folder` holds this machine's copy of the live version (indexer.pg_versions)."""

    folder: Path
    database: str | None = None

    @classmethod
    def of(cls, where: str | Path | IndexHome, database: str | None = None) -> IndexHome:
        return where if isinstance(where, IndexHome) else cls(Path(where), database)

    @property
    def store_location(self) -> str | Path:
        return self.database or self.folder / STORE_FILE

    def open_store(self, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Store | PostgresStore:
        return open_store(self.store_location, busy_timeout=busy_timeout)

    def open_editorial(
        self, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, lazy: bool = False
    ) -> EditorialStore | PostgresEditorialStore:
        return open_editorial(self.store_location, busy_timeout=busy_timeout, lazy=lazy)

    def has_store(self) -> bool:
        """Whether there is a store to open (a database is created on first open, so it always has one)."""
        return self.database is not None or (self.folder / STORE_FILE).is_file()

    def where(self) -> str:
        """The index as a message names it (a database URL without its password)."""
        if self.database is None:
            return str(self.folder)
        from indexer.pg_connection import redacted

        return redacted(self.database)

    def registry(self, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> DatabaseVersions | None:
        """The database's published versions (None for an index folder on its own): a new object, to close."""
        if self.database is None:
            return None
        try:
            from indexer.pg_versions import DatabaseVersions
        except ImportError as exc:
            raise _needs_psycopg(exc) from exc
        return DatabaseVersions(self.database, busy_timeout=busy_timeout)
