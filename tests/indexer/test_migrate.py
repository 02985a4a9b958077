"""`sift migrate` (indexer.migrate) on a real PostgreSQL: an index folder moved into a database and a database's index
into a folder keep every row, serve the same answers, and need no embedding nor publishing after; a target that
already holds an index, a source with nothing to copy and a version a migration cannot carry are refused with
nothing written, and a copy that fails part-way leaves nothing behind."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest

from indexer import migrate
from indexer.editorial import EditorialStore
from indexer.errors import MigrationFailed, MigrationRefused
from indexer.migrate import from_database, to_database
from indexer.pg_editorial import PostgresEditorialStore
from indexer.pg_store import PostgresStore
from indexer.pg_versions import DatabaseVersions
from indexer.pipeline import index_sources
from indexer.publish import CURRENT_FILE, STORE_FILE, current_version, read_manifest
from indexer.store import Store
from indexer.vectors import VectorConfig
from search_api.engine import Engine

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_corpus.jsonl"
WATERMARK = "watermark:https://news.example.org/feed/"
QUESTION = "grants for clean water in villages"
SOURCES = ("t01", "t02", "t04")  # the articles whose related lists are curated below


def curate(editorial) -> None:
    """Pins, an exclude, clicks and search counts: the editorial state a migration must carry."""
    editorial.pin("t01", "t05", 1)
    editorial.pin("t01", "t12", 3)
    editorial.exclude("t01", "t07")
    editorial.exclude("t04", "t08")
    editorial.record_event("t01", ["t05", "t02", "t12"], "t05")
    editorial.record_event("t01", ["t05", "t02"], None)
    editorial.record_event("t02", ["t01"], "t01")
    editorial.record_search("mangroves", answered=True, keep_days=90)
    editorial.record_search("Mangroves ", answered=True, keep_days=90)
    editorial.record_search("premier league", answered=False, keep_days=90)
    editorial.flush_searches()


def editorial_state(editorial) -> tuple:
    return (
        [editorial.curation(source) for source in SOURCES],
        editorial.click_totals(),
        editorial.click_through(),
        editorial.search_insights(days=30),
    )


def store_state(store, embedder) -> dict:
    chunks = list(store.iter_chunks())
    vectors = store.get_embeddings(embedder.model_id, [c.hash for c in chunks], embedder.dim)
    return {
        "articles": list(store.iter_articles()),
        "chunks": chunks,
        "vectors": {h: v.tobytes() for h, v in sorted(vectors.items())},
        "generation": store.generation(),
        "watermark": store.get_meta(WATERMARK),
        "last_ingest": store.last_ingest(),
    }


def folder_cache(folder: Path) -> list[tuple]:
    """Every row of the folder's embedding cache (all keys, token vectors too), bytes as stored."""
    with sqlite3.connect(folder / STORE_FILE) as db:
        return db.execute("SELECT model_id, hash, vector FROM embeddings ORDER BY model_id, hash").fetchall()


