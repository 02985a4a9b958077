"""Benchmark: the embedding backends side by side — speed, the relevance each one costs, SciFact end to end.

torch fp32 (sentence-transformers on PyTorch), ONNX Runtime fp32 and ONNX Runtime int8 (dynamic quantisation) of the
bundled all-MiniLM-L6-v2 run in one process. Speed: the first N SciFact abstracts (long texts, most cut at the
model's 256 tokens) and the first M claims (the queries: short texts), per batch size and thread count; the backends
are interleaved round by round so that load from other jobs hits them alike, and each one's best round counts.
Relevance: `search_api.evaluation.beir.evaluate` on a BEIR collection per backend (semantic, hybrid with the default
fusion, keyword nDCG@10), each in its own index folder so no backend reuses another's vectors.
End to end (`--e2e`): SciFact indexed from scratch with the fastest backend (BM25, store and publish included)
against issue #6's ≤ 105 s goal (txtai: 313 s), and its hybrid nDCG@10 against the fp32 torch path measured in the
same process from the torch vectors cached by `sift eval` (eval-runs/cache/scifact; only passages the current
chunker cuts differently from the cached ones are embedded).
Prints markdown tables. Not a test:

    python bench/bench_embedding.py                 # the full grid and SciFact relevance per backend (~40 min)
    python bench/bench_embedding.py --no-relevance  # speed alone, a few minutes
    (`make bench` runs a budget: 200 abstracts at 2 threads, MEDLINE relevance, --e2e auto; see bench/run_all.py)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from models import BACKENDS, Embedder  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "scifact_beir"
SCIFACT_CACHE = REPO / "eval-runs" / "cache" / "scifact"
# issue #6's reference figures for SciFact on this machine (2 cores)
TXTAI_S, ST_EMBED_S, GOAL_S, TORCH_HYBRID = 313.0, 212.0, 105.0, 0.7389

print = partial(print, flush=True)  # noqa: A001 - figures appear as they are measured, also when piped


def ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def read_texts(folder: Path, docs: int, queries: int) -> tuple[list[str], list[str]]:
    """The first `docs` abstracts (title and text, as the indexer prepends titles) and the first `queries` claims."""
    abstracts = []
    with gzip.open(folder / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            rec = json.loads(line)
            abstracts.append(f"{rec.get('title', '')}\n{rec['text']}".strip())
            if len(abstracts) == docs:
                break
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        claims = [json.loads(line)["text"] for line in handle if line.strip()]
    return abstracts, claims[:queries]


def count_tokens(model_path: Path, max_len: int, texts: list[str]) -> int:
    """Tokens the model actually runs over: special tokens included, cut at its max_seq_length, no padding."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    total = 0
    for start in range(0, len(texts), 2048):
        ids = tokenizer(texts[start : start + 2048], truncation=True, max_length=max_len)["input_ids"]
        total += sum(len(row) for row in ids)
    return total


def stored_passages(index_dir: Path) -> list[str]:
    """The distinct passage texts an index embedded (title + passage, as the model saw them)."""
    from indexer.store import Store

    with Store(index_dir / "store.sqlite") as store:
        return [text for _, text in store.chunks_missing_embeddings("-no-such-model-")]


def embedders(threads: int) -> dict[str, Embedder]:
    """One Embedder per backend; an ONNX Runtime session's thread count is fixed when it is created."""
    out = {}
    for backend in BACKENDS:
        started = time.perf_counter()
        out[backend] = Embedder(backend=backend, threads=threads)
        print(f"loaded {backend} ({threads} thread(s)) in {time.perf_counter() - started:.1f} s "
              "(an ONNX export or quantisation is built once, on first use)")
        out[backend].encode(["warm-up text"] * 4)
    return out


