"""The evaluation harness: index a BEIR collection, run every query in each mode, score with ranx."""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.errors import SiftError
from indexer.pipeline import ChunkingParams, TextEncoder, index_sources
from indexer.vectors import VectorConfig
from search_api.ranking import fusion
from indexer.languages import query_language
from search_api.engine import Engine, RankingParams

METRICS = ("ndcg@10", "recall@100", "mrr@10")
DEPTH = 100  # each leg's list, and the run length scored
SWEEP_WEIGHTS = tuple(round(w, 1) for w in np.linspace(0.0, 1.0, 11))
TM2C2_WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 21))


# The served ranking (RankingParams' defaults: TM2C2 at its weight, its top re-scored by late interaction), and the
# runs it is compared with per query (FUSED_RUN: the same without late interaction)
DEFAULT_RUN = "hybrid"
FUSED_RUN = f"hybrid-{RankingParams().fusion}-{RankingParams().weight:.2f}"
COMPARED = ("keyword", "semantic", "hybrid-convex-0.5", "hybrid-rrf", FUSED_RUN)
RESAMPLES = 10_000


class DatasetError(SiftError):
    """A malformed BEIR file, located by path and line."""


@dataclass
class BeirData:
    name: str
    corpus: list[dict]  # {"_id", "title", "text"}
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _open_text(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder}: no {stem} or {stem}.gz (expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/)")


def json_objects(path: Path, error: type[DatasetError] = DatasetError) -> Iterator[tuple[str, dict]]:
    """("path:line N", object) for each non-blank line of a JSONL(.gz) file; `error` names the first bad line."""
    for lineno, line in _open_text(path):
        if not line.strip():
            continue
        where = f"{path}:line {lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise error(f"{where}: expected a JSON object")
        yield where, record


def _jsonl(path: Path, required: tuple[str, ...]) -> Iterator[dict]:
    for where, record in json_objects(path):
        for key in required:
            if not isinstance(record.get(key), str):
                raise DatasetError(f"{where}: field {key!r} is missing or not a string")
        yield record


def load_beir(
    folder: str | Path | None = None, *, split: str = "test", corpus: str | Path | None = None,
    queries: str | Path | None = None, qrels: str | Path | None = None,
) -> BeirData:
    """Read a BEIR collection: corpus.jsonl(.gz), queries.jsonl(.gz) and qrels/<split>.tsv in `folder`, or the files
    `corpus`, `queries` and `qrels` given one by one (each given file wins over the folder's: XQuAD pairs one
    language's questions with another's paragraphs). DatasetError at the first bad line."""
    base = Path(folder) if folder is not None else None
    if base is not None and not base.is_dir():
        raise DatasetError(f"{base}: not a folder")

    def pick(given: str | Path | None, name: str, option: str) -> Path:
        if given is not None:
            path = Path(given)
            if not path.is_file():
                raise DatasetError(f"{path}: no such file")
            return path
        if base is None:
            raise DatasetError(f"give a BEIR folder or --{option} FILE")
        return base / "qrels" / f"{split}.tsv" if option == "qrels" else _find(base, name)

    docs = [
        {"_id": r["_id"], "title": r.get("title") or "", "text": r["text"]}
        for r in _jsonl(pick(corpus, "corpus.jsonl", "corpus"), ("_id", "text"))
    ]
    queries_path = pick(queries, "queries.jsonl", "queries")
    texts = {r["_id"]: r["text"] for r in _jsonl(queries_path, ("_id", "text"))}
    judged = _read_qrels(pick(qrels, "qrels", "qrels"), split, texts, queries_path.name)
    name = base.name if base is not None else ""
    if corpus or queries:  # a pairing of files: say which, e.g. xquad_xling_beir:queries.es->corpus.en
        stem = lambda path: Path(path).name.removesuffix(".gz").removesuffix(".jsonl")  # noqa: E731
        pairing = f"{stem(queries_path)}->{stem(pick(corpus, 'corpus.jsonl', 'corpus'))}"
        name = f"{name}:{pairing}" if name else pairing
    return BeirData(name, docs, {q: texts[q] for q in judged}, judged)


