"""Incremental related lists: what a publish after a few edits costs, and what it does to the lists.

Two parts, each printed as markdown:

- `--articles N` (default 100,000): a synthetic site built by bench_scale.build_site (real store and publisher,
  synthetic passage vectors). After a full publish, `--edits E` changes land — E/2 new articles (follow-ups: an
  existing article's passages plus noise), E/4 articles moved to another article's topic, E/4 deleted — and are
  published three times from the same store, in the same process: incrementally (the default), with a full related
  pass forced, and from scratch into an empty folder (IVF training, place tags and related lists all anew, what
  every publish cost before). Prints the publish times, the related step's share, the lists recomputed, and how far
  the incremental top-5 lists are from the full pass's (overlap; the new articles' entries into older lists).
- `--bbc`: BBC News with the real model (vectors from the `sift eval-related` cache): 20 articles held out, a full
  publish of the rest, then the 20 added back one per publish (a small site's change reaches ~8% of its lists, so
  bigger batches take the full pass); `sift eval-related`'s same-topic precision@5 at the end, against a full pass
  over all 2,225.

Not a test: `python bench/bench_incremental.py [--articles N] [--edits E] [--bbc] [--skip-synthetic]`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_scale import D, build_site  # noqa: E402

from indexer import publish as publishing  # noqa: E402
from indexer import relatedness  # noqa: E402
from indexer.article import Article  # noqa: E402
from indexer.chunking import chunk_article  # noqa: E402
from indexer.publish import STORE_FILE, current_version_dir, publish, read_manifest  # noqa: E402
from indexer.store import Store  # noqa: E402
from indexer.vectors import VectorConfig  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
MODEL = "synthetic-bench-model"


def _timed_related_step():
    """Wrap the publisher's related step to time it; returns the list the timings go to."""
    seconds: list[float] = []
    inner = publishing._related_lists

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    publishing._related_lists = timed
    return seconds


def _top5(version_dir: Path) -> dict[str, list[str]]:
    ids = pd.read_parquet(version_dir / "articles.parquet", columns=["id"])["id"].tolist()
    lists = np.load(version_dir / "neighbours.npy")[:, :5]
    return {ids[i]: [ids[j] for j in row if j >= 0] for i, row in enumerate(lists)}


def _compare(got: dict, full: dict, new: set[str]) -> dict:
    overlap = float(np.mean([len(set(got[a]) & set(full[a])) / 5 for a in full if full[a]]))
    entered_full = {(a, b) for a, items in full.items() for b in items if b in new}
    entered_got = {(a, b) for a, items in got.items() for b in items if b in new}
    identical = float(np.mean([got[a] == full[a] for a in full]))
    return {
        "top5_overlap": round(overlap, 4),
        "identical_lists": round(identical, 4),
        "new_article_entries_full": len(entered_full),
        "new_article_entries_found": round(len(entered_got & entered_full) / max(1, len(entered_full)), 4),
    }


