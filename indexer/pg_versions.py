"""Published versions in the PostgreSQL database, so any number of API servers share them.

A version is built in a local folder as on one machine (indexer.publish), then committed to the database in one
transaction: its manifest, its files (content-addressed: a file another version already holds is not sent again) and
the pointer to the live version. A server keeps a local mirror of the live version (`sync`: one small query a second;
a new version's files are fetched, checksummed and renamed into place, unchanged files hard-linked from the version it
replaces) and serves it from there as from its own index folder. Publishing holds a database-wide advisory lock, so
publishers on different machines take turns; a publish cut off before its commit leaves nothing behind in the
database, and the servers keep the version they had."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from indexer.errors import IndexCorrupt, SiftError, StoreUnreachable
from indexer.pg_connection import connect, database_errors, redacted, schema_transaction, write_transaction
from indexer.publish import (
    VERSIONS_DIR,
    current_version,
    make_current,
    prune_versions,
    read_manifest,
    verify_files,
)
from indexer.store import DEFAULT_BUSY_TIMEOUT

log = logging.getLogger("sift.versions")

PUBLISH_LOCK = 0x5EF7_0002  # pg_advisory_lock: one publisher at a time per database, on whatever machine
PART_BYTES = 8 << 20  # a file is stored in parts of this size (a bytea value is read and written whole)
_WRITERS = "another publisher (a `sift index` or a server publishing writes?)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sift_blobs (
    sha256 TEXT COLLATE "C" NOT NULL,
    part INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (sha256, part)
);
ALTER TABLE sift_blobs ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS sift_versions (
    name TEXT COLLATE "C" PRIMARY KEY,
    manifest TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    replaced_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS sift_version_files (
    version TEXT COLLATE "C" NOT NULL REFERENCES sift_versions(name) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    sha256 TEXT COLLATE "C" NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (version, name)
);
CREATE INDEX IF NOT EXISTS sift_version_files_sha256 ON sift_version_files(sha256);
CREATE TABLE IF NOT EXISTS sift_current (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    version TEXT COLLATE "C" NOT NULL REFERENCES sift_versions(name)
);
"""
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Uploaded:
    files: int
    sent: int  # files whose content the database did not hold yet
    sent_bytes: int


