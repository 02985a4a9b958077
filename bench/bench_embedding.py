"""Benchmark: the embedding backends side by side — speed on SciFact and the relevance each one costs.

torch fp32 (sentence-transformers on PyTorch), ONNX Runtime fp32 and ONNX Runtime int8 (dynamic quantisation) of the
bundled all-MiniLM-L6-v2 run in one process. Speed: the first N SciFact abstracts (long texts, most cut at the
model's 256 tokens) and the first M claims (the queries: short texts), at batch 32 and 64 with 1 and 2 threads; the backends
are interleaved round by round so that load from other jobs hits them alike, and each one's best round counts.
Relevance: `search_api.evaluation.evaluate` on the full SciFact collection per backend (semantic and hybrid
nDCG@10), each in its own index folder so no backend reuses another's vectors. Prints markdown tables.
Not a test: `python bench/bench_embedding.py` (`--no-relevance` for the speed part alone, a few minutes).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from models import BACKENDS, Embedder  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact_beir"
BATCHES = (32, 64)
THREADS = (1, 2)


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


def count_tokens(embedder: Embedder, texts: list[str]) -> int:
    """Tokens the model actually runs over: special tokens included, cut at its max_seq_length, no padding."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(embedder.path), local_files_only=True)
    ids = tokenizer(texts, truncation=True, max_length=embedder.max_seq_length)["input_ids"]
    return sum(len(row) for row in ids)


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


def speed(sets: dict[str, list[str]], rounds: int) -> tuple[list[dict], dict[str, Embedder]]:
    """The timed grid; returns its rows and the embedders at the highest thread count."""
    by_threads = {t: embedders(t) for t in THREADS}
    tokens = {name: count_tokens(by_threads[THREADS[0]]["torch"], texts) for name, texts in sets.items()}
    best: dict[tuple, float] = {}
    for r in range(rounds):
        for name, texts in sets.items():
            for threads in THREADS:
                torch.set_num_threads(threads)  # torch's pool is per process; ONNX sessions carry their own
                for batch in BATCHES:
                    for backend, emb in by_threads[threads].items():
                        emb.batch_size = batch
                        started = time.perf_counter()
                        emb.encode(texts)
                        seconds = time.perf_counter() - started
                        key = (name, threads, batch, backend)
                        best[key] = min(best.get(key, float("inf")), seconds)
                        print(f"  round {r + 1}: {name} threads={threads} batch={batch} {backend}: {seconds:.1f} s",
                              flush=True)
    rows = []
    for (name, threads, batch, backend), seconds in best.items():
        base = best[(name, threads, batch, "torch")]
        rows.append({"texts": name, "threads": threads, "batch": batch, "backend": backend,
                     "docs_s": len(sets[name]) / seconds, "tokens_s": tokens[name] / seconds, "ratio": base / seconds})
    return rows, by_threads[max(THREADS)]


def agreement(embs: dict[str, Embedder], texts: list[str]) -> dict[str, tuple[float, float]]:
    """Cosine of each backend's vectors to torch's on the same texts: (mean, min)."""
    ref = embs["torch"].encode(texts)
    out = {}
    for backend, emb in embs.items():
        cos = (emb.encode(texts) * ref).sum(axis=1)
        out[backend] = (float(cos.mean()), float(cos.min()))
    return out


def query_latency(embs: dict[str, Embedder], claims: list[str]) -> dict[str, tuple[float, float]]:
    """One claim at a time, as a search does: p50 ms uncached (encode) and on a query-cache hit (encode_query)."""
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
        out[backend] = (statistics.median(uncached), statistics.median(hits))
    return out


def relevance(folder: Path, embs: dict[str, Embedder], cache: Path) -> dict[str, dict]:
    from search_api.evaluation import evaluate, load_beir

    data = load_beir(folder)
    out = {}
    for backend, emb in embs.items():
        index_dir = cache / backend
        reused = (index_dir / "store.sqlite").is_file()
        emb.batch_size = 64
        print(f"evaluating {backend} on {data.name} ({len(data.corpus)} documents) in {index_dir}", flush=True)
        result = evaluate(data, emb, index_dir=index_dir, progress=True)
        out[backend] = {"result": result, "reused": reused}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a BEIR SciFact folder")
    parser.add_argument("--docs", type=int, default=1000, help="abstracts timed (the first N)")
    parser.add_argument("--claims", type=int, default=300, help="claims timed (the first M)")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds; the best counts")
    parser.add_argument("--no-relevance", action="store_true", help="skip the nDCG@10 part")
    parser.add_argument("--eval-cache", type=Path, default=Path("/tmp/sift-bench-embedding"),
                        help="index folders for the relevance part, one per backend; a re-run embeds nothing")
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl.gz").is_file():
        raise SystemExit(f"SciFact not found at {args.data}; pass --data PATH/scifact_beir")

    import onnxruntime

    abstracts, claims = read_texts(args.data, args.docs, args.claims)
    print(f"# Sift embedding backends — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; load average at start "
          f"{os.getloadavg()[0]:.1f}")
    rows, embs = speed({f"{len(abstracts)} abstracts": abstracts, f"{len(claims)} claims": claims}, args.rounds)
    torch.set_num_threads(max(THREADS))  # the query and relevance parts run every backend at all cores

    print(f"\n## Speed (best of {args.rounds} interleaved rounds; ratio = vs torch at the same threads and batch)\n")
    print("| texts | threads | batch | backend | docs/s | tokens/s | × torch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['texts']} | {row['threads']} | {row['batch']} | {row['backend']} | {row['docs_s']:.1f} | "
              f"{row['tokens_s']:,.0f} | {row['ratio']:.2f} |")

    print(f"\n## Query embedding, one claim at a time ({max(THREADS)} threads), p50 ms\n")
    print("| backend | uncached | query-cache hit |")
    print("| --- | --- | --- |")
    for backend, (uncached, hit) in query_latency(embs, claims).items():
        print(f"| {backend} | {uncached:.2f} | {hit:.4f} |")

    print("\n## Agreement with torch (cosine of the vectors)\n")
    print("| backend | texts | mean | min |")
    print("| --- | --- | --- | --- |")
    for name, texts in ((f"{len(abstracts)} abstracts", abstracts), (f"{len(claims)} claims", claims)):
        for backend, (mean, low) in agreement(embs, texts).items():
            if backend != "torch":
                print(f"| {backend} | {name} | {mean:.5f} | {low:.5f} |")

    if args.no_relevance:
        return
    results = relevance(args.data, embs, args.eval_cache)
    base = results["torch"]["result"].metrics
    print("\n## Relevance on SciFact (full collection; nDCG@10, Δ vs torch)\n")
    print("| backend | model_id suffix | index s (end to end) | semantic | Δ | hybrid (convex 0.5) | Δ | keyword |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for backend, entry in results.items():
        res, m = entry["result"], entry["result"].metrics
        suffix = embs[backend].model_id.rsplit("@", 1)[1]
        seconds = f"{res.index_seconds:.0f}" + (" (reused cache)" if entry["reused"] else "")
        sem, hyb = m["semantic"]["ndcg@10"], m["hybrid-convex-0.5"]["ndcg@10"]
        print(f"| {backend} | @{suffix} | {seconds} | {sem:.4f} | {sem - base['semantic']['ndcg@10']:+.4f} | "
              f"{hyb:.4f} | {hyb - base['hybrid-convex-0.5']['ndcg@10']:+.4f} | {m['keyword']['ndcg@10']:.4f} |")


if __name__ == "__main__":
    main()
