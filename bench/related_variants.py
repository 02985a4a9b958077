"""Which related-posts ranking: the evidence behind indexer/relatedness.py's defaults.

For BBC News and the Disaster Response news messages (topic labels hidden from ranking, used for scoring; the
Disaster Response direct messages are held out: nothing was tuned on them) and Lee's human ratings, scores each
ranking step — article-vector cosine, keyword overlap (of the BM25 term weights), the fused similarity, fused + context — and a small grid around the defaults. Precision@5 here is over plain top-5
lists (exact duplicates excluded, no floor, no near-duplicate grouping), so the steps compare cleanly.
Not a test: `python bench/related_variants.py [--cache DIR]` (a kept cache embeds nothing on re-runs). Prints markdown.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labelled_corpora import SHARED, disaster_news  # noqa: E402

from indexer.pipeline import ChunkingParams  # noqa: E402
from indexer.relatedness import related_neighbours  # noqa: E402
from models import Embedder  # noqa: E402
from search_api.engine import Engine  # noqa: E402
from search_api.evaluation.related import _index, _safe_ids, duplicate_groups, lee_correlation, load_labelled  # noqa: E402

STEPS = {
    "article-vector cosine": dict(dense_weight=1.0, context_weight=0.0),
    "keyword overlap of the BM25 term weights": dict(dense_weight=0.0, context_weight=0.0),
    "0.4 dense + 0.6 keyword": dict(context_weight=0.0),
    "+ context, mixed 0.5, width ≤ 1/20 of the articles (default)": dict(),
    "+ context, mixed 0.5, width ≤ 1/10 of the articles": dict(context_share=0.1),
}
GRID = [dict(dense_weight=d, context_weight=c, context=x) for d in (0.3, 0.4, 0.5) for c in (0.5, 0.7) for x in (100, 150)]


def precision_at_5(engine: Engine, labels: list[frozenset[str]], dup: np.ndarray, **params) -> float:
    n = engine.article_index.ntotal
    vectors = engine.article_index.reconstruct_n(0, n)
    got = related_neighbours(engine.article_index, vectors, engine.keyword.term_weights(), 32, **params)
    scores = []
    for i in range(n):
        items = [j for j in got.ids[i] if j >= 0 and dup[j] != dup[i]][:5]
        if items:
            scores.append(np.mean([bool(labels[i] & labels[j]) for j in items]))
    return float(np.mean(scores))


def open_corpus(path: Path, cache: Path, embedder: Embedder, tsv: Path | None = None):
    data = load_labelled(path)
    ids = _safe_ids(data.ids)
    _index([{"id": i, "title": t, "body": x} for i, t, x in zip(ids, data.titles, data.texts)], cache, embedder,
           ChunkingParams(), progress=False)
    engine = Engine.open(cache, embedder)
    order = [engine.catalogue.position[i] for i in ids]  # corpus row → engine row
    labels, dup = [None] * len(ids), np.zeros(len(ids), dtype=np.int64)
    groups = duplicate_groups(data, tsv)
    for corpus_row, engine_row in enumerate(order):
        labels[engine_row] = data.labels[corpus_row]
        dup[engine_row] = groups[corpus_row]
    return engine, labels, dup



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, help="keep the indexes here")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    cache = args.cache or Path(tmp.name)
    embedder = Embedder()
    disaster_news(Path(tmp.name) / "disaster_news.jsonl")
    disaster_news(Path(tmp.name) / "disaster_direct.jsonl", genre="direct")
    corpora = {
        "BBC": open_corpus(SHARED / "bbc_news" / "bbc_news.jsonl.gz", cache / "related-bbc", embedder,
                           SHARED / "bbc_news" / "exact_duplicate_groups.tsv"),
        "Disaster": open_corpus(Path(tmp.name) / "disaster_news.jsonl", cache / "related-disaster-news", embedder),
        "Direct (held out)": open_corpus(
            Path(tmp.name) / "disaster_direct.jsonl", cache / "related-disaster-direct", embedder
        ),
    }
    print("| ranking | " + " | ".join(f"{c} precision@5" for c in corpora) + " |")
    print("| --- |" + " --- |" * len(corpora))
    for name, params in STEPS.items():
        print(f"| {name} | " + " | ".join(f"{precision_at_5(*c, **params):.4f}" for c in corpora.values()) + " |")
    print("\nGrid around the default (precision@5):\n")
    print("| dense weight | context weight | context | " + " | ".join(corpora) + " |")
    print("| --- | --- | --- |" + " --- |" * len(corpora))
    for params in GRID:
        values = " | ".join(f"{precision_at_5(*c, **params):.4f}" for c in corpora.values())
        print(f"| {params['dense_weight']} | {params['context_weight']} | {params['context']} | {values} |")
    lee = lee_correlation(SHARED / "lee_doc_similarity", embedder)
    print(f"\nLee ({lee['pairs']} pairs): Sift related score Spearman {lee['sift']['spearman']:.3f} / Pearson "
          f"{lee['sift']['pearson']:.3f}; article-vector cosine {lee['dense_cosine']['spearman']:.3f} / "
          f"{lee['dense_cosine']['pearson']:.3f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