def database_cache(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT model_id, hash, vector FROM embeddings ORDER BY model_id, hash").fetchall()


def folder_state(folder: Path, embedder) -> tuple:
    with Store(folder / STORE_FILE) as store, EditorialStore(folder / STORE_FILE) as editorial:
        return store_state(store, embedder), editorial_state(editorial), folder_cache(folder)


def database_state(url: str, embedder) -> tuple:
    with PostgresStore(url) as store, PostgresEditorialStore(url) as editorial:
        return store_state(store, embedder), editorial_state(editorial), database_cache(url)


def answers(folder: Path, embedder) -> list:
    return Engine.open(folder, embedder).search(QUESTION, k=5).hits


def database_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


def database_counts(url: str) -> dict[str, object]:
    """What a refused migration must leave as it was."""
    with psycopg.connect(url) as conn:
        def one(sql: str) -> object:
            return (conn.execute(sql).fetchone() or (None,))[0]
        return {
            "articles": one("SELECT count(*) FROM articles"), "embeddings": one("SELECT count(*) FROM embeddings"),
            "pins": one("SELECT count(*) FROM related_pins"), "versions": one("SELECT count(*) FROM sift_versions"),
            "live": one("SELECT version FROM sift_current"),
            "generation": one("SELECT value FROM meta WHERE key = 'generation'"),
            "curated": one("SELECT value FROM editorial_generation"),
        }


EDITORIAL_TABLES = ("related_pins", "related_excludes", "related_clicks", "related_views", "search_log")


def copy_without_editorial_state(index: Path, folder: Path) -> Path:
    """A copy of the index folder `index` with no pins, excludes, clicks or search counts (the session's shared
    indexes gather search counts from the tests that serve them)."""
    shutil.copytree(index, folder)
    with sqlite3.connect(folder / STORE_FILE) as conn:
        present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in present & set(EDITORIAL_TABLES):  # made when an editorial store first opens the file
            conn.execute(f"DELETE FROM {table}")
    return folder


@pytest.fixture(scope="module")
def folder_index(tmp_path_factory, tiny_index) -> Path:
    """The tiny index folder (copied: its vectors are not computed again) with a source watermark and editorial
    state. Migrations only read it."""
    folder = copy_without_editorial_state(tiny_index, tmp_path_factory.mktemp("migrate-folder") / "idx")
    with Store(folder / STORE_FILE) as store:
        store.set_meta(WATERMARK, "2025-10-05T08:00:00+00:00")
    with EditorialStore(folder / STORE_FILE) as editorial:
        curate(editorial)
    return folder


@pytest.fixture(scope="module")
def database_index(tmp_path_factory, module_postgres_url, embedder) -> str:
    """The tiny corpus indexed into a database (`sift index --database`), with a watermark and editorial state.
    Migrations only read it."""
    folder = tmp_path_factory.mktemp("migrate-database") / "idx"
    report = index_sources([TINY], folder, embedder, progress=False, database=module_postgres_url)
    assert (report.added, report.published) == (12, True)
    with PostgresStore(module_postgres_url) as store:
        store.set_meta(WATERMARK, "2025-10-05T08:00:00+00:00")
    with PostgresEditorialStore(module_postgres_url) as editorial:
        curate(editorial)
    return module_postgres_url


def copy_of(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def copy_of_live_version(url: str, folder: Path) -> Path:
    """`folder` holding the database's live version, as a server's copy does."""
    versions = DatabaseVersions(url)
    try:
        versions.sync(folder)
    finally:
        versions.close()
    return folder


# -- folder → database ---------------------------------------------------------------------------------------------

def test_a_folder_moves_into_the_database_row_for_row(folder_index, postgres_url, embedder):
    report = to_database(folder_index, postgres_url, progress=False)
    original = folder_state(folder_index, embedder)
    assert database_state(postgres_url, embedder) == original
    assert len({key for key, _, _ in original[2]}) == 2  # the passage vectors and the short articles' token vectors
    assert report.version == current_version(folder_index)
    with sqlite3.connect(folder_index / STORE_FILE) as db:
        stored = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in report.rows}
    assert report.rows == {**stored, "meta": stored["meta"] - 1}  # all but schema_version, which each store sets
    assert (report.rows["articles"], report.rows["related_pins"], report.rows["search_log"]) == (12, 2, 2)
    manifest = read_manifest(folder_index / "versions" / report.version)
    versions = DatabaseVersions(postgres_url)
    try:
        assert (versions.current(), versions.manifest()) == (report.version, manifest)
    finally:
        versions.close()
    assert report.files == len(manifest["files"]) and report.target == postgres_url  # (no password to hide here)


def test_the_database_serves_the_migrated_version_and_publishes_nothing_new(folder_index, postgres_url, tmp_path,
                                                                            embedder):
    to_database(folder_index, postgres_url, progress=False)
    mirror = copy_of_live_version(postgres_url, tmp_path / "mirror")
    assert answers(mirror, embedder) == answers(folder_index, embedder)
    again = index_sources([TINY], tmp_path / "machine-b", embedder, progress=False, database=postgres_url)
    assert (again.unchanged, again.embedded, again.published, again.version) == (
        12, 0, False, current_version(folder_index))


# -- database → folder ---------------------------------------------------------------------------------------------
def test_a_database_moves_into_a_new_folder_row_for_row(database_index, tmp_path, embedder):
    folder = tmp_path / "idx"
    report = from_database(database_index, folder, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == [CURRENT_FILE, STORE_FILE, "versions"]  # no staging left
    assert folder_state(folder, embedder) == database_state(database_index, embedder)
    assert report.rows["articles"] == 12 and report.rows["related_pins"] == 2 and report.rows["search_log"] == 2
    versions = DatabaseVersions(database_index)
    try:
        assert current_version(folder) == report.version == versions.current()
        assert read_manifest(folder / "versions" / report.version) == versions.manifest()
    finally:
        versions.close()


def test_the_migrated_folder_serves_as_the_database_did_and_publishes_nothing_new(database_index, tmp_path,
                                                                                  embedder):
    folder = tmp_path / "idx"
    report = from_database(database_index, folder, progress=False)
    mirror = copy_of_live_version(database_index, tmp_path / "mirror")
    assert answers(folder, embedder) == answers(mirror, embedder)
    again = index_sources([TINY], folder, embedder, progress=False)
    assert (again.unchanged, again.embedded, again.published, again.version) == (12, 0, False, report.version)


def test_folder_to_database_and_back_gives_the_same_store(folder_index, postgres_url, tmp_path):
    to_database(folder_index, postgres_url, progress=False)
    back = tmp_path / "back"
    from_database(postgres_url, back, progress=False)
    with sqlite3.connect(folder_index / STORE_FILE) as before, sqlite3.connect(back / STORE_FILE) as after:
        for table, order in [("articles", "id"), ("chunks", "article_id, ordinal"), ("embeddings", "model_id, hash"),
                             ("meta", "key"), ("related_pins", "source, target"), ("related_excludes", "source, target"),
                             ("related_clicks", "source, target"), ("related_views", "source"),
                             ("search_log", "day, query")]:
            sql = f"SELECT * FROM {table} ORDER BY {order}"
            assert after.execute(sql).fetchall() == before.execute(sql).fetchall(), table
        # JSONB keeps the summary's keys in its own order: the same object
        log = [(i, at, json.loads(summary)) for i, at, summary in before.execute("SELECT * FROM ingest_log")]
        assert [(i, at, json.loads(summary)) for i, at, summary in after.execute("SELECT * FROM ingest_log")] == log


# -- refusals: nothing written ------------------------------------------------------------------------------------
def test_a_database_that_already_holds_an_index_is_refused(folder_index, database_index):
    before = database_counts(database_index)
    with pytest.raises(MigrationRefused, match=r"already holds an index \(rows in articles, chunks, embeddings, "
                                               r"ingest_log, related_pins.*sift_versions\); nothing was written"):
        to_database(folder_index, database_index, progress=False)
    assert database_counts(database_index) == before


def test_a_folder_that_already_holds_an_index_is_refused(database_index, folder_index, tmp_path):
    folder = copy_of(folder_index, tmp_path)
    (folder / CURRENT_FILE).unlink()
    before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    with pytest.raises(MigrationRefused, match=r"already holds an index \(store.sqlite, versions/\); nothing was "
                                               r"written: migrate into a new or empty folder"):
        from_database(database_index, folder, progress=False)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before


@pytest.mark.parametrize(("damage", "message"), [
    ("no store", r"no index store at .*store.sqlite; nothing to migrate"),
    ("no live version", r"has a store but no live version \(CURRENT\): `sift index SOURCE --index .*` publishes one"),
    ("a damaged file", r"cannot migrate the live version: .*articles.parquet does not match its checksum"),
])
def test_a_folder_with_nothing_sound_to_copy_is_refused(folder_index, postgres_url, tmp_path, damage, message):
    folder = copy_of(folder_index, tmp_path)
    if damage == "no store":
        (folder / STORE_FILE).unlink()
    elif damage == "no live version":
        (folder / CURRENT_FILE).unlink()
    else:
        parquet = folder / "versions" / current_version(folder) / "articles.parquet"
        parquet.write_bytes(parquet.read_bytes()[:-1] + b"\0")
    with pytest.raises(MigrationRefused, match=message):
        to_database(folder, postgres_url, progress=False)
    assert database_tables(postgres_url) == []  # not even the tables were made


def test_a_database_without_an_index_is_refused(postgres_url, tmp_path):
    folder = tmp_path / "idx"
    with pytest.raises(MigrationRefused, match=r"holds no Sift index \(no articles table\); nothing to migrate"):
        from_database(postgres_url, folder, progress=False)
    assert not folder.exists()
    assert database_tables(postgres_url) == []


def test_versions_with_their_vectors_in_pgvector_are_refused_both_ways(folder_index, postgres_url, tmp_path,
                                                                       embedder):
    pgvector = VectorConfig(store="pgvector", database_url=postgres_url)
    folder = copy_of(folder_index, tmp_path)
    report = index_sources([TINY], folder, embedder, progress=False, vectors=pgvector)  # re-published, not embedded
    assert (report.embedded, report.published) == (0, True)
    advice = r"SIFT_VECTOR_STORE=faiss sift index SOURCE --{}` with any of its sources re-publishes without embedding"
    with pytest.raises(MigrationRefused, match=r"keeps its passage vectors in the PostgreSQL table sift_vectors_\w+ "
                                               r"\(SIFT_VECTOR_STORE=pgvector\), which a migration does not carry.*"
                                               + advice.format("index .*")):
        to_database(folder, postgres_url, progress=False)
    assert "articles" not in database_tables(postgres_url)

    to_database(folder_index, postgres_url, progress=False)
    report = index_sources([TINY], tmp_path / "machine", embedder, progress=False, database=postgres_url,
                           vectors=pgvector)
    assert (report.embedded, report.published) == (0, True)
    with pytest.raises(MigrationRefused, match=advice.format("database URL")):
        from_database(postgres_url, tmp_path / "idx", progress=False)
    assert not (tmp_path / "idx").exists()


# -- failures part-way: nothing left ------------------------------------------------------------------------------
def test_a_copy_the_database_refuses_part_way_leaves_it_as_it_was_and_can_run_again(folder_index, postgres_url,
                                                                                     tmp_path, embedder):
    folder = copy_of(folder_index, tmp_path)
    with sqlite3.connect(folder / STORE_FILE) as db:  # copied after the articles, passages and vectors
        summary = db.execute("SELECT summary FROM ingest_log").fetchone()[0]
        db.execute("UPDATE ingest_log SET summary = 'not JSON'")
    with pytest.raises(MigrationFailed, match=r"copying ingest_log into the database at .* failed \(invalid input "
                                              r"syntax for type json.*\); the transaction was rolled back, nothing was "
                                              r"written"):
        to_database(folder, postgres_url, progress=False)
    assert database_counts(postgres_url) == {
        "articles": 0, "embeddings": 0, "pins": 0, "versions": 0, "live": None, "generation": "0", "curated": 0}

    with sqlite3.connect(folder / STORE_FILE) as db:
        db.execute("UPDATE ingest_log SET summary = ?", (summary,))
    to_database(folder, postgres_url, progress=False)
    assert database_state(postgres_url, embedder) == folder_state(folder_index, embedder)


def test_a_fetch_that_fails_leaves_no_folder_behind(database_index, tmp_path, monkeypatch):
    def full_disk(self, name, index_dir):
        (index_dir / "versions").mkdir(exist_ok=True)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(migrate.DatabaseVersions, "fetch", full_disk)
    folder = tmp_path / "new" / "idx"
    with pytest.raises(MigrationFailed, match=r"writing .*idx failed \(\[Errno 28\] No space left on device\); "
                                              r"nothing was kept"):
        from_database(database_index, folder, progress=False)
    assert not (tmp_path / "new").exists()  # nor the folder above it, made for it
