"""`sift migrate`: an index moved between a folder and a PostgreSQL database, with nothing embedded again.

`to_database` copies an index folder's store.sqlite (articles, passages, the whole embedding cache, meta, the ingest
log and the editorial tables) and its live version into an empty database; `from_database` copies a database's into
a new folder. Values are converted between the two stores' types (SQLite keeps lists as JSON text and times as ISO
text, PostgreSQL as TEXT[], TIMESTAMPTZ, DATE and JSONB); vectors and version files move as bytes. The store's
generation moves with it, so the live version still matches the store it was built from and the next `sift index`
publishes nothing.

Either way it is all or nothing. Into a database, every row and the live version are written in one transaction,
under the database's publish lock: a failure leaves the database as it was (so the migration can simply be run
again), and servers on it see the whole index at once. Into a folder, the database is read in one snapshot
(REPEATABLE READ, so the store and the live version agree even while servers write) into a new SQLite file, renamed
into place once the live version is fetched; a failure removes what was made.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from tqdm import tqdm

from indexer.article import Article
from indexer.editorial import EditorialStore
from indexer.errors import IndexCorrupt, IndexNotFound, MigrationFailed, MigrationRefused, SiftError
from indexer.pg_connection import connect, redacted, write_transaction
from indexer.pg_editorial import PostgresEditorialStore
from indexer.pg_store import SCHEMA_VERSION as DATABASE_SCHEMA_VERSION
from indexer.pg_store import PostgresStore
from indexer.pg_versions import DatabaseVersions, write_version
from indexer.publish import (
    CURRENT_FILE,
    STORE_FILE,
    VERSIONS_DIR,
    current_version,
    current_version_dir,
    make_current,
    read_manifest,
    verify_files,
)
from indexer.store import DEFAULT_BUSY_TIMEOUT, Store, store_errors

BATCH = 2000  # rows read, written and counted on the progress bar at a time
_WRITERS = "another writer (a `sift index`, or a server on the database?)"


@dataclass(frozen=True)
class MigrationReport:
    """What a migration copied: rows per table, the live version, and how long it took."""

    source: str  # an index folder, or a database URL without its password
    target: str
    rows: dict[str, int]  # table → rows copied (meta without its schema_version, which each store sets)
    version: str
    files: int  # the live version's files
    version_bytes: int
    seconds: float


def _as_is(row: tuple) -> tuple:
    return row


def _utc(value: datetime) -> str:
    """A PostgreSQL time as the SQLite stores write theirs: ISO 8601 in UTC."""
    return value.astimezone(timezone.utc).isoformat()


def _article_to_database(row: tuple) -> tuple:
    # lists are JSON text in SQLite; times and dates ISO text, which PostgreSQL reads as they are
    return (*row[:5], *(json.loads(value) for value in row[5:8]), *row[8:])


def _article_to_folder(row: tuple) -> tuple:
    """The row as indexer.store's upsert_many writes it (the Article's JSON form), from PostgreSQL's values."""
    ident, url, title, body, published_at, categories, tags, countries, author, language, image_url, deadline = row[:12]
    data = Article(
        id=ident, url=url, title=title, body=body, published_at=published_at, categories=categories, tags=tags,
        countries=countries, author=author, language=language, image_url=image_url, deadline=deadline,
    ).model_dump(mode="json")
    content_hash, source, updated_at = row[12:]
    return (
        data["id"], data["url"], data["title"], data["body"], data["published_at"], json.dumps(data["categories"]),
        json.dumps(data["tags"]), json.dumps(data["countries"]), data["author"], data["language"], data["image_url"],
        data["deadline"], content_hash, source, _utc(updated_at),
    )


@dataclass(frozen=True)
class _Table:
    """A table both stores keep, and how one's row becomes the other's."""

    name: str
    columns: str
    to_database: Callable[[tuple], tuple] = _as_is
    to_folder: Callable[[tuple], tuple] = _as_is
    binary: tuple[str, ...] = ()  # PostgreSQL types for a binary COPY: bytes sent as they are, not hex-escaped


# In this order: passages after their articles (the foreign key). meta and editorial_generation are merged apart.
TABLES = (
    _Table("articles", "id, url, title, body, published_at, categories, tags, countries, author, language, image_url, "
           "deadline, content_hash, source, updated_at", _article_to_database, _article_to_folder),
    _Table("chunks", "article_id, ordinal, text, embed_text, hash"),
    _Table("embeddings", "model_id, hash, vector", binary=("text", "text", "bytea")),
    _Table("ingest_log", "id, finished_at, summary",
           to_folder=lambda row: (row[0], _utc(row[1]), json.dumps(row[2]))),
    _Table("related_pins", "source, target, position, created_at", to_folder=lambda row: (*row[:3], _utc(row[3]))),
    _Table("related_excludes", "source, target, created_at", to_folder=lambda row: (*row[:2], _utc(row[2]))),
    _Table("related_clicks", "source, target, impressions, clicks"),
    _Table("related_views", "source, views"),
    _Table("search_log", "day, query, searches, unanswered", to_folder=lambda row: (row[0].isoformat(), *row[1:])),
)
# What makes a database not empty: any row in these
_HOLDING = tuple(t.name for t in TABLES) + ("sift_versions",)


