"""Several `sift serve` processes on one PostgreSQL database, each with nothing but the URL and an empty folder of
its own: they answer alike, a write through one is searchable through the other, a server killed mid-request leaves
the other answering, and the database going down mid-publish loses nothing and serves nothing half-published."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from indexer.pipeline import index_sources

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
TINY = REPO / "tests" / "fixtures" / "tiny_corpus.jsonl"
SEED = "child trafficking funding in Africa"
NEW = {"id": "shared-01", "title": "Beekeeping cooperative in Rwanda wins export grant",
       "body": "A women's beekeeping cooperative near Huye will use a new grant to reach honey buyers abroad.",
       "categories": ["Livelihoods"], "published_at": "2026-03-01"}


def hits(server, query: str, k: int = 5) -> list[tuple[str, float]]:
    r = httpx.get(f"{server.base}/search", params={"q": query, "k": k}, timeout=30)
    assert r.status_code == 200, r.text
    return [(hit["id"], hit["score"]) for hit in r.json()["hits"]]


def wait_for(check, timeout: float, what: str) -> float:
    """Seconds until `check()` holds; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


def finds(server, query: str, article_id: str) -> bool:
    return article_id in [i for i, _ in hits(server, query, k=3)]


@pytest.fixture(scope="module")
def sample_database(module_postgres_url, tmp_path_factory) -> str:
    """The sample corpus indexed into the database with `sift index --database` (from a folder no server uses)."""
    done = subprocess.run(
        [sys.executable, "-m", "search_api.cli", "index", str(SAMPLE), "--database", module_postgres_url,
         "--index", str(tmp_path_factory.mktemp("indexer") / "idx"), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "version 000001 published at postgresql://" in done.stdout
    return module_postgres_url


def test_two_servers_on_one_database_answer_alike_and_share_writes(sample_database, serve, tmp_path, auth):
    env = {"SIFT_DATABASE_URL": sample_database}
    a = serve(tmp_path / "server-a", env=env)
    b = serve(tmp_path / "server-b", env=env, args=("--workers", "2"))  # two processes sharing one folder
    seed = hits(a, SEED)
    assert seed and hits(b, SEED) == seed
    assert not (tmp_path / "server-a" / "store.sqlite").exists()  # each folder holds a copy of the version only

    for server in (a, b):  # no key, a wrong key: refused, and nothing is written
        assert httpx.post(f"{server.base}/articles", json={"articles": [NEW]}, timeout=30).status_code == 401
        r = httpx.post(f"{server.base}/articles", json={"articles": [NEW]}, timeout=30,
                       headers={"Authorization": "Bearer nope"})
        assert r.status_code == 403
    with psycopg.connect(sample_database) as conn:
        assert conn.execute("SELECT count(*) FROM articles WHERE id = %s", (NEW["id"],)).fetchone() == (0,)

    r = httpx.post(f"{a.base}/articles", json={"articles": [NEW]}, headers=auth, timeout=30)
    assert r.status_code == 202 and r.json()["added"] == 1
    seconds = wait_for(lambda: finds(b, "honey exports from Rwanda", NEW["id"]), 60, "the write showing on server b")
    print(f"a write through server a was found through server b after {seconds:.1f} s")
    assert finds(a, "honey exports from Rwanda", NEW["id"])
    for _ in range(10):  # whichever of b's workers answers
        wait_for(lambda: httpx.get(f"{b.base}/health", timeout=10).json()["version"] == "000002", 10,
                 "both of server b's workers on the new version")

    assert httpx.delete(f"{b.base}/articles/{NEW['id']}", headers=auth, timeout=30).status_code == 202  # a worker of b
    wait_for(lambda: httpx.get(f"{a.base}/articles/{NEW['id']}", timeout=10).status_code == 404, 60,
             "the delete through server b showing on server a")
    for _ in range(10):
        wait_for(lambda: httpx.get(f"{b.base}/health", timeout=10).json()["version"] == "000003", 10,
                 "both of server b's workers on the version without it")
    assert hits(a, SEED) == hits(b, SEED) == seed


def test_a_server_killed_mid_request_leaves_the_other_answering(sample_database, serve, tmp_path):
    env = {"SIFT_DATABASE_URL": sample_database}
    a = serve(tmp_path / "server-a", env=env)
    b = serve(tmp_path / "server-b", env=env)
    answers: dict[str, list] = {"a": [], "b": []}
    stop = threading.Event()

    def ask(name, server):
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    answers[name].append(client.get(f"{server.base}/search", params={"q": SEED}).status_code)
                except httpx.TransportError as exc:
                    answers[name].append(type(exc).__name__)

    askers = [threading.Thread(target=ask, args=pair) for pair in (("a", a), ("b", b)) for _ in range(2)]
    for t in askers:
        t.start()
    wait_for(lambda: len(answers["a"]) >= 5, 60, "server a answering")
    a.kill()  # SIGKILL with requests in flight
    killed_at = len(answers["b"])
    wait_for(lambda: len(answers["b"]) >= killed_at + 20, 60, "server b answering 20 more")
    stop.set()
    for t in askers:
        t.join(30)
    assert set(answers["b"]) == {200}
    assert any(not isinstance(code, int) for code in answers["a"])  # a's clients saw it go


def test_the_database_down_mid_publish_loses_no_write_and_serves_nothing_half_published(
    tmp_path, embedder, serve, auth
):
    from tests.postgres import PostgresServer

    pg = PostgresServer.start()  # a server of its own: this test stops it
    try:
        url = pg.url(pg.create_database())
        index_sources([TINY], tmp_path / "indexer", embedder, progress=False, database=url)
        env = {"SIFT_DATABASE_URL": url}
        a = serve(tmp_path / "server-a", env=env)
        b = serve(tmp_path / "server-b", env=env)
        before = hits(b, "honey exports from Rwanda")
        assert httpx.post(f"{a.base}/articles", json={"articles": [NEW]}, headers=auth,
                          timeout=30).status_code == 202
        pg.halt()  # the publish that write scheduled starts within 0.5 s: it meets a database going or gone
        try:
            for _ in range(10):  # both go on answering from the version they hold, and no other
                for server in (a, b):
                    assert hits(server, "honey exports from Rwanda") == before
                time.sleep(0.3)
            first = hits(b, "water grants")[0][0]
            for server in (a, b):  # related posts too (the pins and excludes as last read)
                assert httpx.get(f"{server.base}/articles/{first}/related", timeout=30).status_code == 200
            health = httpx.get(f"{a.base}/health", timeout=10).json()
            assert health["version"] == "000001" and "database" in (health["error"] or "")
            for server in (a, b):  # still ready: a load balancer must not take every server out for the database
                assert httpx.get(f"{server.base}/ready", timeout=10).status_code == 200
            late = {**NEW, "id": "shared-02", "title": "A write while the database is down"}
            r = httpx.post(f"{b.base}/articles", json={"articles": [late]}, headers=auth, timeout=60)
            assert r.status_code == 503 and "database" in r.json()["error"]  # refused, said why, nothing half-written
        finally:
            pg.resume()
        wait_for(lambda: finds(b, "honey exports from Rwanda", NEW["id"]), 120, "the write after the database came back")
        wait_for(lambda: finds(a, "honey exports from Rwanda", NEW["id"]), 30, "the write on server a")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT name FROM sift_versions ORDER BY name").fetchall() == [("000001",), ("000002",)]
            assert conn.execute("SELECT count(*) FROM articles WHERE id = 'shared-02'").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM sift_blobs b WHERE NOT EXISTS "
                                "(SELECT 1 FROM sift_version_files f WHERE f.sha256 = b.sha256)").fetchone() == (0,)
        for server in (a, b):
            assert httpx.get(f"{server.base}/health", timeout=10).json() | {"error": None} == {
                "status": "ok", "version": "000002", "articles": 13, "error": None}
    finally:
        pg.stop()
