"""The SQLite store: articles, their chunks and the embedding cache. The source of truth every index derives from."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np

from indexer.article import Article
from indexer.chunking import Chunk, embed_text
from indexer.errors import StoreBusy, StoreUnwritable

SCHEMA_VERSION = 1
# How long a writer waits for another one (a second `sift index`) to release the write lock, retrying meanwhile.
DEFAULT_BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at TEXT,
    categories TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    countries TEXT NOT NULL DEFAULT '[]',
    author TEXT,
    language TEXT,
    image_url TEXT,
    deadline TEXT,
    content_hash TEXT NOT NULL,
    source TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (article_id, ordinal)
);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT NOT NULL,
    model_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (hash, model_id)
);
CREATE TABLE IF NOT EXISTS ingest_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""

# A chunk's embed_text is kept only where it is not the chunker's title + passage (indexer.chunking.embed_text): ''
# otherwise, rebuilt from the article's title here, so a passage's text is not stored twice. Plain SQL: the
# PostgreSQL store (indexer.pg_store) runs it too.
EMBED_TEXT_SQL = (
    "CASE WHEN c.embed_text <> '' THEN c.embed_text WHEN a.title <> '' THEN a.title || '. ' || c.text ELSE c.text END"
)

Change = Literal["added", "updated", "unchanged"]

ARTICLE_COLUMNS = (
    "id, url, title, body, published_at, categories, tags, countries, author, language, image_url, deadline"
)


@dataclass(frozen=True)
class StoredChunk:
    article_id: str
    ordinal: int
    text: str
    hash: str


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def content_digest(article: Article, salt: str) -> str:
    """The hash an article is stored with: its content's, and with `salt` (the chunking parameters) that too."""
    return hashlib.sha256((article.content_hash() + salt).encode()).hexdigest() if salt else article.content_hash()


def stored_embed_text(article: Article, chunk: Chunk) -> str:
    """A chunk's embed_text as stored: '' when it is the title + passage that EMBED_TEXT_SQL rebuilds."""
    return "" if chunk.embed_text == embed_text(article.title, chunk.text) else chunk.embed_text


def _row_to_article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        body=row["body"],
        published_at=row["published_at"],
        categories=tuple(json.loads(row["categories"])),
        tags=tuple(json.loads(row["tags"])),
        countries=tuple(json.loads(row["countries"])),
        author=row["author"],
        language=row["language"],
        image_url=row["image_url"],
        deadline=row["deadline"],
    )


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """True when SQLite gave up waiting for another connection's lock ("database is locked" / "is busy")."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or any(
        word in str(exc) for word in ("database is locked", "database is busy")
    )


def busy_error(path: Path, timeout: float) -> StoreBusy:
    return StoreBusy(
        f"{path.name} is locked by another writer (a `sift index` or `sift sync` run?) and stayed locked for "
        f"{timeout:g} s; nothing was written, retry in a few seconds"
    )


# SQLite's primary result codes for a write the file system refused: the file or folder is read-only, the disk
# (or the volume's quota) is full, an I/O error, the journal cannot be opened
_UNWRITABLE = (sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
               sqlite3.SQLITE_CANTOPEN)


def is_unwritable(exc: sqlite3.Error) -> bool:
    return ((getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF) in _UNWRITABLE


def unwritable_error(path: Path, exc: sqlite3.Error) -> StoreUnwritable:
    return StoreUnwritable(
        f"{path.name} cannot be written ({exc}: a read-only file or folder, or a full disk?); this write was rolled back"
    )


@contextmanager
def store_errors(path: Path, busy_timeout: float) -> Iterator[None]:
    """SQLite's failures to write, said plainly: a lock held too long raises StoreBusy, a write the file system
    refuses (read-only, disk full, I/O error) StoreUnwritable; anything else goes on as it was."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise busy_error(path, busy_timeout) from None
        if is_unwritable(exc):
            raise unwritable_error(path, exc) from exc
        raise