def _read_qrels(path: Path, split: str, queries: dict[str, str], queries_name: str) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing (BEIR qrels for split {split!r})")
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in _open_text(path):
        parts = line.rstrip("\n").split("\t")
        if lineno == 1 and parts[0] in ("query-id", "query_id", "qid"):
            continue
        if not line.strip():
            continue
        if len(parts) != 3:
            raise DatasetError(f"{path}:line {lineno}: expected 3 tab-separated columns, found {len(parts)}")
        try:
            score = int(parts[2])
        except ValueError:
            raise DatasetError(f"{path}:line {lineno}: relevance {parts[2]!r} is not an integer") from None
        if parts[0] not in queries:
            raise DatasetError(f"{path}:line {lineno}: query {parts[0]!r} is not in {queries_name}")
        if score > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = score
    if not qrels:
        raise DatasetError(f"{path}: no positive judgements")
    return qrels


def slice_data(data: BeirData, *, queries: int | None, extra_docs: int | None) -> BeirData:
    """A small, honest slice for quick runs: the first `queries` queries, their judged documents, plus the first
    `extra_docs` other documents as distractors. Figures on a slice are not comparable with full-collection ones."""
    qids = list(data.qrels)[:queries] if queries else list(data.qrels)
    qrels = {q: data.qrels[q] for q in qids}
    if extra_docs is None:
        return BeirData(data.name, data.corpus, {q: data.queries[q] for q in qids}, qrels)
    judged = {d for rel in qrels.values() for d in rel}
    others = [doc for doc in data.corpus if doc["_id"] not in judged][:extra_docs]
    corpus = [doc for doc in data.corpus if doc["_id"] in judged] + others
    return BeirData(data.name, corpus, {q: data.queries[q] for q in qids}, qrels)


@dataclass
class EvalResult:
    dataset: str
    documents: int
    queries: int
    index_seconds: float
    search_seconds: float
    metrics: dict[str, dict[str, float]]  # run name → metric → value
    sweep: dict[str, float]  # convex (min-max) weight → nDCG@10
    sweep_tm2c2: dict[str, float]  # TM2C2 weight → nDCG@10
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # run name → query → nDCG@10
    # nDCG@10 of the main runs with a 95% bootstrap interval over the queries: run → {mean, low, high}
    intervals: dict[str, dict[str, float]] = field(default_factory=dict)
    # DEFAULT_RUN minus each of COMPARED, per query: "A vs B" → {difference, low, high, p, wins, losses}
    comparisons: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "per_query"}


def _aligned(*runs: dict[str, float]) -> np.ndarray:
    queries = sorted(runs[0])
    if any(sorted(r) != queries for r in runs[1:]):
        raise ValueError("per-query scores of different query sets")
    return np.array([[r[q] for q in queries] for r in runs], dtype=np.float64)