@contextmanager
def _failing(what: str, after: str) -> Iterator[None]:
    """A database's or SQLite's refusal of a value (or any failure not said as a SiftError already) as one line."""
    try:
        yield
    except SiftError:
        raise
    except (psycopg.Error, sqlite3.Error) as exc:
        raise MigrationFailed(f"{what} failed ({' '.join(str(exc).split())}); {after}") from exc


def _bar(total: int, progress: bool) -> tqdm:
    # off unless asked for, and (None) when stderr is not a terminal: a log would collect every redraw
    return tqdm(total=total, unit=" rows", desc="migrating", disable=None if progress else True)


def _refuse_pgvector(name: str, manifest: dict, republish: str) -> None:
    described = manifest.get("vectors") or {}
    if described.get("store") == "pgvector":
        raise MigrationRefused(
            f"version {name} keeps its passage vectors in the PostgreSQL table {described.get('table')} "
            f"(SIFT_VECTOR_STORE=pgvector), which a migration does not carry; publish it with FAISS files first — "
            f"`SIFT_VECTOR_STORE=faiss {republish}` with any of its sources re-publishes without embedding again — "
            "then migrate. Nothing was written"
        )


def _database_tables(db: psycopg.Connection | psycopg.Cursor) -> set[str]:
    """Which of Sift's tables the database has (in the connection's schema, as the stores see them)."""
    names = [*_HOLDING, "meta", "editorial_generation", "sift_current"]
    rows = db.execute("SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL", (names,)).fetchall()
    return {row[0] for row in rows}


def _refuse_unless_empty(db: psycopg.Connection | psycopg.Cursor, where: str) -> None:
    present = _database_tables(db)
    held = [t for t in _HOLDING if t in present and db.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]]
    if held:
        raise MigrationRefused(
            f"the database at {where} already holds an index (rows in {', '.join(held)}); nothing was written: "
            "migrate into a new, empty database (createdb NAME)"
        )


# -- folder → database ---------------------------------------------------------------------------------------------
def _folder_version(index_dir: Path) -> tuple[Path, dict]:
    """The folder's live version and its manifest, refused unless there is a store beside it and every file of it
    matches its checksum."""
    if not (index_dir / STORE_FILE).is_file():
        raise MigrationRefused(f"no index store at {index_dir / STORE_FILE}; nothing to migrate (is --index the index "
                               "folder?)")
    if current_version(index_dir) is None:
        raise MigrationRefused(
            f"{index_dir} has a store but no live version ({CURRENT_FILE}): `sift index SOURCE --index {index_dir}` "
            "publishes one from it without embedding again; then migrate"
        )
    try:
        version_dir = current_version_dir(index_dir)
        manifest = read_manifest(version_dir)
        verify_files(version_dir, manifest.get("files") or {})
    except (IndexNotFound, IndexCorrupt) as exc:
        raise MigrationRefused(f"cannot migrate the live version: {exc}. Nothing was written") from None
    _refuse_pgvector(version_dir.name, manifest, f"sift index SOURCE --index {index_dir}")
    try:
        Store(index_dir / STORE_FILE).close()  # its schema version checked (and an old store's columns added)
    except RuntimeError as exc:
        raise MigrationRefused(str(exc)) from None
    return version_dir, manifest


def _copy_to_database(source: sqlite3.Connection, cur: psycopg.Cursor, table: _Table, bar: tqdm) -> int:
    bar.set_description(table.name)
    rows = source.execute(f"SELECT {table.columns} FROM {table.name}")
    statement = f"COPY {table.name} ({table.columns}) FROM STDIN" + (" (FORMAT BINARY)" if table.binary else "")
    copied = 0
    with cur.copy(statement) as copy:
        if table.binary:
            copy.set_types(list(table.binary))
        while batch := rows.fetchmany(BATCH):
            for row in batch:
                copy.write_row(table.to_database(row))
            copied += len(batch)
            bar.update(len(batch))
    return copied


