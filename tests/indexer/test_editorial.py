"""Pins, excludes, click counters and search counts, one contract for both backends (the SQLite file beside the
articles, a PostgreSQL database): their rules, batching, retention, and a second store seeing the first one's writes."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from indexer import editorial as editorial_module
from indexer.editorial import Curation, EditorialStore, NotCurated
from indexer.pg_editorial import PostgresEditorialStore
from indexer.stores import open_editorial, open_store


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path):
    """Where the editorial state lives: the SQLite store file, or a fresh database on the session's PostgreSQL."""
    return tmp_path / "store.sqlite" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def store(location):
    with open_editorial(location) as s:
        yield s


@contextmanager
def write_lock_held(location):
    """Another process's write in flight: SQLite's write lock on the file, or a PostgreSQL lock on search_log."""
    if isinstance(location, str):
        with psycopg.connect(location) as other:  # not autocommit: the lock lasts until the rollback
            other.execute("LOCK TABLE search_log IN EXCLUSIVE MODE")
            yield
            other.rollback()
    else:
        other = sqlite3.connect(location, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
        other.close()


def test_open_editorial_picks_the_backend_by_location(tmp_path, postgres_url):
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        with open_editorial(url) as s:
            assert isinstance(s, PostgresEditorialStore)
    for path in (tmp_path / "a.sqlite", str(tmp_path / "b.sqlite")):  # a path given as text is still a file
        with open_editorial(path) as s:
            assert isinstance(s, EditorialStore)
            s.pin("a", "b")
    assert (tmp_path / "b.sqlite").is_file()


def test_pins_keep_positions_and_excludes_their_set(store):
    store.pin("a", "b", 2)
    store.pin("a", "c", 1)
    assert store.pin("a", "b", 3) == Curation(pins=(("c", 1), ("b", 3)))  # pinning again moves it
    assert store.exclude("a", "d").excludes == frozenset({"d"})
    assert store.curation("other") == Curation() and store.curation("other").is_empty()


def test_pins_at_one_position_come_in_the_order_they_were_made_then_bytewise(store, monkeypatch):
    monkeypatch.setattr(editorial_module, "REFRESH_SECONDS", 0.0)
    for target in ("b", "B", "a"):
        store.pin("s", target, 1)

    def made_at(**seconds: int) -> None:
        with store._transaction() as db:  # pins' creation times, and the generation moved as a write moves it
            for target, second in seconds.items():
                db.execute("UPDATE related_pins SET created_at = ? WHERE target = ?",
                           (f"2026-01-01T00:00:{second:02d}+00:00", target))
            db.execute("UPDATE editorial_generation SET value = value + 1")

    made_at(b=1, B=2, a=3)
    assert store.curation("s").pins == (("b", 1), ("B", 1), ("a", 1))
    made_at(b=0, B=0, a=0)  # within one second (created_at's resolution)
    assert store.curation("s").pins == (("B", 1), ("a", 1), ("b", 1))


def test_pin_and_exclude_of_one_pair_replace_each_other(store):
    store.pin("a", "b")
    assert store.exclude("a", "b") == Curation(excludes=frozenset({"b"}))
    assert store.pin("a", "b") == Curation(pins=(("b", 1),))


@pytest.mark.parametrize(
    ("undo", "message"),
    [("unpin", "'b' is not pinned to 'a'"), ("unexclude", "'b' is not excluded from 'a'")],
)
def test_undoing_what_was_never_done_says_so(store, undo, message):
    with pytest.raises(NotCurated, match=message):
        getattr(store, undo)("a", "b")


def test_undo(store):
    store.pin("a", "b")
    store.exclude("a", "c")
    assert store.unpin("a", "b") == Curation(excludes=frozenset({"c"}))
    assert store.unexclude("a", "c") == Curation()


def test_another_process_sees_writes_after_the_refresh_interval(location, monkeypatch):
    monkeypatch.setattr(editorial_module, "REFRESH_SECONDS", 3600.0)
    with open_editorial(location) as server, open_editorial(location) as cli:
        assert server.curation("a") == Curation()  # cached now
        cli.pin("a", "b")
        assert server.curation("a") == Curation()  # still within REFRESH_SECONDS
        monkeypatch.setattr(editorial_module, "REFRESH_SECONDS", 0.0)
        assert server.curation("a") == Curation(pins=(("b", 1),))
        cli.exclude("a", "b")
        assert server.curation("a") == Curation(excludes=frozenset({"b"}))


def test_editorial_tables_live_beside_the_articles(location):
    open_store(location).close()
    with open_editorial(location) as first:
        first.pin("a", "b")
    with open_store(location) as articles:  # the store still opens (its schema check ignores our tables)
        assert articles.count_articles() == 0
    with open_editorial(location) as again:
        assert again.curation("a") == Curation(pins=(("b", 1),))


def test_counters_and_click_through(store):
    store.record_event("a", ["b", "c", "b"], None)  # an id shown twice in one box counts once
    store.record_event("a", ["b", "c"], None)
    store.record_event("a", [], "c")
    store.record_event("x", ["a"], "a")
    assert store.click_totals() == (3, 2)
    boxes = {b.source: b for b in store.click_through()}
    assert (boxes["a"].views, boxes["a"].clicks) == (2, 1)
    assert [(i.target, i.impressions, i.clicks) for i in boxes["a"].items] == [("c", 2, 1), ("b", 2, 0)]
    assert [b.source for b in store.click_through(limit=1)] == ["a"]
    assert [b.source for b in store.click_through(source="x")] == ["x"]
    assert store.click_through(source="nothing") == []


def test_search_counts_per_query_and_what_found_nothing(store):
    for query, answered in [("Cholera  Haiti", True), ("cholera haiti", True), ("football", False), ("FOOTBALL", False),
                            ("grants", True), ("x" * 300, True)]:
        store.record_search(query, answered=answered, keep_days=90)
    found = store.search_insights(days=30, limit=2)
    assert (found.searches, found.unanswered) == (6, 2)
    assert [(c.query, c.searches, c.unanswered) for c in found.top] == [("football", 2, 2), ("cholera haiti", 2, 0)]
    assert [c.query for c in found.unanswered_top] == ["football"]
    assert len(store.search_insights(limit=10).top[-1].query) == editorial_module.QUERY_CHARS  # cut, not dropped


def test_search_counts_are_written_in_batches_and_on_close(location, monkeypatch):
    monkeypatch.setattr(editorial_module, "FLUSH_QUERIES", 3)
    first, reader = open_editorial(location), open_editorial(location)
    first.record_search("a", answered=True, keep_days=90)
    first.record_search("b", answered=True, keep_days=90)
    assert reader.search_insights().searches == 0  # still in the first process's memory
    first.record_search("c", answered=False, keep_days=90)  # the third distinct query writes the batch
    assert (reader.search_insights().searches, reader.search_insights().unanswered) == (3, 1)
    first.record_search("a", answered=True, keep_days=90)
    first.close()  # closing writes what is left
    assert reader.search_insights().searches == 4
    reader.close()


def test_old_days_are_deleted_when_counts_are_written(store):
    store.record_search("today", answered=True, keep_days=90)
    store.flush_searches()
    today = datetime.now(UTC).date()
    with store._transaction() as db:  # a day 100 and a day 10 days back, as an earlier server would have left them
        db.execute("INSERT INTO search_log VALUES (?, 'old', 5, 5)", ((today - timedelta(days=100)).isoformat(),))
        db.execute("INSERT INTO search_log VALUES (?, 'recent', 2, 0)", ((today - timedelta(days=10)).isoformat(),))
    assert store.search_insights(days=365).searches == 8
    assert store.search_insights(days=7).searches == 1  # the window
    store.record_search("today", answered=True, keep_days=90)
    store.flush_searches(keep_days=90)
    assert {c.query for c in store.search_insights(days=365).top} == {"today", "recent"}


def test_search_counts_wait_in_memory_while_another_writer_holds_the_store(location, monkeypatch, caplog):
    monkeypatch.setattr(editorial_module, "FLUSH_QUERIES", 1)
    open_editorial(location).close()  # the tables
    store = open_editorial(location, busy_timeout=0.1)
    with write_lock_held(location):
        store.record_search("cholera", answered=True, keep_days=90)  # the write fails: kept, logged, no error
    assert "search counts kept in memory for the next batch: " in caplog.text and "locked by another" in caplog.text
    store.record_search("floods", answered=True, keep_days=90)  # the next batch writes both
    with open_editorial(location) as reader:
        assert {c.query for c in reader.search_insights().top} == {"cholera", "floods"}
    store.close()


@contextmanager
def refusing_writes(store, monkeypatch):
    """The store's database refusing writes; yields what it says. PostgreSQL: a read-only session, as on a replica.
    SQLite: simulated, as root (the tests' user in CI) writes a read-only file all the same."""
    if isinstance(store, PostgresEditorialStore):
        store._conn.execute("SET default_transaction_read_only = on")
        yield "cannot execute INSERT in a read-only transaction"
        store._conn.execute("SET default_transaction_read_only = off")
        return

    @contextmanager
    def read_only():
        raise sqlite3.OperationalError("attempt to write a readonly database")
        yield

    with monkeypatch.context() as patch:
        patch.setattr(store, "_transaction", read_only)
        yield "attempt to write a readonly database"


def test_a_store_that_cannot_be_written_never_fails_a_search(store, monkeypatch, caplog):
    monkeypatch.setattr(editorial_module, "FLUSH_QUERIES", 1)
    with refusing_writes(store, monkeypatch) as message:
        store.record_search("cholera", answered=True, keep_days=90)  # no exception: logged, kept
        assert message in caplog.text
        assert store.search_insights().searches == 0  # what the store holds; the count waits in memory
    store.flush_searches()
    assert store.search_insights().searches == 1