@contextmanager
def write_transaction(db: sqlite3.Connection | sqlite3.Cursor, path: Path, busy_timeout: float) -> Iterator[None]:
    """BEGIN IMMEDIATE (the write lock now, waiting up to busy_timeout for it; a clear StoreBusy if it stays held),
    committed when the block ends, rolled back if it raises. A write the file system refuses (read-only, disk full,
    I/O error) raises StoreUnwritable after the rollback."""
    conn = db if isinstance(db, sqlite3.Connection) else db.connection
    with store_errors(path, busy_timeout):
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself after some errors (a full disk during COMMIT)
                db.execute("ROLLBACK")
            raise


class EmbeddingCache(ABC):
    """The embedding cache's typed side, shared by both stores (this one and indexer.pg_store's), over the (hash,
    bytes) rows each keeps under a key."""

    @abstractmethod
    def _put_blobs(self, key: str, rows: Iterable[tuple[str, bytes]]) -> None:
        """Cache (hash, bytes) rows under `key` (a model id, or "model#tokens") in one transaction, replacing any."""

    @abstractmethod
    def _blobs(self, key: str, hashes: Iterable[str], column: str = "vector") -> Iterator[tuple[str, bytes]]:
        """(hash, bytes) of the cached rows of `hashes` under `key` (`column` "length(vector)": their sizes)."""

    def put_embeddings(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Cache passages' unit vectors as float16: half the bytes of float32. The served copy is the version's
        float32 index, built from these; the rounding (a relative 5e-4 at most) moves no measured nDCG@10
        (BENCHMARKS.md, "What an index costs")."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float16)
        self._put_blobs(model_id, ((h, vectors[i].tobytes()) for i, h in enumerate(hashes)))

    def get_embeddings(self, model_id: str, hashes: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """The cached vectors of `hashes` as float32 unit vectors (a store written before float16 holds float32)."""
        out: dict[str, np.ndarray] = {}
        for h, blob in self._blobs(model_id, hashes):
            dtype = {2 * dim: np.float16, 4 * dim: np.float32}.get(len(blob))
            if dtype is not None:
                vec = np.frombuffer(blob, dtype=dtype).astype(np.float32)
                out[h] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return out

    def put_token_vectors(
        self, key: str, hashes: Sequence[str], blocks: Sequence[np.ndarray], dtype: type = np.float16
    ) -> None:
        """Cache texts' token vectors under `key`: "model#tokens" (indexer.late; float16, one row per token), or
        a passage-token key of indexer.passage_tokens (uint8 codes)."""
        rows = ((h, np.ascontiguousarray(b, dtype=dtype).tobytes()) for h, b in zip(hashes, blocks))
        self._put_blobs(key, rows)

    def get_token_vectors(
        self, key: str, hashes: Iterable[str], dim: int, dtype: type = np.float16
    ) -> dict[str, np.ndarray]:
        """The cached token vectors of `hashes` under `key`, each (tokens, dim) of `dtype`."""
        out: dict[str, np.ndarray] = {}
        for h, blob in self._blobs(key, hashes):
            block = np.frombuffer(blob, dtype=dtype)
            if block.size % dim == 0:
                out[h] = block.reshape(-1, dim)
        return out

    def blob_sizes(self, key: str, hashes: Iterable[str]) -> dict[str, int]:
        """The byte sizes of the cached rows of `hashes` under `key`, without reading them (SQLite keeps a blob's
        length in its record header, PostgreSQL in its value's)."""
        return dict(self._blobs(key, hashes, column="length(vector)"))

    def get_blob(self, key: str, name: str) -> bytes | None:
        """One cached blob (a passage-token codec), None when there is none."""
        return next((blob for _, blob in self._blobs(key, [name])), None)

    def put_blob(self, key: str, name: str, blob: bytes) -> None:
        self._put_blobs(key, [(name, blob)])


class Store(EmbeddingCache):
    """One SQLite file. Writers commit in batches, so a crash loses at most the batch in flight.

    A writer blocked by another process's write lock retries for `busy_timeout` seconds (SQLite's busy handler),
    then raises StoreBusy."""

    def __init__(self, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout = busy_timeout
        with store_errors(self.path, busy_timeout):
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
            try:
                self._conn.row_factory = sqlite3.Row
                self._conn.execute("PRAGMA journal_mode=WAL")  # creates the -wal and -shm files: a first write
                self._conn.execute("PRAGMA synchronous=FULL")
                self._conn.execute("PRAGMA foreign_keys=ON")
                self._conn.executescript(_SCHEMA)
                row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                columns = {c["name"] for c in self._conn.execute("PRAGMA table_info(articles)")}
                if "deadline" not in columns:  # a store written before deadlines were kept: the column is added
                    self._conn.execute("ALTER TABLE articles ADD COLUMN deadline TEXT")
                if row is None:
                    self._conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            except BaseException:
                self._conn.close()
                raise
        if row is not None and int(row["value"]) != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has store schema {row['value']}, this Sift reads {SCHEMA_VERSION}; re-index into a new folder"
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        cur = self._conn.cursor()
        with write_transaction(cur, self.path, self.busy_timeout):
            yield cur

    # -- articles -------------------------------------------------------------------------------------------
    def upsert_many(self, items: Sequence[tuple[Article, list[Chunk], str]], *, salt: str = "") -> list[Change]:
        """Insert or replace (article, chunks, source) triples in one transaction; say what happened to each.

        `salt` (the chunking parameters) joins the content hash, so new chunking re-chunks unchanged articles."""
        changes: list[Change] = []
        with self._transaction() as cur:
            for article, chunks, source in items:
                digest = content_digest(article, salt)
                row = cur.execute("SELECT content_hash FROM articles WHERE id=?", (article.id,)).fetchone()
                if row is not None and row["content_hash"] == digest:
                    changes.append("unchanged")
                    continue
                data = article.model_dump(mode="json")
                cur.execute(
                    f"INSERT OR REPLACE INTO articles ({ARTICLE_COLUMNS}, content_hash, source, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        data["id"], data["url"], data["title"], data["body"], data["published_at"],
                        json.dumps(data["categories"]), json.dumps(data["tags"]), json.dumps(data["countries"]),
                        data["author"], data["language"], data["image_url"], data["deadline"], digest, source, _now(),
                    ),
                )
                cur.execute("DELETE FROM chunks WHERE article_id=?", (article.id,))
                cur.executemany(
                    "INSERT INTO chunks (article_id, ordinal, text, embed_text, hash) VALUES (?,?,?,?,?)",
                    [(article.id, c.ordinal, c.text, stored_embed_text(article, c), c.hash) for c in chunks],
                )
                changes.append("added" if row is None else "updated")
            if any(c != "unchanged" for c in changes):
                cur.execute(
                    "INSERT INTO meta VALUES ('generation', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
        return changes

    def delete_many(self, article_ids: Sequence[str]) -> int:
        """Delete articles (and their passages); returns how many existed. Cached vectors stay for a re-add."""
        if not article_ids:
            return 0
        deleted = 0
        with self._transaction() as cur:
            for article_id in article_ids:
                deleted += cur.execute("DELETE FROM articles WHERE id=?", (article_id,)).rowcount
            if deleted:
                cur.execute(
                    "INSERT INTO meta VALUES ('generation', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
        return deleted

    def ids_from_source(self, source: str) -> list[str]:
        return [r["id"] for r in self._conn.execute("SELECT id FROM articles WHERE source=?", (source,))]

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value)
        )

    def generation(self) -> int:
        """Grows with every committed change to articles; a version records the generation it was built from."""
        row = self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row["value"]) if row else 0

    def get_article(self, article_id: str) -> Article | None:
        row = self._conn.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id=?", (article_id,)).fetchone()
        return _row_to_article(row) if row else None

    def iter_articles(self) -> Iterator[Article]:
        for row in self._conn.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY id"):
            yield _row_to_article(row)

    def count_articles(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def count_chunks(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """All chunks ordered by article id then ordinal: the order a version lays its vectors out in."""
        for row in self._conn.execute("SELECT article_id, ordinal, text, hash FROM chunks ORDER BY article_id, ordinal"):
            yield StoredChunk(row["article_id"], row["ordinal"], row["text"], row["hash"])

    # -- embedding cache ------------------------------------------------------------------------------------
    def chunks_missing_embeddings(self, model_id: str) -> list[tuple[str, str]]:
        """(hash, embed_text) of every distinct chunk with no cached vector for `model_id` (or nothing cached under
        that key: a passage-token key of indexer.passage_tokens)."""
        rows = self._conn.execute(
            f"SELECT c.hash, MIN({EMBED_TEXT_SQL}) AS embed_text FROM chunks c JOIN articles a ON a.id = c.article_id "
            "LEFT JOIN embeddings e ON e.hash = c.hash AND e.model_id = ? "
            "WHERE e.hash IS NULL GROUP BY c.hash ORDER BY c.hash",
            (model_id,),
        ).fetchall()
        return [(r["hash"], r["embed_text"]) for r in rows]

    def chunk_texts(self) -> list[tuple[str, str]]:
        """(hash, embed_text) of every distinct chunk."""
        rows = self._conn.execute(
            f"SELECT c.hash, MIN({EMBED_TEXT_SQL}) AS embed_text FROM chunks c JOIN articles a ON a.id = c.article_id "
            "GROUP BY c.hash ORDER BY c.hash"
        )
        return [(r["hash"], r["embed_text"]) for r in rows]

    def _put_blobs(self, key: str, rows: Iterable[tuple[str, bytes]]) -> None:
        with self._transaction() as cur:
            cur.executemany(
                "INSERT OR REPLACE INTO embeddings (hash, model_id, vector) VALUES (?,?,?)",
                [(h, key, blob) for h, blob in rows],
            )

    def _blobs(self, key: str, hashes: Iterable[str], column: str = "vector") -> Iterator[tuple[str, bytes]]:
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
            part = wanted[start : start + 900]
            marks = ",".join("?" * len(part))
            for row in self._conn.execute(
                f"SELECT hash, {column} AS value FROM embeddings WHERE model_id=? AND hash IN ({marks})", (key, *part)
            ):
                yield row["hash"], row["value"]

    def drop_cached(self, *keys: str, prefix: str | None = None) -> int:
        """Delete every cached row under `keys`, and under any key starting with `prefix`; returns how many. The
        file shrinks at the next `compact`."""
        clauses = ["model_id IN (%s)" % ",".join("?" * len(keys))] if keys else []
        params: list[str | int] = list(keys)
        if prefix is not None:
            clauses.append("substr(model_id, 1, ?) = ?")
            params += [len(prefix), prefix]
        if not clauses:
            return 0
        with self._transaction() as cur:
            return cur.execute(f"DELETE FROM embeddings WHERE {' OR '.join(clauses)}", params).rowcount

    def keep_cached(self, key: str, hashes: Iterable[str]) -> int:
        """Delete the rows cached under `key` except those of `hashes`; returns how many went."""
        keep = set(hashes)
        gone = [r["hash"] for r in self._conn.execute("SELECT hash FROM embeddings WHERE model_id=?", (key,))
                if r["hash"] not in keep]
        if gone:
            with self._transaction() as cur:
                cur.executemany("DELETE FROM embeddings WHERE hash=? AND model_id=?", [(h, key) for h in gone])
        return len(gone)

    def compact(self, *, free_share: float = 0.25) -> bool:
        """Give the disk back: the write-ahead log folded into the file and truncated, and the file rebuilt (VACUUM)
        when over `free_share` of its pages are free (after a large deletion). True when it was rebuilt. Takes the
        write lock for as long as the rebuild (seconds for a large store): `sift index`, not a server's publishes."""
        with store_errors(self.path, self.busy_timeout):
            free = int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])
            pages = int(self._conn.execute("PRAGMA page_count").fetchone()[0])
            rebuilt = pages > 0 and free / pages > free_share
            if rebuilt:
                self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return rebuilt

    # -- log ------------------------------------------------------------------------------------------------
    def log_ingest(self, summary: dict[str, object]) -> None:
        self._conn.execute(
            "INSERT INTO ingest_log (finished_at, summary) VALUES (?, ?)", (_now(), json.dumps(summary))
        )

    def last_ingest(self) -> dict[str, object] | None:
        row = self._conn.execute("SELECT finished_at, summary FROM ingest_log ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return {"finished_at": row["finished_at"], **json.loads(row["summary"])}