def to_database(
    index_dir: Path, url: str, *, progress: bool, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> MigrationReport:
    """Copy the index folder `index_dir` (its store and live version) into the empty PostgreSQL database at `url`, in
    one transaction: when this returns the version is live there. The folder is left as it was."""
    started = time.perf_counter()
    where = redacted(url)
    version_dir, manifest = _folder_version(index_dir)
    rolled_back = "the transaction was rolled back, nothing was written to the database"
    source = sqlite3.connect(index_dir / STORE_FILE, timeout=busy_timeout, isolation_level=None)
    try:
        # one snapshot of the store however long the copy takes (WAL: its writers go on meanwhile)
        source.execute("BEGIN")
        present = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables = [t for t in TABLES if t.name in present]  # the editorial ones are made at their first use
        counts = {t.name: 0 for t in TABLES}
        meta = source.execute("SELECT key, value FROM meta WHERE key <> 'schema_version'").fetchall()
        curated = (source.execute("SELECT COALESCE(MAX(value), 0) FROM editorial_generation").fetchone()[0]
                   if "editorial_generation" in present else 0)
        conn = connect(url)
        try:
            with _failing(f"reading the database at {where}", "nothing was written"):
                _refuse_unless_empty(conn, where)  # before any table is made there
            # the tables, as each backend makes its own
            PostgresStore(url, busy_timeout=busy_timeout).close()
            PostgresEditorialStore(url, busy_timeout=busy_timeout).close()
            versions = DatabaseVersions(url, busy_timeout=busy_timeout)
            try:
                versions.current()  # makes the version tables
                total = sum(source.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0] for t in tables)
                with versions.publish_lock(), _bar(total, progress) as bar:
                    with write_transaction(conn, where, busy_timeout, _WRITERS) as cur:
                        cur.execute("SELECT value FROM meta WHERE key = 'generation' FOR UPDATE")  # store writers wait
                        _refuse_unless_empty(cur, where)  # nothing landed since the first look
                        for table in tables:
                            with _failing(f"copying {table.name} into the database at {where}", rolled_back):
                                counts[table.name] = _copy_to_database(source, cur, table, bar)
                        with _failing(f"copying meta into the database at {where}", rolled_back):
                            cur.executemany("INSERT INTO meta VALUES (%s, %s) "
                                            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", meta)
                            # the log's ids were copied as they are: its identity goes on after them
                            cur.execute("SELECT setval(pg_get_serial_sequence('ingest_log', 'id'), MAX(id)) "
                                        "FROM ingest_log HAVING COUNT(*) > 0")
                            # past both stores' values: a server caching this database's (empty) curation reloads
                            cur.execute("UPDATE editorial_generation SET value = GREATEST(value, %s) + 1", (curated,))
                        bar.set_description(f"version {version_dir.name}")
                        with _failing(f"copying version {version_dir.name} into the database at {where}",
                                      rolled_back):
                            write_version(cur, version_dir.name, version_dir)
            finally:
                versions.close()
        finally:
            conn.close()
    finally:
        source.close()
    return MigrationReport(
        source=str(index_dir), target=where, rows={**counts, "meta": len(meta)}, version=version_dir.name,
        files=len(manifest["files"]), version_bytes=_bytes(version_dir, manifest), seconds=_since(started),
    )


# -- database → folder ---------------------------------------------------------------------------------------------
def _refuse_unless_new(index_dir: Path) -> None:
    if index_dir.exists() and not index_dir.is_dir():
        raise MigrationRefused(f"{index_dir} is a file, not a folder; name a new folder to migrate the index into")
    taken = [name for name in (STORE_FILE, CURRENT_FILE) if (index_dir / name).exists()]
    versions = index_dir / VERSIONS_DIR
    if versions.is_dir() and any(versions.iterdir()):
        taken.append(f"{VERSIONS_DIR}/")
    if taken:
        raise MigrationRefused(
            f"{index_dir} already holds an index ({', '.join(taken)}); nothing was written: migrate into a new or "
            "empty folder"
        )


def _database_version(conn: psycopg.Connection, where: str, present: set[str]) -> tuple[str, dict]:
    """The database's live version and its manifest, refused unless it holds a store Sift reads, and a live version
    a folder can serve."""
    if "articles" not in present or "meta" not in present:
        raise MigrationRefused(f"the database at {where} holds no Sift index (no articles table); nothing to migrate")
    schema = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if schema is None or int(schema[0]) != DATABASE_SCHEMA_VERSION:
        raise MigrationRefused(f"the database at {where} has store schema {schema and schema[0]}, this Sift reads "
                               f"{DATABASE_SCHEMA_VERSION}; nothing was written")
    row = conn.execute("SELECT c.version, v.manifest FROM sift_current c JOIN sift_versions v ON v.name = c.version"
                       ).fetchone() if "sift_current" in present else None
    if row is None:
        raise MigrationRefused(
            f"the database at {where} has no live version: `sift index SOURCE --database URL` publishes one from its "
            "store without embedding again; then migrate"
        )
    name, manifest = row[0], json.loads(row[1])
    _refuse_pgvector(name, manifest, "sift index SOURCE --database URL")
    return name, manifest


def _copy_to_folder(conn: psycopg.Connection, db: sqlite3.Connection, table: _Table, bar: tqdm) -> int:
    bar.set_description(table.name)
    marks = ", ".join("?" * len(table.columns.split(", ")))
    insert = f"INSERT INTO {table.name} ({table.columns}) VALUES ({marks})"
    copied = 0
    with conn.cursor(name=f"sift_migrate_{table.name}") as cur:  # server-side: read a batch at a time
        cur.itersize = BATCH
        cur.execute(f"SELECT {table.columns} FROM {table.name}")
        while batch := cur.fetchmany(BATCH):
            db.executemany(insert, [table.to_folder(row) for row in batch])
            copied += len(batch)
            bar.update(len(batch))
    return copied


def _write_store(conn: psycopg.Connection, path: Path, present: set[str], *, progress: bool,
                 busy_timeout: float) -> dict[str, int]:
    """A new SQLite store at `path` with every row of the database's (read on `conn`'s transaction)."""
    tables = [t for t in TABLES if t.name in present]
    counts = {t.name: 0 for t in TABLES}
    total = sum(conn.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0] for t in tables)
    meta = conn.execute("SELECT key, value FROM meta WHERE key <> 'schema_version'").fetchall()
    curated = (conn.execute("SELECT COALESCE(MAX(value), 0) FROM editorial_generation").fetchone()[0]
               if "editorial_generation" in present else 0)
    Store(path, busy_timeout=busy_timeout).close()  # the tables, as each store makes its own
    with EditorialStore(path, busy_timeout=busy_timeout) as editorial:
        editorial.click_totals()  # (made at its first use)
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        with store_errors(path, busy_timeout), _bar(total, progress) as bar:
            db.execute("BEGIN IMMEDIATE")
            for table in tables:
                with _failing(f"copying {table.name} into {path.parent}", "nothing was kept"):
                    counts[table.name] = _copy_to_folder(conn, db, table, bar)
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta)
            db.execute("UPDATE editorial_generation SET value = ?", (curated,))
            db.execute("COMMIT")
            # the whole store in the one file before it is renamed into place (Store goes back to WAL when opened)
            db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()
    return {**counts, "meta": len(meta)}


