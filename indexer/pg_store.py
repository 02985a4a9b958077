"""The PostgreSQL store: what the SQLite store (indexer.store) keeps, in a database any number of machines share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import errors as pg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from indexer.article import Article
from indexer.chunking import Chunk
from indexer.errors import IndexMismatch, StoreBusy, StoreUnreachable, StoreUnwritable
from indexer.store import (
    ARTICLE_COLUMNS,
    DEFAULT_BUSY_TIMEOUT,
    EMBED_TEXT_SQL,
    Change,
    EmbeddingCache,
    StoredChunk,
    content_digest,
    stored_embed_text,
)

SCHEMA_VERSION = 1
CONNECT_TIMEOUT = 10  # seconds; a connect_timeout in the URL wins
# Rows per page of iter_articles / iter_chunks, and hashes per query of the cache's reads
ARTICLE_PAGE = 1000
CHUNK_PAGE = 5000
HASH_PAGE = 10_000

# Ids, hashes and keys compare and sort bytewise (COLLATE "C"), as in SQLite: a version lays its passages out in
# article-id order, which must not depend on the database's locale.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT COLLATE "C" PRIMARY KEY,
    url TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at TIMESTAMPTZ,
    categories TEXT[] NOT NULL DEFAULT '{}',
    tags TEXT[] NOT NULL DEFAULT '{}',
    countries TEXT[] NOT NULL DEFAULT '{}',
    author TEXT,
    language TEXT,
    image_url TEXT,
    deadline DATE,
    content_hash TEXT NOT NULL,
    source TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS chunks (
    article_id TEXT COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    hash TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (article_id, ordinal)
);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT COLLATE "C" NOT NULL,
    hash TEXT COLLATE "C" NOT NULL,
    vector BYTEA NOT NULL,
    PRIMARY KEY (model_id, hash)
);
CREATE TABLE IF NOT EXISTS ingest_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finished_at TIMESTAMPTZ NOT NULL,
    summary JSONB NOT NULL
);
"""
_TABLES = ("articles", "chunks", "embeddings", "meta", "ingest_log")
_SCHEMA_LOCK = 0x5EF7_0001  # pg_advisory_xact_lock: two processes opening a new database create it once

