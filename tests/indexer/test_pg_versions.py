"""Published versions in PostgreSQL (indexer.pg_versions), on a real server: an index built on one machine is served
from another's copy, a write through either is published for both, a publish cut off mid-commit leaves nothing
behind, and old versions and their file contents are pruned."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from indexer import pg_versions
from indexer.article import Article
from indexer.errors import IndexCorrupt, StoreUnreachable
from indexer.pg_versions import DatabaseVersions
from indexer.pipeline import apply_changes, index_sources
from indexer.publish import current_version, read_manifest, sha256_file
from indexer.stores import IndexHome
from indexer.vectors import VectorConfig
from search_api.engine import Engine

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_corpus.jsonl"
QUESTION = "grants for clean water in villages"


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def ids(engine: Engine, query: str = QUESTION) -> list[str]:
    return [hit.id for hit in engine.search(query, k=5).hits]


@pytest.fixture()
def indexed(tmp_path, postgres_url, embedder) -> tuple[str, Path]:
    """The tiny corpus indexed into a database from machine A's folder."""
    folder = tmp_path / "machine-a"
    report = index_sources([TINY], folder, embedder, progress=False, database=postgres_url)
    assert (report.added, report.published, report.version) == (12, True, "000001")
    return postgres_url, folder


def test_an_index_in_the_database_is_served_from_another_machines_copy(indexed, tmp_path, embedder):
    url, folder_a = indexed
    assert not (folder_a / "store.sqlite").exists()  # the store is the database's
    assert rows(url, "SELECT count(*) FROM articles") == [(12,)]
    assert rows(url, "SELECT version FROM sift_current") == [("000001",)]
    folder_b = tmp_path / "machine-b"
    versions = DatabaseVersions(url)
    try:
        assert versions.sync(folder_b) == "000001"
        assert versions.manifest()["model_id"] == embedder.model_id
    finally:
        versions.close()
    a, b = folder_a / "versions" / "000001", folder_b / "versions" / "000001"
    manifest = read_manifest(b)
    assert manifest == read_manifest(a)
    for name, digest in manifest["files"].items():
        assert sha256_file(b / name) == digest
    assert current_version(folder_b) == "000001"
    assert ids(Engine.open(folder_b, embedder)) == ids(Engine.open(folder_a, embedder))


def test_a_write_through_one_machine_is_published_for_both(indexed, tmp_path, embedder):
    url, folder_a = indexed
    folder_b = tmp_path / "machine-b"
    article = Article(id="wells-2026", title="Solar pumps bring clean water to villages in Malawi",
                      body="A grant funds solar-powered water pumps and wells for villages in southern Malawi.")
    report = apply_changes(folder_b, embedder, upserts=[article], database=url)
    assert (report.added, report.published, report.version) == (1, True, "000002")
    assert rows(url, "SELECT count(*) FROM articles") == [(13,)]
    assert rows(url, "SELECT version FROM sift_current") == [("000002",)]
    versions = DatabaseVersions(url)
    try:
        assert versions.sync(folder_a) == "000002"
    finally:
        versions.close()
    engine = Engine.open(folder_a, embedder)
    assert engine.version == "000002" and ids(engine)[0] == "wells-2026"


def test_a_file_the_database_holds_is_not_sent_again_nor_fetched(indexed, tmp_path):
    url, folder = indexed
    versions = DatabaseVersions(url)
    try:
        again = versions.commit("000002", folder / "versions" / "000001")  # the same files under a new name
        assert (again.files, again.sent, again.sent_bytes) == (len(read_manifest(folder / "versions" / "000001")["files"]), 0, 0)
        assert versions.sync(folder) == "000002"
    finally:
        versions.close()
    listed = read_manifest(folder / "versions" / "000002")["files"]
    assert all(os.path.samefile(folder / "versions" / "000002" / name, folder / "versions" / "000001" / name)
               for name in listed)  # hard links to the copy this machine had