def bootstrap_means(values: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Each row of `values` (k × n) averaged over `resamples` resamples of its n columns drawn with replacement, the
    same columns for every row (paired): k × resamples. NaN cells are left out of a mean (NaN when all are). Drawn
    in blocks of ~2M cells, so memory stays bounded however many items; seeded, so every run prints the same."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n = values.shape[1]
    rng = np.random.default_rng(seed)
    out = np.empty((values.shape[0], resamples))
    step = max(1, 2_000_000 // max(n, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample of only NaN cells: its mean is NaN
        for start in range(0, resamples, step):
            rows = rng.integers(0, n, size=(min(step, resamples - start), n))
            out[:, start : start + len(rows)] = np.nanmean(values[:, rows], axis=-1)
    return out


def bootstrap_interval(scores: dict[str, float], *, resamples: int = RESAMPLES, seed: int = 0) -> dict[str, float]:
    """The mean of per-query `scores` and its 95% percentile-bootstrap interval (queries resampled with
    replacement): how far the figure could move on another sample of queries like these."""
    values = _aligned(scores)[0]
    low, high = np.percentile(bootstrap_means(values, resamples=resamples, seed=seed)[0], [2.5, 97.5])
    return {"mean": round(float(values.mean()), 4), "low": round(float(low), 4), "high": round(float(high), 4)}


def paired_difference(a: dict[str, float], b: dict[str, float], *, resamples: int = RESAMPLES,
                      seed: int = 0) -> dict[str, float]:
    """Run a minus run b over the same queries: the mean difference with a 95% paired-bootstrap interval, the
    two-sided p-value of a paired randomisation test (each query's two scores swapped at random; the observed
    difference counted among the resamples, so p is never 0), and the queries each run wins."""
    diff = np.subtract(*_aligned(a, b))
    observed = float(diff.mean())
    low, high = np.percentile(bootstrap_means(diff, resamples=resamples, seed=seed)[0], [2.5, 97.5])
    signs = np.random.default_rng(seed + 1).choice(np.array([-1.0, 1.0]), size=(resamples, len(diff)))
    flipped = np.abs((signs * diff).mean(axis=1))
    p = (1 + int(np.sum(flipped >= abs(observed) - 1e-12))) / (resamples + 1)
    return {
        "difference": round(observed, 4), "low": round(float(low), 4), "high": round(float(high), 4),
        "p": round(p, 4), "wins": int(np.sum(diff > 0)), "losses": int(np.sum(diff < 0)),
    }


def _runs(engine: Engine, data: BeirData, encoder: TextEncoder, doc_ids: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Every run, from one pass over the queries: each leg once, fused many ways."""
    qids = list(data.queries)
    texts = [data.queries[q] for q in qids]
    # the queries' vectors, and for an index with late interaction their token vectors from the same run of the
    # model (an encoder without them: none, as the engine serves it)
    both = getattr(encoder, "encode_with_tokens", None) if engine.late_active else None
    # a model that embeds questions and passages differently (e5's prefixes) has a batch method for questions
    queries_of = getattr(encoder, "encode_queries", encoder.encode)
    vectors, tokens = both(texts) if both else (queries_of(texts), None)
    runs: dict[str, dict[str, dict[str, float]]] = {}

    def put(name: str, qid: str, scores: dict[int, float]) -> None:
        top = sorted(scores.items(), key=lambda kv: -kv[1])[:DEPTH]
        runs.setdefault(name, {})
        if top:  # ranx rejects empty result lists; a query left out is scored 0
            runs[name][qid] = {doc_ids[a]: float(s) for a, s in top}

    for n, (qid, vec) in enumerate(zip(qids, vectors)):
        # as a search reads it: the keyword leg in the question's language, cosines on the model's calibrated scale
        language = query_language(data.queries[qid], engine.catalogue.site_languages)
        dense, keyword = engine.legs(data.queries[qid], DEPTH, query_vec=vec, language=language)
        semantic = {a: engine.calibrated(s) for a, (s, _) in dense.items()}
        put("keyword", qid, keyword)
        put("semantic", qid, semantic)
        put("hybrid-rrf", qid, fusion.rrf(semantic, keyword, 60))
        for w in SWEEP_WEIGHTS:
            put(f"hybrid-convex-{w:.1f}", qid, fusion.convex(semantic, keyword, w))
        # TM2C2 scores every candidate on both legs, as the engine does for it
        dense, keyword = engine.legs(data.queries[qid], DEPTH, query_vec=vec, complete=True, language=language)
        semantic = {a: engine.calibrated(s) for a, (s, _) in dense.items()}
        unread = engine.unread(language, semantic)  # other languages' articles, on a site that mixes them
        for w in TM2C2_WEIGHTS:
            put(f"hybrid-tm2c2-{w:.2f}", qid, fusion.tm2c2(semantic, keyword, w, unread))
        served = fusion.tm2c2(semantic, keyword, engine.ranking.weight, unread)
        if tokens is not None:
            served = engine.late_rescore(data.queries[qid], served, query_tokens=tokens[n])
        put(DEFAULT_RUN, qid, served)
    return runs


def _write_corpus(data: BeirData, path: Path) -> Path:
    """The corpus as a Sift JSONL file. BEIR ids may hold characters Sift ids do not; rows are numbered instead
    (d0, d1, …) and mapped back."""
    with open(path, "w", encoding="utf-8") as out:
        for n, doc in enumerate(data.corpus):
            title = doc["title"].strip() or " ".join(doc["text"].split()[:12]) or "untitled"
            out.write(json.dumps({"id": f"d{n}", "title": title, "body": doc["text"] or title}) + "\n")
    return path


def _score(runs: dict, qrels_dict: dict) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Each run's metrics (rounded to 4 decimals) and its nDCG@10 per judged query."""
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    qrels = Qrels(qrels_dict)
    metrics: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, float]] = {}
    for name, run_dict in runs.items():
        if not run_dict:  # no query had a hit (the keyword leg, silent for questions in a language the site lacks)
            metrics[name] = {m: 0.0 for m in METRICS}
            per_query[name] = {q: 0.0 for q in qrels_dict}
            continue
        run = Run(run_dict, name=name)
        scores = ranx_evaluate(qrels, run, list(METRICS), make_comparable=True)
        metrics[name] = {m: round(float(scores[m]), 4) for m in METRICS}
        # queries without any hit are absent from the run; make_comparable scores them 0
        per_query[name] = {q: float(run.scores["ndcg@10"].get(q, 0.0)) for q in qrels_dict}
    return metrics, per_query


def evaluate(
    data: BeirData,
    encoder: TextEncoder,
    *,
    index_dir: Path | None = None,
    run_dir: Path | None = None,
    chunking: ChunkingParams = ChunkingParams(),
    late_interaction: bool = False,
    progress: bool = True,
    database: str | None = None,
    vectors: VectorConfig = VectorConfig(),
) -> EvalResult:
    """Index `data` (into `index_dir`, reusing its embedding cache, or a temporary folder) and score every run;
    `late_interaction` as SIFT_LATE_INTERACTION (the "hybrid" run then re-scores its top with it). `database`: index
    into that PostgreSQL database instead (its store must hold no other articles), `vectors` as SIFT_VECTOR_STORE."""
    with tempfile.TemporaryDirectory() as tmp:
        idx = index_dir or Path(tmp) / "idx"
        doc_ids = [doc["_id"] for doc in data.corpus]
        source = _write_corpus(data, Path(tmp) / "corpus.jsonl")
        started = time.perf_counter()
        report = index_sources([source], idx, encoder, chunking=chunking, progress=progress,
                               late_interaction=late_interaction, database=database, vectors=vectors)
        index_seconds = time.perf_counter() - started
        if report.skipped:
            raise DatasetError(f"{report.skipped} corpus records could not be indexed, first: {report.errors[0]}")
        engine = Engine.open(idx, encoder, ranking=RankingParams(collapse_duplicates=False), vectors=vectors)
        if len(engine.articles) != len(doc_ids):
            raise DatasetError(f"the index holds {len(engine.articles)} articles, the collection {len(doc_ids)}: "
                               "evaluate into an empty index folder or database")
        # articles are stored in id order (d0, d1, d10, …): map engine rows back to BEIR ids
        row_to_doc = [doc_ids[int(aid[1:])] for aid in engine.articles["id"]]
        started = time.perf_counter()
        runs = _runs(engine, data, encoder, row_to_doc)
        search_seconds = time.perf_counter() - started

    metrics, per_query = _score(runs, data.qrels)
    if run_dir is not None:
        write_runs(run_dir, runs, per_query)
    sweep = {name.rsplit("-", 1)[1]: metrics[name]["ndcg@10"] for name in metrics if name.startswith("hybrid-convex-")}
    sweep_tm2c2 = {
        name.rsplit("-", 1)[1]: metrics[name]["ndcg@10"] for name in metrics if name.startswith("hybrid-tm2c2-")
    }
    main = [name for name in (*COMPARED, DEFAULT_RUN) if name in per_query]
    intervals = {name: bootstrap_interval(per_query[name]) for name in main}
    comparisons = {
        f"{DEFAULT_RUN} vs {other}": paired_difference(per_query[DEFAULT_RUN], per_query[other])
        for other in COMPARED if other in per_query and DEFAULT_RUN in per_query
    }
    return EvalResult(
        dataset=data.name,
        documents=len(data.corpus),
        queries=len(data.queries),
        index_seconds=round(index_seconds, 1),
        search_seconds=round(search_seconds, 2),
        metrics=metrics,
        sweep=sweep,
        sweep_tm2c2=sweep_tm2c2,
        per_query=per_query,
        intervals=intervals,
        comparisons=comparisons,
    )


def write_runs(folder: Path, runs: dict[str, dict[str, dict[str, float]]], per_query: dict[str, dict[str, float]]) -> None:
    """TREC run files (`<run>.trec`) and a per-query nDCG@10 table (`per_query.csv`) for the notebook."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, run in runs.items():
        with open(folder / f"{name}.trec", "w") as out:
            for qid, docs in run.items():
                for rank, (doc, score) in enumerate(sorted(docs.items(), key=lambda kv: -kv[1]), start=1):
                    out.write(f"{qid} Q0 {doc} {rank} {score:.6f} sift-{name}\n")
    names = sorted(per_query)
    qids = sorted({q for scores in per_query.values() for q in scores})
    with open(folder / "per_query.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["query_id", *names])
        for q in qids:
            writer.writerow([q, *(f"{per_query[n].get(q, 0.0):.4f}" for n in names)])