def _edit(store: Store, model: str, edits: int, seed: int) -> tuple[set[str], set[str], set[str]]:
    """Apply the edits described in the module docstring; returns (new ids, moved ids, deleted ids)."""
    rng = np.random.default_rng(seed)
    articles = {a.id: a for a in store.iter_articles()}
    ids = sorted(articles)
    picked = [ids[i] for i in rng.choice(len(ids), edits + edits // 2, replace=False)]
    n_new, n_moved = edits // 2, edits // 4
    sources, moved, deleted = picked[:n_new], picked[n_new : n_new + n_moved], picked[n_new + n_moved : edits]
    donors = picked[edits : edits + n_moved]
    chunks_of: dict[str, list] = {}
    for chunk in store.iter_chunks():
        chunks_of.setdefault(chunk.article_id, []).append(chunk)
    cached = store.get_embeddings(model, [c.hash for a in sources + donors for c in chunks_of[a]], D)

    def like(article_id: str, count: int) -> np.ndarray:
        base = [cached[c.hash] for c in chunks_of[article_id]]
        out = np.stack([base[min(i, len(base) - 1)] for i in range(count)]) + 0.02 * rng.normal(size=(count, D))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    items, hashes, vectors = [], [], []
    for i, source in enumerate(sources):  # a follow-up story: new id, text and vectors near the source's
        old = articles[source]
        article = Article(id=f"new-{seed}-{i}", title="Follow-up: " + old.title[:180], body=old.body,
                          published_at=datetime.now(timezone.utc))
        chunks = chunk_article(article)
        items.append((article, chunks, "bench"))
        hashes += [c.hash for c in chunks]
        vectors.append(like(source, len(chunks)))
    for article_id, donor in zip(moved, donors):  # an edit that moves the article to the donor's topic
        old = articles[article_id]
        article = old.model_copy(update={"body": articles[donor].body + " (updated)"})
        chunks = chunk_article(article)
        items.append((article, chunks, "bench"))
        hashes += [c.hash for c in chunks]
        vectors.append(like(donor, len(chunks)))
    store.upsert_many(items)
    store.put_embeddings(model, hashes, np.concatenate(vectors))
    store.delete_many(deleted)
    return {a.id for a, _, _ in items[: len(sources)]}, set(moved), set(deleted)


def synthetic(articles: int, edits: int, site: Path | None) -> dict:
    root = site or Path(tempfile.mkdtemp(prefix="sift-incremental-"))
    if not (root / "CURRENT").exists():
        built = build_site(root, articles, MODEL)
        print(f"built {articles:,} articles: store {built['store_s']:.0f} s, publish {built['publish_s']:.0f} s",
              flush=True)
    seconds = _timed_related_step()
    model = read_manifest(current_version_dir(root))["model_id"]  # a kept site may have been built by another run
    kwargs = dict(model_id=model, dim=D, build={"max_words": 120, "overlap_words": 30}, keep_versions=2,
                  duplicate_threshold=0.8, vectors=VectorConfig())
    out: dict = {"articles": articles, "edits": edits}
    with Store(root / STORE_FILE) as store:
        started = time.perf_counter()
        publish(root, store, **kwargs)  # stores what the next publish starts from (a kept site may predate it)
        out["first_publish_s"] = round(time.perf_counter() - started, 1)
        new, moved, deleted = _edit(store, model, edits, seed=int(time.time()) % 100000)
        started = time.perf_counter()
        inc = publish(root, store, **kwargs)
        out["incremental"] = {"publish_s": round(time.perf_counter() - started, 1), "related_s": round(seconds[-1], 2),
                              "pass": inc.related_pass, "lists_recomputed": inc.related_recomputed}
        got = _top5(inc.path)
        limit = relatedness.INCREMENTAL_LIMIT
        relatedness.INCREMENTAL_LIMIT = -1.0  # force the full pass over the same store
        try:
            started = time.perf_counter()
            full = publish(root, store, **kwargs)
            out["full"] = {"publish_s": round(time.perf_counter() - started, 1), "related_s": round(seconds[-1], 2),
                           "pass": full.related_pass, "lists_recomputed": full.related_recomputed}
        finally:
            relatedness.INCREMENTAL_LIMIT = limit
        out["agreement"] = _compare(got, _top5(full.path), new | moved)
        scratch = root / "from-scratch"  # no previous version: IVF training, place tags and related lists all anew
        started = time.perf_counter()
        fresh = publish(scratch, store, **kwargs)
        out["from_scratch"] = {"publish_s": round(time.perf_counter() - started, 1), "related_s": round(seconds[-1], 2),
                               "pass": fresh.related_pass, "lists_recomputed": fresh.related_recomputed}
        shutil.rmtree(scratch, ignore_errors=True)
    out["related_speedup"] = round(out["full"]["related_s"] / out["incremental"]["related_s"], 1)
    out["publish_speedup"] = round(out["from_scratch"]["publish_s"] / out["incremental"]["publish_s"], 2)
    if site is None:
        shutil.rmtree(root, ignore_errors=True)
    return out


def bbc(cache: Path, held_out: int = 20) -> dict:
    from indexer.pipeline import ChunkingParams
    from models import Embedder
    from search_api.evaluation.related import _index, _safe_ids, evaluate_related, load_labelled

    data = load_labelled(SHARED / "bbc_news" / "bbc_news.jsonl.gz")
    tsv = SHARED / "bbc_news" / "exact_duplicate_groups.tsv"
    embedder = Embedder()
    out_rows = np.random.default_rng(3).choice(len(data.ids), held_out, replace=False)
    safe = _safe_ids(data.ids)
    records = [{"id": i, "title": t, "body": x, **({"published_at": d} if d else {})}
               for i, t, x, d in zip(safe, data.titles, data.texts, data.dates)]

    def evaluate(idx: Path) -> dict:
        result = evaluate_related(data, embedder, index_dir=idx, duplicates=tsv, progress=False)
        related = read_manifest(current_version_dir(idx)).get("related") or {"pass": "full"}
        sift = result.systems["sift"]
        return {"related": related, "precision_at_5": sift["precision@5"],
                "lists_with_duplicate": sift["duplicate_rate"]}

    steps = []
    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "idx"
        shutil.copytree(cache, idx)
        present = sorted(set(range(len(records))) - set(out_rows.tolist()))
        _index([records[r] for r in present], idx, embedder, ChunkingParams(), False)  # a full pass without them
        for row in out_rows[:-1]:  # then one article per publish (vectors come from the cache: nothing is embedded)
            present = sorted(set(present) | {int(row)})
            _index([records[r] for r in present], idx, embedder, ChunkingParams(), False)
            related = read_manifest(current_version_dir(idx))["related"]
            steps.append({"articles": len(present), "pass": related["pass"], "recomputed": related["recomputed"]})
        final = evaluate(idx)  # the last article's publish happens inside, then every list is scored
        fresh = Path(tmp) / "fresh"  # the cache's own version: every list computed in one full pass
        shutil.copytree(cache, fresh)
        reference = evaluate(fresh)
    print(json.dumps({"steps": steps}), flush=True)
    return {"held_out": held_out, "steps": steps, "incremental": final, "full": reference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--site", type=Path, help="keep (and reuse) the synthetic site here")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--bbc", action="store_true", help="the BBC News part (needs the eval-related cache)")
    parser.add_argument("--bbc-cache", type=Path, default=REPO / "eval-runs" / "cache" / "related-bbc")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures: dict = {"machine": f"{platform.node()} {platform.processor() or platform.machine()}",
                     "date": datetime.now(timezone.utc).isoformat(timespec="minutes")}
    if not args.skip_synthetic:
        s = synthetic(args.articles, args.edits, args.site)
        figures["synthetic"] = s
        print(f"\n### {args.articles:,} synthetic articles, {args.edits} edits\n")
        print("| publish | total s | related step s | lists recomputed |\n| --- | --- | --- | --- |")
        for name in ("incremental", "full", "from_scratch"):
            r = s[name]
            print(f"| {name} ({r['pass']}) | {r['publish_s']} | {r['related_s']} | {r['lists_recomputed']:,} |")
        print(f"\nrelated step {s['related_speedup']}× faster than a full pass, "
              f"publish {s['publish_speedup']}× faster than from scratch; "
              f"agreement with the full pass: {s['agreement']}")
    if args.bbc:
        b = bbc(args.bbc_cache)
        figures["bbc"] = b
        passes = [st["pass"] for st in b["steps"]] + [b["incremental"]["related"]["pass"]]
        recomputed = [st["recomputed"] for st in b["steps"] if st["pass"] == "incremental"]
        print(f"\n### BBC News: {b['held_out']} articles added back one publish each\n")
        print(f"{passes.count('incremental')} of {len(passes)} publishes incremental, lists recomputed per publish "
              f"{min(recomputed, default=0)}–{max(recomputed, default=0)} "
              f"(median {int(np.median(recomputed or [0]))}); "
              f"changes since the full pass at the end: {b['incremental']['related'].get('changes_since_full_pass')}\n")
        print("| lists | precision@5 | lists with a duplicate |\n| --- | --- | --- |")
        for name in ("incremental", "full"):
            print(f"| {name} | {b[name]['precision_at_5']} | {b[name]['lists_with_duplicate']} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
