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
