"""The article store, one contract for both backends (a SQLite file, a PostgreSQL database): what it keeps of each
article and passage, its embedding cache, its log; and the SQLite file giving space back."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from indexer import pg_store
from indexer.article import Article
from indexer.chunking import Chunk, chunk_article
from indexer.pg_store import PostgresStore
from indexer.store import Store
from indexer.stores import open_store

BODY = "Rain fell for a week. Rivers rose over the banks. " * 30
STORY = " ".join(f"On day {i} the rain fell and the rivers rose." for i in range(40))  # passages that all differ


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path):
    """Where a store lives: a SQLite file, or a fresh database on the test session's PostgreSQL server."""
    return tmp_path / "store.sqlite" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture()
def store(location):
    with open_store(location) as store:
        yield store


def _article(article_id: str, title: str = "Floods", body: str = STORY) -> tuple[Article, list[Chunk], str]:
    article = Article(id=article_id, title=title, body=body)
    return article, chunk_article(article, max_words=40), "feed"


def test_open_store_picks_the_backend_by_location(tmp_path, postgres_url):
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        with open_store(url) as store:
            assert isinstance(store, PostgresStore)
    for path in (tmp_path / "a.sqlite", str(tmp_path / "b.sqlite")):  # a path given as text is still a file
        with open_store(path) as store:
            assert isinstance(store, Store)
    assert (tmp_path / "b.sqlite").is_file()


def test_an_article_reads_back_as_it_was_written_and_in_id_order(store, monkeypatch):
    monkeypatch.setattr(pg_store, "ARTICLE_PAGE", 2)  # PostgreSQL reads page by page: pages of 2 and 3 here
    monkeypatch.setattr(pg_store, "CHUNK_PAGE", 3)
    full = Article(
        id="b:2", url="https://example.org/b", title="Grants for schools", body=BODY,
        published_at="2026-03-04T05:06:07+02:00", categories=["Funding", "Education"], tags=["grants"],
        countries=["Kenya", "Uganda"], author="Amina", language="en", image_url="https://example.org/b.jpg",
        deadline="2026-05-15",
    )
    bare = [Article(id=i, title="Note", body="One line.") for i in ("a.1", "B", "a-1", "Z")]
    store.upsert_many([(a, chunk_article(a, max_words=40), "feed") for a in [full, *bare]])
    assert store.get_article("b:2") == full
    assert store.get_article("nope") is None
    assert [a.id for a in store.iter_articles()] == sorted(["b:2", "a.1", "B", "a-1", "Z"])  # bytewise
    assert next(a for a in store.iter_articles() if a.id == "b:2") == full
    chunks = list(store.iter_chunks())
    assert [(c.article_id, c.ordinal) for c in chunks] == sorted((c.article_id, c.ordinal) for c in chunks)
    assert len(chunks) == store.count_chunks() == len(chunk_article(full, max_words=40)) + 4
    assert store.count_articles() == 5 and sorted(store.ids_from_source("feed")) == sorted(a.id for a in [full, *bare])


def test_each_write_says_what_it_changed_and_the_generation_counts_changing_writes(store):
    assert store.generation() == 0
    assert store.upsert_many([_article("a1"), _article("a2")]) == ["added", "added"]
    assert store.generation() == 1
    assert store.upsert_many([_article("a1"), _article("a2", title="Floods again")]) == ["unchanged", "updated"]
    assert store.upsert_many([_article("a1")]) == ["unchanged"] and store.generation() == 2
    # the same id twice in one batch: the second is compared with the first
    assert store.upsert_many([_article("a3"), _article("a3"), _article("a3", body="Dry.")]) == [
        "added", "unchanged", "updated"]
    assert store.get_article("a3").body == "Dry." and store.generation() == 3
    # other chunking parameters (the salt) re-chunk an unchanged article
    assert store.upsert_many([_article("a1")], salt="chunking=80/0") == ["updated"]
    assert store.delete_many(["a2", "a2", "never"]) == 1 and store.generation() == 5
    assert store.delete_many(["never"]) == 0 and store.delete_many([]) == 0 and store.generation() == 5
    assert {c.article_id for c in store.iter_chunks()} == {"a1", "a3"}  # a deleted article's passages went with it


