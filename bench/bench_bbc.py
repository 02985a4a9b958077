"""Benchmark: index the BBC News corpus (2,225 articles, or a fixed sample) and measure query latency in-process.

Prints indexing throughput (docs/s, passages/s, tokens/s), query latency percentiles (with the query-embedding
share measured side by side as the baseline), related-posts latency and category purity, peak memory and index size.
Indexing embeds with `--backend` (default onnx, as `sift index`); queries are embedded as `sift serve` does
(Settings.embedder(serving=True): one thread, ONNX Runtime fp32 unless SIFT_QUERY_BACKEND says otherwise).
Not a test: `make bench` runs `--articles 300`; `python bench/bench_bbc.py` indexes all 2,225.
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
import sys
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

# quoted in the operator timings: common BBC phrases, from a few to a few hundred articles each
PHRASES = ["oil prices", "mobile phone", "general election", "box office", "first round", "interest rates",
           "video game", "prime minister"]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    arr = np.array(samples_ms)
    return {f"p{p}": round(float(np.percentile(arr, p)), 2) for p in (50, 95, 99)} | {
        "mean": round(float(arr.mean()), 2)
    }


def convert(source: Path, target: Path, articles: int = 0) -> int:
    """BBC ids look like 'business/001'; Sift ids cannot hold '/', so 'business-001'. Category kept.
    `articles` > 0: a fixed random sample of that many (seed 0, file order kept), else all of them."""
    with gzip.open(source, "rt", encoding="utf-8") as fin:
        lines = fin.readlines()
    if 0 < articles < len(lines):
        lines = [lines[i] for i in sorted(random.Random(0).sample(range(len(lines)), articles))]
    n = 0
    with open(target, "w", encoding="utf-8") as fout:
        for line in lines:
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
    parser.add_argument("--articles", type=int, default=0, help="index a fixed sample of this many articles (0: all)")
    parser.add_argument("--backend", default="onnx", help="embedding backend for indexing: onnx (the default), torch, "
                        "onnx-int8")
    parser.add_argument("--late-interaction", action="store_true", help="index with SIFT_LATE_INTERACTION on")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"BBC corpus not found at {args.data}; pass --data PATH/bbc_news.jsonl.gz")

    print(f"# Sift BBC benchmark — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    out: dict = {"load_average_at_start": os.getloadavg()}
    embedder = Embedder(backend=args.backend)
    from search_api.settings import Settings

    query_encoder = Settings(embed_backend=args.backend).embedder(serving=True)
    out["index_backend"], out["query_backend"] = embedder.backend, query_encoder.backend
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "bbc.jsonl"
        n_docs = convert(args.data, src, args.articles)
        idx = args.index or Path(tmp) / "idx"
        started = time.perf_counter()
        report = index_sources([src], idx, embedder, progress=sys.stderr.isatty(),
                               late_interaction=args.late_interaction)
        seconds = time.perf_counter() - started
        chunks = report.embedded + report.cached
        tokens = _tokens(embedder, idx)
        sample = f"a fixed sample of {n_docs} of the 2,225 articles" if args.articles else f"{n_docs} articles"
        print(f"\n## Indexing ({sample}, {chunks} passages, {tokens:,} tokens embedded; {embedder.backend}, "
              f"batch {embedder.batch_size}, all cores; end to end: embedding, BM25, store, publish)")
        print(f"total {seconds:.1f} s · {n_docs / seconds:.1f} docs/s · {chunks / seconds:.1f} passages/s · "
              f"{tokens / seconds:,.0f} tokens/s · embedded {report.embedded}, from the cache {report.cached} · "
              f"skipped {report.skipped}")
        out["indexing"] = {"articles": n_docs, "passages": chunks, "embedded": report.embedded, "tokens": tokens,
                           "seconds": seconds, "docs_s": n_docs / seconds, "passages_s": chunks / seconds,
                           "tokens_s": tokens / seconds}

        reindex_start = time.perf_counter()
        again = index_sources([src], idx, embedder, progress=False, late_interaction=args.late_interaction)
        out["reindex_unchanged_s"] = time.perf_counter() - reindex_start
        print(f"re-index unchanged: {out['reindex_unchanged_s']:.2f} s, embedded {again.embedded}")

        embedder = query_encoder  # from here on, queries are embedded as the server does
        print(f"\nqueries embedded by {embedder.backend} on one thread, as `sift serve` does "
              "(Settings.embedder(serving=True))")
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
        timed: dict[str, list[float]] = {"hybrid": [], "semantic": [], "hybrid, cached": [], "semantic, cached": [],
                                          "hybrid + facets, cached": []}
        for q in queries:
            for mode in ("hybrid", "semantic"):
                embedder.clear_query_cache()
                t0 = time.perf_counter()
                engine.search(q, k=10, mode=mode)
                timed[mode].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                engine.search(q, k=10, mode=mode)
                timed[f"{mode}, cached"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            engine.search(q, k=10, facets=True)  # what the search page asks for on a first page
            timed["hybrid + facets, cached"].append((time.perf_counter() - t0) * 1000)
        s, e = percentiles(search_ms), percentiles(embed_ms)
        print(f"\n## Query latency, in-process, k=10 ({len(queries)} queries, 1 client)")
        print(f"hybrid search (embed, FAISS, BM25, fuse): {s}")
        print(f"baseline, query embedding alone:    {e}")
        for name, values in timed.items():
            print(f"{name + ':':35s} {percentiles(values)}")
        for suffix in ("", ", cached"):
            h, m = percentiles(timed["hybrid" + suffix]), percentiles(timed["semantic" + suffix])
            print(f"hybrid / semantic{suffix}: p50 {h['p50'] / m['p50']:.2f}x · p99 {h['p99'] / m['p99']:.2f}x")
        f, h = percentiles(timed["hybrid + facets, cached"]), percentiles(timed["hybrid, cached"])
        print(f"facets cost (cached): p50 {f['p50'] / h['p50']:.2f}x · p99 {f['p99'] / h['p99']:.2f}x of hybrid")
        print(f"embedding share of search p50: {e['p50'] / s['p50']:.0%}")
        out["query"] = {"search": s, "embedding": e} | {name: percentiles(v) for name, v in timed.items()}

        from search_api.schemas import Filters

        filtered = []
        for q in queries[:100]:
            t0 = time.perf_counter()
            engine.search(q, k=10, filters=Filters(categories=["tech"]))
            filtered.append((time.perf_counter() - t0) * 1000)
        print(f"search with a category filter:      {percentiles(filtered)}")
        out["query"]["filtered"] = percentiles(filtered)

        # operators: the same words with and without quotes (one query vector: quotes are not embedded), warmed by
        # the plain words, so the difference is the phrase check — first for a phrase (its articles' texts read),
        # then again (cached per version, as when paging); "-said" excludes a word most articles hold
        operators: dict[str, list[float]] = {"words": [], '"phrase" words, first': [], '"phrase" words, again': [],
                                             "words -said": []}
        engine.syntax_filter.rows_holding.cache_clear()
        for i, q in enumerate(queries[:100]):
            phrase = PHRASES[i % len(PHRASES)]
            engine.search(f"{phrase} {q}", k=10)
            for name, text in (("words", f"{phrase} {q}"), ('"phrase" words, first', f'"{phrase}" {q}'),
                               ('"phrase" words, again', f'"{phrase}" {q}'), ("words -said", f"{phrase} {q} -said")):
                t0 = time.perf_counter()
                engine.search(text, k=10)
                operators[name].append((time.perf_counter() - t0) * 1000)
            engine.syntax_filter.rows_holding.cache_clear()  # the next query's phrase is read afresh
        for name, values in operators.items():
            print(f"{name + ' (cached vector):':44s} {percentiles(values)}")
        w, first, again, ex = (percentiles(operators[n]) for n in operators)
        print(f"phrase cost: first p50 {first['p50'] / w['p50']:.2f}x · p99 {first['p99'] / w['p99']:.2f}x, again "
              f"p50 {again['p50'] / w['p50']:.2f}x · p99 {again['p99'] / w['p99']:.2f}x; exclusion: "
              f"p50 {ex['p50'] / w['p50']:.2f}x · p99 {ex['p99'] / w['p99']:.2f}x of the words alone")
        holding = {p: len(engine.syntax_filter.rows_holding(p)) for p in PHRASES}
        print(f"articles holding each phrase: {holding}")
        out["query"]["operators"] = {name: percentiles(v) for name, v in operators.items()}

        ids = list(engine.articles["id"])
        categories = {i: list(c)[0] for i, c in zip(ids, engine.articles["categories"])}
        related_ms, purity = [], []
        for aid in ids:
            t0 = time.perf_counter()
            items = engine.related(aid, k=5).items
            related_ms.append((time.perf_counter() - t0) * 1000)
            if items:  # a list may be empty: nothing above the minimum similarity
                purity.append(statistics.mean(categories[i.id] == categories[aid] for i in items))
        mean_purity = statistics.mean(purity) if purity else float("nan")
        print(f"\n## Related posts ({len(ids)} articles, k=5; serving the precomputed lists)")
        print(f"latency: {percentiles(related_ms)} · category purity@5: {mean_purity:.3f} "
              f"({len(ids) - len(purity)} empty lists)")
        out["related"] = percentiles(related_ms) | {"purity_at_5": mean_purity, "empty": len(ids) - len(purity)}

        size = sum(p.stat().st_size for p in (idx / "versions").rglob("*") if p.is_file())
        store = (idx / "store.sqlite").stat().st_size
        print("\n## Footprint")
        print(f"version on disk: {size / 1e6:.1f} MB · store.sqlite: {store / 1e6:.1f} MB")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        out["footprint"] = {"version_mb": size / 1e6, "store_mb": store / 1e6,
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    out["load_average_at_end"] = os.getloadavg()
    print(f"load average at end {out['load_average_at_end'][0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))


def _tokens(embedder: Embedder, index_dir: Path) -> int:
    """Tokens of the distinct passages the index holds, as the model sees them (cut at max_seq_length)."""
    from transformers import AutoTokenizer

    from indexer.store import Store

    with Store(index_dir / "store.sqlite") as store:
        texts = [text for _, text in store.chunks_missing_embeddings("-no-such-model-")]
    tokenizer = AutoTokenizer.from_pretrained(str(embedder.path), local_files_only=True)
    return sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=embedder.max_seq_length)["input_ids"])


if __name__ == "__main__":
    main()
