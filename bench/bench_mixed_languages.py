"""Benchmark: a site that mixes languages. Does a question still find the right story when the index also holds
articles in other languages, and does the language balance (search_api.ranking.legs.LanguageBalance) matter?

Two set-ups, each scored as `sift eval` scores (the served hybrid run, and the semantic leg alone), MRR@10:
  xquad   XQuAD's 240 paragraphs, half the stories in English and the other half in language L (a fixed split by
          paragraph id): questions in L, and in English, over that mixed index, against the one-language index (L's
          questions over L's paragraphs, English over English) and the other language's (every story across
          languages). A story exists in one language only, as on a site: a mixed index can at best do about as
          well as the mean of those two.
  masakha MasakhaNEWS headline → article: L's headlines over L's articles pooled with the English articles, against
          L's articles alone (the first --masakha-docs of each language; every article's headline is a question).
Each mixed index is scored with the balance on and off, in the same run; the one-language index needs none.

Vectors are cached by text in --cache (an .npz), so a re-run embeds only new texts.

    python bench/bench_mixed_languages.py --langs es,ar,zh,de --masakha fr,sw --model multilingual

Prints a markdown table. Not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import zlib
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from search_api.evaluation.beir import BeirData, evaluate  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
XQUAD = SHARED / "xquad_xling_beir"
MASAKHA = SHARED / "masakhanews" / "headline_retrieval"
RUNS = ("hybrid", "semantic")


class CachedEncoder:
    """The model, with its vectors kept by text (passages and questions apart) so that pools sharing texts embed
    them once. `cross_lingual` can be switched off to score an index without the language balance."""

    def __init__(self, model, path: Path) -> None:
        self._model = model
        self._path = path
        self._cache: dict[tuple[bool, str], np.ndarray] = {}
        if path.is_file():
            data = np.load(path, allow_pickle=False)
            for kind, text, vec in zip(data["kinds"], data["texts"], data["vectors"]):
                self._cache[(bool(kind), str(text))] = vec
        self.cross_lingual = getattr(model, "cross_lingual", False)

    def __getattr__(self, name):
        return getattr(self._model, name)

    def _get(self, texts, query: bool, progress=None) -> np.ndarray:
        missing = sorted({t for t in texts if (query, t) not in self._cache})
        if missing:
            embed = self._model.encode_queries if query else self._model.encode
            for text, vec in zip(missing, embed(missing)):
                self._cache[(query, text)] = vec
        if progress is not None:
            progress(len(texts))
        return np.vstack([self._cache[(query, t)] for t in texts]) if texts else np.zeros((0, self._model.dim), np.float32)

    def encode(self, texts, *, progress=None) -> np.ndarray:
        return self._get(list(texts), False, progress)

    def encode_queries(self, texts) -> np.ndarray:
        return self._get(list(texts), True)

    def encode_query(self, text: str) -> np.ndarray:
        return self._get([text], True)[0]

    def save(self) -> None:
        keys = list(self._cache)
        np.savez(self._path, kinds=np.array([k for k, _ in keys]), texts=np.array([t for _, t in keys]),
                 vectors=np.vstack([self._cache[k] for k in keys]))


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines()[1:]:
        q, d, s = line.split("\t")
        out.setdefault(q, {})[d] = int(s)
    return out


def _data(name: str, corpus: list[dict], queries: list[dict], qrels: dict, every: int = 1) -> BeirData:
    ids = {d["_id"] for d in corpus}
    qs = {q["_id"]: q["text"] for q in queries[::every] if q["_id"] in qrels and set(qrels[q["_id"]]) & ids}
    judged = {q: {d: s for d, s in qrels[q].items() if d in ids} for q in qs}
    return BeirData(name=name, corpus=corpus, queries=qs, qrels=judged)


def _score(data: BeirData, encoder: CachedEncoder, balance: bool) -> dict[str, float]:
    encoder.cross_lingual = balance
    result = evaluate(data, encoder, progress=False)
    return {run: result.metrics[run]["mrr@10"] for run in RUNS}


def _in_l(paragraph_id: str) -> bool:
    """The fixed half of XQuAD's stories a mixed index holds in the other language."""
    return zlib.crc32(paragraph_id.encode()) % 2 == 1


