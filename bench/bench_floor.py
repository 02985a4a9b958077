"""The match floor: how often a search answers "nothing matches well" for questions the site can and cannot answer.

A semantic leg always finds a nearest article, so without a floor "football world cup final" on an NGO news site
lists ten aid stories. `RankingParams.match_floor` holds a search back (`weak_only`) when no eligible article has a
passage at that cosine to the query and none holds every query word. This prints, per floor:

- on the bundled sample corpus: the share of on-topic questions answered (bench_geo's "<topic> in <region>"
  questions and common one- or two-word searches), and of off-topic ones (headlines of BBC sport, entertainment and
  tech stories; SciFact claims) — both should be as far apart as possible;
- with `--beir-cache DIR` (the folders `sift eval --cache` kept: scifact, medline, cisi), how many judged queries of
  each collection the floor would leave unanswered — it should be none.

Not a test: `python bench/bench_floor.py [--beir-cache eval-runs/cache]`. Prints markdown.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_geo import REGIONS, SAMPLE, TOPICS  # noqa: E402

from indexer.pipeline import index_sources  # noqa: E402
from models import Embedder  # noqa: E402
from search_api.engine import Engine  # noqa: E402
from search_api.query.syntax import parse_query  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4)
SHORT = [  # what readers of an aid and development news site type
    "cholera", "malaria", "floods", "drought", "grants", "trafficking", "child marriage", "FGM", "WASH", "cocoa",
    "water", "education", "UNICEF", "refugees", "school meals", "call for proposals", "climate adaptation",
    "mental health", "girls' education", "food prices",
]
BEIR = {"scifact": "scifact_beir", "medline": "classic_ir_med_cisi_cran/beir_med", "cisi": "classic_ir_med_cisi_cran/beir_cisi"}


def answered(engine: Engine, queries: list[str], floor: float) -> float:
    return float(np.mean([not engine.search(q, k=10, floor=floor).weak_only for q in queries]))


def plain(text: str) -> str:
    """A judged query as plain words: CISI's queries quote titles, which the search would read as phrases."""
    words = " ".join(w.lstrip("-") for w in text.replace('"', " ").split())
    return words[:500] if parse_query(words[:500]).text else "empty"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beir-cache", type=Path, help="folder of `sift eval --cache` indexes (scifact, medline, cisi)")
    args = parser.parse_args()
    embedder = Embedder()
    on_topic = [f"{phrase} in {region}" for phrase in TOPICS.values() for region in REGIONS] + SHORT
    rng = random.Random(1)
    bbc = [json.loads(line) for line in gzip.open(SHARED / "bbc_news" / "bbc_news.jsonl.gz", "rt", encoding="utf-8")]
    headlines = [a["title"] for a in rng.sample([a for a in bbc if a["category"] in ("sport", "entertainment", "tech")], 200)]
    claims = [json.loads(line)["text"] for line in open(SHARED / "scifact_beir" / "queries.jsonl", encoding="utf-8")][:200]
    with tempfile.TemporaryDirectory() as tmp:
        index_sources([SAMPLE], Path(tmp) / "idx", embedder, progress=False)
        engine = Engine.open(Path(tmp) / "idx", embedder)
        print(f"# match floor on the sample corpus ({len(engine.articles)} articles): share of searches answered\n")
        print(f"| floor | on-topic ({len(on_topic)}) | BBC sport/entertainment/tech headlines ({len(headlines)}) "
              f"| SciFact claims ({len(claims)}) |")
        print("| --- | --- | --- | --- |")
        for floor in FLOORS:
            print(f"| {floor} | {answered(engine, on_topic, floor):.1%} | {answered(engine, headlines, floor):.1%} "
                  f"| {answered(engine, claims, floor):.1%} |")
        print("\nbest passage cosine per search (floor 0), percentiles 1 / 10 / 50 / 90:")
        for name, queries in (("on-topic", on_topic), ("BBC headlines", headlines), ("SciFact claims", claims)):
            best = [max(h.semantic_score or 0.0 for h in engine.search(q, k=10, floor=0).hits) for q in queries]
            print(f"- {name}: " + " / ".join(f"{np.percentile(best, p):.3f}" for p in (1, 10, 50, 90)))
        unanswered = [q for q in on_topic if engine.search(q, k=10).weak_only]
        print(f"\non-topic searches held back at the default floor ({engine.ranking.match_floor}): {unanswered or 'none'}")
    if args.beir_cache:
        print("\n| collection | judged queries | " + " | ".join(f"unanswered at {f}" for f in FLOORS) + " |")
        print("| --- | --- |" + " --- |" * len(FLOORS))
        for name, folder in BEIR.items():
            if not (args.beir_cache / name).is_dir():
                print(f"| {name} | (no index in {args.beir_cache}) |" + " |" * len(FLOORS))
                continue
            engine = Engine.open(args.beir_cache / name, embedder)
            queries = {json.loads(line)["_id"]: json.loads(line)["text"]
                       for line in open(SHARED / folder / "queries.jsonl", encoding="utf-8")}
            judged = {line.split("\t")[0] for line in open(SHARED / folder / "qrels" / "test.tsv", encoding="utf-8")}
            texts = [plain(queries[q]) for q in queries if q in judged]
            counts = [sum(engine.search(t, k=10, floor=f, spellcheck=False).weak_only for t in texts) for f in FLOORS]
            print(f"| {name} | {len(texts)} | " + " | ".join(str(c) for c in counts) + " |")


if __name__ == "__main__":
    main()