def test_a_passage_is_stored_once_and_the_text_the_model_reads_is_rebuilt_exactly(store):
    titled = Article(id="a1", title="Floods in Sindh", body=BODY)
    other = Article(id="a2", title="Cholera 'vaccines' — Aden", body="Cholera vaccines reached Aden.")
    chunks = chunk_article(titled, max_words=40, overlap_words=10)
    # a passage embedded with a text of its own (not title + passage) keeps it
    odd = [Chunk(ordinal=0, text="Locusts swarm.", embed_text="Locust report: Locusts swarm over Somalia.")]
    odd_article = Article(id="a3", title="Locusts", body="Locusts swarm.")
    store.upsert_many([(titled, chunks, "t"), (other, chunk_article(other), "t"), (odd_article, odd, "t")])
    stored = dict(store._conn.execute("SELECT hash, embed_text FROM chunks").fetchall())
    rebuilt = dict(store.chunk_texts())
    missing = dict(store.chunks_missing_embeddings("m"))
    expected = {c.hash: c.embed_text for c in [*chunks, *chunk_article(other), *odd]}
    assert rebuilt == missing == expected
    assert all(stored[c.hash] == "" for c in chunks)  # title + passage: not stored a second time
    assert stored[odd[0].hash] == odd[0].embed_text


def test_vectors_are_cached_as_float16_and_a_float32_cache_still_reads(store):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.put_embeddings("m", ["h0", "h1"], vectors[:2])
    # as a store written before float16 holds it
    store._put_blobs("m", [("h2", vectors[2].tobytes())])
    sizes = store.blob_sizes("m", ["h0", "h1", "h2"])
    got = store.get_embeddings("m", ["h0", "h1", "h2", "nope"], 8)
    assert sizes == {"h0": 16, "h1": 16, "h2": 32}
    assert set(got) == {"h0", "h1", "h2"} and all(v.dtype == np.float32 for v in got.values())
    np.testing.assert_allclose(np.stack([got["h0"], got["h1"]]), vectors[:2], atol=2e-3)
    np.testing.assert_array_equal(got["h2"], vectors[2])
    assert all(abs(np.linalg.norm(v) - 1) < 1e-6 for v in got.values())


def test_a_cached_vector_is_found_by_its_passage_and_replaced_when_put_again(store):
    (article, chunks, source), (other, other_chunks, _) = _article("a1"), _article("a2", body="Dry season.")
    store.upsert_many([(article, chunks, source), (other, other_chunks, source)])
    store.put_embeddings("m", [c.hash for c in chunks], np.ones((len(chunks), 4), np.float32))
    assert store.chunks_missing_embeddings("m") == [(other_chunks[0].hash, other_chunks[0].embed_text)]
    assert len(chunks) > 1 and len(store.chunks_missing_embeddings("other-model")) == len(chunks) + 1
    store.put_embeddings("m", [chunks[0].hash], np.array([[0, 0, 0, 2]], np.float32))
    np.testing.assert_array_equal(store.get_embeddings("m", [chunks[0].hash], 4)[chunks[0].hash], [0, 0, 0, 1])
    store.delete_many(["a1"])  # cached vectors stay for a re-add
    assert set(store.get_embeddings("m", [c.hash for c in chunks], 4)) == {c.hash for c in chunks}


def test_token_vectors_and_blobs_read_back_by_key(store):
    blocks = [np.arange(12, dtype=np.float16).reshape(3, 4), np.zeros((0, 4), np.float16)]
    store.put_token_vectors("m#tokens", ["t1", "t2"], blocks)
    codes = [np.array([[1, 2], [3, 255]], np.uint8)]
    store.put_token_vectors("m#passage-tokens/u8/x", ["p1"], codes, dtype=np.uint8)
    got = store.get_token_vectors("m#tokens", ["t1", "t2", "t3"], 4)
    assert set(got) == {"t1", "t2"} and np.array_equal(got["t1"], blocks[0]) and got["t2"].shape == (0, 4)
    assert np.array_equal(store.get_token_vectors("m#passage-tokens/u8/x", ["p1"], 2, np.uint8)["p1"], codes[0])
    assert store.blob_sizes("m#passage-tokens/u8/x", ["p1", "t1"]) == {"p1": 4}
    assert store.get_blob("m#passage-token-codec", "codec") is None
    store.put_blob("m#passage-token-codec", "codec", b"\x00\x01codec")
    assert store.get_blob("m#passage-token-codec", "codec") == b"\x00\x01codec"


