"""The pgvector store: a version's passage vectors in a PostgreSQL table of their own, so any number of API servers
search one copy (SIFT_VECTOR_STORE=pgvector, SIFT_DATABASE_URL).

`build` creates the table (TABLE_PREFIX and a random suffix, named by `describe()` in the manifest), fills it with a
binary COPY and, from `flat_below` vectors on, builds an HNSW index (inner product) whose `hnsw.ef_search` is
calibrated as FAISS's is (faiss_store): recall@10 against exact search on vectors the index has not seen; all in one
transaction. Filtered searches are exact whatever the planner would like: the distances are computed in a
materialized CTE, whose order no index can serve. `drop` drops the table when the version is pruned.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import errors as pg
from psycopg import sql

from indexer.errors import IndexMismatch, StoreBusy, StoreUnreachable, StoreUnwritable, VectorsUnavailable
from indexer.pg_connection import UNWRITABLE, connect, connection_lost, redacted
from indexer.vectors import VectorConfig
from indexer.vectors.faiss_store import (
    CALIBRATION_MARGIN,
    CALIBRATION_QUERIES,
    MIN_ANN,
    QUERY_FACTOR,
    TARGET_RECALL,
    exact_search,
)

log = logging.getLogger("sift.vectors")

TABLE_PREFIX = "sift_vectors_"
KINDS = ("flat", "hnsw")
# pgvector's defaults. At 100k clustered vectors (bench_scale's generator, 2 busy cores) m=16, ef_construction=64
# built in 105 s and reached recall@10 0.98 at ef_search 64; ef_construction=128 got there at 40 but built 1.5×
# slower, and m=24 with ef_construction=96 (175 s) reached 0.99 at 64 as well. Every publish builds the index anew,
# so the cheap build wins and the calibrated search beam makes up the recall (0.990 at ef_search 96).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
EF_LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 500)
EF_SEARCH_MAX = 1000  # pgvector's limit; past it iterative scans carry on until k rows are found
# The build's graph takes about 4·dim + 32·m + 256 bytes per vector in maintenance_work_mem (2,251 B at 384 dims and
# m=16, 2,767 at m=32, from where pgvector says it stopped fitting); beyond the cap the build spills and slows down
# rather than take that much of the server's memory.
BUILD_MEMORY_CAP = 1 << 30
LOCK_TIMEOUT = "10s"  # a DROP waits this long for searches still reading the table, then the next prune retries

T = TypeVar("T")


def _connect(url: str, *, create: bool) -> psycopg.Connection:
    """A connection with pgvector's types registered; `create`: install the extension where it is missing."""
    conn = connect(url)
    where = redacted(url)
    try:
        if create:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except (pg.FeatureNotSupported, pg.InsufficientPrivilege, pg.UndefinedFile) as exc:
                reason = " ".join(str(exc).split())
                raise VectorsUnavailable(
                    f"the database at {where} has no pgvector extension and it could not be created ({reason}); "
                    "install pgvector on the server and run `CREATE EXTENSION vector` in that database as its owner"
                ) from None
        try:
            register_vector(conn)
        except psycopg.ProgrammingError:  # pgvector-python: no `vector` type in the database
            raise VectorsUnavailable(
                f"the database at {where} has no pgvector extension; run `CREATE EXTENSION vector` there"
            ) from None
        # k past ef_search still gets k rows, in exact distance order
        conn.execute("SET hnsw.iterative_scan = strict_order")
    except BaseException:
        conn.close()
        raise
    return conn


def _url(config: VectorConfig, what: str) -> str:
    if not config.database_url:
        raise VectorsUnavailable(f"{what}: set SIFT_DATABASE_URL (postgresql://…) to the PostgreSQL database")
    return config.database_url