def speed(sets: dict[str, tuple[list[str], tuple[int, ...]]], batches: tuple[int, ...], rounds: int,
          by_threads: dict[int, dict[str, Embedder]]) -> list[dict]:
    """The timed grid: per text set (with its thread counts), batch size and backend, the best of `rounds`."""
    first = by_threads[min(by_threads)]["torch"]
    tokens = {name: count_tokens(first.path, first.max_seq_length, texts) for name, (texts, _) in sets.items()}
    best: dict[tuple, float] = {}
    for r in range(rounds):
        for name, (texts, thread_counts) in sets.items():
            for threads in thread_counts:
                torch.set_num_threads(threads)  # torch's pool is per process; ONNX sessions carry their own
                for batch in batches:
                    for backend, emb in by_threads[threads].items():
                        emb.batch_size = batch
                        started = time.perf_counter()
                        emb.encode(texts)
                        seconds = time.perf_counter() - started
                        key = (name, threads, batch, backend)
                        best[key] = min(best.get(key, float("inf")), seconds)
                        print(f"  round {r + 1}: {name} threads={threads} batch={batch} {backend}: {seconds:.2f} s")
    rows = []
    for (name, threads, batch, backend), seconds in best.items():
        base = best[(name, threads, batch, "torch")]
        n = len(sets[name][0])
        rows.append({"texts": name, "threads": threads, "batch": batch, "backend": backend, "seconds": seconds,
                     "docs_s": n / seconds, "tokens_s": tokens[name] / seconds, "ratio": base / seconds})
    return rows


def agreement(embs: dict[str, Embedder], texts: list[str]) -> dict[str, tuple[float, float]]:
    """Cosine of each backend's vectors to torch's on the same texts: (mean, min)."""
    ref = embs["torch"].encode(texts)
    out = {}
    for backend, emb in embs.items():
        cos = (emb.encode(texts) * ref).sum(axis=1)
        out[backend] = (float(cos.mean()), float(cos.min()))
    return out


def query_latency(embs: dict[str, Embedder], claims: list[str]) -> dict[str, dict[str, float]]:
    """One claim at a time, as a search does: ms uncached (encode) and on a query-cache hit (encode_query)."""
    out = {}
    for backend, emb in embs.items():
        uncached = []
        for q in claims:
            started = time.perf_counter()
            emb.encode([q])
            uncached.append((time.perf_counter() - started) * 1000)
        emb.encode_query(claims[0])
        hits = []
        for _ in range(200):
            started = time.perf_counter()
            emb.encode_query(claims[0])
            hits.append((time.perf_counter() - started) * 1000)
        qs = statistics.quantiles(uncached, n=100)
        out[backend] = {"p50": statistics.median(uncached), "p99": qs[98], "cache_hit_p50": statistics.median(hits)}
    return out


def summarise(result, index_dir: Path | None, tokens: int | None) -> dict:
    from search_api.evaluation.beir import DEFAULT_RUN

    m = result.metrics
    out = {"documents": result.documents, "queries": result.queries, "index_s": result.index_seconds,
           "docs_s": result.documents / result.index_seconds, "semantic": m["semantic"]["ndcg@10"],
           "hybrid": m[DEFAULT_RUN]["ndcg@10"], "hybrid_convex_0.5": m["hybrid-convex-0.5"]["ndcg@10"],
           "keyword": m["keyword"]["ndcg@10"]}
    if index_dir is not None:
        passages = stored_passages(index_dir)
        out["passages"] = len(passages)
        out["passages_s"] = len(passages) / result.index_seconds
        if tokens is not None:
            out["tokens"] = tokens
            out["tokens_s"] = tokens / result.index_seconds
    return out


def relevance(folder: Path, embs: dict[str, Embedder], cache: Path) -> dict[str, dict]:
    """Each backend indexes the collection in its own folder (under `cache`, reused when it exists) and is scored."""
    from search_api.evaluation.beir import evaluate, load_beir

    data = load_beir(folder)
    out = {}
    tokens = None
    for backend, emb in embs.items():
        index_dir = cache / data.name / backend
        reused = (index_dir / "store.sqlite").is_file()
        emb.batch_size = 64
        print(f"evaluating {backend} on {data.name} ({len(data.corpus)} documents) in {index_dir}")
        result = evaluate(data, emb, index_dir=index_dir, progress=False)
        if tokens is None:
            tokens = count_tokens(emb.path, emb.max_seq_length, stored_passages(index_dir))
        out[backend] = summarise(result, index_dir, tokens) | {"reused": reused, "model_id": emb.model_id}
        print(f"  {backend}: index {result.index_seconds:.1f} s · hybrid nDCG@10 {out[backend]['hybrid']:.4f}")
    return {"dataset": data.name, "documents": len(data.corpus), "queries": len(data.queries), "backends": out}


class StaleCache(Exception):
    """The cached index lacks vectors the evaluation needs."""