def xquad(lang: str, encoder: CachedEncoder, every: int) -> list[tuple]:
    qrels = _qrels(XQUAD / "qrels" / "test.tsv")
    en, other = _jsonl(XQUAD / "corpus.en.jsonl.gz"), _jsonl(XQUAD / f"corpus.{lang}.jsonl.gz")
    mixed = [o if _in_l(o["_id"]) else e for e, o in zip(en, other)]
    rows = []
    for asked, alone, across in ((lang, other, en), ("en", en, other)):
        questions = _jsonl(XQUAD / f"queries.{asked}.jsonl")
        one = _score(_data(f"xquad {asked}", alone, questions, qrels, every), encoder, False)
        crossed = _score(_data(f"xquad {asked} across", across, questions, qrels, every), encoder, False)
        raw = _score(_data(f"xquad {asked} mixed", mixed, questions, qrels, every), encoder, False)
        balanced = _score(_data(f"xquad {asked} mixed", mixed, questions, qrels, every), encoder, True)
        rows.append((f"XQuAD, en + {lang} stories", asked, one, crossed, raw, balanced))
        encoder.save()
    return rows


def masakha(lang: str, encoder: CachedEncoder, docs: int) -> list[tuple]:
    qrels = _qrels(MASAKHA / "qrels" / "test.tsv")

    def corpus(code: str) -> list[dict]:
        return [dict(d, title="") for d in _jsonl(MASAKHA / f"corpus.{code}.jsonl.gz")][:docs]

    alone, en = corpus(lang), corpus("en")
    questions = _jsonl(MASAKHA / f"queries.{lang}.jsonl")
    one = _score(_data(f"masakha {lang}", alone, questions, qrels), encoder, False)
    raw = _score(_data(f"masakha {lang} + en", alone + en, questions, qrels), encoder, False)
    balanced = _score(_data(f"masakha {lang} + en", alone + en, questions, qrels), encoder, True)
    encoder.save()
    return [(f"MasakhaNEWS headlines, {lang} + en articles", lang, one, None, raw, balanced)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langs", default="es,ar,zh,de", help="XQuAD languages mixed with English ('' for none)")
    parser.add_argument("--every", type=int, default=2, help="every k-th XQuAD question (1,190 per language)")
    parser.add_argument("--masakha", default="fr,sw", help="MasakhaNEWS languages pooled with English ('' for none)")
    parser.add_argument("--masakha-docs", type=int, default=300, help="articles of each language")
    parser.add_argument("--model", default="multilingual")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/sift-bench-mixed.npz"))
    args = parser.parse_args()

    from search_api.cli.common import load_embedder, settings_for

    encoder = CachedEncoder(load_embedder(settings_for(None, args.model)), args.cache)
    rows = []
    for lang in filter(None, args.langs.split(",")):
        rows += xquad(lang, encoder, args.every)
        print(rows[-2:], flush=True)
    for lang in filter(None, args.masakha.split(",")):
        rows += masakha(lang, encoder, args.masakha_docs)
        print(rows[-1:], flush=True)
    print(f"\nMRR@10, model {encoder.model_id}; the question's language only, the other language only (every story "
          f"across languages), and mixed without and with the language balance\n")
    print("| set | asked in | run | question's language only | other only | mixed | mixed, balanced | "
          "balanced − question's language only |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, asked, one, crossed, raw, balanced in rows:
        for run in RUNS:
            other = f"{crossed[run]:.3f}" if crossed else "—"
            print(f"| {name} | {asked} | {run} | {one[run]:.3f} | {other} | {raw[run]:.3f} | {balanced[run]:.3f} | "
                  f"{balanced[run] - one[run]:+.3f} |")


if __name__ == "__main__":
    main()
