"""What the PostgreSQL editorial store adds to the contract (tests/indexer/test_editorial.py runs that on both
backends): several servers on one database, a server that is not there or goes away, locks, and a replica."""

from __future__ import annotations

import socket
import threading
import time

import psycopg
import pytest

from indexer import editorial, pg_connection
from indexer.editorial import Curation
from indexer.errors import StoreBusy, StoreUnreachable, StoreUnwritable
from indexer.pg_editorial import PostgresEditorialStore
from indexer.pg_store import PostgresStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _terminate(postgres_server, store: PostgresEditorialStore) -> None:
    """Cut the store's connection from the server's side, as a restart or failover does."""
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (store._conn.info.backend_pid,)).fetchone()[0]


def _wait_for_lock_waiters(url: str, count: int) -> None:
    """Until `count` sessions of the database wait for a lock."""
    with psycopg.connect(url, autocommit=True) as watcher:
        for _ in range(500):
            waiting = watcher.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting == count:
                return
            time.sleep(0.01)
    pytest.fail(f"{count} sessions never waited for a lock together")


def test_a_pin_made_through_one_server_is_served_by_another_within_the_refresh_interval(postgres_url):
    with PostgresEditorialStore(postgres_url) as one, PostgresEditorialStore(postgres_url) as two:
        assert two.curation("a") == Curation()  # checked, and cached
        one.pin("a", "b")
        one.exclude("a", "c")
        time.sleep(editorial.REFRESH_SECONDS)
        assert two.curation("a") == Curation(pins=(("b", 1),), excludes=frozenset({"c"}))
        two.unpin("a", "b")  # and back: the other way round
        time.sleep(editorial.REFRESH_SECONDS)
        assert one.curation("a") == Curation(excludes=frozenset({"c"}))


def test_between_checks_curation_is_served_from_memory(postgres_url, postgres_server, monkeypatch):
    monkeypatch.setattr(editorial, "REFRESH_SECONDS", 3600.0)
    with PostgresEditorialStore(postgres_url) as store:
        store.pin("a", "b")
        _terminate(postgres_server, store)
        for _ in range(3):  # no query: the lost connection goes unnoticed
            assert store.curation("a") == Curation(pins=(("b", 1),))
        assert not store._conn.closed


def test_a_database_gone_leaves_curation_as_last_read_and_is_asked_again_after_a_pause(
    postgres_url, postgres_server, monkeypatch, caplog
):
    monkeypatch.setattr(editorial, "REFRESH_SECONDS", 0.0)
    monkeypatch.setattr(editorial, "UNREACHABLE_PAUSE_SECONDS", 1.0)
    database = postgres_url.rsplit("/", 1)[1]
    with PostgresEditorialStore(postgres_url) as store:
        store.pin("a", "b")
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        _terminate(postgres_server, store)
        try:
            reads = []
            monkeypatch.setattr(store, "_rows", lambda *a, rows=store._rows: reads.append(a) or rows(*a))
            for _ in range(5):  # answered from memory; only the first asks the database
                assert store.curation("a") == Curation(pins=(("b", 1),))
            assert len(reads) == 1 and "pins and excludes as last read" in caplog.text
        finally:
            with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
        with PostgresEditorialStore(postgres_url) as other:
            other.exclude("a", "c")
        time.sleep(1.1)  # the pause over, the next call asks again
        assert store.curation("a") == Curation(pins=(("b", 1),), excludes=frozenset({"c"}))


def test_clicks_and_searches_counted_by_several_servers_at_once_all_add_up(postgres_url, monkeypatch, caplog):
    monkeypatch.setattr(editorial, "FLUSH_QUERIES", 10**6)  # batches written by flush_searches below
    queries = [f"query {i:03d}" for i in range(150)]
    stores = [PostgresEditorialStore(postgres_url) for _ in range(2)]
    failed: list[BaseException] = []

    def serve(store: PostgresEditorialStore, turn: int) -> None:
        try:
            for round_ in range(15):
                shown = ["b", "c", "d"] if (round_ + turn) % 2 else ["d", "c", "b"]
                store.record_event("a", shown, "bc"[turn % 2])
                store.record_event("x", [], "y")
                # each server meets the queries in its own order, and writes them as one batch
                for query in queries if turn % 2 else reversed(queries):
                    store.record_search(query, answered=turn % 2 == 0, keep_days=90)
                store.flush_searches(keep_days=90)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=serve, args=(stores[turn % 2], turn)) for turn in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed and "search counts" not in caplog.text
    with PostgresEditorialStore(postgres_url) as reader:
        assert reader.click_totals() == (60, 120)
        box = reader.click_through(source="a")[0]
        assert (box.views, box.clicks) == (60, 60)
        assert {i.target: (i.impressions, i.clicks) for i in box.items} == {"b": (60, 30), "c": (60, 30), "d": (60, 0)}
        insights = reader.search_insights(limit=len(queries))
        assert (insights.searches, insights.unanswered) == (60 * len(queries), 30 * len(queries))
        assert {(c.query, c.searches, c.unanswered) for c in insights.top} == {(q, 60, 30) for q in queries}
    for store in stores:
        store.close()


def test_a_pin_and_an_exclude_of_one_pair_at_once_leave_one_of_them(postgres_url):
    one, two = PostgresEditorialStore(postgres_url), PostgresEditorialStore(postgres_url)
    with psycopg.connect(postgres_url) as blocker:
        blocker.execute("SELECT value FROM editorial_generation FOR UPDATE")  # a third curation write in flight
        threads = [threading.Thread(target=one.pin, args=("a", "b")),
                   threading.Thread(target=two.exclude, args=("a", "b"))]
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(postgres_url, 2)
        blocker.commit()
        for thread in threads:
            thread.join()
    with PostgresEditorialStore(postgres_url) as reader:
        assert reader.curation("a") in (Curation(pins=(("b", 1),)), Curation(excludes=frozenset({"b"})))
    one.close()
    two.close()