class _CachedOnly:
    """Wraps an embedder and counts what it embeds: past `limit` texts it raises, so that an evaluation over a cached
    index never quietly spends minutes re-embedding the corpus."""

    def __init__(self, inner: Embedder, limit: int) -> None:
        self._inner, self._left = inner, limit

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def encode(self, texts, *, progress=None):
        self._left -= len(texts)
        if self._left < 0:
            raise StaleCache("the cached index lacks these vectors")
        return self._inner.encode(texts, progress=progress)


def seed_embeddings(cache_store: Path, index_dir: Path, model_id: str) -> int:
    """A fresh index folder whose embedding cache holds `cache_store`'s vectors for `model_id` (nothing else): indexing
    into it chunks with the current code and embeds only the passages the cache lacks. Returns the vectors seeded."""
    import sqlite3

    import numpy as np

    from indexer.store import Store

    source = sqlite3.connect(f"file:{cache_store}?mode=ro", uri=True)
    hashes = [h for (h,) in source.execute("SELECT hash FROM embeddings WHERE model_id = ?", (model_id,))]
    source.close()
    with Store(cache_store) as cached, Store(index_dir / "store.sqlite") as store:
        for start in range(0, len(hashes), 5000):
            part = cached.get_embeddings(model_id, hashes[start : start + 5000], 384)
            store.put_embeddings(model_id, list(part), np.stack(list(part.values())))
    return len(hashes)


def baseline(folder: Path, threads: int, baseline_cache: Path, work: Path) -> dict | None:
    """fp32 torch on `folder` from the vectors `sift eval` cached, chunked by the current code (only passages the
    cache lacks are embedded, at most a few hundred; a cache of another corpus or model gives None)."""
    from search_api.evaluation.beir import evaluate, load_beir

    store = baseline_cache / "store.sqlite"
    if not store.is_file():
        return None
    data = load_beir(folder)
    base_dir = work / "baseline"
    torch_emb = Embedder(backend="torch", threads=threads)
    seeded = seed_embeddings(store, base_dir, torch_emb.model_id)
    counting = _CachedOnly(torch_emb, 2 * len(data.queries) + 500)
    print(f"baseline: fp32 torch on {data.name} with the {seeded:,} vectors cached in {baseline_cache}")
    try:
        res = evaluate(data, counting, index_dir=base_dir, progress=False)
    except StaleCache:
        print("  the cache lacks most passages (it would re-embed the corpus): no baseline in this run")
        return None
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)
    embedded = 2 * len(data.queries) + 500 - counting._left - len(data.queries)
    return summarise(res, None, None) | {
        "source": f"cached torch vectors ({baseline_cache}), {max(embedded, 0)} passages embedded afresh"}


def end_to_end(folder: Path, backend: str, batch: int, threads: int, baseline_cache: Path) -> dict:
    """SciFact from scratch with `backend` (timed end to end), and the fp32 torch baseline from cached vectors."""
    from search_api.evaluation.beir import evaluate, load_beir

    data = load_beir(folder)
    out: dict = {"dataset": data.name, "backend": backend, "batch": batch, "threads": threads,
                 "goal_s": GOAL_S, "txtai_s": TXTAI_S, "st_embed_s": ST_EMBED_S, "published_torch_hybrid": TORCH_HYBRID}
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="sift-bench-e2e-") as tmp:
        base = baseline(folder, threads, baseline_cache, Path(tmp))
        if base is not None:
            out["baseline"] = base
        started = time.perf_counter()
        emb = Embedder(backend=backend, threads=threads, batch_size=batch)
        emb.encode(["warm-up text"] * 4)
        out["model_load_s"] = time.perf_counter() - started  # outside the timed indexing, as in a running `sift index`
        index_dir = Path(tmp) / backend
        print(f"end to end: {data.name} ({len(data.corpus)} documents) with {backend}, batch {batch}, {threads} thread(s), "
              "from scratch (no cache)")
        res = evaluate(data, emb, index_dir=index_dir, progress=False)
        passages = stored_passages(index_dir)
        tokens = count_tokens(emb.path, emb.max_seq_length, passages)
        out["run"] = summarise(res, index_dir, tokens) | {"model_id": emb.model_id}
    return out


