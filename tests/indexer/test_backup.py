"""`sift backup`'s core: a copy of a serving index that serves the same answers and keeps the editorial state."""

import json
import shutil
import sqlite3
import threading

import pytest

from indexer.backup import BackupFailed, backup_index
from indexer.editorial import EditorialStore
from indexer.errors import IndexNotFound
from indexer.pipeline import index_sources
from indexer.publish import CURRENT_FILE, STORE_FILE, VERSIONS_DIR
from search_api.engine import Engine


@pytest.fixture
def index(tiny_index, tmp_path):
    return shutil.copytree(tiny_index, tmp_path / "idx")


def test_the_copy_serves_the_same_answers_and_keeps_pins_and_counts(index, tmp_path, embedder):
    editorial = EditorialStore(index / STORE_FILE)
    editorial.pin("t11", "t02", 1)
    editorial.record_search("mangrove grants", answered=True, keep_days=90)
    editorial.close()
    report = backup_index(index, tmp_path / "copy")
    copy = tmp_path / "copy"
    assert (copy / CURRENT_FILE).read_text().strip() == report.version == (index / CURRENT_FILE).read_text().strip()
    assert [p.name for p in (copy / VERSIONS_DIR).iterdir()] == [report.version]  # the live version only
    assert report.articles == 12 and report.store_bytes > 0 and report.version_bytes > 0 and not report.vectors_elsewhere
    original, restored = Engine.open(index, embedder), Engine.open(copy, embedder)
    for query in ("mangrove restoration grant", "boreholes for schools"):
        assert [h.id for h in restored.search(query).hits] == [h.id for h in original.search(query).hits]
    kept, source = EditorialStore(copy / STORE_FILE), EditorialStore(index / STORE_FILE)
    assert kept.curation("t11").pins == (("t02", 1),)
    # the same search counts (the shared tiny index may hold other tests' searches too, when they ran first)
    assert kept.search_insights(limit=1000) == source.search_insights(limit=1000)
    assert "mangrove grants" in [q.query for q in kept.search_insights(limit=1000).top]
    kept.close()
    source.close()


def test_the_copy_can_be_indexed_further(index, tmp_path, embedder):
    backup_index(index, tmp_path / "copy")
    source = tmp_path / "more.jsonl"
    source.write_text(json.dumps({"id": "n1", "title": "Solar pumps for irrigation in Mali",
                                  "body": "A cooperative installed solar pumps for irrigation."}) + "\n")
    report = index_sources([source], tmp_path / "copy", embedder, progress=False)
    assert report.added == 1
    assert Engine.open(tmp_path / "copy", embedder).search("solar irrigation pumps").hits[0].id == "n1"
    assert Engine.open(index, embedder).stats().articles == 12  # the original is untouched


def test_a_backup_taken_while_the_store_is_written_is_consistent(index, tmp_path):
    stop = threading.Event()
    written = []

    def writer() -> None:  # a server counting widget events all along
        store = EditorialStore(index / STORE_FILE)
        while not stop.is_set():
            store.record_event("t01", ["t02", "t03"], "t02")
            written.append(1)
        store.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        backup_index(index, tmp_path / "copy")
    finally:
        stop.set()
        thread.join()
    db = sqlite3.connect(tmp_path / "copy" / STORE_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    views = db.execute("SELECT views FROM related_views WHERE source = 't01'").fetchone()[0]
    assert 20 <= views <= len(written)  # one committed state: every event before the copy, none half-written
    db.close()


def test_refusals_leave_nothing_behind(index, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(BackupFailed, match="already exists and is not an empty folder"):
        backup_index(index, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    with pytest.raises(BackupFailed, match="outside the index"):
        backup_index(index, index / "backups")
    with pytest.raises(IndexNotFound, match="no index at"):
        backup_index(tmp_path / "nowhere", tmp_path / "copy")
    # a damaged version file is caught by the manifest's checksums, and the half-made copy removed
    version = index / VERSIONS_DIR / (index / CURRENT_FILE).read_text().strip()
    with open(version / "articles.parquet", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(BackupFailed, match="articles.parquet"):
        backup_index(index, tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    (tmp_path / "empty").mkdir()  # an empty folder given by the user stays, empty
    with pytest.raises(BackupFailed):
        backup_index(index, tmp_path / "empty")
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())