def test_dropping_cached_rows_by_key_prefix_and_keeping_a_key_s_listed_rows(store):
    blob = bytes(4096)
    store._put_blobs("m", [(f"h{i}", blob) for i in range(50)])
    store._put_blobs("m#passage-tokens/u8/abc", [(f"h{i}", blob * 10) for i in range(200)])
    store._put_blobs("m#passage-token-codec", [("codec", blob)])
    store._put_blobs("m#tokens", [(f"t{i}", blob) for i in range(10)])
    assert store.drop_cached("m#passage-token-codec", prefix="m#passage-tokens/") == 201
    assert store.keep_cached("m#tokens", ["t1", "t2", "elsewhere"]) == 8
    assert store.keep_cached("m#tokens", ["t1", "t2"]) == 0
    left = store._conn.execute("SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id").fetchall()
    assert sorted(map(tuple, left)) == [("m", 50), ("m#tokens", 2)]


def test_drop_cached_matches_the_prefix_literally(store):
    # LIKE would read "_" and "%" as wildcards: the prefix is compared as it is
    store._put_blobs("m_1#passage-tokens/x", [("h", b"1")])
    store._put_blobs("mX1#passage-tokens/x", [("h", b"1")])
    assert store.drop_cached(prefix="m_1#passage-tokens/") == 1
    assert store._conn.execute("SELECT model_id FROM embeddings").fetchall()[0][0] == "mX1#passage-tokens/x"
    assert store.drop_cached() == 0


def test_meta_and_the_ingest_log(store):
    assert store.get_meta("watermark:feed") is None and store.last_ingest() is None
    store.set_meta("watermark:feed", "2026-01-01T00:00:00+00:00")
    store.set_meta("watermark:feed", "2026-02-01T00:00:00+00:00")
    assert store.get_meta("watermark:feed") == "2026-02-01T00:00:00+00:00"
    store.log_ingest({"added": 3, "errors": []})
    store.log_ingest({"added": 12, "version": "000002", "published": True})
    last = store.last_ingest()
    assert last == {"finished_at": last["finished_at"], "added": 12, "version": "000002", "published": True}
    finished = datetime.fromisoformat(last["finished_at"])
    assert last["finished_at"] == finished.isoformat() and finished.utcoffset().total_seconds() == 0
    assert abs((datetime.now(timezone.utc) - finished).total_seconds()) < 60


def test_a_second_store_on_the_same_location_sees_committed_writes(location):
    with open_store(location) as one, open_store(location) as two:
        one.upsert_many([_article("a1")])
        assert two.get_article("a1") is not None and two.generation() == 1
        two.delete_many(["a1"])
        two.put_embeddings("m", ["h"], np.ones((1, 4), np.float32))
        assert one.count_articles() == 0 and one.generation() == 2 and set(one.get_embeddings("m", ["h"], 4)) == {"h"}


# -- the SQLite file -----------------------------------------------------------------------------------------------
# SQLite only: the file's size and its write-ahead log (PostgresStore.compact says why it gives nothing back)
def test_dropped_caches_give_their_space_back(tmp_path):
    path = tmp_path / "store.sqlite"
    blob = bytes(4096)
    with Store(path) as store:
        store._put_blobs("m", [(f"h{i}", blob) for i in range(50)])
        store._put_blobs("m#passage-tokens/u8/abc", [(f"h{i}", blob * 10) for i in range(200)])
        assert not store.compact()  # nothing free yet: the log folded in, the file left as it is
        before = path.stat().st_size
        assert store.drop_cached(prefix="m#passage-tokens/") == 200
        assert store.compact()
        after = path.stat().st_size
    assert after < before / 10
    assert not path.with_name("store.sqlite-wal").exists() or path.with_name("store.sqlite-wal").stat().st_size == 0
