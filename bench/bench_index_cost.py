"""What an index costs a site owner: `sift index` with its defaults against plain sentence-transformers, side by side.

The baseline is what a developer would write in ten lines: the bundled all-MiniLM-L6-v2 through sentence-transformers,
`title + ". " + text` per document (cut at the model's 256 wordpieces), batch 32, normalised, into a FAISS
IndexFlatIP written to disk. Sift is the `sift index` command a user runs, defaults unchanged, into a new folder.
Each runs in its own process, timed from start to exit (interpreter, imports and model load included, for both);
the two alternate within each round, and the order flips every round, so a slower minute on a shared machine falls
on both. The ONNX export Sift's default runtime makes on first use (once per machine) is prepared before the
rounds and timed on its own.

Printed per round: seconds, docs/s, tokens/s (wordpieces the model read: for Sift every passage's, cut at 256),
peak memory; then the docs/s ratio (Sift / plain, per round and overall) and the index's bytes per article as `du`
counts them (store + live version; the plain FAISS file beside it), with where Sift's bytes go.
`--late-interaction` also runs `sift index` with SIFT_LATE_INTERACTION on in every round (its own folder), and
then times hybrid search over both indexes in this process, query by query alternately: what turning it on costs.

  python bench/bench_index_cost.py                        # the first 1,500 SciFact abstracts, 2 rounds
  python bench/bench_index_cost.py --corpus scifact --docs 0 --rounds 1   # all 5,183
  python bench/bench_index_cost.py --corpus bbc --docs 0 --rounds 1       # BBC News: long articles
Not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CORPORA = {
    "scifact": SHARED / "scifact_beir" / "corpus.jsonl.gz",
    "bbc": SHARED / "bbc_news" / "bbc_news.jsonl.gz",
}
sys.path.insert(0, str(REPO))

# The baseline, run as its own process: argv[1] the corpus (JSONL: title, body), argv[2] the FAISS file to write.
PLAIN = """
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import faiss
from sentence_transformers import SentenceTransformer
from models import default_model_path
docs = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
model = SentenceTransformer(str(default_model_path()), device="cpu")
vectors = model.encode([d["title"] + ". " + d["body"] for d in docs], batch_size=32, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False)
index = faiss.IndexFlatIP(vectors.shape[1])
index.add(vectors)
faiss.write_index(index, sys.argv[2])
"""


def write_corpus(name: str, docs: int, target: Path) -> int:
    """The first `docs` records (0: all) as Sift's JSONL (id, title, body); returns how many."""
    n = 0
    with gzip.open(CORPORA[name], "rt", encoding="utf-8") as src, open(target, "w", encoding="utf-8") as out:
        for line in src:
            if docs and n >= docs:
                break
            record = json.loads(line)
            text = record["text"] or record.get("title") or "untitled"
            title = (record.get("title") or "").strip() or " ".join(text.split()[:12])
            out.write(json.dumps({"id": f"d{n}", "title": title, "body": text}) + "\n")
            n += 1
    return n


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `command` to completion: (wall seconds, peak resident memory in MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def disk_bytes(path: Path) -> int:
    """What `du` counts: allocated blocks, every file once (hard links shared between versions counted once)."""
    seen, total = set(), 0
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in files:
        st = p.stat()
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def sift_footprint(index_dir: Path) -> dict[str, int]:
    """Bytes of the store (its files) and of the live version, and the largest parts of each."""
    from indexer.publish import current_version_dir

    version = current_version_dir(index_dir)
    store = sum(disk_bytes(p) for p in index_dir.glob("store.sqlite*"))
    parts = {"store": store, "version": disk_bytes(version)}
    try:  # per table, where SQLite was built with its dbstat table
        with sqlite3.connect(index_dir / "store.sqlite") as db:
            for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6"):
                parts[f"store:{name}"] = int(size)
    except sqlite3.Error:
        pass
    by_file = sorted(((disk_bytes(p), p.relative_to(version).as_posix()) for p in version.rglob("*") if p.is_file()),
                     reverse=True)
    for size, name in by_file[:6]:
        parts[f"version:{name}"] = size
    return parts


def tokens_read(texts: list[str]) -> int:
    """Wordpieces the model reads for `texts`: each cut at its 256-wordpiece window, [CLS] and [SEP] included."""
    from tokenizers import Tokenizer

    from models import default_model_path

    tok = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    tok.enable_truncation(max_length=256)
    tok.no_padding()  # the model's tokenizer.json pads every text to 128: counted so, short texts would look longer
    return sum(len(e.ids) for e in tok.encode_batch(texts))


def sift_passages(index_dir: Path) -> list[str]:
    """What the model read: every distinct passage's text as embedded (title + passage), once."""
    from indexer.store import Store

    with Store(index_dir / "store.sqlite") as store:
        return [text for _, text in store.chunk_texts()]


def query_latency(default: Path, late: Path, corpus: str, count: int) -> dict[str, dict[str, float]]:
    """Hybrid search p50/p99 (ms) over both indexes in this process, the query embedded as `sift serve` embeds it;
    query by query alternately, first with the query cache cleared, then again (the query's vectors cached)."""
    import numpy as np

    from search_api.engine import Engine
    from search_api.settings import Settings

    if corpus == "scifact":
        with open(SHARED / "scifact_beir" / "queries.jsonl", encoding="utf-8") as handle:
            queries = [json.loads(line)["text"] for line in handle][:count]
    else:
        sys.path.insert(0, str(REPO / "bench"))
        from bench_bbc import QUERIES

        queries = [QUERIES[i % len(QUERIES)] + f" {i}" for i in range(count)]
    encoder = Settings().embedder(serving=True)
    engines = {"default": Engine.open(default, encoder), "late interaction": Engine.open(late, encoder)}
    assert engines["late interaction"].late_active and not engines["default"].late_active
    times: dict[str, list[float]] = {f"{name}{c}": [] for name in engines for c in ("", ", cached")}
    for q in queries[:10]:  # warm-up
        for engine in engines.values():
            engine.search(q, k=10)
    for q in queries:
        for name, engine in engines.items():
            encoder.clear_query_cache()
            for cached in ("", ", cached"):
                started = time.perf_counter()
                engine.search(q, k=10)
                times[name + cached].append((time.perf_counter() - started) * 1000)
    return {name: {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99))} for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="scifact")
    parser.add_argument("--docs", type=int, default=1500, help="the first N records (0: all)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--late-interaction", action="store_true",
                        help="also index with SIFT_LATE_INTERACTION on, and compare query latency")
    parser.add_argument("--queries", type=int, default=200, help="timed searches per index (--late-interaction)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()

    from models.embedder import backend_is_prepared, prepare_backend
    from search_api.settings import Settings

    settings = Settings()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result: dict = {"corpus": args.corpus, "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
                    "python": platform.python_version(), "embed_backend": settings.embed_backend, "rounds": []}
    export_started = time.perf_counter()
    fresh = not backend_is_prepared(settings.model_path, settings.embed_backend, settings.cache_dir)
    prepare_backend(settings.model_path, settings.embed_backend, settings.cache_dir)
    result["export_seconds"] = round(time.perf_counter() - export_started, 1) if fresh else None

    with tempfile.TemporaryDirectory(prefix="sift-cost-") as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus.jsonl"
        n = write_corpus(args.corpus, args.docs, corpus)
        docs = [json.loads(line) for line in corpus.open(encoding="utf-8")]
        plain_tokens = tokens_read([d["title"] + ". " + d["body"] for d in docs])
        result["docs"] = n
        print(f"{args.corpus}: {n:,} documents; Sift's embed_backend {settings.embed_backend}; "
              + (f"ONNX export made once first: {result['export_seconds']} s" if fresh else "ONNX export already made"))
        print(f"{'round':>5} {'system':8s} {'seconds':>8s} {'docs/s':>8s} {'tokens/s':>9s} {'peak MB':>8s}")
        sift_tokens = None
        systems = ["plain", "sift"] + (["sift+late"] if args.late_interaction else [])
        for r in range(args.rounds):
            order = systems if r % 2 == 0 else systems[::-1]
            row: dict = {}
            for system in order:
                if system == "plain":
                    target = tmp / f"plain-{r}.faiss"
                    seconds, peak = timed([sys.executable, "-c", PLAIN, str(corpus), str(target)], env)
                    tokens, size = plain_tokens, disk_bytes(target)
                else:
                    index_dir = tmp / f"{system}-{r}"
                    late = {"SIFT_LATE_INTERACTION": "true" if system == "sift+late" else "false"}
                    seconds, peak = timed([sys.executable, "-m", "search_api.cli", "index", str(corpus), "--index",
                                           str(index_dir)], env | late)
                    if sift_tokens is None:
                        sift_tokens = tokens_read(sift_passages(index_dir))
                    tokens = sift_tokens
                    row[f"{system} footprint"] = sift_footprint(index_dir)
                    size = row[f"{system} footprint"]["store"] + row[f"{system} footprint"]["version"]
                row[system] = {"seconds": round(seconds, 1), "docs_per_s": round(n / seconds, 2),
                               "tokens": tokens, "tokens_per_s": round(tokens / seconds), "peak_mb": round(peak),
                               "bytes": size, "bytes_per_doc": round(size / n)}
                s = row[system]
                print(f"{r + 1:>5} {system:8s} {s['seconds']:8.1f} {s['docs_per_s']:8.2f} {s['tokens_per_s']:9,d} "
                      f"{s['peak_mb']:8,d}", flush=True)
            row["ratio"] = round(row["sift"]["docs_per_s"] / row["plain"]["docs_per_s"], 3)
            result["rounds"].append(row)
        if args.late_interaction:
            result["latency"] = query_latency(tmp / "sift-0", tmp / "sift+late-0", args.corpus, args.queries)

    rounds = result["rounds"]
    plain_s = sum(r["plain"]["seconds"] for r in rounds)
    sift_s = sum(r["sift"]["seconds"] for r in rounds)
    result["ratio"] = round(plain_s / sift_s, 3)
    last = rounds[-1]
    result["sift_bytes_per_doc"] = last["sift"]["bytes_per_doc"]
    result["plain_bytes_per_doc"] = last["plain"]["bytes_per_doc"]
    result["tokens_per_doc"] = {"plain": round(plain_tokens / n, 1), "sift": round(sift_tokens / n, 1)}
    print(f"\nSift / plain sentence-transformers, docs/s: {result['ratio']:.2f}x over {len(rounds)} rounds "
          "(per round: " + ", ".join(f"{r['ratio']:.2f}x" for r in rounds) + ")")
    print(f"wordpieces read per document: plain {result['tokens_per_doc']['plain']}, Sift {result['tokens_per_doc']['sift']}")
    print(f"index on disk per document: Sift {result['sift_bytes_per_doc'] / 1024:.1f} KB (store + live version), "
          f"plain FAISS file {result['plain_bytes_per_doc'] / 1024:.1f} KB")
    for part, size in last["sift footprint"].items():
        print(f"  {part:42s} {size / n / 1024:8.2f} KB/doc  {size / 1e6:8.1f} MB")
    if args.late_interaction:
        late_s = sum(r["sift+late"]["seconds"] for r in rounds)
        result["late"] = {"seconds_ratio": round(late_s / sift_s, 3), "bytes_per_doc": last["sift+late"]["bytes_per_doc"]}
        print(f"\nwith SIFT_LATE_INTERACTION on: indexing {late_s / sift_s:.2f}x the default's time, "
              f"{last['sift+late']['bytes_per_doc'] / 1024:.1f} KB per document "
              f"(+{(last['sift+late']['bytes_per_doc'] - last['sift']['bytes_per_doc']) / 1024:.1f} KB)")
        for name, p in result["latency"].items():
            print(f"  hybrid search, {name:28s} p50 {p['p50']:6.2f} ms  p99 {p['p99']:6.2f} ms")
        for cached in ("", ", cached"):
            d, l = result["latency"]["default" + cached], result["latency"]["late interaction" + cached]
            print(f"  late / default{cached}: p50 {l['p50'] / d['p50']:.2f}x · p99 {l['p99'] / d['p99']:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
