"""A connection to the PostgreSQL database the Postgres backends share (indexer.pg_store, indexer.pg_editorial):
opening it, its write transactions, and PostgreSQL's failures said as indexer.errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import errors as pg
from psycopg.conninfo import conninfo_to_dict

from indexer.errors import StoreBusy, StoreUnreachable, StoreUnwritable

CONNECT_TIMEOUT = 10  # seconds; a connect_timeout in the URL wins
SCHEMA_LOCK = 0x5EF7_0001  # pg_advisory_xact_lock: processes opening a new database at once create its tables once

# What PostgreSQL says when it will not write: a read-only transaction (a replica, default_transaction_read_only),
# a full disk, an I/O error, a role without the right
UNWRITABLE = (pg.ReadOnlySqlTransaction, pg.DiskFull, pg.IoError, pg.InsufficientPrivilege)
# The server going away under an open connection
_GONE = (pg.AdminShutdown, pg.CrashShutdown, pg.CannotConnectNow)


def redacted(url: str) -> str:
    """`url` without its password (in the user part or a password= parameter), for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if "password" not in k])
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def connection_lost(exc: psycopg.OperationalError, conn: psycopg.Connection) -> bool:
    """Whether `exc` means the server went away under `conn` (a restart, a terminated backend, a broken socket),
    rather than a failure of the statement itself."""
    return isinstance(exc, _GONE) or conn.closed or exc.sqlstate is None or exc.sqlstate.startswith("08")


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection to `url`, given up after CONNECT_TIMEOUT seconds; StoreUnreachable when there is no
    server (or no such database) to talk to."""
    try:
        given = conninfo_to_dict(url)
        defaults = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "sift"}
        return psycopg.connect(url, autocommit=True, **{k: v for k, v in defaults.items() if k not in given})
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise StoreUnreachable(
            f"cannot connect to the database at {redacted(url)} ({reason}); is PostgreSQL running there, and is the "
            "URL right?"
        ) from None


@contextmanager
def database_errors(conn: psycopg.Connection, where: str, busy_timeout: float,
                    writers: str = "another writer") -> Iterator[None]:
    """PostgreSQL's failures said plainly, as the SQLite store says its own: a lock held too long raises StoreBusy
    (naming `writers`, who may hold it), a refused write StoreUnwritable, a lost server StoreUnreachable; anything else
    goes on as it was. `where` names the database (redacted)."""
    try:
        yield
    except pg.LockNotAvailable:
        raise StoreBusy(
            f"the database at {where} is locked by {writers} and stayed locked for {busy_timeout:g} s; nothing was "
            "written, retry in a few seconds"
        ) from None
    except UNWRITABLE as exc:
        reason = " ".join(str(exc).split())
        raise StoreUnwritable(
            f"the database at {where} cannot be written ({reason}: a read-only database or replica, a full disk, or a "
            "role without the right?); this write was rolled back"
        ) from exc
    except psycopg.OperationalError as exc:
        if not connection_lost(exc, conn):
            raise
        reason = " ".join(str(exc).split())
        raise StoreUnreachable(
            f"lost the connection to the database at {where} ({reason}); retry once it is back (a write cut off "
            "before its commit was rolled back)"
        ) from exc


@contextmanager
def write_transaction(conn: psycopg.Connection, where: str, busy_timeout: float,
                      writers: str = "another writer") -> Iterator[psycopg.Cursor]:
    """A write transaction on the autocommit `conn`: committed when the block ends, rolled back if it raises. A lock
    waited for over `busy_timeout` seconds raises StoreBusy (database_errors says the rest)."""
    with database_errors(conn, where, busy_timeout, writers), conn.transaction(), conn.cursor() as cur:
        timeout = max(1, round(busy_timeout * 1000))  # in ms; 0 would wait for ever
        cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{timeout}ms",))
        yield cur


@contextmanager
def schema_transaction(conn: psycopg.Connection) -> Iterator[None]:
    """A transaction that creates tables: under SCHEMA_LOCK, as CREATE TABLE IF NOT EXISTS run by two sessions at
    once can still fail on the second."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        yield
