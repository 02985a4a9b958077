"""The SQLite store: what it keeps of each passage, its embedding cache and giving space back."""

from __future__ import annotations


import numpy as np

from indexer.article import Article
from indexer.chunking import Chunk, chunk_article
from indexer.store import Store

BODY = "Rain fell for a week. Rivers rose over the banks. " * 30


def test_a_passage_is_stored_once_and_the_text_the_model_reads_is_rebuilt_exactly(tmp_path):
    titled = Article(id="a1", title="Floods in Sindh", body=BODY)
    other = Article(id="a2", title="Cholera 'vaccines' — Aden", body="Cholera vaccines reached Aden.")
    chunks = chunk_article(titled, max_words=40, overlap_words=10)
    # a passage embedded with a text of its own (not title + passage) keeps it
    odd = [Chunk(ordinal=0, text="Locusts swarm.", embed_text="Locust report: Locusts swarm over Somalia.")]
    odd_article = Article(id="a3", title="Locusts", body="Locusts swarm.")
    with Store(tmp_path / "store.sqlite") as store:
        store.upsert_many([(titled, chunks, "t"), (other, chunk_article(other), "t"), (odd_article, odd, "t")])
        stored = dict(store._conn.execute("SELECT hash, embed_text FROM chunks").fetchall())
        rebuilt = dict(store.chunk_texts())
        missing = dict(store.chunks_missing_embeddings("m"))
    expected = {c.hash: c.embed_text for c in [*chunks, *chunk_article(other), *odd]}
    assert rebuilt == missing == expected
    assert all(stored[c.hash] == "" for c in chunks)  # title + passage: not stored a second time
    assert stored[odd[0].hash] == odd[0].embed_text


def test_vectors_are_cached_as_float16_and_a_float32_cache_still_reads(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Store(tmp_path / "store.sqlite") as store:
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


def test_dropped_caches_give_their_space_back(tmp_path):
    path = tmp_path / "store.sqlite"
    blob = bytes(4096)
    with Store(path) as store:
        store._put_blobs("m", [(f"h{i}", blob) for i in range(50)])
        store._put_blobs("m#passage-tokens/u8/abc", [(f"h{i}", blob * 10) for i in range(200)])
        store._put_blobs("m#passage-token-codec", [("codec", blob)])
        store._put_blobs("m#tokens", [(f"t{i}", blob) for i in range(10)])
        assert not store.compact()  # nothing free yet: the log folded in, the file left as it is
        before = path.stat().st_size
        assert store.drop_cached("m#passage-token-codec", prefix="m#passage-tokens/") == 201
        assert store.keep_cached("m#tokens", ["t1", "t2", "elsewhere"]) == 8
        assert store.compact()
        after = path.stat().st_size
        left = store._conn.execute("SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id").fetchall()
    assert sorted(map(tuple, left)) == [("m", 50), ("m#tokens", 2)]
    assert after < before / 10
    assert not path.with_name("store.sqlite-wal").exists() or path.with_name("store.sqlite-wal").stat().st_size == 0


def test_drop_cached_matches_the_prefix_literally(tmp_path):
    with Store(tmp_path / "store.sqlite") as store:
        # LIKE would read "_" and "%" as wildcards: the prefix is compared as it is
        store._put_blobs("m_1#passage-tokens/x", [("h", b"1")])
        store._put_blobs("mX1#passage-tokens/x", [("h", b"1")])
        assert store.drop_cached(prefix="m_1#passage-tokens/") == 1
        assert store._conn.execute("SELECT model_id FROM embeddings").fetchall()[0][0] == "mX1#passage-tokens/x"
        assert store.drop_cached() == 0
