"""What query spelling correction does to ranking: nDCG@10 of `Engine.search` (hybrid, k=10) with and without it,
on a BEIR collection's test queries as written and with one typo put into each.

The typos are the common kinds (Damerau 1964): a letter dropped, doubled, swapped with its neighbour or replaced by
one next to it on the keyboard, never the first letter, in one random word of 5+ letters per query (seed 0).
Correction must help the misspelt queries and must not hurt the clean ones (where it only touches words no article
contains: real typos, and now and then a rare correct word).

Not a test: `python bench/bench_spelling.py [--data ../shared/data/scifact_beir] [--index DIR]` (a kept index embeds
nothing on re-runs). Prints markdown.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ranx import Qrels, Run, evaluate  # noqa: E402

from models import Embedder  # noqa: E402
from search_api.engine import Engine  # noqa: E402
from search_api.evaluation.beir import load_beir  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _neighbours(ch: str) -> str:
    for row_no, row in enumerate(KEYBOARD):
        if ch in row:
            i = row.index(ch)
            near = row[max(0, i - 1) : i] + row[i + 1 : i + 2]
            for other in (row_no - 1, row_no + 1):
                if 0 <= other < len(KEYBOARD):
                    near += KEYBOARD[other][max(0, i - 1) : i + 2]
            return near
    return ""


def misspell(query: str, rng: random.Random) -> str:
    """`query` with one typo in one word of 5+ letters (unchanged when it has none)."""
    words = [m for m in re.finditer(r"[A-Za-z]{5,}", query)]
    if not words:
        return query
    m = rng.choice(words)
    w = m.group()
    i = rng.randrange(1, len(w))  # the first letter stays
    kind = rng.choice(["drop", "double", "swap", "near"])
    if kind == "drop":
        typo = w[:i] + w[i + 1 :]
    elif kind == "double":
        typo = w[:i] + w[i] + w[i:]
    elif kind == "swap" and i < len(w) - 1:
        typo = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    else:
        near = _neighbours(w[i].lower()) or "e"
        typo = w[:i] + rng.choice(near) + w[i + 1 :]
    return query[: m.start()] + typo + query[m.end() :]


def ndcg(engine: Engine, queries: dict[str, str], qrels: Qrels, row_doc: dict[str, str], *, spellcheck: bool):
    run, corrected = {}, 0
    for qid, text in queries.items():
        res = engine.search(text, k=10, spellcheck=spellcheck)
        corrected += res.corrected_query is not None
        run[qid] = {row_doc[h.id]: 10.0 - rank for rank, h in enumerate(res.hits)} or {"-": 0.0}
    return float(evaluate(qrels, Run(run), "ndcg@10")), corrected


def correction_ms(engine: Engine, queries: dict[str, str]) -> tuple[float, float]:
    """p50 / p99 of the correction step alone (the rest of a search is the same with or without it)."""
    took = []
    for text in queries.values():
        t0 = time.perf_counter()
        engine.speller.correct(" ".join(text.split()))
        took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    return took[len(took) // 2], took[min(len(took) - 1, int(len(took) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED / "scifact_beir")
    parser.add_argument("--index", type=Path, help="index folder to (re)use (as `sift eval` keeps one)")
    parser.add_argument("--split", default="test", help="qrels split: test, or train to check on other queries")
    args = parser.parse_args()
    data = load_beir(args.data, split=args.split)
    embedder = Embedder()
    tmp = tempfile.TemporaryDirectory()
    index = args.index or Path(tmp.name) / "idx"
    if not (index / "CURRENT").exists():  # index it as `sift eval` does (rows d0, d1, … map back to BEIR ids)
        from search_api.evaluation.beir import evaluate as sift_eval

        sift_eval(data, embedder, index_dir=index)
    engine = Engine.open(index, embedder)
    row_doc = {aid: data.corpus[int(aid[1:])]["_id"] for aid in engine.articles["id"]}
    qrels = Qrels(data.qrels)
    rng = random.Random(0)
    clean = dict(data.queries)
    typos = {qid: misspell(text, rng) for qid, text in clean.items()}
    for text in clean.values():  # warm up: the first pass pages the index in
        engine.search(text, k=10)
    print(f"## Query spelling correction — {args.data.name}, {len(clean)} {args.split} queries, hybrid k=10\n")
    print("| queries | spellcheck | nDCG@10 | queries corrected | correction step p50 / p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    for name, queries in (("as written", clean), ("one typo each", typos)):
        for on in (False, True):
            score, corrected = ndcg(engine, queries, qrels, row_doc, spellcheck=on)
            cost = "{:.2f} / {:.2f}".format(*correction_ms(engine, queries)) if on else "–"
            print(f"| {name} | {'on' if on else 'off'} | {score:.4f} | {corrected} | {cost} |", flush=True)


if __name__ == "__main__":
    main()
