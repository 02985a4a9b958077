"""Pins, excludes and click counters in store.sqlite: their rules, and a second process seeing the first one's writes."""

import pytest

from indexer import editorial as editorial_module
from indexer.editorial import Curation, EditorialStore, NotCurated
from indexer.store import Store


@pytest.fixture
def store(tmp_path):
    s = EditorialStore(tmp_path / "store.sqlite")
    yield s
    s.close()


def test_pins_keep_positions_and_excludes_their_set(store):
    store.pin("a", "b", 2)
    store.pin("a", "c", 1)
    assert store.pin("a", "b", 3) == Curation(pins=(("c", 1), ("b", 3)))  # pinning again moves it
    assert store.exclude("a", "d").excludes == frozenset({"d"})
    assert store.curation("other") == Curation() and store.curation("other").is_empty()


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


def test_another_process_sees_writes_after_the_refresh_interval(tmp_path, monkeypatch):
    monkeypatch.setattr(editorial_module, "REFRESH_SECONDS", 3600.0)
    server, cli = EditorialStore(tmp_path / "s.sqlite"), EditorialStore(tmp_path / "s.sqlite")
    assert server.curation("a") == Curation()  # cached now
    cli.pin("a", "b")
    assert server.curation("a") == Curation()  # still within REFRESH_SECONDS
    monkeypatch.setattr(editorial_module, "REFRESH_SECONDS", 0.0)
    assert server.curation("a") == Curation(pins=(("b", 1),))
    server.close()
    cli.close()


def test_editorial_tables_live_beside_the_articles(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    first = EditorialStore(path)
    first.pin("a", "b")
    first.close()
    with Store(path) as articles:  # the store still opens (its schema check ignores our tables)
        assert articles.count_articles() == 0
    again = EditorialStore(path)
    assert again.curation("a") == Curation(pins=(("b", 1),))
    again.close()


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


def test_search_counts_per_query_and_what_found_nothing(store):
    for query, answered in [("Cholera  Haiti", True), ("cholera haiti", True), ("football", False), ("FOOTBALL", False),
                            ("grants", True), ("x" * 300, True)]:
        store.record_search(query, answered=answered, keep_days=90)
    found = store.search_insights(days=30, limit=2)
    assert (found.searches, found.unanswered) == (6, 2)
    assert [(c.query, c.searches, c.unanswered) for c in found.top] == [("football", 2, 2), ("cholera haiti", 2, 0)]
    assert [c.query for c in found.unanswered_top] == ["football"]
    assert len(store.search_insights(limit=10).top[-1].query) == editorial_module.QUERY_CHARS  # cut, not dropped


def test_search_counts_are_written_in_batches_and_on_close(tmp_path, monkeypatch):
    monkeypatch.setattr(editorial_module, "FLUSH_QUERIES", 3)
    first, reader = EditorialStore(tmp_path / "store.sqlite"), EditorialStore(tmp_path / "store.sqlite")
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
    with store._transaction() as db:  # a day 100 and a day 10 days back, as an earlier server would have left them
        db.execute("INSERT INTO search_log VALUES (date('now', '-100 days'), 'old', 5, 5)")
        db.execute("INSERT INTO search_log VALUES (date('now', '-10 days'), 'recent', 2, 0)")
    assert store.search_insights(days=365).searches == 8
    assert store.search_insights(days=7).searches == 1  # the window
    store.record_search("today", answered=True, keep_days=90)
    store.flush_searches(keep_days=90)
    assert {c.query for c in store.search_insights(days=365).top} == {"today", "recent"}


def test_search_counts_wait_in_memory_while_another_writer_holds_the_store(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setattr(editorial_module, "FLUSH_QUERIES", 1)
    path = tmp_path / "store.sqlite"
    EditorialStore(path).close()  # the tables
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process's write lock
    store = EditorialStore(path, busy_timeout=0.1)
    store.record_search("cholera", answered=True, keep_days=90)  # the write fails: kept, logged, no error
    blocker.execute("ROLLBACK")
    blocker.close()
    store.record_search("floods", answered=True, keep_days=90)  # the next batch writes both
    reader = EditorialStore(path)
    assert {c.query for c in reader.search_insights().top} == {"cholera", "floods"}
    reader.close()
    store.close()


def test_a_store_that_cannot_be_written_never_fails_a_search(store, monkeypatch, caplog):
    import sqlite3
    from contextlib import contextmanager

    monkeypatch.setattr(editorial_module, "FLUSH_QUERIES", 1)

    @contextmanager
    def read_only():
        raise sqlite3.OperationalError("attempt to write a readonly database")
        yield

    monkeypatch.setattr(store, "_transaction", read_only)
    store.record_search("cholera", answered=True, keep_days=90)  # no exception: logged, kept
    assert "attempt to write a readonly database" in caplog.text
    assert store.search_insights().searches == 0  # what the store holds; the count waits in memory
    monkeypatch.undo()
    store.flush_searches()
    assert store.search_insights().searches == 1