def test_a_publish_cut_off_mid_commit_leaves_the_live_version_and_nothing_else(indexed, embedder, monkeypatch):
    url, folder = indexed
    before = rows(url, "SELECT count(*) FROM sift_blobs")
    parts = pg_versions._parts

    def cut(path: Path):  # the database connection is killed while the version's files are being sent
        yield from parts(path)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND pid <> pg_backend_pid() AND application_name = 'sift' AND state = 'active'")

    monkeypatch.setattr(pg_versions, "_parts", cut)
    article = Article(id="cut", title="A story whose publish is cut off", body="Its text reaches the store only.")
    with pytest.raises(StoreUnreachable, match="lost the connection"):
        apply_changes(folder, embedder, upserts=[article], database=url)
    assert rows(url, "SELECT name FROM sift_versions") == [("000001",)]
    assert rows(url, "SELECT version FROM sift_current") == [("000001",)]
    assert rows(url, "SELECT count(*) FROM sift_blobs") == before
    assert current_version(folder) == "000001"
    assert sorted(p.name for p in (folder / "versions").iterdir()) == ["000001"]
    assert rows(url, "SELECT count(*) FROM articles WHERE id = 'cut'") == [(1,)]  # the write itself is kept
    monkeypatch.setattr(pg_versions, "_parts", parts)
    report = apply_changes(folder, embedder, database=url)  # the next publish (a retry) brings it in
    assert report.published and report.version == "000002"
    assert "cut" in [hit.id for hit in Engine.open(folder, embedder).search("publish cut off", k=3).hits]


def test_old_versions_and_their_contents_are_pruned(indexed, embedder, monkeypatch):
    url, folder = indexed
    monkeypatch.setattr("indexer.publish.PRUNE_GRACE_SECONDS", 0.0)
    for n in range(3):
        apply_changes(folder, embedder, upserts=[Article(id=f"n{n}", title=f"Note {n}", body=f"Body number {n}.")],
                      database=url, keep_versions=2)
    assert rows(url, "SELECT name FROM sift_versions ORDER BY name") == [("000003",), ("000004",)]
    assert sorted(p.name for p in (folder / "versions").iterdir()) == ["000003", "000004"]
    assert rows(url, "SELECT count(*) FROM sift_blobs b WHERE NOT EXISTS "
                     "(SELECT 1 FROM sift_version_files f WHERE f.sha256 = b.sha256)") == [(0,)]


def test_pgvector_tables_go_with_pruned_versions(tmp_path, postgres_url, embedder, monkeypatch):
    monkeypatch.setattr("indexer.publish.PRUNE_GRACE_SECONDS", 0.0)
    vectors = VectorConfig(store="pgvector", database_url=postgres_url)
    folder = tmp_path / "idx"
    index_sources([TINY], folder, embedder, progress=False, database=postgres_url, vectors=vectors)
    apply_changes(folder, embedder, upserts=[Article(id="x", title="One more", body="An extra story.")],
                  database=postgres_url, vectors=vectors, keep_versions=1)
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # what a publish killed before its commit leaves
        conn.execute("CREATE TABLE sift_vectors_orphan (id int)")
    apply_changes(folder, embedder, upserts=[Article(id="y", title="Yet another", body="A further story.")],
                  database=postgres_url, vectors=vectors, keep_versions=1)
    tables = rows(postgres_url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'sift\\_vectors\\_%'")
    live = json.loads(rows(postgres_url, "SELECT manifest FROM sift_versions")[0][0])["vectors"]["table"]
    assert tables == [(live,)]
    engine = Engine.open(folder, embedder, vectors=vectors)
    assert engine.version == "000003" and ids(engine, "an extra story")[0] == "x"


def test_a_damaged_file_in_the_database_is_refused(indexed, tmp_path):
    url, _ = indexed
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE sift_blobs SET data = 'garbage'::bytea WHERE sha256 = "
                     "(SELECT sha256 FROM sift_version_files WHERE name = 'articles.parquet')")
    folder = tmp_path / "machine-b"
    versions = DatabaseVersions(url)
    try:
        with pytest.raises(IndexCorrupt, match="articles.parquet"):
            versions.sync(folder)
    finally:
        versions.close()
    assert current_version(folder) is None
    assert [p.name for p in (folder / "versions").iterdir()] == []


def test_many_threads_syncing_one_folder_agree(indexed, tmp_path):
    url, _ = indexed
    folder = tmp_path / "machine-b"
    versions = [DatabaseVersions(url) for _ in range(4)]
    names: list[str | None] = []
    threads = [threading.Thread(target=lambda v=v: names.append(v.sync(folder))) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v in versions:
        v.close()
    assert names == ["000001"] * 4
    assert sorted(p.name for p in (folder / "versions").iterdir()) == ["000001"]


def test_an_unreachable_database_is_said_plainly(tmp_path):
    url = "postgresql://sift@127.0.0.1:1/none?connect_timeout=2&password=secret"
    with pytest.raises(StoreUnreachable, match="cannot connect") as caught:
        DatabaseVersions(url).current()
    assert "secret" not in str(caught.value)
    assert IndexHome(tmp_path, url).where() == "postgresql://sift@127.0.0.1:1/none?connect_timeout=2"
    assert replace(IndexHome(tmp_path), database=None).registry() is None
