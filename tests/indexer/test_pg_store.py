"""What the PostgreSQL store adds to the store contract (tests/indexer/test_store.py runs that on both backends):
a server that is not there, writes as transactions between connections, locks, a read-only database, and a version
published from it."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import psycopg
import pytest

from indexer.article import Article
from indexer.chunking import chunk_article
from indexer.errors import IndexMismatch, StoreBusy, StoreUnreachable, StoreUnwritable
from indexer.pg_editorial import PostgresEditorialStore
from indexer.pg_store import PostgresStore, redacted
from indexer.publish import publish, read_manifest
from indexer.store import Store

STORY = " ".join(f"On day {i} the rain fell and the rivers rose." for i in range(40))


def _item(article_id: str, title: str = "Floods", body: str = STORY):
    article = Article(id=article_id, title=title, body=body)
    return article, chunk_article(article, max_words=40), "feed"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://sift:s3cret@db.example:5432/news", "postgresql://sift@db.example:5432/news"),
    ("postgres://sift@db.example/news?sslmode=require", "postgres://sift@db.example/news?sslmode=require"),
    ("postgresql://db.example/news?user=sift&password=s3cret&sslmode=require",
     "postgresql://db.example/news?user=sift&sslmode=require"),
    ("postgresql:///news", "postgresql:///news"),
])
def test_a_url_is_shown_without_its_password(url, shown):
    assert redacted(url) == shown


@pytest.mark.parametrize("kind", [PostgresStore, PostgresEditorialStore])
def test_a_server_that_is_not_there_is_named_without_the_password_at_once(kind):
    url = f"postgresql://sift:s3cret@127.0.0.1:{_closed_port()}/news"
    started = time.monotonic()
    with pytest.raises(StoreUnreachable) as caught:
        kind(url)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith(f"cannot connect to the database at {redacted(url)} (")
    assert "Connection refused" in message and message.endswith("is PostgreSQL running there, and is the URL right?")
    assert "s3cret" not in message


def test_a_database_that_does_not_exist_is_named(postgres_server):
    url = postgres_server.url("no_such_database")
    with pytest.raises(StoreUnreachable, match=r'cannot connect to the database at .*/no_such_database \(.*database '
                                               r'"no_such_database" does not exist'):
        PostgresStore(url)


def test_a_failed_write_leaves_nothing_half_written(postgres_url):
    with PostgresStore(postgres_url) as store:
        store.upsert_many([_item("a1", title="Floods")])
        before = (store.generation(), store.count_chunks(), [c.hash for c in store.iter_chunks()])
        # the server refuses the last passage of the batch, after its articles and other passages are written (NOT
        # VALID: a1's stored passages are not checked)
        store._conn.execute("ALTER TABLE chunks ADD CONSTRAINT refused CHECK (text NOT LIKE '%day 39 %') NOT VALID")
        with pytest.raises(psycopg.errors.CheckViolation):
            store.upsert_many([_item("a1", title="Floods again"), _item("a2")])
        assert store.get_article("a1").title == "Floods" and store.get_article("a2") is None
        assert (store.generation(), store.count_chunks(), [c.hash for c in store.iter_chunks()]) == before
        store._conn.execute("ALTER TABLE chunks DROP CONSTRAINT refused")
        assert store.upsert_many([_item("a2")]) == ["added"]  # the connection is not left in a failed transaction


def test_a_write_waits_for_another_writer_then_says_it_is_busy(postgres_url):
    with PostgresStore(postgres_url, busy_timeout=0.5) as store, psycopg.connect(postgres_url) as other:
        store.upsert_many([_item("a1")])
        # another store's write in flight holds the writers' lock
        other.execute("SELECT value FROM meta WHERE key = 'generation' FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(StoreBusy, match=r"the database at postgresql://postgres@127\.0\.0\.1:\d+/\w+ is locked by "
                                            r"another writer .* stayed locked for 0.5 s; nothing was written, retry"):
            store.upsert_many([_item("a2")])
        assert time.monotonic() - started >= 0.5
        assert store.get_article("a2") is None and store.count_articles() == 1  # reads are not blocked
        with pytest.raises(StoreBusy):
            store.delete_many(["a1"])
        store.busy_timeout = 10
        threading.Timer(0.3, other.commit).start()  # the other writer finishes within the timeout
        assert store.upsert_many([_item("a2")]) == ["added"]


def test_a_read_only_database_opens_reads_and_refuses_writes(postgres_url):
    with PostgresStore(postgres_url) as store:
        store.upsert_many([_item("a1")])
        store.put_embeddings("m", ["h"], np.ones((1, 4), np.float32))
        database = store._conn.info.dbname
        store._conn.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')  # as a replica
    with PostgresStore(postgres_url) as store:
        assert store.count_articles() == 1 and set(store.get_embeddings("m", ["h"], 4)) == {"h"}
        message = (r"the database at .* cannot be written \(cannot execute .* in a read-only transaction: a "
                   r"read-only database or replica, a full disk, or a role without the right\?\); this write was "
                   "rolled back")
        with pytest.raises(StoreUnwritable, match=message):
            store.upsert_many([_item("a2")])
        with pytest.raises(StoreUnwritable, match=message):
            store.put_embeddings("m", ["h2"], np.ones((1, 4), np.float32))
        assert store.count_articles() == 1 and store.generation() == 1


def test_a_lost_connection_is_said_plainly(postgres_url, postgres_server):
    with PostgresStore(postgres_url) as store:
        pid = store._conn.info.backend_pid
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for call in (store.count_articles, lambda: store.upsert_many([_item("a1")])):
            with pytest.raises(StoreUnreachable, match=r"lost the connection to the database at postgresql://"):
                call()


def test_compact_gives_back_the_pages_a_dropped_cache_left(postgres_url):
    size = "SELECT SUM(pg_total_relation_size(t::regclass)) FROM unnest(ARRAY['embeddings', 'chunks', 'articles']) t"
    rng = np.random.default_rng(0)
    with PostgresStore(postgres_url) as store:
        store._put_blobs("m", [(f"h{i}", rng.bytes(768)) for i in range(500)])
        store._put_blobs("m#passage-tokens/u8/abc", [(f"h{i}", rng.bytes(16_384)) for i in range(500)])  # 8 MB
        store.compact()  # the first VACUUM adds each table's free-space and visibility maps
        before = store._conn.execute(size).fetchone()[0]
        assert not store.compact()  # nothing deleted: nothing to give back
        assert store.drop_cached(prefix="m#passage-tokens/") == 500
        assert store.compact()
        assert store._conn.execute(size).fetchone()[0] < before - 7_000_000
        assert set(store.blob_sizes("m", [f"h{i}" for i in range(500)]).values()) == {768}  # the rest is kept


def test_a_database_of_another_schema_version_is_refused(postgres_url):
    with PostgresStore(postgres_url) as store:
        store.set_meta("schema_version", "2")
    with pytest.raises(IndexMismatch, match=r"has store schema 2, this Sift reads 1; index into a new database"):
        PostgresStore(postgres_url)


def test_stores_opening_a_new_database_at_once_create_it_once(postgres_url):
    opened, failed = [], []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(PostgresStore(postgres_url))
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        store.close()
    assert not failed and len(opened) == 4


def test_a_version_published_from_postgres_is_the_one_published_from_sqlite(tmp_path, postgres_url):
    """publish() reads any store: the same articles and vectors give the same version files, byte for byte."""
    rng = np.random.default_rng(3)
    topics = ["maize harvest", "school meals", "cholera vaccines", "flood shelters", "solar pumps"]
    items = [_item(f"a{i:02d}", title=f"{topics[i % 5]} report {i}",
                   body=" ".join([f"The {topics[i % 5]} report for district {i} says more."] * 12)) for i in range(30)]
    hashes = sorted({c.hash for _, chunks, _ in items for c in chunks})
    centres = {t: rng.normal(size=16) for t in topics}
    topic_of = {c.hash: topics[int(a.id[1:]) % 5] for a, chunks, _ in items for c in chunks}
    vectors = np.stack([centres[topic_of[h]] + 0.3 * rng.normal(size=16) for h in hashes]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    files = {}
    for name, store in [("sqlite", Store(tmp_path / "store.sqlite")), ("postgres", PostgresStore(postgres_url))]:
        with store:
            store.upsert_many(items)
            store.delete_many(["a07"])
            store.put_embeddings("synthetic", hashes, vectors)
            version = publish(tmp_path / name, store, model_id="synthetic", dim=16, build={"max_words": 40})
        manifest = read_manifest(version.path)
        assert manifest["counts"] == {"articles": 29, "chunks": 29 * len(items[0][1])}
        files[name] = manifest["files"]
    assert files["postgres"] == files["sqlite"]