def test_a_curation_write_waits_for_another_then_says_it_is_busy(postgres_url):
    with PostgresEditorialStore(postgres_url, busy_timeout=0.5) as store, psycopg.connect(postgres_url) as other:
        other.execute("SELECT value FROM editorial_generation FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(StoreBusy, match=r"the database at postgresql://postgres@127\.0\.0\.1:\d+/\w+ is locked by "
                                            r"another session \(.*\) and stayed locked for 0.5 s; nothing was written"):
            store.pin("a", "b")
        assert time.monotonic() - started >= 0.5
        assert store.curation("a") == Curation()  # reads are not blocked
        store.busy_timeout = 10
        threading.Timer(0.3, other.commit).start()  # the other writer finishes within the timeout
        assert store.pin("a", "b") == Curation(pins=(("b", 1),))


def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(monkeypatch):
    monkeypatch.setattr(pg_connection, "CONNECT_TIMEOUT", 2)  # libpq's (and psycopg's) least
    with socket.socket() as silent:  # accepts the connection (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql://sift@127.0.0.1:{silent.getsockname()[1]}/news"
        started = time.monotonic()
        with pytest.raises(StoreUnreachable, match=r"cannot connect to the database at postgresql://sift@127\.0\.0\.1:"
                                                   r"\d+/news \(.*timeout"):
            PostgresEditorialStore(url)
        assert time.monotonic() - started < 5


def test_a_lost_connection_costs_no_read_and_the_next_write_reconnects(postgres_url, postgres_server, monkeypatch):
    monkeypatch.setattr(editorial, "REFRESH_SECONDS", 0.0)
    with PostgresEditorialStore(postgres_url) as store:
        store.pin("a", "b")
        store.record_event("a", ["b"], "b")
        _terminate(postgres_server, store)
        assert store.curation("a") == Curation(pins=(("b", 1),))  # retried once on a new connection
        _terminate(postgres_server, store)
        assert store.click_totals() == (1, 1)
        _terminate(postgres_server, store)
        # a write is not retried (the commit of one cut off may have landed): said, then the next call reconnects
        with pytest.raises(StoreUnreachable, match=r"lost the connection to the database at postgresql://\S+ \("):
            store.pin("a", "c")
        assert store.pin("a", "c") == Curation(pins=(("b", 1), ("c", 1)))


def test_a_write_cut_off_mid_transaction_leaves_nothing(postgres_url, postgres_server):
    with PostgresEditorialStore(postgres_url) as store, psycopg.connect(postgres_url) as other:
        other.execute("LOCK TABLE related_pins IN EXCLUSIVE MODE")  # the pin waits inside its transaction
        raised: list[BaseException] = []

        def pin() -> None:
            try:
                store.pin("a", "b")
            except BaseException as exc:  # noqa: BLE001 - checked below
                raised.append(exc)

        thread = threading.Thread(target=pin)
        thread.start()
        _wait_for_lock_waiters(postgres_url, 1)
        generation = other.execute("SELECT value FROM editorial_generation").fetchone()[0]
        _terminate(postgres_server, store)
        thread.join()
        other.rollback()
        assert [type(exc) for exc in raised] == [StoreUnreachable]
    with PostgresEditorialStore(postgres_url) as reader:
        assert reader.curation("a") == Curation()
        assert reader._rows("SELECT value FROM editorial_generation") == [(generation,)]  # the bump went too


def test_search_counts_outlive_a_lost_connection(postgres_url, postgres_server, monkeypatch, caplog):
    monkeypatch.setattr(editorial, "FLUSH_QUERIES", 1)
    with PostgresEditorialStore(postgres_url) as store:
        _terminate(postgres_server, store)
        store.record_search("cholera", answered=True, keep_days=90)  # the batch fails: kept, logged, no error
        assert "search counts kept in memory for the next batch: lost the connection to the database" in caplog.text
        store.record_search("floods", answered=False, keep_days=90)  # a new connection writes both
        insights = store.search_insights()
        assert {(c.query, c.searches) for c in insights.top} == {("cholera", 1), ("floods", 1)}


def test_a_read_only_database_opens_serves_curation_and_refuses_writes(postgres_url, monkeypatch, caplog):
    monkeypatch.setattr(editorial, "FLUSH_QUERIES", 1)
    with PostgresEditorialStore(postgres_url) as store:
        store.pin("a", "b")
        database = store._conn.info.dbname
        store._conn.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')  # as a replica
    with PostgresEditorialStore(postgres_url) as store:
        assert store.curation("a") == Curation(pins=(("b", 1),))
        with pytest.raises(StoreUnwritable, match=r"the database at .* cannot be written \(cannot execute UPDATE in a "
                                                  r"read-only transaction: a read-only database or replica"):
            store.pin("a", "c")
        store.record_search("cholera", answered=True, keep_days=90)  # logged, never raised
        assert "search counts kept in memory for the next batch: the database at" in caplog.text
        assert store.curation("a") == Curation(pins=(("b", 1),))


def test_stores_opening_a_new_database_at_once_create_it_once(postgres_url):
    opened, failed = [], []
    start = threading.Barrier(6)

    def open_one(kind: type) -> None:
        start.wait()
        try:
            opened.append(kind(postgres_url))
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=open_one, args=(kind,))
               for kind in [PostgresEditorialStore] * 4 + [PostgresStore] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        store.close()
    assert not failed and len(opened) == 6
