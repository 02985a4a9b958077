"""Benchmark: related-posts quality against rule-based and keyword baselines, and the evidence for the defaults.

On BBC News (2,225 articles, 5 topics) it scores, for every article's top-5 list, same-topic precision ("purity"),
self-links, duplicate pairs, intra-list similarity and catalogue coverage for: a same-category rule (BBC has no dates,
so "same category, random" stands for "same category, newest first"), a label-blind box (what the rule degenerates
to when everything sits in one category), TF-IDF and BM25 more-like-this, and Sift under several rules. It calibrates
the similarity floor (same-topic precision of neighbours by cosine), compares article-vector weightings (lead passage
weight 1 / 2 / 4, lead only, title only), and correlates each with human ratings on the Lee corpus.
Not a test: `python bench/bench_related.py [--cache DIR]`. Prints markdown.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
from scipy.stats import pearsonr, spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_bbc import convert  # noqa: E402

from indexer.errors import IndexMismatch  # noqa: E402
from indexer.keyword import analyse  # noqa: E402
from indexer.passages import PASSAGES_FILE  # noqa: E402
from indexer.pipeline import index_sources  # noqa: E402
from models import Embedder  # noqa: E402
from search_api.engine import Engine  # noqa: E402
from search_api.related.policy import RelatedRules  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
K = 5
OFF = RelatedRules(min_similarity=-1.0)  # every rule off: plain nearest neighbours without duplicates
FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
LAMBDAS = (0.9, 0.8, 0.7, 0.5)

Lists = list[list[int]]  # row → its related rows, best first


# -- data -------------------------------------------------------------------------------------------------------
def exact_duplicates(path: Path, position: dict[str, int]) -> np.ndarray:
    """Exact-duplicate group per row (the row itself when it has no duplicate)."""
    group = np.arange(len(position))
    for line in path.read_text().splitlines()[1:]:
        rows = [position[i.replace("/", "-")] for i in line.split("\t")[1].split()]
        group[rows] = min(rows)
    return group


def open_index(sources: list[Path], idx: Path, embedder: Embedder) -> Engine:
    """Index (embedding only what the cache lacks) and open; a cached version from an older Sift is rebuilt."""
    index_sources(sources, idx, embedder, progress=False)
    try:
        return Engine.open(idx, embedder)
    except IndexMismatch:
        shutil.rmtree(idx / "versions")
        (idx / "CURRENT").unlink()
        index_sources(sources, idx, embedder, progress=False)  # republishes from the store, embeds nothing
        return Engine.open(idx, embedder)


def write_records(records: list[dict], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return source


def lee_records() -> tuple[list[dict], list[str], np.ndarray]:
    """The 50 Lee documents (title = first sentence), 300 background texts for IDF, and the 50×50 human matrix."""
    folder = SHARED / "lee_doc_similarity"
    texts = [json.loads(line)["text"] for line in gzip.open(folder / "lee50.jsonl.gz", "rt", encoding="utf-8")]
    records = []
    for i, text in enumerate(texts):
        first = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)[0]
        rest = text[len(first):].strip() or first
        records.append({"id": f"lee-{i:02d}", "title": first[:300], "body": rest})
    background = (folder / "original" / "lee_background.cor").read_text(encoding="latin-1").splitlines()
    human = np.zeros((50, 50))
    for line in (folder / "lee50_pairs.tsv").read_text().splitlines()[1:]:
        a, b, score = line.split("\t")
        human[int(a), int(b)] = human[int(b), int(a)] = float(score)
    return records, [t for t in background if t.strip()], human


# -- systems ----------------------------------------------------------------------------------------------------
def top_from_scores(scores: np.ndarray, me: int, dup: np.ndarray, k: int = K) -> list[int]:
    """Best `k` rows by score: never `me`, never its exact duplicates, one member per exact-duplicate group."""
    order = np.argsort(-scores, kind="stable")
    out, seen = [], {dup[me]}
    for row in order:
        if row == me or dup[row] in seen:
            continue
        seen.add(dup[row])
        out.append(int(row))
        if len(out) == k:
            break
    return out


def by_similarity(matrix_rows: Callable[[int], np.ndarray], n: int, dup: np.ndarray) -> Lists:
    return [top_from_scores(matrix_rows(i), i, dup) for i in range(n)]


def same_category_random(labels: np.ndarray, dup: np.ndarray, seed: int = 7) -> Lists:
    rng = random.Random(seed)
    lists = []
    for i in range(len(labels)):
        pool = [j for j in np.flatnonzero(labels == labels[i]) if j != i and dup[j] != dup[i]]
        lists.append(rng.sample(pool, K))
    return lists


def label_blind_random(n: int, dup: np.ndarray, seed: int = 7) -> Lists:
    rng = random.Random(seed)
    return [rng.sample([j for j in range(n) if j != i and dup[j] != dup[i]], K) for i in range(n)]


def sift_lists(engine: Engine, rules: RelatedRules) -> Lists:
    position = {aid: i for i, aid in enumerate(engine.articles["id"])}
    return [[position[it.id] for it in engine.related(aid, k=K, rules=rules).items] for aid in engine.articles["id"]]


# -- measures ---------------------------------------------------------------------------------------------------
def measures(lists: Lists, labels: np.ndarray, dup: np.ndarray, vectors: np.ndarray) -> dict[str, float]:
    n = len(lists)
    filled = [(i, items) for i, items in enumerate(lists) if items]
    purity = np.mean([np.mean(labels[items] == labels[i]) for i, items in filled]) if filled else np.nan
    ils = []
    for _, items in filled:
        if len(items) > 1:
            v = vectors[items]
            sims = v @ v.T
            ils.append(sims[np.triu_indices(len(items), 1)].mean())
    return {
        "purity@5": float(purity),
        "items": float(np.mean([len(items) for items in lists])),
        "short": sum(len(items) < K for items in lists) / n,
        "self": sum(i in items for i, items in enumerate(lists)) / n,
        "dups": sum(
            len({dup[j] for j in items} | {dup[i]}) < len(items) + 1 for i, items in enumerate(lists)
        ) / n,
        "ils": float(np.mean(ils)) if ils else np.nan,
        "coverage": len({j for items in lists for j in items}) / n,
    }


def chunk_data(version: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = faiss.read_index(str(version / "dense.faiss"))
    chunks = pa.ipc.open_file(pa.memory_map(str(version / PASSAGES_FILE))).read_all()
    return index.reconstruct_n(0, index.ntotal), chunks["article"].to_numpy(), chunks["ordinal"].to_numpy()


def weighted(vectors: np.ndarray, article: np.ndarray, ordinal: np.ndarray, n: int, lead: float) -> np.ndarray:
    """Article vectors with the first passage weighted `lead` (inf = lead passage only)."""
    if np.isinf(lead):
        weights = (ordinal == 0).astype(np.float32)
    else:
        weights = np.where(ordinal == 0, lead, 1.0).astype(np.float32)
    sums = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, article, vectors * weights[:, None])
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


def lee_correlation(sim: np.ndarray, human: np.ndarray) -> tuple[float, float]:
    upper = np.triu_indices(50, 1)
    return float(spearmanr(sim[upper], human[upper])[0]), float(pearsonr(sim[upper], human[upper])[0])


def tfidf(fit_texts: list[str], texts: list[str]) -> np.ndarray:
    """Cosine matrix of TF-IDF (sublinear tf, Sift's stemmed terms) over `texts`, IDF fitted on `fit_texts`."""
    vectoriser = TfidfVectorizer(analyzer=lambda t: analyse([t])[0], sublinear_tf=True)
    vectoriser.fit(fit_texts)
    m = vectoriser.transform(texts)
    return (m @ m.T).toarray()


def bm25_matrix(engine: Engine, texts: list[str]) -> np.ndarray:
    """BM25 more-like-this: each text as the query against the version's keyword index."""
    return np.stack([engine.keyword.scores(t) for t in texts])


# -- report -----------------------------------------------------------------------------------------------------
def row(name: str, m: dict[str, float], note: str = "") -> str:
    return (
        f"| {name} | {m['purity@5']:.3f} | {m['items']:.2f} | {m['short']:.1%} | {m['self']:.1%} | {m['dups']:.1%} "
        f"| {m['ils']:.3f} | {m['coverage']:.1%} | {note} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, help="keep the indexes here; a re-run embeds nothing")
    args = parser.parse_args()
    bbc = SHARED / "bbc_news" / "bbc_news.jsonl.gz"
    if not bbc.is_file():
        raise SystemExit(f"BBC corpus not found at {bbc}")
    embedder = Embedder()
    tmp = tempfile.TemporaryDirectory()
    cache = args.cache or Path(tmp.name)
    cache.mkdir(parents=True, exist_ok=True)

    # ---- BBC ----
    (cache / "bbc").mkdir(exist_ok=True)
    src = cache / "bbc" / "bbc.jsonl"
    convert(bbc, src)
    started = time.perf_counter()
    engine = open_index([src], cache / "bbc" / "idx", embedder)
    print(f"# Related posts — BBC News ({len(engine.articles)} articles), index ready in "
          f"{time.perf_counter() - started:.0f}s\n")
    n = len(engine.articles)
    ids = list(engine.articles["id"])
    position = {aid: i for i, aid in enumerate(ids)}
    labels = np.array([list(c)[0] for c in engine.articles["categories"]])
    dup = exact_duplicates(SHARED / "bbc_news" / "exact_duplicate_groups.tsv", position)
    art_vectors = engine.article_index.reconstruct_n(0, n)
    records = [json.loads(line) for line in src.read_text().splitlines()]
    texts = [f"{r['title']}\n{r['body']}" for r in sorted(records, key=lambda r: position[r["id"]])]

    for label in ("first call per article (builds its term profile)", "again (profiles cached)"):
        ms = []
        for aid in ids:
            t0 = time.perf_counter()
            engine.related(aid, k=K)
            ms.append((time.perf_counter() - t0) * 1000)
        print(f"serving a top-5 list with reasons, in-process, {label}: p50 {np.percentile(ms, 50):.2f} ms, "
              f"p99 {np.percentile(ms, 99):.2f} ms")
    print()
    systems: list[tuple[str, Lists, str]] = [
        ("same category, random", same_category_random(labels, dup), "rule box; reads the label, so 1.0 by design"),
        ("one broad category, random", label_blind_random(n, dup), "rule box when everything is one category"),
    ]
    tf = tfidf(texts, texts)
    systems.append(("TF-IDF more-like-this", by_similarity(lambda i: tf[i], n, dup), "YARPP / ES MLT"))
    bm = bm25_matrix(engine, texts)
    systems.append(("BM25 more-like-this", by_similarity(lambda i: bm[i], n, dup), "title+body as the query"))
    systems.append(("Sift, no rules", sift_lists(engine, OFF), "fused + context ranking, near-dups grouped"))
    default = RelatedRules()
    systems.append(
        (f"Sift default (floor {default.min_similarity})", sift_lists(engine, default), "what the API serves")
    )
    for lam in LAMBDAS:
        systems.append((f"Sift + MMR λ={lam}", sift_lists(engine, RelatedRules(min_similarity=-1, mmr_lambda=lam)), ""))

    print("| system | purity@5 | items | lists < 5 | self-links | duplicate in list | intra-list sim | coverage | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, lists, note in systems:
        print(row(name, measures(lists, labels, dup, art_vectors), note))

    # ---- the similarity floor ----
    print("\n## Similarity floor: same-topic precision of Sift's neighbours by cosine (BBC, all top-32 pairs)\n")
    pairs_sim = engine.neighbour_scores.ravel()
    pairs_same = (labels[engine.neighbours] == labels[:, None]).ravel()
    valid = engine.neighbours.ravel() >= 0
    edges = [-1.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 1.01]
    print("| cosine | pairs | same topic |")
    print("| --- | --- | --- |")
    for lo, hi in zip(edges, edges[1:]):
        sel = valid & (pairs_sim >= lo) & (pairs_sim < hi)
        if sel.any():
            print(f"| [{max(lo, -1):.2f}, {min(hi, 1):.2f}) | {sel.sum()} | {pairs_same[sel].mean():.3f} |")
    print("\n| floor | purity@5 | items per list | lists < 5 | empty lists |")
    print("| --- | --- | --- | --- | --- |")
    for floor in FLOORS:
        lists = sift_lists(engine, RelatedRules(min_similarity=floor))
        m = measures(lists, labels, dup, art_vectors)
        empty = sum(not items for items in lists) / n
        print(f"| {floor} | {m['purity@5']:.3f} | {m['items']:.2f} | {m['short']:.1%} | {empty:.1%} |")

    # ---- article-vector weighting ----
    chunk_vectors, chunk_article, chunk_ordinal = chunk_data(engine.path)
    titles = embedder.encode([r["title"] for r in sorted(records, key=lambda r: position[r["id"]])])
    variants = {
        "lead ×1 (plain mean)": weighted(chunk_vectors, chunk_article, chunk_ordinal, n, 1.0),
        "lead ×2 (default)": weighted(chunk_vectors, chunk_article, chunk_ordinal, n, 2.0),
        "lead ×4": weighted(chunk_vectors, chunk_article, chunk_ordinal, n, 4.0),
        "lead passage only": weighted(chunk_vectors, chunk_article, chunk_ordinal, n, np.inf),
        "title only": titles,
    }

    # ---- Lee ----
    lee, background, human = lee_records()
    lee_engine = open_index([write_records(lee, cache / "lee")], cache / "lee" / "idx", embedder)
    order = [lee_engine.catalogue.position[r["id"]] for r in lee]  # row of document i
    lv, la, lo = chunk_data(lee_engine.path)
    lee_titles = embedder.encode([r["title"] for r in lee])
    lee_variants = {
        "lead ×1 (plain mean)": weighted(lv, la, lo, 50, 1.0)[order],
        "lead ×2 (default)": weighted(lv, la, lo, 50, 2.0)[order],
        "lead ×4": weighted(lv, la, lo, 50, 4.0)[order],
        "lead passage only": weighted(lv, la, lo, 50, np.inf)[order],
        "title only": lee_titles,
    }
    lee_texts = [f"{r['title']} {r['body']}" for r in lee]
    print("\n## Article-vector weighting (BBC purity@5 of plain top-5; Lee correlation with human ratings)\n")
    print("| article vector | BBC purity@5 | Lee Spearman | Lee Pearson |")
    print("| --- | --- | --- | --- |")
    for name, vectors in variants.items():
        sims = vectors @ vectors.T
        lists = by_similarity(lambda i: sims[i], n, dup)
        purity = measures(lists, labels, dup, vectors)["purity@5"]
        lv_ = lee_variants[name]
        rho, r = lee_correlation(lv_ @ lv_.T, human)
        print(f"| {name} | {purity:.3f} | {rho:.3f} | {r:.3f} |")
    rho, r = lee_correlation(tfidf(background + lee_texts, lee_texts), human)
    print(f"| baseline: TF-IDF cosine (IDF from the 300 background docs + 50) | {measures(systems[2][1], labels, dup, art_vectors)['purity@5']:.3f} | {rho:.3f} | {r:.3f} |")

    # ---- the floor against human ratings, and on NGO news ----
    lee_vec = lee_variants["lead ×2 (default)"]
    cos, rated = (lee_vec @ lee_vec.T)[np.triu_indices(50, 1)], human[np.triu_indices(50, 1)]
    print("\n## Similarity floor against human ratings (Lee, 1,225 pairs; ratings 0.2 = unrelated … 1.0 = same)\n")
    print("| cosine | pairs | mean rating | rated unrelated (≤ 0.3) | rated closely related (≥ 0.6) |")
    print("| --- | --- | --- | --- | --- |")
    edges = [-1.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 1.01]
    for lo, hi in zip(edges, edges[1:]):
        sel = (cos >= lo) & (cos < hi)
        if sel.any():
            print(f"| [{max(lo, -1):.2f}, {min(hi, 1):.2f}) | {sel.sum()} | {rated[sel].mean():.3f} "
                  f"| {np.mean(rated[sel] <= 0.3):.0%} | {np.mean(rated[sel] >= 0.6):.0%} |")

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    sample_engine = open_index([sample], cache / "sample" / "idx", embedder)
    print(f"\n## Similarity floor on data/sample ({len(sample_engine.articles)} NGO articles): top-5 list lengths\n")
    print("| floor | items per list | lists < 5 | empty lists |")
    print("| --- | --- | --- | --- |")
    for floor in FLOORS:
        lengths = np.array([len(sample_engine.related(a, k=K, rules=RelatedRules(min_similarity=floor)).items)
                            for a in sample_engine.articles["id"]])
        print(f"| {floor} | {lengths.mean():.2f} | {np.mean(lengths < K):.1%} | {np.mean(lengths == 0):.1%} |")
    tmp.cleanup()


if __name__ == "__main__":
    main()