def _parts(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        first = True
        while (block := handle.read(PART_BYTES)) or first:
            first = False
            yield block


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_version(cur: psycopg.Cursor, name: str, folder: Path) -> Uploaded:
    """Write the sealed version in `folder` as version `name` and make it the live one, within the transaction `cur`
    is in (DatabaseVersions.commit's own, or a migration's that copies the store in the same one). The version
    tables must exist: DatabaseVersions creates them on its first use."""
    text = (folder / MANIFEST).read_text()
    files = json.loads(text)["files"]
    cur.execute("SELECT DISTINCT sha256 FROM sift_blobs WHERE sha256 = ANY(%s)", (list(set(files.values())),))
    held = {row[0] for row in cur.fetchall()}
    sent, sent_bytes = set(), 0
    with cur.copy("COPY sift_blobs (sha256, part, data) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "int4", "bytea"])
        for file, digest in files.items():
            if digest in held or digest in sent:
                continue
            for part, block in enumerate(_parts(folder / file)):
                copy.write_row((digest, part, block))
                sent_bytes += len(block)
            sent.add(digest)
    cur.execute("INSERT INTO sift_versions (name, manifest) VALUES (%s, %s)", (name, text))
    cur.executemany(
        "INSERT INTO sift_version_files (version, name, sha256, bytes) VALUES (%s, %s, %s, %s)",
        [(name, file, digest, (folder / file).stat().st_size) for file, digest in files.items()],
    )
    cur.execute("UPDATE sift_versions SET replaced_at = now() WHERE name = (SELECT version FROM sift_current)")
    cur.execute("INSERT INTO sift_current (version) VALUES (%s) "
                "ON CONFLICT (only_row) DO UPDATE SET version = EXCLUDED.version", (name,))
    return Uploaded(len(files), len(sent), sent_bytes)


class DatabaseVersions:
    """The versions published to one database: the live one's name and manifest, committing a new one, fetching one
    into a local folder, pruning. One connection, opened when first needed and again after it was lost; thread-safe."""

    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.url = url
        self.where = redacted(url)
        self.busy_timeout = busy_timeout
        self._conn: psycopg.Connection | None = None
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = connect(self.url)
            try:
                with database_errors(conn, self.where, self.busy_timeout, _WRITERS):
                    if conn.execute("SELECT to_regclass('sift_current')").fetchone()[0] is None:
                        with schema_transaction(conn):
                            conn.execute(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _read(self, work: Callable[[psycopg.Connection], object]):
        """Run a read on the connection; a connection found lost is opened again once (a database restart)."""
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    with database_errors(conn, self.where, self.busy_timeout, _WRITERS):
                        return work(conn)
                except StoreUnreachable:
                    self.close()
                    if attempt == 2:
                        raise

    # -- reading -----------------------------------------------------------------------------------------------
    def current(self) -> str | None:
        """The live version's name; None when nothing was published to this database."""
        return self._read(lambda conn: (conn.execute("SELECT version FROM sift_current").fetchone() or (None,))[0])

    def manifest(self, name: str | None = None) -> dict | None:
        """The manifest of version `name` (default: the live one); None when there is none."""
        def read(conn: psycopg.Connection):
            if name is None:
                row = conn.execute(
                    "SELECT v.manifest FROM sift_current c JOIN sift_versions v ON v.name = c.version").fetchone()
            else:
                row = conn.execute("SELECT manifest FROM sift_versions WHERE name = %s", (name,)).fetchone()
            return row and json.loads(row[0])
        return self._read(read)

    def names(self) -> list[str]:
        return self._read(lambda conn: [r[0] for r in conn.execute("SELECT name FROM sift_versions ORDER BY name")])

    def next_name(self, index_dir: Path) -> str:
        """A name after every version in the database and in the local folder (names only grow)."""
        versions = index_dir / VERSIONS_DIR
        local = [int(p.name) for p in versions.iterdir() if p.name.isdigit()] if versions.is_dir() else []
        stored = [int(n) for n in self.names() if n.isdigit()]
        return f"{max(local + stored, default=0) + 1:06d}"

    # -- publishing --------------------------------------------------------------------------------------------
    @contextmanager
    def publish_lock(self) -> Iterator[None]:
        """One publisher at a time per database: a session advisory lock on a connection of its own, released when
        the block ends or the process dies (PostgreSQL ends the session)."""
        conn = connect(self.url)
        try:
            with database_errors(conn, self.where, self.busy_timeout, _WRITERS):
                conn.execute("SELECT pg_advisory_lock(%s)", (PUBLISH_LOCK,))
            yield
        finally:
            conn.close()

    def commit(self, name: str, folder: Path) -> Uploaded:
        """Store the sealed version in `folder` as version `name` and make it the live one, in one transaction: the
        servers see all of it or, if this fails or is cut off, none of it."""
        with self._lock:
            conn = self._connection()
            try:
                with write_transaction(conn, self.where, self.busy_timeout, _WRITERS) as cur:
                    return write_version(cur, name, folder)
            except StoreUnreachable:
                self.close()
                raise

    def prune(self, *, keep: int, grace_seconds: float, drop: Callable[[dict], None]) -> list[str]:
        """Delete all but the newest `keep` versions (never the live one), only those replaced at least
        `grace_seconds` ago, and the file contents no version refers to any more. `drop(described)` first releases
        what a version holds outside (its pgvector table); when that fails the version is kept for the next prune.
        Call with the publish lock held."""
        def old(conn: psycopg.Connection) -> list[tuple[str, str]]:
            return conn.execute(
                "SELECT name, manifest FROM sift_versions WHERE name NOT IN (SELECT version FROM sift_current) "
                "AND name < ALL (SELECT name FROM sift_versions ORDER BY name DESC LIMIT %s) "
                "AND replaced_at <= now() - make_interval(secs => %s) ORDER BY name",
                (keep, grace_seconds),
            ).fetchall()

        removed = []
        for name, text in self._read(old):
            try:
                drop(json.loads(text).get("vectors") or {})
            except SiftError as exc:
                log.warning("kept version %s past its time: %s", name, exc)
                continue
            with self._lock:
                with write_transaction(self._connection(), self.where, self.busy_timeout, _WRITERS) as cur:
                    cur.execute("DELETE FROM sift_versions WHERE name = %s", (name,))
            removed.append(name)
        for table in self._orphan_tables():
            try:
                drop({"store": "pgvector", "table": table})
            except SiftError as exc:
                log.warning("could not drop %s, which no version names: %s", table, exc)
        if removed:
            with self._lock:
                with write_transaction(self._connection(), self.where, self.busy_timeout, _WRITERS) as cur:
                    cur.execute("DELETE FROM sift_blobs b WHERE NOT EXISTS "
                                "(SELECT 1 FROM sift_version_files f WHERE f.sha256 = b.sha256)")
        return removed

    def _orphan_tables(self) -> list[str]:
        """pgvector tables (TABLE_PREFIX) no version names: left by a publish killed between building its table and
        committing its version. Only safe under the publish lock (no publish is between the two then)."""
        from indexer.vectors.pgvector_store import TABLE_PREFIX

        def read(conn: psycopg.Connection) -> list[str]:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, %s)",
                (TABLE_PREFIX,))]
            named = {(json.loads(text).get("vectors") or {}).get("table")
                     for (text,) in conn.execute("SELECT manifest FROM sift_versions")}
            return [t for t in tables if t not in named]
        return self._read(read)

    # -- mirroring ---------------------------------------------------------------------------------------------
    def fetch(self, name: str, index_dir: Path) -> Path:
        """Version `name` as a folder under `index_dir`/versions (fetched unless there already), every file checked
        against its checksum. Files the local live version holds with the same content are hard-linked from it."""
        versions = index_dir / VERSIONS_DIR
        final = versions / name
        if (final / MANIFEST).is_file():
            return final
        versions.mkdir(parents=True, exist_ok=True)
        for stale in versions.glob(".fetching-*"):  # a fetch killed part-way (its process is gone)
            pid = stale.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        staging = versions / f".fetching-{name}-{threading.get_ident()}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            text = self._fetch_files(name, staging, self._local_files(index_dir))
            manifest = json.loads(text)
            try:
                verify_files(staging, manifest["files"])
            except IndexCorrupt as exc:
                raise IndexCorrupt(f"version {name} fetched from the database at {self.where} is damaged: {exc}")
            (staging / MANIFEST).write_text(text)
            try:
                os.rename(staging, final)
            except OSError:  # another process of this machine fetched it meanwhile
                if not (final / MANIFEST).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final

    @staticmethod
    def _local_files(index_dir: Path) -> dict[str, Path]:
        """sha256 → a file of the local live version with that content (from its manifest)."""
        name = current_version(index_dir)
        if name is None:
            return {}
        folder = index_dir / VERSIONS_DIR / name
        try:
            listed = read_manifest(folder).get("files") or {}
        except (OSError, IndexCorrupt):
            return {}
        return {digest: folder / file for file, digest in listed.items() if (folder / file).is_file()}

    def _fetch_files(self, name: str, staging: Path, local: dict[str, Path]) -> str:
        def fetch(conn: psycopg.Connection) -> str:
            row = conn.execute("SELECT manifest FROM sift_versions WHERE name = %s", (name,)).fetchone()
            if row is None:
                raise IndexCorrupt(f"version {name} is not in the database at {self.where} (pruned meanwhile?)")
            listed = conn.execute("SELECT name, sha256 FROM sift_version_files WHERE version = %s",
                                  (name,)).fetchall()
            wanted: dict[str, list[str]] = {}
            for file, digest in listed:
                target = staging / file
                target.parent.mkdir(parents=True, exist_ok=True)
                source = local.get(digest)
                if source is not None:
                    try:
                        os.link(source, target)
                        continue
                    except OSError:
                        pass
                wanted.setdefault(digest, []).append(file)
            if wanted:
                handles = {}
                try:
                    with conn.transaction(), conn.cursor(name="sift_fetch") as cur:
                        cur.itersize = 4
                        cur.execute("SELECT sha256, data FROM sift_blobs WHERE sha256 = ANY(%s) ORDER BY sha256, part",
                                    (list(wanted),))
                        for digest, data in cur:
                            if digest not in handles:
                                handles[digest] = open(staging / wanted[digest][0], "wb")
                            handles[digest].write(data)
                finally:
                    for handle in handles.values():
                        handle.close()
                for files in wanted.values():
                    for extra in files[1:]:
                        shutil.copyfile(staging / files[0], staging / extra)
            return row[0]
        return self._read(fetch)

    def sync(self, index_dir: Path, *, keep: int | None = None) -> str | None:
        """Make the local folder's CURRENT name the database's live version, fetching it first when needed; returns
        that name (None when nothing was published). With `keep`, local copies of versions beyond the newest `keep`
        are removed (only the folders: the database's versions are the publisher's to prune)."""
        name = self.current()
        if name is None:
            return None
        if current_version(index_dir) != name or not (index_dir / VERSIONS_DIR / name / MANIFEST).is_file():
            self.fetch(name, index_dir)
            make_current(index_dir, name)
            log.info("fetched version %s from the database at %s", name, self.where)
            if keep is not None:
                prune_versions(index_dir, keep=keep, release=False)
        return name

