"""Benchmark: does the geography boost help place-bound questions? Measured on the bundled sample corpus.

Queries are "<topic> in <region>"; an article is relevant when its category matches the topic and one of the
countries its author declared (record metadata, not Sift's own tagging) lies in the region. Prints nDCG@10 and
P@5 per boost value, for hybrid and semantic ranking.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ranx import Qrels, Run, evaluate  # noqa: E402

from indexer.geography import country_code, region_members  # noqa: E402
from indexer.pipeline import index_sources  # noqa: E402
from models import Embedder  # noqa: E402
from search_api.engine import Engine, RankingParams  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
TOPICS = {
    "Child Labour": "children forced to work",
    "Human Trafficking": "human trafficking",
    "Funding Opportunities": "grants for organisations",
    "Health": "health programmes",
    "WASH": "clean water and sanitation",
    "Education": "schooling",
    "Humanitarian Relief": "emergency relief",
    "Climate and Environment": "climate and environment projects",
    "Women and Girls": "women and girls",
    "Migration": "migrants and refugees",
}
REGIONS = ["Africa", "East Africa", "West Africa", "Asia", "South Asia", "Latin America", "Middle East"]


def judgements() -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    records = [json.loads(line) for f in sorted(SAMPLE.glob("*.jsonl")) for line in f.open(encoding="utf-8")]
    queries, qrels = {}, {}
    for category, phrase in TOPICS.items():
        for region in REGIONS:
            members = region_members(region)
            relevant = {
                r["id"]: 1
                for r in records
                if category in r["categories"] and any(country_code(c) in members for c in r["countries"])
            }
            if len(relevant) >= 2:
                qid = f"{category}|{region}"
                queries[qid] = f"{phrase} in {region}"
                qrels[qid] = relevant
    return queries, qrels


def main() -> None:
    queries, qrels = judgements()
    embedder = Embedder()
    print(f"# geography boost on the sample corpus: {len(queries)} '<topic> in <region>' queries")
    with tempfile.TemporaryDirectory() as tmp:
        index_sources([SAMPLE], Path(tmp) / "idx", embedder, progress=False)
        print("| mode | geo_boost | nDCG@10 | P@5 |")
        print("| --- | --- | --- | --- |")
        for mode in ("hybrid", "semantic"):
            for boost in (0.0, 0.1, 0.25, 0.5, 1.0):
                engine = Engine.open(Path(tmp) / "idx", embedder, ranking=RankingParams(geo_boost=boost))
                run = {}
                for qid, text in queries.items():
                    hits = engine.search(text, k=10, mode=mode).hits
                    run[qid] = {h.id: float(len(hits) - i) for i, h in enumerate(hits)}
                scores = evaluate(Qrels(qrels), Run(run), ["ndcg@10", "precision@5"], make_comparable=True)
                print(f"| {mode} | {boost} | {scores['ndcg@10']:.3f} | {scores['precision@5']:.3f} |")


if __name__ == "__main__":
    main()