def print_report(report: dict) -> None:
    rows = report.get("speed", [])
    if rows:
        print(f"\n## Speed (best of {report['rounds']} interleaved rounds; × torch = at the same threads and batch)\n")
        print("| texts | threads | batch | backend | s | docs/s | tokens/s | × torch |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in rows:
            print(f"| {row['texts']} | {row['threads']} | {row['batch']} | {row['backend']} | {row['seconds']:.2f} | "
                  f"{row['docs_s']:.1f} | {row['tokens_s']:,.0f} | {row['ratio']:.2f} |")
    if report.get("query"):
        print(f"\n## Query embedding, one claim at a time ({report['query_threads']} thread(s), as serving does), ms\n")
        print("| backend | p50 uncached | p99 uncached | × torch p50 | query-cache hit p50 |")
        print("| --- | --- | --- | --- | --- |")
        base = report["query"]["torch"]["p50"]
        for backend, q in report["query"].items():
            print(f"| {backend} | {q['p50']:.2f} | {q['p99']:.2f} | {base / q['p50']:.2f} | {q['cache_hit_p50']:.4f} |")
    if report.get("agreement"):
        print("\n## Agreement with torch (cosine of the vectors)\n")
        print("| backend | texts | mean | min |")
        print("| --- | --- | --- | --- |")
        for row in report["agreement"]:
            print(f"| {row['backend']} | {row['texts']} | {row['mean']:.5f} | {row['min']:.5f} |")
    rel = report.get("relevance")
    if rel:
        print(f"\n## Relevance on {rel['dataset']} ({rel['documents']:,} documents, {rel['queries']} queries; nDCG@10, "
              "Δ vs torch; each backend indexes from scratch in its own folder)\n")
        print("| backend | index s (end to end) | docs/s | passages/s | tokens/s | × torch | semantic | Δ | "
              "hybrid (TM2C2 0.75, default) | Δ | keyword |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        base = rel["backends"]["torch"]
        for backend, r in rel["backends"].items():
            seconds = f"{r['index_s']:.1f}" + (" (reused cache)" if r["reused"] else "")
            print(f"| {backend} | {seconds} | {r['docs_s']:.1f} | {r['passages_s']:.1f} | {r.get('tokens_s', 0):,.0f} | "
                  f"{base['index_s'] / r['index_s']:.2f} | {r['semantic']:.4f} | {r['semantic'] - base['semantic']:+.4f} | "
                  f"{r['hybrid']:.4f} | {r['hybrid'] - base['hybrid']:+.4f} | {r['keyword']:.4f} |")
    e2e = report.get("e2e")
    if e2e:
        r = e2e["run"]
        print(f"\n## {e2e['dataset']} end to end with the fastest backend ({e2e['backend']}, batch {e2e['batch']}, "
              f"{e2e['threads']} threads; embedding, BM25, store and publish, from scratch)\n")
        print(f"{r['documents']:,} documents, {r['passages']:,} passages, {r['tokens']:,} tokens in "
              f"**{r['index_s']:.1f} s**: {r['docs_s']:.1f} docs/s · {r['passages_s']:.1f} passages/s · "
              f"{r['tokens_s']:,.0f} tokens/s (loading the model before it: {e2e['model_load_s']:.1f} s)")
        verdict = "met" if r["index_s"] <= e2e["goal_s"] else f"NOT met ({r['index_s'] - e2e['goal_s']:.0f} s over)"
        print(f"goal ≤ {e2e['goal_s']:.0f} s (3× txtai's {e2e['txtai_s']:.0f} s): {verdict}; "
              f"{e2e['txtai_s'] / r['index_s']:.2f}× txtai's rate; "
              f"{e2e['st_embed_s'] / r['index_s']:.2f}× plain sentence-transformers' embedding alone ({e2e['st_embed_s']:.0f} s)")
        base = e2e.get("baseline")
        print("\n| run | semantic | hybrid (default) | keyword |\n| --- | --- | --- | --- |")
        if base:
            print(f"| fp32 torch, same process ({base['source']}) | {base['semantic']:.4f} | {base['hybrid']:.4f} | "
                  f"{base['keyword']:.4f} |")
        print(f"| {e2e['backend']}, end to end above | {r['semantic']:.4f} | {r['hybrid']:.4f} | {r['keyword']:.4f} |")
        ref = base["hybrid"] if base else e2e["published_torch_hybrid"]
        delta = r["hybrid"] - ref
        print(f"\nhybrid nDCG@10 Δ vs fp32 torch: {delta:+.4f} (goal: within 0.005 — "
              f"{'met' if abs(delta) <= 0.005 else 'NOT met'}); vs the published {e2e['published_torch_hybrid']}: "
              f"{r['hybrid'] - e2e['published_torch_hybrid']:+.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a BEIR SciFact folder (speed texts, --e2e)")
    parser.add_argument("--docs", type=int, default=1000, help="abstracts timed (the first N)")
    parser.add_argument("--claims", type=int, default=300, help="claims timed (the first M)")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds; the best counts")
    parser.add_argument("--threads", type=ints, default=(1, 2), help="thread counts for the claims (and default for abstracts)")
    parser.add_argument("--threads-long", type=ints, help="thread counts for the abstracts (default: --threads)")
    parser.add_argument("--batches", type=ints, default=(32, 64), help="batch sizes timed")
    parser.add_argument("--no-relevance", action="store_true", help="skip the nDCG@10 part")
    parser.add_argument("--relevance-data", type=Path, help="BEIR folder for the relevance part (default: --data)")
    parser.add_argument("--eval-cache", type=Path, default=Path("/tmp/sift-bench-embedding"),
                        help="index folders for the relevance part, one per collection and backend; a re-run embeds "
                             "nothing (pass a fresh folder to time indexing)")
    parser.add_argument("--e2e", default="none",
                        help="index --data end to end from scratch with this backend (auto: the fastest on the "
                             "abstracts at the most threads) and compare with the fp32 torch baseline; none: skip")
    parser.add_argument("--baseline-cache", type=Path, default=SCIFACT_CACHE,
                        help="an index of --data embedded by fp32 torch (`sift eval`'s cache): the --e2e baseline")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl.gz").is_file():
        raise SystemExit(f"SciFact not found at {args.data}; pass --data PATH/scifact_beir")

    import onnxruntime

    threads_long = args.threads_long or args.threads
    abstracts, claims = read_texts(args.data, args.docs, args.claims)
    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}",
        "load_average_at_start": os.getloadavg(), "rounds": args.rounds,
    }
    print(f"# Sift embedding backends — {report['date']}")
    print(f"machine: {report['machine']}; load average at start {report['load_average_at_start'][0]:.1f}")
    by_threads = {t: embedders(t) for t in sorted(set(args.threads) | set(threads_long))}
    sets = {f"{len(abstracts)} abstracts": (abstracts, threads_long), f"{len(claims)} claims": (claims, args.threads)}
    report["speed"] = speed(sets, args.batches, args.rounds, by_threads)
    top = max(by_threads)
    torch.set_num_threads(top)  # the agreement and relevance parts run every backend at all cores
    report["query_threads"] = min(by_threads)  # serving embeds a query on one thread (Settings.embedder(serving=True))
    torch.set_num_threads(report["query_threads"])
    report["query"] = query_latency(by_threads[report["query_threads"]], claims)
    torch.set_num_threads(top)
    report["agreement"] = [
        {"backend": backend, "texts": name, "mean": mean, "min": low}
        for name, texts in ((f"{len(abstracts)} abstracts", abstracts), (f"{len(claims)} claims", claims))
        for backend, (mean, low) in agreement(by_threads[top], texts).items() if backend != "torch"
    ]
    print_report(report)
    embs = by_threads[top]  # the relevance and end-to-end parts use all cores
    by_threads = {top: embs}
    if not args.no_relevance:
        report["relevance"] = relevance(args.relevance_data or args.data, embs, args.eval_cache)
        print_report({"relevance": report["relevance"]})
    if args.e2e != "none":
        backend, batch = args.e2e, 64
        if backend == "auto":  # the fastest backend and batch on the long texts at the most threads
            long_rows = [r for r in report["speed"] if r["texts"].endswith("abstracts") and r["threads"] == top]
            fastest = max(long_rows, key=lambda r: r["docs_s"])
            backend, batch = fastest["backend"], fastest["batch"]
        del embs, by_threads
        report["e2e"] = end_to_end(args.data, backend, batch, top, args.baseline_cache)
        print_report({"e2e": report["e2e"]})
    report["load_average_at_end"] = os.getloadavg()
    print(f"\nload average at start {report['load_average_at_start'][0]:.1f}, at end {report['load_average_at_end'][0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
