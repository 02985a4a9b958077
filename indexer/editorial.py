"""Editorial state kept beside the articles (in store.sqlite here; indexer.pg_editorial keeps it in PostgreSQL): pins,
excludes, the widget's click counters and the search box's query counts (search insights).

None of it is derived from the sources, so re-indexing never touches it; it is read when related lists are served.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol, Self

from indexer.errors import StoreBusy, StoreUnreachable, StoreUnwritable
from indexer.store import DEFAULT_BUSY_TIMEOUT, store_errors, write_transaction

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS related_pins (
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (source, target)
);
CREATE TABLE IF NOT EXISTS related_excludes (
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (source, target)
);
CREATE TABLE IF NOT EXISTS related_clicks (
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    impressions INTEGER NOT NULL DEFAULT 0,
    clicks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, target)
);
CREATE TABLE IF NOT EXISTS related_views (source TEXT PRIMARY KEY, views INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS search_log (
    day TEXT NOT NULL,
    query TEXT NOT NULL,
    searches INTEGER NOT NULL DEFAULT 0,
    unanswered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, query)
);
CREATE TABLE IF NOT EXISTS editorial_generation (id INTEGER PRIMARY KEY CHECK (id = 0), value INTEGER NOT NULL);
INSERT OR IGNORE INTO editorial_generation VALUES (0, 0);
"""

# How stale a serving process may be about pins written by another process (`sift pin` while `sift serve` runs, or
# another API server on the same PostgreSQL database): the generation row is read at most this often (one primary-key
# read), and everything reloaded only when it moved. Writes through the same store are seen at once.
REFRESH_SECONDS = 1.0
# after a failed refresh (the database unreachable), the next try waits this much longer
UNREACHABLE_PAUSE_SECONDS = 10.0
# Search counts are kept in memory and written together, every FLUSH_SECONDS or FLUSH_QUERIES distinct queries
# (one SQLite write per search would queue every reader behind the store's write lock). At most BUFFER_QUERIES
# distinct queries wait while the store is locked or unreachable; beyond that new ones are dropped and logged.
FLUSH_SECONDS = 10.0
FLUSH_QUERIES = 200
BUFFER_QUERIES = 20_000
QUERY_CHARS = 200  # a logged query is cut to this many characters


@dataclass(frozen=True)
class Curation:
    """What editors decided for one article's related list: pinned ids with their 1-based positions, and excludes."""

    pins: tuple[tuple[str, int], ...] = ()
    excludes: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        return not self.pins and not self.excludes


@dataclass(frozen=True)
class TargetClicks:
    target: str
    impressions: int
    clicks: int


