"""The editorial state (indexer.editorial) in PostgreSQL, beside indexer.pg_store's tables: pins and excludes every
API server on the database serves, and the click and search counts they all add to."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import psycopg

from indexer.editorial import BaseEditorialStore
from indexer.errors import StoreUnreachable
from indexer.pg_connection import connect, database_errors, redacted, schema_transaction, write_transaction
from indexer.store import DEFAULT_BUSY_TIMEOUT

# Ids and queries sort bytewise (COLLATE "C"), as in SQLite: pins of one position and the insights' ties come out
# in the same order on both backends.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS related_pins (
    source TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    position INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, target)
);
CREATE TABLE IF NOT EXISTS related_excludes (
    source TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, target)
);
CREATE TABLE IF NOT EXISTS related_clicks (
    source TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    impressions BIGINT NOT NULL DEFAULT 0,
    clicks BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, target)
);
CREATE TABLE IF NOT EXISTS related_views (source TEXT COLLATE "C" PRIMARY KEY, views BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS search_log (
    day DATE NOT NULL,
    query TEXT COLLATE "C" NOT NULL,
    searches BIGINT NOT NULL DEFAULT 0,
    unanswered BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, query)
);
CREATE TABLE IF NOT EXISTS editorial_generation (id INTEGER PRIMARY KEY CHECK (id = 0), value BIGINT NOT NULL);
INSERT INTO editorial_generation VALUES (0, 0) ON CONFLICT DO NOTHING;
"""
_WRITERS = "another session (a transaction left open, a migration?)"


def _pg(sql: str) -> str:
    """The shared SQL's `?` parameters as psycopg's `%s` (that SQL holds no other `?` nor `%`)."""
    return sql.replace("?", "%s")


class _Writer:
    """A psycopg cursor that takes the shared SQL (indexer.editorial.Writer)."""

    def __init__(self, cur: psycopg.Cursor) -> None:
        self._cur = cur

    def execute(self, sql: str, args: Sequence[object] = ()) -> psycopg.Cursor:
        return self._cur.execute(_pg(sql), args)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        self._cur.executemany(_pg(sql), rows)


class PostgresEditorialStore(BaseEditorialStore):
    """Pins, excludes, click counters and search counts in a PostgreSQL database (`url`), shared by every API server
    on it: the interface and behaviour of indexer.editorial.EditorialStore. Connects when made (a server that is
    not there raises StoreUnreachable then, within CONNECT_TIMEOUT) and creates its tables where there are none.

    Another server's pin shows here within REFRESH_SECONDS: the cache rereads the generation row that often. A lost
    connection (a restart or failover of the server) costs no read: it is retried once on a new connection. A write
    it cuts off raises StoreUnreachable, as its commit may or may not have landed; the next call connects again.
    A write that waits over `busy_timeout` seconds for another writer's lock raises StoreBusy."""

    _FLUSH_ERRORS = (psycopg.Error,)

    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, lazy: bool = False) -> None:
        super().__init__(busy_timeout)
        self.url = url
        self.where = redacted(url)
        # lazy: connect at the first call instead (a server starting while the database is down still starts)
        self._conn: psycopg.Connection | None = None if lazy else self._connect()

    def _connect(self) -> psycopg.Connection:
        conn = connect(self.url)
        try:
            with database_errors(conn, self.where, self.busy_timeout, _WRITERS):
                # only where there are none: a database that has them is not written to on open (a replica opens)
                if conn.execute("SELECT to_regclass('editorial_generation')").fetchone()[0] is None:
                    with schema_transaction(conn):
                        conn.execute(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:  # not yet opened, lost (and said so) on an earlier call, or closed
            self._conn = self._connect()
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[_Writer]:
        with write_transaction(self._db(), self.where, self.busy_timeout, _WRITERS) as cur:
            yield _Writer(cur)

    def _read(self, conn: psycopg.Connection, sql: str, args: Sequence[object]) -> list[tuple]:
        with database_errors(conn, self.where, self.busy_timeout, _WRITERS):
            return conn.execute(_pg(sql), args).fetchall()

    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        conn = self._db()
        try:
            return self._read(conn, sql, args)
        except StoreUnreachable:
            if not conn.closed:
                raise
        # lost since its last use (the server restarted or failed over): a read is safe to run again, once
        return self._read(self._db(), sql, args)