def from_database(
    url: str, index_dir: Path, *, progress: bool, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> MigrationReport:
    """Copy the index in the PostgreSQL database at `url` (its store and live version) into the new or empty folder
    `index_dir`, which then serves on its own. The database is only read."""
    started = time.perf_counter()
    where = redacted(url)
    _refuse_unless_new(index_dir)
    made = [folder for folder in (index_dir, *index_dir.parents) if not folder.exists()]  # deepest first
    staging = index_dir / f".{STORE_FILE}.migrating-{os.getpid()}"
    fetched: Path | None = None
    conn = connect(url)
    try:
        with _failing(f"reading the database at {where}", "nothing was kept"), conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")  # one snapshot of it all
            present = _database_tables(conn)
            name, manifest = _database_version(conn, where, present)
            index_dir.mkdir(parents=True, exist_ok=True)
            rows = _write_store(conn, staging, present, progress=progress, busy_timeout=busy_timeout)
        versions = DatabaseVersions(url, busy_timeout=busy_timeout)
        try:
            # the version the snapshot's store goes with (not sync's "whatever is live now"), checksummed as fetched
            fetched = versions.fetch(name, index_dir)
        finally:
            versions.close()
        os.replace(staging, index_dir / STORE_FILE)
        make_current(index_dir, name)
    except BaseException as exc:
        _remove_made(index_dir, staging, fetched, made)
        if isinstance(exc, OSError):
            raise MigrationFailed(f"writing {index_dir} failed ({exc}); nothing was kept") from exc
        raise
    finally:
        conn.close()
    return MigrationReport(
        source=where, target=str(index_dir), rows=rows, version=name, files=len(manifest["files"]),
        version_bytes=_bytes(fetched, manifest), seconds=_since(started),
    )


def _remove_made(index_dir: Path, staging: Path, fetched: Path | None, made: list[Path]) -> None:
    """What a failed migration into a folder had made: the store being written (or already renamed, when CURRENT
    failed), the fetched version, and the folders that were not there before."""
    for path in index_dir.glob(f"{staging.name}*"):
        path.unlink(missing_ok=True)
    if fetched is not None:
        for path in index_dir.glob(f"{STORE_FILE}*"):
            path.unlink(missing_ok=True)
        shutil.rmtree(fetched, ignore_errors=True)
    for folder in (index_dir / VERSIONS_DIR, *made):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass


def _bytes(version_dir: Path, manifest: dict) -> int:
    return sum((version_dir / name).stat().st_size for name in manifest["files"])


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