@dataclass(frozen=True)
class SourceClicks:
    """Click-through of one article's related box: box views, clicks on any item, and the per-item counters."""

    source: str
    views: int
    clicks: int
    items: tuple[TargetClicks, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class QueryCount:
    query: str
    searches: int
    unanswered: int


@dataclass(frozen=True)
class SearchInsights:
    """What readers searched for over the last `days` days: totals, the most searched queries, and the most searched
    of those that found nothing (or nothing that matched well): the site's content gaps."""

    days: int
    searches: int
    unanswered: int
    top: tuple[QueryCount, ...]
    unanswered_top: tuple[QueryCount, ...]


def log_key(query: str) -> str:
    """How a query is counted: casefolded, one space between words, at most QUERY_CHARS characters."""
    return " ".join(query.casefold().split())[:QUERY_CHARS]


class NotCurated(LookupError):
    """Unpinning or un-excluding an article that was not pinned or excluded."""


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class Writer(Protocol):
    """What a backend's write transaction hands over: SQL with `?` parameters, as sqlite3 takes it."""

    def execute(self, sql: str, args: Sequence[object] = ..., /) -> Any: ...  # a cursor: rowcount, fetchone()

    def executemany(self, sql: str, rows: Iterable[Sequence[object]], /) -> Any: ...


class BaseEditorialStore(ABC):
    """Pins, excludes, click counters and search counts, over the tables a backend opens: EditorialStore (the SQLite
    file) or indexer.pg_editorial's PostgresEditorialStore. The SQL here is what both read. Thread-safe: one lock
    guards the connection, the curation cache and the unwritten search counts."""

    # what a failed flush of the search counts may raise besides StoreBusy, StoreUnwritable and StoreUnreachable
    _FLUSH_ERRORS: tuple[type[Exception], ...] = ()

    def __init__(self, busy_timeout: float) -> None:
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._cache: dict[str, Curation] = {}
        self._generation = -1
        self._checked = -float("inf")
        self._searches: dict[tuple[str, str], list[int]] = {}  # (day, query) -> [searches, unanswered], unwritten
        self._flushed = time.monotonic()
        self._dropped = 0

    # -- what a backend provides, each called with self._lock held ------------------------------------------
    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Writer]:
        """A write transaction: committed when the block ends, rolled back if it raises; StoreBusy when another
        writer's lock stays held over busy_timeout, StoreUnwritable when the database refuses the write."""

    @abstractmethod
    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        """The rows of one read, on its own."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the connection (a later call opens another)."""

    def close(self) -> None:
        self._try_flush("not written on close")
        with self._lock:
            self._disconnect()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pins and excludes ----------------------------------------------------------------------------------
    def curation(self, source: str) -> Curation:
        """The pins and excludes of `source`'s list, from a cache refreshed at most every REFRESH_SECONDS."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= REFRESH_SECONDS:
                try:
                    generation = self._rows("SELECT value FROM editorial_generation")[0][0]
                    if generation != self._generation:
                        self._reload(generation)
                    self._checked = now
                except (StoreBusy, StoreUnreachable) as exc:
                    if self._generation < 0:  # nothing read yet: no curation to answer with
                        raise
                    # the pins and excludes last read go on serving; asked again after a pause, not by every request
                    self._checked = now + UNREACHABLE_PAUSE_SECONDS
                    log.warning("pins and excludes as last read, the store cannot be read: %s", exc)
            return self._cache.get(source, Curation())

    def _reload(self, generation: int) -> None:
        """Read every pin and exclude. `generation` was read before them: a write landing meanwhile moves the stored
        one past it, so the next check reloads."""
        pins: dict[str, list[tuple[str, int]]] = {}
        for source, target, position in self._rows(
            "SELECT source, target, position FROM related_pins ORDER BY source, position, created_at, target"
        ):
            pins.setdefault(source, []).append((target, position))
        excludes: dict[str, set[str]] = {}
        for source, target in self._rows("SELECT source, target FROM related_excludes"):
            excludes.setdefault(source, set()).add(target)
        self._cache = {
            s: Curation(tuple(pins.get(s, ())), frozenset(excludes.get(s, ()))) for s in pins.keys() | excludes.keys()
        }
        self._generation = generation

    def _write(self, statements: Iterable[tuple[str, tuple]]) -> int:
        """Run `statements` in one transaction, bump the generation, reload the cache; rows changed by the first."""
        with self._lock:
            with self._transaction() as db:
                # The bump comes first: on PostgreSQL its row lock makes curation writes take turns, as SQLite's write
                # lock does (a pin and an exclude of one pair at once must leave one of them, not both).
                db.execute("UPDATE editorial_generation SET value = value + 1")
                changed = [db.execute(sql, args).rowcount for sql, args in statements]
                generation = db.execute("SELECT value FROM editorial_generation").fetchone()[0]
            self._reload(generation)
            self._checked = time.monotonic()
            return changed[0]

    def pin(self, source: str, target: str, position: int = 1) -> Curation:
        """Always show `target` at `position` (1-based) in `source`'s list; clears an exclude of the same pair."""
        self._write(
            [
                (
                    ("INSERT INTO related_pins VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(source, target) DO UPDATE SET position = excluded.position"),
                    (source, target, position, _now()),
                ),
                ("DELETE FROM related_excludes WHERE source = ? AND target = ?", (source, target)),
            ]
        )
        return self.curation(source)

    def exclude(self, source: str, target: str) -> Curation:
        """Never show `target` (nor its near-duplicates) in `source`'s list; clears a pin of the same pair."""
        self._write(
            [
                ("INSERT INTO related_excludes VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (source, target, _now())),
                ("DELETE FROM related_pins WHERE source = ? AND target = ?", (source, target)),
            ]
        )
        return self.curation(source)

    def unpin(self, source: str, target: str) -> Curation:
        if not self._write([("DELETE FROM related_pins WHERE source = ? AND target = ?", (source, target))]):
            raise NotCurated(f"{target!r} is not pinned to {source!r}'s related posts")
        return self.curation(source)

    def unexclude(self, source: str, target: str) -> Curation:
        if not self._write([("DELETE FROM related_excludes WHERE source = ? AND target = ?", (source, target))]):
            raise NotCurated(f"{target!r} is not excluded from {source!r}'s related posts")
        return self.curation(source)

    # -- feedback -------------------------------------------------------------------------------------------
    def record_event(self, source: str, shown: Iterable[str], clicked: str | None) -> None:
        """Count one view of `source`'s box with an impression of each shown item (if any), and a click (if any)."""
        shown = list(dict.fromkeys(shown))
        with self._lock, self._transaction() as db:
            if shown:
                db.execute(
                    "INSERT INTO related_views VALUES (?, 1) "
                    "ON CONFLICT(source) DO UPDATE SET views = related_views.views + 1",
                    (source,),
                )
                db.executemany(
                    "INSERT INTO related_clicks (source, target, impressions) VALUES (?, ?, 1) "
                    "ON CONFLICT(source, target) DO UPDATE SET impressions = related_clicks.impressions + 1",
                    [(source, target) for target in shown],
                )
            if clicked is not None:
                db.execute(
                    "INSERT INTO related_clicks (source, target, clicks) VALUES (?, ?, 1) "
                    "ON CONFLICT(source, target) DO UPDATE SET clicks = related_clicks.clicks + 1",
                    (source, clicked),
                )

    def click_totals(self) -> tuple[int, int]:
        """(box views, clicks) over all articles."""
        with self._lock:
            views = self._rows("SELECT COALESCE(SUM(views), 0) FROM related_views")[0][0]
            clicks = self._rows("SELECT COALESCE(SUM(clicks), 0) FROM related_clicks")[0][0]
            return int(views), int(clicks)

    def click_through(self, limit: int = 50, source: str | None = None) -> list[SourceClicks]:
        """The `limit` most viewed related boxes (or just `source`'s), each with its items by clicks."""
        with self._lock:
            where, args = ("WHERE v.source = ?", (source,)) if source is not None else ("", ())
            boxes = self._rows(
                "SELECT v.source, v.views, COALESCE((SELECT SUM(clicks) FROM related_clicks c "
                f"WHERE c.source = v.source), 0) FROM related_views v {where} "
                "ORDER BY v.views DESC, v.source LIMIT ?",
                (*args, limit),
            )
            out = []
            for name, views, clicks in boxes:
                items = self._rows(
                    "SELECT target, impressions, clicks FROM related_clicks WHERE source = ? "
                    "ORDER BY clicks DESC, impressions DESC, target",
                    (name,),
                )
                out.append(SourceClicks(name, views, int(clicks), tuple(TargetClicks(*row) for row in items)))
            return out

    # -- search insights -----------------------------------------------------------------------------------
    def record_search(self, query: str, *, answered: bool, keep_days: int) -> None:
        """Count one search for `query` (log_key) today, and whether it listed anything; written in batches. Nothing
        about the reader is kept. `keep_days` is the retention: older days are deleted when counts are written."""
        key = (datetime.now(timezone.utc).date().isoformat(), log_key(query))
        with self._lock:
            counts = self._searches.get(key)
            if counts is None:
                if len(self._searches) >= BUFFER_QUERIES:
                    self._dropped += 1
                    return
                counts = self._searches[key] = [0, 0]
            counts[0] += 1
            counts[1] += 0 if answered else 1
            due = len(self._searches) >= FLUSH_QUERIES or time.monotonic() - self._flushed >= FLUSH_SECONDS
        if due:
            self._try_flush("kept in memory for the next batch", keep_days)

    def _try_flush(self, what: str, keep_days: int | None = None) -> None:
        """Write the counts; a store that cannot be written (locked, read-only, disk full, unreachable) must not fail
        the search or the request that triggered the write: the counts stay buffered (up to BUFFER_QUERIES) and it
        is logged."""
        try:
            self.flush_searches(keep_days)
        except (StoreBusy, StoreUnwritable, StoreUnreachable, *self._FLUSH_ERRORS) as exc:
            log.warning("search counts %s: %s", what, exc)

    def flush_searches(self, keep_days: int | None = None) -> None:
        """Write the buffered search counts (and delete days older than `keep_days`, when given) in one transaction.
        If it fails the counts stay buffered for the next: a PostgreSQL connection lost during the commit may have
        written them already, so that batch may be counted twice rather than lost."""
        with self._lock:
            self._flushed = time.monotonic()
            if self._dropped:
                log.warning("%d searches not counted: %d distinct queries were already waiting to be written",
                            self._dropped, BUFFER_QUERIES)
                self._dropped = 0
            if not self._searches and keep_days is None:
                return
            # sorted: concurrent flushes (other API servers) lock the rows they share in one order, so never deadlock
            rows = sorted((day, query, n, u) for (day, query), (n, u) in self._searches.items())
            with self._transaction() as db:
                db.executemany(
                    "INSERT INTO search_log VALUES (?, ?, ?, ?) ON CONFLICT(day, query) DO UPDATE SET "
                    "searches = search_log.searches + excluded.searches, "
                    "unanswered = search_log.unanswered + excluded.unanswered",
                    rows,
                )
                if keep_days is not None:
                    cutoff = (datetime.now(timezone.utc).date() - timedelta(days=keep_days - 1)).isoformat()
                    db.execute("DELETE FROM search_log WHERE day < ?", (cutoff,))
            self._searches.clear()

    def search_insights(self, days: int = 30, limit: int = 20) -> SearchInsights:
        """Search counts of the last `days` days (today included), with this process's unwritten ones when the store
        can take them."""
        self._try_flush("not written before reading them")
        since = (datetime.now(timezone.utc).date() - timedelta(days=days - 1)).isoformat()
        with self._lock:
            searches, unanswered = self._rows(
                "SELECT COALESCE(SUM(searches), 0), COALESCE(SUM(unanswered), 0) FROM search_log WHERE day >= ?",
                (since,),
            )[0]

            def top(having: str) -> tuple[QueryCount, ...]:
                rows = self._rows(
                    "SELECT query, SUM(searches) AS n, SUM(unanswered) AS u FROM search_log WHERE day >= ? "
                    f"GROUP BY query {having} ORDER BY n DESC, u DESC, query LIMIT ?",
                    (since, limit),
                )
                return tuple(QueryCount(query, int(n), int(u)) for query, n, u in rows)

            return SearchInsights(days, int(searches), int(unanswered), top(""), top("HAVING SUM(unanswered) > 0"))


class EditorialStore(BaseEditorialStore):
    """Pins, excludes, click counters and search counts in one SQLite file. Connects on first use. A write blocked by
    another process's lock retries for `busy_timeout` seconds, then raises StoreBusy."""

    _FLUSH_ERRORS = (sqlite3.Error, OSError)

    def __init__(self, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        super().__init__(busy_timeout)
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            with store_errors(self.path, self.busy_timeout):
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                       check_same_thread=False)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    # counters may lose the last few events on power loss, never the file; pins commit like the store
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(_SCHEMA)  # its INSERT OR IGNORE needs the write lock, like any write
                except BaseException:
                    conn.close()
                    raise
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        with write_transaction(db, self.path, self.busy_timeout):
            yield db

    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        return self._db().execute(sql, args).fetchall()