# Every write to articles first locks the generation row: writers take turns, as SQLite's one write lock makes them,
# so the generation counts whole batches and two batches over the same ids cannot deadlock.
_LOCK_WRITERS = "SELECT value FROM meta WHERE key = 'generation' FOR UPDATE"
_BUMP_GENERATION = (
    "INSERT INTO meta VALUES ('generation', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text"
)
_ARTICLE_VALUES = ARTICLE_COLUMNS.split(", ") + ["content_hash", "source"]
_UPSERT_ARTICLE = (
    f"INSERT INTO articles ({', '.join(_ARTICLE_VALUES)}) VALUES ({', '.join(['%s'] * len(_ARTICLE_VALUES))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in _ARTICLE_VALUES[1:])}, "
    "updated_at = now()"
)

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


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection to `url` (a connect_timeout or application_name in the URL wins over Sift's);
    StoreUnreachable, with the URL redacted, when there is none to be had."""
    given = conninfo_to_dict(url)
    defaults = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "sift"}
    try:
        return psycopg.connect(url, autocommit=True, **{k: v for k, v in defaults.items() if k not in given})
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise StoreUnreachable(
            f"cannot connect to the database at {redacted(url)} ({reason}); is PostgreSQL running there, and is "
            "the URL right?"
        ) from None


def connection_lost(exc: psycopg.OperationalError, conn: psycopg.Connection) -> bool:
    """Whether `exc` means the server went away under `conn` (a restart, a terminated backend, a broken socket),
    rather than a failure of the statement itself."""
    return isinstance(exc, _GONE) or conn.closed or exc.sqlstate is None or exc.sqlstate.startswith("08")


def _row_to_article(row: tuple) -> Article:
    ident, url, title, body, published_at, categories, tags, countries, author, language, image_url, deadline = row
    return Article(
        id=ident, url=url, title=title, body=body, published_at=published_at, categories=tuple(categories),
        tags=tuple(tags), countries=tuple(countries), author=author, language=language, image_url=image_url,
        deadline=deadline,
    )


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class PostgresStore(EmbeddingCache):
    """One PostgreSQL database, over one connection: the interface and behaviour of indexer.store.Store. The tables
    are created on first open, in the connection's schema (the URL's `options=-csearch_path=…` may pick one).

    Each write is one transaction; reads run on their own (autocommit), as the SQLite store's do, so a connection
    never sits idle in a transaction between calls. A write that waits over `busy_timeout` seconds for another
    writer's lock raises StoreBusy."""

    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.url = url
        self.where = redacted(url)
        self.busy_timeout = busy_timeout
        self._conn = connect(url)
        try:
            with self._errors():
                version = self._stored_version()
                if version is None:
                    self._create_schema()
                    version = self._stored_version()
        except BaseException:
            self._conn.close()
            raise
        if version != SCHEMA_VERSION:
            self._conn.close()
            raise IndexMismatch(
                f"the database at {self.where} has store schema {version}, this Sift reads {SCHEMA_VERSION}; "
                "index into a new database"
            )

    def _stored_version(self) -> int | None:
        if self._conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
            return None
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else int(row[0])

    def _create_schema(self) -> None:
        """Only where there is none: a database that has it is not written to on open, so a read-only replica
        opens too."""
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            self._conn.execute(_SCHEMA)
            self._conn.execute(
                "INSERT INTO meta VALUES ('schema_version', %s), ('generation', '0') ON CONFLICT DO NOTHING",
                (str(SCHEMA_VERSION),),
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """PostgreSQL's failures said plainly, as the SQLite store says its own: a lock held too long raises
        StoreBusy, a refused write StoreUnwritable, a lost server StoreUnreachable; anything else goes on as it was."""
        try:
            yield
        except pg.LockNotAvailable:
            raise StoreBusy(
                f"the database at {self.where} is locked by another writer (a `sift index` or `sift sync` run?) and "
                f"stayed locked for {self.busy_timeout:g} s; nothing was written, retry in a few seconds"
            ) from None
        except UNWRITABLE as exc:
            reason = " ".join(str(exc).split())
            raise StoreUnwritable(
                f"the database at {self.where} cannot be written ({reason}: a read-only database or replica, a full "
                "disk, or a role without the right?); this write was rolled back"
            ) from exc
        except psycopg.OperationalError as exc:
            if not connection_lost(exc, self._conn):
                raise
            reason = " ".join(str(exc).split())
            raise StoreUnreachable(
                f"lost the connection to the database at {self.where} ({reason}); retry once it is back (a write "
                "cut off before its commit was rolled back)"
            ) from exc

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._errors(), self._conn.transaction(), self._conn.cursor() as cur:
            timeout = max(1, round(self.busy_timeout * 1000))  # in ms; 0 would wait for ever
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{timeout}ms",))
            yield cur

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._errors():
            return self._conn.execute(sql, params).fetchall()

    def _value(self, sql: str, params: Sequence[object] = ()) -> object:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    # -- articles -------------------------------------------------------------------------------------------
    def upsert_many(self, items: Sequence[tuple[Article, list[Chunk], str]], *, salt: str = "") -> list[Change]:
        """Insert or replace (article, chunks, source) triples in one transaction; say what happened to each.

        `salt` (the chunking parameters) joins the content hash, so new chunking re-chunks unchanged articles."""
        changes: list[Change] = []
        with self._transaction() as cur:
            cur.execute(_LOCK_WRITERS)
            cur.execute("SELECT id, content_hash FROM articles WHERE id = ANY(%s)",
                        (list({a.id for a, _, _ in items}),))
            stored = dict(cur.fetchall())
            written: dict[str, tuple[Article, list[Chunk], str, str]] = {}  # the last of an id given twice wins
            for article, chunks, source in items:
                digest = content_digest(article, salt)
                if stored.get(article.id) == digest:
                    changes.append("unchanged")
                    continue
                changes.append("updated" if article.id in stored else "added")
                stored[article.id] = digest
                written[article.id] = (article, chunks, source, digest)
            if written:
                cur.executemany(_UPSERT_ARTICLE, [
                    (a.id, a.url, a.title, a.body, a.published_at, list(a.categories), list(a.tags),
                     list(a.countries), a.author, a.language, a.image_url, a.deadline, digest, source)
                    for a, _, source, digest in written.values()
                ])
                cur.execute("DELETE FROM chunks WHERE article_id = ANY(%s)", (list(written),))
                with cur.copy("COPY chunks (article_id, ordinal, text, embed_text, hash) FROM STDIN") as copy:
                    for article, chunks, _, _ in written.values():
                        for c in chunks:
                            copy.write_row((article.id, c.ordinal, c.text, stored_embed_text(article, c), c.hash))
                cur.execute(_BUMP_GENERATION)
        return changes

    def delete_many(self, article_ids: Sequence[str]) -> int:
        """Delete articles (and their passages); returns how many existed. Cached vectors stay for a re-add."""
        if not article_ids:
            return 0
        with self._transaction() as cur:
            cur.execute(_LOCK_WRITERS)
            cur.execute("DELETE FROM articles WHERE id = ANY(%s)", (list(article_ids),))
            deleted = cur.rowcount
            if deleted:
                cur.execute(_BUMP_GENERATION)
        return deleted

    def ids_from_source(self, source: str) -> list[str]:
        return [r[0] for r in self._rows("SELECT id FROM articles WHERE source = %s", (source,))]

    def get_meta(self, key: str) -> str | None:
        return self._value("SELECT value FROM meta WHERE key = %s", (key,))

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        (key, value))

    def generation(self) -> int:
        """Grows with every committed change to articles; a version records the generation it was built from."""
        return int(self._value("SELECT value FROM meta WHERE key = 'generation'") or 0)

    def get_article(self, article_id: str) -> Article | None:
        rows = self._rows(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = %s", (article_id,))
        return _row_to_article(rows[0]) if rows else None

    def iter_articles(self) -> Iterator[Article]:
        """Every article in id order, read a page at a time (each page its own statement: a write that lands
        meanwhile shows or not by page, and the caller may write between pages)."""
        after = ""
        while True:
            rows = self._rows(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id > %s ORDER BY id LIMIT %s",
                              (after, ARTICLE_PAGE))
            yield from map(_row_to_article, rows)
            if len(rows) < ARTICLE_PAGE:
                return
            after = rows[-1][0]

    def count_articles(self) -> int:
        return int(self._value("SELECT COUNT(*) FROM articles"))

    def count_chunks(self) -> int:
        return int(self._value("SELECT COUNT(*) FROM chunks"))

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """All chunks ordered by article id then ordinal: the order a version lays its vectors out in (a page at a
        time, as iter_articles)."""
        after: tuple[str, int] = ("", -1)
        while True:
            rows = self._rows(
                "SELECT article_id, ordinal, text, hash FROM chunks WHERE (article_id, ordinal) > (%s, %s) "
                "ORDER BY article_id, ordinal LIMIT %s", (*after, CHUNK_PAGE),
            )
            yield from (StoredChunk(*row) for row in rows)
            if len(rows) < CHUNK_PAGE:
                return
            after = rows[-1][0], rows[-1][1]

    # -- embedding cache ------------------------------------------------------------------------------------
    def chunks_missing_embeddings(self, model_id: str) -> list[tuple[str, str]]:
        """(hash, embed_text) of every distinct chunk with no cached vector for `model_id` (or nothing cached under
        that key: a passage-token key of indexer.passage_tokens)."""
        return self._rows(
            f"SELECT c.hash, MIN({EMBED_TEXT_SQL}) FROM chunks c JOIN articles a ON a.id = c.article_id "
            "WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = %s AND e.hash = c.hash) "
            "GROUP BY c.hash ORDER BY c.hash",
            (model_id,),
        )

    def chunk_texts(self) -> list[tuple[str, str]]:
        """(hash, embed_text) of every distinct chunk."""
        return self._rows(
            f"SELECT c.hash, MIN({EMBED_TEXT_SQL}) FROM chunks c JOIN articles a ON a.id = c.article_id "
            "GROUP BY c.hash ORDER BY c.hash"
        )

    def _put_blobs(self, key: str, rows: Iterable[tuple[str, bytes]]) -> None:
        with self._transaction() as cur:
            cur.executemany(
                "INSERT INTO embeddings (model_id, hash, vector) VALUES (%s, %s, %s) "
                "ON CONFLICT (model_id, hash) DO UPDATE SET vector = EXCLUDED.vector",
                [(key, h, blob) for h, blob in rows],
            )

    def _blobs(self, key: str, hashes: Iterable[str], column: str = "vector") -> Iterator[tuple[str, bytes]]:
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), HASH_PAGE):
            yield from self._rows(
                f"SELECT hash, {column} FROM embeddings WHERE model_id = %s AND hash = ANY(%s)",
                (key, wanted[start : start + HASH_PAGE]),
            )

    def drop_cached(self, *keys: str, prefix: str | None = None) -> int:
        """Delete every cached row under `keys`, and under any key starting with `prefix`; returns how many.
        PostgreSQL reuses the space (autovacuum)."""
        clauses = ["model_id = ANY(%s)"] if keys else []
        params: list[object] = [list(keys)] if keys else []
        if prefix is not None:
            clauses.append("starts_with(model_id, %s)")
            params.append(prefix)
        if not clauses:
            return 0
        with self._transaction() as cur:
            cur.execute(f"DELETE FROM embeddings WHERE {' OR '.join(clauses)}", params)
            return cur.rowcount

    def keep_cached(self, key: str, hashes: Iterable[str]) -> int:
        """Delete the rows cached under `key` except those of `hashes`; returns how many went."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM embeddings WHERE model_id = %s AND hash <> ALL(%s)", (key, list(set(hashes))))
            return cur.rowcount

    def compact(self, *, free_share: float = 0.25) -> bool:
        """Give the disk what can be given without blocking anyone: a plain VACUUM of the store's tables makes
        deleted rows' room reusable and cuts the empty pages off their ends (where most of a dropped cache's go);
        a table another session holds locked is skipped. True when the tables shrank. `free_share` is the SQLite
        store's: VACUUM FULL, which would rebuild the tables, locks every reader (every API server) out for as
        long as it takes, so that is an operator's decision."""
        size = "SELECT SUM(pg_total_relation_size(t::regclass)) FROM unnest(%s::text[]) AS t"
        before = int(self._value(size, (list(_TABLES),)))
        with self._errors():
            self._conn.execute(f"VACUUM (SKIP_LOCKED) {', '.join(_TABLES)}")
        return int(self._value(size, (list(_TABLES),))) < before

    # -- log ------------------------------------------------------------------------------------------------
    def log_ingest(self, summary: dict[str, object]) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT INTO ingest_log (finished_at, summary) VALUES (%s, %s)", (_now(), Jsonb(summary)))

    def last_ingest(self) -> dict[str, object] | None:
        rows = self._rows("SELECT finished_at, summary FROM ingest_log ORDER BY id DESC LIMIT 1")
        if not rows:
            return None
        finished_at, summary = rows[0]
        return {"finished_at": finished_at.astimezone(timezone.utc).isoformat(), **summary}
