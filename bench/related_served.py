"""Related-posts settings measured on the lists readers get: `sift eval-related`'s served precision@5, per setting.

bench/related_variants.py scores plain top-5 lists; this one serves them — the similarity floor, near-duplicate
groups and the other rules of `Engine.related` applied — for BBC News and the Disaster Response news messages (the
tuning corpora), the Disaster Response direct messages (held out) and the bundled sample corpus (its categories as
labels; and pr-049's list, the child-labour grant call, counted in child-labour or trafficking items of 5). Each
setting's lists are computed with `related_neighbours(**setting)` and put in place of the published ones in the
loaded engine (what a publish with that setting would store), so a setting costs a related pass, not a publish.

Not a test: `python bench/related_served.py [--cache eval-runs/cache] [--first N]` (a kept cache embeds nothing on
re-runs; the first run on an older index computes the short articles' token vectors once).
Prints markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labelled_corpora import SHARED, disaster_news  # noqa: E402

from indexer.pipeline import ChunkingParams  # noqa: E402
from indexer.publish import NEIGHBOURS, STORE_FILE, article_tokens  # noqa: E402
from indexer.relatedness import PARAMS, related_neighbours  # noqa: E402
from indexer.store import Store  # noqa: E402
from models import Embedder  # noqa: E402
from search_api.engine import Engine  # noqa: E402
from search_api.evaluation.related import _index, _safe_ids, duplicate_groups, load_labelled, measure, tfidf_lists  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SETTINGS = {
    "keyword cosine (the first default), no late interaction": dict(keyword_similarity="cosine", late_weight=0.0),
    "keyword overlap, no late interaction (before 2026-11-30)": dict(late_weight=0.0),
    "keyword overlap + late interaction for short articles (the default)": dict(),
    "overlap, dense weight 0.5": dict(dense_weight=0.5),
    "overlap, dense weight 0.6": dict(dense_weight=0.6),
    "overlap, context weight 0.7": dict(context_weight=0.7),
    "overlap, context width a tenth": dict(context_share=0.1),
    "overlap, context width a tenth, context weight 0.7": dict(context_share=0.1, context_weight=0.7),
}


class Corpus:
    def __init__(self, path: Path, folder: Path, embedder: Embedder, duplicates: Path | None = None) -> None:
        self.data = load_labelled(path)
        self.ids = _safe_ids(self.data.ids)
        records = [{"id": i, "title": t, "body": x} for i, t, x in zip(self.ids, self.data.titles, self.data.texts)]
        _index(records, folder, embedder, ChunkingParams(), progress=False)
        self.engine = Engine.open(folder, embedder)
        self.row = {aid: r for r, aid in enumerate(self.engine.articles["id"])}
        self.to_engine = np.array([self.row[i] for i in self.ids])
        self.to_corpus = np.argsort(self.to_engine)
        self.dup = duplicate_groups(self.data, duplicates)
        texts = [f"{t}\n{x}" for t, x in zip(self.data.titles, self.data.texts)]
        self.tfidf = measure(tfidf_lists(texts), self.data.labels, self.dup, self.engine.group[self.to_engine])
        with Store(folder / STORE_FILE) as store:  # the short articles' token vectors, as the publish read them
            vectors = self.engine.article_index.reconstruct_n(0, self.engine.article_index.ntotal)
            self.tokens = article_tokens(store, list(store.iter_articles()), embedder.model_id, embedder.dim,
                                         embedder.token_vectors, self.engine.article_index, vectors)

    def served(self, setting: dict) -> tuple[dict, list[list[int]]]:
        engine = self.engine
        vectors = engine.article_index.reconstruct_n(0, engine.article_index.ntotal)
        params = {k: v for k, v in {**PARAMS, **setting}.items() if k != "late"}
        lists = related_neighbours(engine.article_index, vectors, engine.keyword.term_weights(), NEIGHBOURS,
                                   tokens=self.tokens, **params)
        engine.neighbours, engine.neighbour_scores, engine.neighbour_rank = lists.ids.astype(np.int32), lists.cosines, lists.scores
        picked = [[int(self.to_corpus[self.row[item.id]]) for item in engine.related(aid, k=5).items] for aid in self.ids]
        return measure(picked, self.data.labels, self.dup, engine.group[self.to_engine]), picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="keep the indexes here")
    parser.add_argument("--first", type=int, default=len(SETTINGS), help="measure only the first N settings")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    cache = args.cache or Path(tmp.name)
    embedder = Embedder()
    work = Path(tmp.name)
    disaster_news(work / "disaster_news.jsonl")
    disaster_news(work / "disaster_direct.jsonl", genre="direct")
    with open(work / "sample.jsonl", "w", encoding="utf-8") as out:  # the sample's categories as the labels
        for f in sorted(SAMPLE.glob("*.jsonl")):
            for line in f.open(encoding="utf-8"):
                r = json.loads(line)
                out.write(json.dumps({"id": r["id"], "category": r["categories"], "title": r["title"], "text": r["body"]}) + "\n")
    corpora = {
        "BBC": Corpus(SHARED / "bbc_news" / "bbc_news.jsonl.gz", cache / "related-bbc", embedder,
                      SHARED / "bbc_news" / "exact_duplicate_groups.tsv"),
        "Disaster": Corpus(work / "disaster_news.jsonl", cache / "related-disaster-news", embedder),
        "Direct (held out)": Corpus(work / "disaster_direct.jsonl", cache / "related-disaster-direct", embedder),
        "sample": Corpus(work / "sample.jsonl", cache / "related-sample", embedder),
    }
    sample = corpora["sample"]
    grant = sample.ids.index("pr-049")
    print("| setting | " + " | ".join(corpora) + " | pr-049 |")
    print("| --- |" + " --- |" * (len(corpora) + 1))
    for name, setting in list(SETTINGS.items())[: args.first]:
        cells, on_topic = [], None
        for label, corpus in corpora.items():
            scores, picked = corpus.served(setting)
            p, base = scores["precision@5"], corpus.tfidf["precision@5"]
            cells.append(f"{p:.4f} ({1 - (1 - p) / (1 - base):.1%})" if label != "sample" else f"{p:.3f}")
            if label == "sample":
                on_topic = sum(bool({"Child Labour", "Human Trafficking"} & corpus.data.labels[j]) for j in picked[grant])
        print(f"| {name} | " + " | ".join(cells) + f" | {on_topic}/5 |")
    print("\n(x%): same-topic error below TF-IDF more-like-this's in the same corpus; the goal is 40%.")
    tmp.cleanup()


if __name__ == "__main__":
    main()
