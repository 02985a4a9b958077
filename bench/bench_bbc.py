"""Benchmark: index the BBC News corpus (2,225 articles) and measure query latency in-process.

Prints indexing throughput, query latency percentiles (with the query-embedding share measured side by side as the
baseline), related-posts latency and category purity, peak memory and index size. Not a test: run `make bench`.
"""

from __future__ import annotations

import argparse
from functools import partial
import gzip
import json
import os
import platform
import random
import resource
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from indexer.pipeline import index_sources  # noqa: E402
from models import Embedder  # noqa: E402
from search_api.engine import Engine  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc_news" / "bbc_news.jsonl.gz"
QUERIES = [
    "rising oil prices hurt airline profits",
    "new mobile phone technology launched",
    "election campaign promises on tax",
    "film wins award at ceremony",
    "injury keeps striker out of the match",
    "company reports record quarterly earnings",
    "government plans to cut immigration",
    "music album tops the charts",
    "online security threats to computer users",
    "tennis champion knocked out in first round",
    "central bank raises interest rates",
    "video game sales grow over holiday season",
]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    arr = np.array(samples_ms)
    return {f"p{p}": round(float(np.percentile(arr, p)), 2) for p in (50, 95, 99)} | {
        "mean": round(float(arr.mean()), 2)
    }


def convert(source: Path, target: Path) -> int:
    """BBC ids look like 'business/001'; Sift ids cannot hold '/', so 'business-001'. Category kept."""
    n = 0
    with gzip.open(source, "rt", encoding="utf-8") as fin, open(target, "w", encoding="utf-8") as fout:
        for line in fin:
            rec = json.loads(line)
            fout.write(json.dumps({"id": rec["id"].replace("/", "-"), "title": rec["title"], "body": rec["text"],
                                   "categories": [rec["category"]]}) + "\n")
            n += 1
    return n


print = partial(print, flush=True)  # noqa: A001 - figures appear as they are measured, also when piped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=300, help="timed searches")
    parser.add_argument("--index", type=Path, help="index folder to (re)use: a kept one embeds nothing again")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"BBC corpus not found at {args.data}; pass --data PATH/bbc_news.jsonl.gz")

    print(f"# Sift BBC benchmark — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "bbc.jsonl"
        n_docs = convert(args.data, src)
        idx = args.index or Path(tmp) / "idx"
        started = time.perf_counter()
        report = index_sources([src], idx, embedder, progress=True)
        seconds = time.perf_counter() - started
        chunks = report.embedded + report.cached
        print(f"\n## Indexing ({n_docs} articles, {chunks} passages)")
        print(f"total {seconds:.1f} s · {n_docs / seconds:.1f} docs/s · {chunks / seconds:.1f} passages/s · skipped {report.skipped}")

        reindex_start = time.perf_counter()
        again = index_sources([src], idx, embedder, progress=False)
        print(f"re-index unchanged: {time.perf_counter() - reindex_start:.2f} s, embedded {again.embedded}")

        engine = Engine.open(idx, embedder)
        rng = random.Random(7)
        queries = [rng.choice(QUERIES) + ("" if i % 2 else f" {rng.randint(1, 99)}") for i in range(args.queries)]
        for q in QUERIES:  # warm-up
            engine.search(q, k=10)

        embed_ms, search_ms = [], []
        for q in queries:
            t0 = time.perf_counter()
            embedder.encode([q])
            t1 = time.perf_counter()
            engine.search(q, k=10)
            t2 = time.perf_counter()
            embed_ms.append((t1 - t0) * 1000)
            search_ms.append((t2 - t1) * 1000)
        # hybrid and semantic side by side, query by query, each embedding its query afresh (cache cleared), then
        # again with the query vector cached: the second pair isolates retrieval and fusion
        timed: dict[str, list[float]] = {"hybrid": [], "semantic": [], "hybrid, cached": [], "semantic, cached": []}
        for q in queries:
            for mode in ("hybrid", "semantic"):
                embedder._query_cache.cache_clear()
                t0 = time.perf_counter()
                engine.search(q, k=10, mode=mode)
                timed[mode].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                engine.search(q, k=10, mode=mode)
                timed[f"{mode}, cached"].append((time.perf_counter() - t0) * 1000)
        s, e = percentiles(search_ms), percentiles(embed_ms)
        print(f"\n## Query latency, in-process, k=10 ({len(queries)} queries, 1 client)")
        print(f"hybrid search (embed, FAISS, BM25, fuse): {s}")
        print(f"baseline, query embedding alone:    {e}")
        for name, values in timed.items():
            print(f"{name + ':':35s} {percentiles(values)}")
        for suffix in ("", ", cached"):
            h, m = percentiles(timed["hybrid" + suffix]), percentiles(timed["semantic" + suffix])
            print(f"hybrid / semantic{suffix}: p50 {h['p50'] / m['p50']:.2f}x · p99 {h['p99'] / m['p99']:.2f}x")
        print(f"embedding share of search p50: {e['p50'] / s['p50']:.0%}")

        from search_api.schemas import Filters

        filtered = []
        for q in queries[:100]:
            t0 = time.perf_counter()
            engine.search(q, k=10, filters=Filters(categories=["tech"]))
            filtered.append((time.perf_counter() - t0) * 1000)
        print(f"search with a category filter:      {percentiles(filtered)}")

        ids = list(engine.articles["id"])
        categories = {i: list(c)[0] for i, c in zip(ids, engine.articles["categories"])}
        related_ms, purity = [], []
        for aid in ids:
            t0 = time.perf_counter()
            items = engine.related(aid, k=5).items
            related_ms.append((time.perf_counter() - t0) * 1000)
            purity.append(statistics.mean(categories[i.id] == categories[aid] for i in items))
        print(f"\n## Related posts ({len(ids)} articles, k=5)")
        print(f"latency: {percentiles(related_ms)} · category purity@5: {statistics.mean(purity):.3f}")

        size = sum(p.stat().st_size for p in (idx / "versions").rglob("*") if p.is_file())
        store = (idx / "store.sqlite").stat().st_size
        print(f"\n## Footprint")
        print(f"version on disk: {size / 1e6:.1f} MB · store.sqlite: {store / 1e6:.1f} MB")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
