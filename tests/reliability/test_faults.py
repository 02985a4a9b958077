"""Faults: the disk fills during a publish, the index is deleted or corrupted under a running server, the model is
missing or not the one the index was built with, and another process holds SQLite's write lock."""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from indexer.article import parse_article
from indexer.errors import StoreBusy, StoreUnwritable
from indexer.pipeline import index_sources
from indexer.publish import current_version
from indexer.store import Store
from search_api.http.app import create_app
from search_api.settings import Settings

KEY = "faults-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
NEW = {"id": "n01", "title": "Beekeeping cooperative in Rwanda wins export grant",
       "body": "A women's beekeeping cooperative near Huye will use a new grant to reach honey buyers abroad."}


def _app(index, **settings):
    return create_app(Settings(index_dir=index, api_key=KEY, related_min_similarity=-1, **settings))


def _wait_for(check, timeout: float = 30.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.2)


# -- disk full during a publish ------------------------------------------------------------------------------------
FILE_LIMIT = 512 * 1024  # above what a write adds to the store's WAL, below the sample's 1 MB passage index


def _small_files() -> None:
    """In the server's process, before exec: no file may grow past FILE_LIMIT, as on a full disk. A write past it
    fails with EFBIG instead of killing the process (SIGXFSZ ignored). The hard limit stays, so the test can lift
    the soft one later: space freed."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, resource.RLIM_INFINITY))


@pytest.mark.slow
def test_disk_full_during_a_publish_keeps_the_live_version_and_publishes_once_space_is_back(sample_copy, serve, auth):
    server = serve(sample_copy, preexec_fn=_small_files)
    r = httpx.post(f"{server.base}/articles", json={"articles": [NEW]}, headers=auth)
    assert r.status_code == 202  # durable in the store: the WAL is small, only a version's files hit the limit

    health = _wait_for(lambda: httpx.get(f"{server.base}/health").json()["error"], what="the publish failure")
    assert health.startswith("publishing failed: could not write a new version in $SIFT_INDEX_DIR/versions: "
                             "File too large. Version 000001 stays live and every stored article is kept")
    assert current_version(sample_copy) == "000001"
    assert [p.name for p in (sample_copy / "versions").iterdir()] == ["000001"]  # no half version, no .building-*
    assert httpx.get(f"{server.base}/ready").status_code == 200  # still serving, and the index on disk is sound
    hits = httpx.get(f"{server.base}/search", params={"q": "honey exports from Rwanda", "k": 3}).json()["hits"]
    assert "n01" not in [h["id"] for h in hits]

    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    _wait_for(lambda: httpx.get(f"{server.base}/health").json()["version"] == "000002", timeout=60,
              what="the retried publish")  # no new write needed: the publisher retries on its own
    assert httpx.get(f"{server.base}/health").json()["error"] is None
    hits = httpx.get(f"{server.base}/search", params={"q": "honey exports from Rwanda", "k": 3}).json()["hits"]
    assert hits[0]["id"] == "n01"
    assert server.stop() == 0
    assert sorted(p.name for p in (sample_copy / "versions").iterdir()) == ["000001", "000002"]


# -- the index deleted or corrupted under a running server ---------------------------------------------------------
def test_a_deleted_index_folder_makes_the_server_unready_but_it_keeps_answering(tiny_copy, tmp_path):
    with TestClient(_app(tiny_copy)) as c:
        assert c.get("/ready").status_code == 200
        moved = tiny_copy.rename(tmp_path / "moved-away")
        r = c.get("/ready")
        assert r.status_code == 503
        assert r.json() == {
            "status": "not ready", "version": "000001", "articles": 12,
            "error": "CURRENT is missing from the index folder (was it deleted or moved?); "
                     "still answering from version 000001 in memory",
        }
        assert c.get("/search", params={"q": "water", "k": 2}).status_code == 200  # from memory
        assert c.get("/health").json()["error"] == r.json()["error"]
        w = c.post("/articles", json={"articles": [NEW]}, headers=AUTH)
        assert w.status_code == 503 and "writes are refused until it is restored" in w.json()["error"]
        assert not tiny_copy.exists()  # the refused write created nothing
        moved.rename(tiny_copy)
        assert c.get("/ready").status_code == 200


def test_a_corrupted_file_of_the_served_version_makes_the_server_unready(tiny_copy):
    target = tiny_copy / "versions" / "000001" / "articles.faiss"
    with TestClient(_app(tiny_copy)) as c:
        target.write_bytes(target.read_bytes())  # rewritten, same bytes: re-hashed, still sound
        assert c.get("/ready").status_code == 200
        with open(target, "r+b") as fh:
            fh.seek(64)
            fh.write(b"\x00rot\x00")
        r = c.get("/ready")
        assert r.status_code == 503
        assert r.json()["error"] == (
            "articles.faiss of version 000001 no longer matches its checksum (the file is corrupt); still answering "
            "from version 000001 in memory; re-run `sift index` to publish a sound version"
        )
        assert c.get("/articles/t01/related").status_code == 200


def test_a_corrupt_new_version_is_not_swapped_in(tiny_copy, tmp_path, embedder):
    corpus = tmp_path / "more.jsonl"
    corpus.write_text(json.dumps(NEW) + "\n")
    with TestClient(_app(tiny_copy)) as c:
        assert c.get("/ready").status_code == 200
        index_sources([corpus], tiny_copy, embedder, progress=False)  # another process publishes 000002 ...
        (tiny_copy / "versions" / "000002" / "neighbours.npy").unlink()  # ... and loses a file of it
        c.app.state.live.reload()  # what the next request would start in the background
        r = c.get("/ready")
        assert r.status_code == 503
        assert r.json()["error"] == (
            "could not load the new version: $SIFT_INDEX_DIR/versions/000002/neighbours.npy is missing; the version is "
            "incomplete, re-run `sift index` to publish a new one; still answering from version 000001 in memory"
        )
        assert c.get("/search", params={"q": "water"}).json()["version"] == "000001"
        index_sources([corpus], tiny_copy, embedder, progress=False)  # the next publish repairs it
        c.app.state.live.reload()
        assert c.get("/ready").json()["version"] == "000003"


# -- the model: missing, or not the one the index was built with -------------------------------------------------
def _other_model(index):
    manifest = index / "versions" / "000001" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "model_id": "someone/else@123"}))
    return {}


def _missing_model(index):
    return {"SIFT_MODEL_PATH": str(index.parent / "no-such-model")}


def _broken_manifest(index):
    (index / "versions" / "000001" / "manifest.json").write_text('{"format_version": 3, "model_')
    return {}


def _missing_file(index):
    (index / "versions" / "000001" / "dense.faiss").unlink()
    return {}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_missing_model, "error: model folder {parent}/no-such-model does not exist or is not a sentence-transformers "
                         "model (expected modules.json / config.json); set SIFT_MODEL_PATH to a model folder"),
        pytest.param(_other_model, "error: the index was built with someone/else@123 but the configured model is "
                     "sentence-transformers/all-MiniLM-L6-v2", marks=pytest.mark.slow),
        pytest.param(_missing_file, "error: {index}/versions/000001/dense.faiss is missing; the version is incomplete",
                     marks=pytest.mark.slow),
        pytest.param(_broken_manifest, "error: {index}/versions/000001/manifest.json is not valid JSON",
                     marks=pytest.mark.slow),
    ],
)
def test_sift_serve_refuses_to_start_with_one_clear_line(tiny_copy, serve, damage, message):
    env = damage(tiny_copy)
    server = serve(tiny_copy, env=env, wait=False)
    assert server.proc.wait(60) == 1
    output = server.log_path.read_text()
    assert message.format(parent=tiny_copy.parent, index=tiny_copy) in output
    assert "Traceback" not in output and "Uvicorn running" not in output


def test_a_server_started_without_its_model_says_why_without_the_path(tiny_copy):
    with TestClient(create_app(Settings(index_dir=tiny_copy, model_path=tiny_copy.parent / "no-such-model"))) as c:
        r = c.get("/ready")
        assert r.status_code == 503
        assert r.json()["error"] == ("model folder $SIFT_MODEL_PATH does not exist or is not a sentence-transformers "
                                     "model (expected modules.json / config.json); set SIFT_MODEL_PATH to a model folder")
        assert c.get("/search", params={"q": "water"}).status_code == 503


# -- SQLite locked by another writer -----------------------------------------------------------------------------
@pytest.fixture()
def locked(tiny_copy):
    """Another process's connection holding the store's write lock (BEGIN EXCLUSIVE) until the test releases it."""
    other = sqlite3.connect(tiny_copy / "store.sqlite", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def test_the_store_retries_a_locked_write_then_says_so(tiny_copy, locked):
    article = parse_article(NEW)
    with Store(tiny_copy / "store.sqlite", busy_timeout=0.5) as store:
        started = time.monotonic()
        with pytest.raises(StoreBusy, match=r"store.sqlite is locked by another writer .* stayed locked for 0.5 s; "
                                            "nothing was written, retry in a few seconds"):
            store.upsert_many([(article, [], "test")])
        assert time.monotonic() - started >= 0.5  # SQLite's busy handler kept trying meanwhile
        assert store.get_article("n01") is None and store.count_articles() == 12  # reads are not blocked (WAL)

        threading.Timer(0.3, locked.execute, ["COMMIT"]).start()  # the other writer finishes within the timeout
    with Store(tiny_copy / "store.sqlite", busy_timeout=5) as store:
        assert store.upsert_many([(article, [], "test")]) == ["added"]


def test_writes_over_http_answer_503_with_retry_after_while_the_store_is_locked(tiny_copy, locked):
    with TestClient(_app(tiny_copy, store_busy_timeout=0.5)) as c:
        for method, path, kwargs in [
            ("post", "/articles", {"json": {"articles": [NEW]}}),
            ("delete", "/articles/t01", {}),
            ("put", "/articles/t01/related/pins/t02", {}),
            ("post", "/widget/events", {"json": {"article_id": "t01", "shown": ["t02"]}}),
        ]:
            r = getattr(c, method)(path, headers=AUTH, **kwargs)
            assert r.status_code == 503, (path, r.text)
            assert r.headers["retry-after"] == "5"
            assert "store.sqlite is locked by another writer" in r.json()["error"]
        assert c.get("/search", params={"q": "water"}).status_code == 200  # reading goes on
        locked.execute("COMMIT")
        assert c.post("/articles", json={"articles": [NEW]}, headers=AUTH).status_code == 202


# -- a store the file system will not write (read-only, disk full) -------------------------------------------------
def test_a_write_the_file_system_refuses_is_rolled_back_and_named(tiny_copy):
    with Store(tiny_copy / "store.sqlite") as store:
        store._conn.execute("PRAGMA query_only=ON")  # SQLite's own read-only mode: the answer a read-only file gets
        with pytest.raises(StoreUnwritable, match=r"store.sqlite cannot be written \(attempt to write a readonly "
                                                  r"database: a read-only file or folder, or a full disk\?\); "
                                                  "this write was rolled back"):
            store.upsert_many([(parse_article(NEW), [], "test")])
        assert not store._conn.in_transaction
        store._conn.execute("PRAGMA query_only=OFF")
        assert store.count_articles() == 12 and store.upsert_many([(parse_article(NEW), [], "test")]) == ["added"]


def test_sift_index_on_a_full_disk_stops_with_one_line_and_the_next_run_goes_on(tiny_copy, tmp_path):
    source = tmp_path / "more.jsonl"
    source.write_text(json.dumps(NEW) + "\n")
    cmd = [sys.executable, "-m", "search_api.cli", "index", str(source), "--index", str(tiny_copy), "-q"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def full_disk() -> None:  # files may not grow past 8 KB: enough to start Python, not to write the store
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, resource.RLIM_INFINITY))

    failed = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=full_disk, timeout=300)
    assert failed.returncode == 1, failed.stderr
    assert failed.stderr.strip().splitlines() == [
        "error: store.sqlite cannot be written (disk I/O error: a read-only file or folder, or a full disk?); this "
        "write was rolled back. Batches committed before it are kept; run it again to go on from there"
    ]
    assert current_version(tiny_copy) == "000001"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)  # space is back
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout and current_version(tiny_copy) == "000002"
    with sqlite3.connect(tiny_copy / "store.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _no_file_may_grow() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails with EFBIG, as on a full disk


def test_writes_to_a_full_disk_answer_503_and_land_once_space_is_back(tiny_copy, serve, auth):
    server = serve(tiny_copy, preexec_fn=_no_file_may_grow)
    base = server.base
    assert httpx.put(f"{base}/articles/t01/related/pins/t03", headers=auth).status_code == 200
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))  # the disk is full
    for method, path, kwargs in [
        ("put", "/articles/t01/related/pins/t02", {}),
        ("post", "/widget/events", {"json": {"article_id": "t01", "shown": ["t02"], "clicked": "t02"}}),
        ("post", "/articles", {"json": {"articles": [NEW]}}),
    ]:
        r = getattr(httpx, method)(f"{base}{path}", headers=auth, **kwargs)
        assert r.status_code == 503, (path, r.text)
        assert r.json()["error"].startswith("store.sqlite cannot be written ("), r.text
        assert r.json()["error"].endswith("a read-only file or folder, or a full disk?); this write was rolled back")
        assert "Traceback" not in server.log_path.read_text(errors="replace")
    assert httpx.get(f"{base}/search", params={"q": "water"}).status_code == 200  # reading goes on
    pins = httpx.get(f"{base}/articles/t01/related/curation", headers=auth).json()
    assert [p["id"] for p in pins["pins"]] == ["t03"]  # the earlier pin is kept, the refused one did not land

    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert httpx.put(f"{base}/articles/t01/related/pins/t02", headers=auth).status_code == 200
    assert httpx.post(f"{base}/articles", json={"articles": [NEW]}, headers=auth).status_code == 202
    assert server.stop() == 0
    with sqlite3.connect(tiny_copy / "store.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM related_pins").fetchone()[0] == 2