class PgVectors:
    """One version's passage vectors in one table (id = chunk row, embedding vector(dim)), over one connection.
    Threads share it under a lock: a search sets the session's ef_search, then runs; pooling connections would let
    searches of one process overlap, at the cost of another dependency (psycopg_pool)."""

    def __init__(
        self, url: str, table: str, ntotal: int, dim: int, kind: str, params: dict, *,
        bytes_per_vector: float = 0.0, conn: psycopg.Connection | None = None,
    ) -> None:
        self.url = url
        self.where = redacted(url)
        self.table = table
        self._ntotal = ntotal
        self.dim = dim
        self.kind = kind
        self.params = params
        self._bytes_per_vector = bytes_per_vector
        self._conn = conn
        self._ef: int | None = None  # the connection's hnsw.ef_search, once set
        self._lock = threading.Lock()
        self._building = False  # inside build's transaction: a lost connection is not reopened

    # -- building -------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, vectors: np.ndarray, config: VectorConfig) -> PgVectors:
        """A new table over `vectors`: exact below `config.exact_below()` vectors (or with index=flat), else HNSW."""
        full = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = full.shape
        kind = config.index
        if kind == "auto":
            kind = "flat" if n < config.exact_below() else "hnsw"
        if kind not in KINDS:
            raise ValueError(f"pgvector keeps an exact table or an HNSW index, not {kind!r}; use auto, flat or hnsw")
        if kind == "hnsw" and n < MIN_ANN:  # nothing to calibrate with, nothing to gain
            kind = "flat"
        url = _url(config, "SIFT_VECTOR_STORE=pgvector keeps passage vectors in PostgreSQL")
        store = cls(url, f"{TABLE_PREFIX}{uuid.uuid4().hex[:16]}", n, d, kind, {}, conn=_connect(url, create=True))
        store._building = True
        try:
            # One transaction: a build that fails, or whose process is killed, leaves no table behind
            with store._writing(), store._conn.transaction():
                store._fill(full)
        except BaseException:
            store.close()
            raise
        finally:
            store._building = False
        return store

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except UNWRITABLE as exc:
            reason = " ".join(str(exc).split())
            raise StoreUnwritable(
                f"could not write the passage vectors to the database at {self.where} ({reason}: a read-only "
                "database or replica, a full disk, or a role that may not create tables?); nothing was kept"
            ) from None
        except psycopg.OperationalError as exc:
            if self._conn is None or not connection_lost(exc, self._conn):
                raise
            reason = " ".join(str(exc).split())
            raise StoreUnreachable(
                f"lost the connection to the database at {self.where} while writing passage vectors ({reason}); "
                "nothing was published, retry once it is back"
            ) from None

    def _fill(self, full: np.ndarray) -> None:
        n, d = full.shape
        conn = self._conn
        table = sql.Identifier(self.table)
        conn.execute(sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, embedding vector({}) NOT NULL)").format(
            table, sql.Literal(d)))
        if self.kind == "flat":
            self._copy(full, 0)
        else:
            # The last rows stay out of the index build: first they calibrate ef_search as queries the index has
            # never seen (a stored vector finds its own neighbours too easily), as FaissVectors.build does.
            head = n - min(CALIBRATION_QUERIES, n // 4)
            self._copy(full[:head], 0)
            memory = min(BUILD_MEMORY_CAP, max(64 << 20, head * (4 * d + 32 * HNSW_M + 256)))
            conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (f"{memory >> 10}kB",))
            conn.execute(sql.SQL(
                "CREATE INDEX {} ON {} USING hnsw (embedding vector_ip_ops) WITH (m = {}, ef_construction = {})"
            ).format(sql.Identifier(f"{self.table}_hnsw"), table, sql.Literal(HNSW_M),
                     sql.Literal(HNSW_EF_CONSTRUCTION)))
            conn.execute(sql.SQL("ANALYZE {}").format(table))
            self.params.update(m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION)
            self._calibrate(full[head:], full[:head])
            self._copy(full[head:], head)
        conn.execute(sql.SQL("ANALYZE {}").format(table))
        size = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (self.table,)).fetchone()[0]
        self._bytes_per_vector = size / max(1, n)

    def _copy(self, rows: np.ndarray, start: int) -> None:
        # Binary COPY through pgvector's dumper: 2.5 s for 100k × 384 (a stream built with numpy: 1.8 s; text: 100 s)
        statement = sql.SQL("COPY {} (id, embedding) FROM STDIN WITH (FORMAT BINARY)").format(sql.Identifier(self.table))
        with self._conn.cursor() as cur, cur.copy(statement) as copy:
            copy.set_types(["int8", "vector"])
            for i, row in enumerate(rows, start):
                copy.write_row((i, row))

    def _calibrate(self, queries: np.ndarray, indexed: np.ndarray) -> None:
        """The cheapest ef_search whose recall@10 against exact search over the `indexed` vectors (all the table holds
        yet) reaches the target plus a margin, times QUERY_FACTOR: questions are harder than passages (faiss_store)."""
        _, truth = exact_search(indexed, queries, 10)

        def recall() -> float:
            _, found = self._approximate(queries, 10)
            return float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)]))

        for ef in EF_LADDER:
            self.params["ef_search"] = ef
            if recall() >= TARGET_RECALL + CALIBRATION_MARGIN:
                break
        self.params["ef_search"] = min(QUERY_FACTOR * self.params["ef_search"], EF_SEARCH_MAX)
        self.params["calibrated_recall_at_10"] = round(recall(), 4)
        if self.params["calibrated_recall_at_10"] < TARGET_RECALL:
            log.warning(
                "the pgvector HNSW index reaches recall@10 %.3f < %.2f at ef_search %d over %d vectors",
                self.params["calibrated_recall_at_10"], TARGET_RECALL, self.params["ef_search"], len(indexed),
            )

    # -- opening, dropping ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: Path, described: dict, config: VectorConfig) -> PgVectors:
        """Connect to the table `described` names; says now, not at the first search, when it cannot be reached."""
        table = described["table"]
        url = _url(config, f"{directory} keeps its passage vectors in the PostgreSQL table {table}")
        params = {key: value for key, value in described.items()
                  if key not in ("store", "kind", "table", "ntotal", "dim", "bytes_per_vector")}
        store = cls(url, table, described["ntotal"], described["dim"], described["kind"], params,
                    bytes_per_vector=described.get("bytes_per_vector", 0.0))
        if store._run(lambda conn: conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]) is None:
            store.close()
            raise IndexMismatch(
                f"the database at {store.where} has no table {table}, where {directory} keeps its passage vectors "
                "(another database, or a version pruned since?); set SIFT_DATABASE_URL to the database it was "
                "published to, or re-run `sift index`"
            )
        return store

    @classmethod
    def drop(cls, described: dict, config: VectorConfig) -> None:
        """Drop a pruned version's table (waiting at most LOCK_TIMEOUT for searches still reading it)."""
        url = _url(config, f"cannot drop the passage vectors table {described['table']}")
        with connect(url) as conn:
            try:
                conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(described["table"])))
            except pg.LockNotAvailable:
                raise StoreBusy(
                    f"the passage vectors table {described['table']} in the database at {redacted(url)} stayed in "
                    f"use for {LOCK_TIMEOUT}; it is dropped at the next prune"
                ) from None
            except psycopg.OperationalError as exc:
                if not connection_lost(exc, conn):
                    raise
                raise StoreUnreachable(
                    f"lost the connection to the database at {redacted(url)} while dropping the passage vectors table "
                    f"{described['table']}; it is dropped at the next prune"
                ) from None

    def close(self) -> None:
        """Release the connection (a later search opens another)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __del__(self) -> None:  # an engine swapped out for a new version lets go of its store, and the connection
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    # -- the store interface ----------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return self._ntotal

    @property
    def bytes_per_vector(self) -> float:
        """The table and its indexes on disk (pg_total_relation_size) per vector, measured after the build: with
        HNSW each vector is kept twice, in its row and in its index element."""
        return self._bytes_per_vector

    def describe(self) -> dict:
        return {
            "store": "pgvector",
            "kind": self.kind,
            "table": self.table,
            "ntotal": self._ntotal,
            "dim": self.dim,
            **self.params,
            "bytes_per_vector": round(self._bytes_per_vector, 1),
        }

    def save(self, directory: Path) -> None:
        """Nothing to write: the vectors are in the table `build` filled, which `describe()` names for the manifest."""

    def _run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """`work` on the connection, one thread at a time. A connection lost since the last call (a server restart,
        a failover) is reopened and `work` run again, once: everything run here only reads."""
        with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    self._conn, self._ef = _connect(self.url, create=False), None
                try:
                    return work(self._conn)
                except pg.UndefinedTable:
                    raise IndexMismatch(
                        f"the passage vectors table {self.table} is gone from the database at {self.where} (the "
                        "version was pruned, or the database restored without it); re-run `sift index`"
                    ) from None
                except psycopg.OperationalError as exc:
                    if self._building or not connection_lost(exc, self._conn):
                        raise
                    self._conn.close()
                    if attempt == 2:
                        reason = " ".join(str(exc).split())
                        raise StoreUnreachable(
                            f"lost the connection to the database at {self.where} again right after reconnecting "
                            f"({reason}); retry once it is back"
                        ) from None
        raise AssertionError("unreachable")

    def _query(self, statement: sql.Composable, params: tuple, ef: int | None = None) -> list[tuple]:
        def work(conn: psycopg.Connection) -> list[tuple]:
            if ef is not None and ef != self._ef:
                conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(ef),))
                self._ef = ef
            with conn.cursor(binary=True) as cur:
                return cur.execute(statement, params).fetchall()

        return self._run(work)

    def _approximate(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top `k` through the HNSW index, one statement for the whole batch."""
        statement = sql.SQL(
            "SELECT q.n, r.id, r.dist FROM unnest(%b::vector[]) WITH ORDINALITY AS q(v, n) CROSS JOIN LATERAL "
            "(SELECT id, embedding <#> q.v AS dist FROM {} ORDER BY embedding <#> q.v LIMIT %s) r"
        ).format(sql.Identifier(self.table))
        ef = min(EF_SEARCH_MAX, max(self.params["ef_search"], k))
        return _matrix(self._query(statement, (list(q), k), ef), len(q), k)

    def _exact(self, q: np.ndarray, k: int, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top `k` among `ids` (all when None). The materialized CTE is the point: ordering by its output, no
        index can serve the ORDER BY, so no planner setting can turn this into an approximate (or starved) scan."""
        where = sql.SQL("WHERE id = ANY(%s::bigint[])" if ids is not None else "")
        statement = sql.SQL(
            "SELECT q.n, r.id, r.dist FROM unnest(%b::vector[]) WITH ORDINALITY AS q(v, n) CROSS JOIN LATERAL "
            "(WITH s AS MATERIALIZED (SELECT id, embedding <#> q.v AS dist FROM {} {}) "
            "SELECT id, dist FROM s ORDER BY dist, id LIMIT %s) r"
        ).format(sql.Identifier(self.table), where)
        params = (list(q), ids.tolist(), k) if ids is not None else (list(q), k)
        return _matrix(self._query(statement, params), len(q), k)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = _queries(queries)
        k = min(k, self._ntotal)
        if k <= 0:
            return np.zeros((len(q), 0), dtype=np.float32), np.zeros((len(q), 0), dtype=np.int64)
        if self.kind == "flat":
            return self._exact(q, k, None)
        scores, ids = self._approximate(q, k)
        short = ids[:, -1] < 0  # an iterative scan that gave up (hnsw.max_scan_tuples) before k rows: answer exactly
        if short.any():
            scores[short], ids[short] = self._exact(q[short], k, None)
        return scores, ids

    def search_subset(self, queries: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = _queries(queries)
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        k = min(k, len(ids))
        if k <= 0:
            return np.zeros((len(q), 0), dtype=np.float32), np.zeros((len(q), 0), dtype=np.int64)
        return self._exact(q, k, ids)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        wanted = np.unique(ids)
        statement = sql.SQL("SELECT id, embedding FROM {} WHERE id = ANY(%s::bigint[]) ORDER BY id").format(
            sql.Identifier(self.table))
        rows = self._query(statement, (wanted.tolist(),))
        if len(rows) != len(wanted):
            missing = sorted(set(wanted.tolist()) - {row[0] for row in rows})
            raise ValueError(f"no passage vector with id {missing[0]} in {self.table} ({self._ntotal} vectors)")
        vectors = np.stack([row[1].to_numpy() for row in rows]) if rows else np.zeros((0, self.dim), np.float32)
        return vectors[np.searchsorted(wanted, ids)]


def _queries(queries: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)


def _matrix(rows: list[tuple], nq: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(query number from 1, id, negative inner product) rows as (scores, ids), (nq, k) each: best first (ties: lower
    id first), padded with -inf / -1. pgvector's `<#>` is the negative inner product; scores are the inner product."""
    scores = np.full((nq, k), -np.inf, dtype=np.float32)
    found = np.full((nq, k), -1, dtype=np.int64)
    if not rows:
        return scores, found
    data = np.asarray(rows, dtype=np.float64)
    query, ids, score = data[:, 0].astype(np.int64) - 1, data[:, 1].astype(np.int64), (-data[:, 2]).astype(np.float32)
    order = np.lexsort((ids, -score, query))
    query, ids, score = query[order], ids[order], score[order]
    column = np.arange(len(query)) - np.searchsorted(query, query)
    keep = column < k
    scores[query[keep], column[keep]] = score[keep]
    found[query[keep], column[keep]] = ids[keep]
    return scores, found
