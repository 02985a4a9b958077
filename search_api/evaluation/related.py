"""Related-posts evaluation: Sift against keyword and rule-based boxes on a topic-labelled corpus.

The corpus is JSONL with `id`, `category` (a string, or a list for multi-label corpora), `title` and `text`. The
label is hidden from every system — Sift indexes only id, title and text — and used only for scoring:

- same-topic precision@5: the share of an article's top-5 that share a topic label with it;
- duplicate rate: the share of lists holding an exact duplicate (same normalised text, or a group from the
  `duplicates` TSV) or one of Sift's near-duplicates of the source, or two members of one such group;
- self-link rate, catalogue coverage (share of articles that appear in someone's list), mean list length.

Baselines computed in the same run: TF-IDF more-like-this (what YARPP and Elasticsearch MLT do: sublinear TF-IDF
cosine over Sift's stemmed terms, self excluded and nothing else) and a label-blind newest-first box (the five
newest other articles, by `published_at` or, without dates, file order; what a same-category rule becomes when
everything sits in one category).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from indexer.keyword import analyse
from indexer.pipeline import ChunkingParams, TextEncoder, index_sources
from indexer.publish import NEIGHBOURS, STORE_FILE, article_tokens
from indexer.relatedness import related_neighbours
from indexer.store import Store
from search_api.engine import Engine
from search_api.evaluation.beir import RESAMPLES, DatasetError, bootstrap_means, json_objects

K = 5
_SAFE_ID = re.compile(r"[^A-Za-z0-9._~:-]")

Lists = list[list[int]]


class LabelledDataError(DatasetError):
    """A malformed labelled corpus, located by path and line."""


@dataclass
class Labelled:
    name: str
    ids: list[str]
    labels: list[frozenset[str]]
    titles: list[str]
    texts: list[str]
    dates: list[str | None]
    languages: list[str | None] = field(default_factory=list)  # the records' `language` (None: not given)


def load_labelled(path: str | Path, language: str | None = None, per_language: int | None = None) -> Labelled:
    """Read the JSONL(.gz) corpus (only its records in `language` when given, matched on their `language` field; only
    the first `per_language` records of each language when given, a slice for a slow model); raise LabelledDataError
    naming the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise LabelledDataError(f"{path}: no such file (expected JSONL with id, category, title, text)")
    name = path.name.split(".")[0] + (f".{language}" if language else "") + (f".first{per_language}" if per_language else "")
    out = Labelled(name, [], [], [], [], [])
    seen: set[str] = set()
    taken: Counter[str | None] = Counter()
    for where, record in json_objects(path, LabelledDataError):
        declared = record.get("language")
        declared = declared if isinstance(declared, str) and declared.strip() else None
        if language is not None and declared != language:
            continue
        if per_language is not None and taken[declared] >= per_language:
            continue
        taken[declared] += 1
        rid = record.get("id")
        if not isinstance(rid, (str, int)) or str(rid) == "":
            raise LabelledDataError(f"{where}: field 'id' is missing")
        if str(rid) in seen:
            raise LabelledDataError(f"{where}: id {rid!r} appears twice")
        category = record.get("category", record.get("categories"))
        labels = [category] if isinstance(category, str) else category
        if not isinstance(labels, list) or not all(isinstance(c, str) for c in labels):
            raise LabelledDataError(f"{where}: field 'category' must be a string or a list of strings")
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise LabelledDataError(f"{where}: field 'text' is missing or empty")
        title = record.get("title")
        title = title.strip() if isinstance(title, str) and title.strip() else " ".join(text.split()[:12])
        seen.add(str(rid))
        out.ids.append(str(rid))
        out.labels.append(frozenset(labels))
        out.titles.append(title)
        out.texts.append(text)
        date = record.get("published_at")
        out.dates.append(date if isinstance(date, str) else None)
        out.languages.append(declared)
    if len(out.ids) < K + 1:
        held = f" in language {language!r}" if language else ""
        raise LabelledDataError(f"{path}: {len(out.ids)} articles{held}; need at least {K + 1} to score top-{K} lists")
    return out


def duplicate_groups(data: Labelled, tsv: Path | None = None) -> np.ndarray:
    """Exact-duplicate group per row: same whitespace/case-normalised title + text, joined with the TSV's groups."""
    parent = np.arange(len(data.ids))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(rows: list[int]) -> None:
        roots = sorted({find(r) for r in rows})
        for r in roots[1:]:
            parent[r] = roots[0]

    by_hash: dict[str, list[int]] = {}
    for i, (title, text) in enumerate(zip(data.titles, data.texts)):
        key = hashlib.sha1(" ".join(f"{title} {text}".lower().split()).encode()).hexdigest()
        by_hash.setdefault(key, []).append(i)
    for rows in by_hash.values():
        join(rows)
    if tsv is not None:
        position = {aid: i for i, aid in enumerate(data.ids)}
        for lineno, line in enumerate(Path(tsv).read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split("\t")
            if lineno == 1 and parts[0] == "group" or not line.strip():
                continue
            if len(parts) != 2:
                raise LabelledDataError(f"{tsv}:line {lineno}: expected 'group<TAB>space-separated ids'")
            rows = [position[i] for i in parts[1].split() if i in position]
            if len(rows) > 1:
                join(rows)
    return np.array([find(i) for i in range(len(parent))], dtype=np.int64)


# -- systems --------------------------------------------------------------------------------------------------
def tfidf_matrix(texts: list[str], languages: list[str | None] | None = None) -> sp.csr_matrix:
    """Sublinear TF-IDF over Sift's stemmed, stop-word-free terms, each text analysed in its language (English where
    None), rows L2-normalised (scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    languages = languages or [None] * len(texts)
    terms = [analyse([text], language)[0] for text, language in zip(texts, languages)]
    vectoriser = TfidfVectorizer(analyzer=lambda analysed: analysed, sublinear_tf=True)
    return vectoriser.fit_transform(terms).tocsr()


def tfidf_lists(texts: list[str], k: int = K, languages: list[str | None] | None = None) -> Lists:
    """TF-IDF more-like-this: each article's `k` most cosine-similar others, self excluded."""
    m = tfidf_matrix(texts, languages)
    lists: Lists = []
    step = max(1, (1 << 22) // max(1, m.shape[0]))
    for start in range(0, m.shape[0], step):
        block = (m[start : start + step] @ m.T).toarray()
        for offset, row in enumerate(block):
            row[start + offset] = -np.inf
            top = np.argpartition(-row, k)[:k] if len(row) > k else np.arange(len(row))
            lists.append([int(j) for j in top[np.argsort(-row[top], kind="stable")] if j != start + offset])
    return lists


def newest_first_lists(dates: list[str | None], k: int = K) -> Lists:
    """The five newest other articles for everyone: by date where dated (ISO strings sort), else file order."""
    order = sorted(range(len(dates)), key=lambda i: (dates[i] or "", i), reverse=True)
    head = order[: k + 1]
    return [[j for j in head if j != i][:k] for i in range(len(dates))]


# -- measures -------------------------------------------------------------------------------------------------
def precisions(lists: Lists, labels: list[frozenset[str]]) -> np.ndarray:
    """Each article's same-topic precision over its list; NaN for an empty list (not counted)."""
    return np.array([np.mean([bool(labels[i] & labels[j]) for j in items]) if items else np.nan
                     for i, items in enumerate(lists)])


def error_cut(system: np.ndarray, baseline: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0) -> dict | None:
    """How much lower `system`'s same-topic error (1 − precision@5) is than `baseline`'s, 1 − error / baseline's
    error, with a 95% bootstrap interval: the articles resampled with replacement, both systems scored on each
    sample (paired), so the interval says how far the cut could move on another collection like this one. None
    when the baseline makes no error (or no list) to cut."""
    def cut(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return 1.0 - (1.0 - a) / (1.0 - b)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no list at all: NaN
        observed = float(cut(np.nanmean(system), np.nanmean(baseline)))
    if not np.isfinite(observed):
        return None
    means = bootstrap_means(np.vstack([system, baseline]), resamples=resamples, seed=seed)
    samples = cut(means[0], means[1])
    samples[~np.isfinite(samples)] = np.nan  # a sample whose baseline made no error (or had no list): dropped
    low, high = np.nanpercentile(samples, [2.5, 97.5])
    return {"cut": round(observed, 4), "low": round(float(low), 4), "high": round(float(high), 4)}


def measure(lists: Lists, labels: list[frozenset[str]], dup: np.ndarray, near: np.ndarray | None = None) -> dict:
    """The scores of one system; `near` is Sift's near-duplicate group per row (counted as duplicates too)."""
    n = len(lists)
    precision = precisions(lists, labels)
    precision = precision[~np.isnan(precision)]

    def has_duplicate(i: int, items: list[int]) -> bool:
        for groups in (dup,) if near is None else (dup, near):
            members = [groups[i], *(groups[j] for j in items if j != i)]  # a self-link is counted apart
            if len(set(members)) < len(members):
                return True
        return False

    return {
        "precision@5": round(float(np.mean(precision)) if len(precision) else 0.0, 4),
        "duplicate_rate": round(sum(has_duplicate(i, items) for i, items in enumerate(lists)) / n, 4),
        "self_links": round(sum(i in items for i, items in enumerate(lists)) / n, 4),
        "coverage": round(len({j for items in lists for j in items}) / n, 4),
        "items": round(float(np.mean([len(items) for items in lists])), 3),
    }


@dataclass
class RelatedEvalResult:
    corpus: str
    articles: int
    index_seconds: float
    related_seconds: float  # all lists, one batched pass (the publish step), measured again here
    serve_p50_ms: float
    serve_p99_ms: float
    systems: dict[str, dict] = field(default_factory=dict)
    # Sift's same-topic error below TF-IDF more-like-this's, with its 95% bootstrap interval (error_cut)
    error_cut: dict | None = None
    lee: dict | None = None
    # per language of the sources (a corpus whose records say their language): precision@5 of Sift and TF-IDF over
    # the articles in it, Sift's error cut, and the share of Sift's items written in another language
    by_language: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _safe_ids(ids: list[str]) -> list[str]:
    """Ids Sift accepts ('business/001' → 'business-001'); row numbers where that collides or cannot work."""
    out, seen = [], set()
    for n, raw in enumerate(ids):
        candidate = _SAFE_ID.sub("-", raw)[:200]
        if not candidate or not candidate[0].isalnum() or candidate in seen:
            candidate = f"row-{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _index(records: list[dict], idx: Path, encoder: TextEncoder, chunking: ChunkingParams, progress: bool) -> float:
    """Index exactly `records` into `idx`; a kept cache folder from an earlier run embeds only what changed."""
    if (idx / STORE_FILE).is_file():
        wanted = {r["id"] for r in records}
        with Store(idx / STORE_FILE) as store:
            store.delete_many([a.id for a in store.iter_articles() if a.id not in wanted])
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "corpus.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        started = time.perf_counter()
        report = index_sources([source], idx, encoder, chunking=chunking, progress=progress)
        if report.skipped:
            raise LabelledDataError(f"{report.skipped} records could not be indexed, first: {report.errors[0]}")
        return time.perf_counter() - started


def evaluate_related(
    data: Labelled,
    encoder: TextEncoder,
    *,
    index_dir: Path | None = None,
    duplicates: Path | None = None,
    lee_dir: Path | None = None,
    chunking: ChunkingParams = ChunkingParams(),
    progress: bool = True,
) -> RelatedEvalResult:
    """Index the corpus without its labels, build every system's top-5 lists and score them."""
    ids = _safe_ids(data.ids)
    languages = data.languages or [None] * len(ids)
    records = [
        {"id": i, "title": t, "body": x, **({"published_at": d} if d else {}), **({"language": lang} if lang else {})}
        for i, t, x, d, lang in zip(ids, data.titles, data.texts, data.dates, languages)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        idx = index_dir or Path(tmp) / "idx"
        index_seconds = _index(records, idx, encoder, chunking, progress)
        engine = Engine.open(idx, encoder)
        row_of = {aid: r for r, aid in enumerate(engine.articles["id"])}
        to_engine = np.array([row_of[i] for i in ids])  # corpus row → engine row
        to_corpus = np.argsort(to_engine)

        vectors = engine.article_index.reconstruct_n(0, engine.article_index.ntotal)
        with Store(idx / STORE_FILE) as store:  # the publish step again: token vectors from the store's cache
            articles = list(store.iter_articles())
            started = time.perf_counter()
            tokens = article_tokens(store, articles, encoder.model_id, encoder.dim, None, engine.article_index, vectors)
            related_neighbours(engine.article_index, vectors, engine.keyword.term_weights(), NEIGHBOURS, tokens=tokens,
                               unrelated=float(getattr(encoder, "unrelated_cosine", 0.0)))
            related_seconds = time.perf_counter() - started

        sift: Lists = []
        timings = []
        for aid in ids:
            t0 = time.perf_counter()
            result = engine.related(aid, k=K)
            timings.append((time.perf_counter() - t0) * 1000)
            sift.append([int(to_corpus[row_of[item.id]]) for item in result.items])
        near = engine.group[to_engine]

    dup = duplicate_groups(data, duplicates)
    texts = [f"{t}\n{x}" for t, x in zip(data.titles, data.texts)]  # the documents Sift's BM25 reads
    mlt = tfidf_lists(texts, languages=languages)
    systems = {
        "sift": measure(sift, data.labels, dup, near),
        "tfidf_more_like_this": measure(mlt, data.labels, dup, near),
        "newest_first_label_blind": measure(newest_first_lists(data.dates), data.labels, dup, near),
    }
    return RelatedEvalResult(
        corpus=data.name,
        articles=len(ids),
        index_seconds=round(index_seconds, 1),
        related_seconds=round(related_seconds, 2),
        serve_p50_ms=round(float(np.percentile(timings, 50)), 3),
        serve_p99_ms=round(float(np.percentile(timings, 99)), 3),
        systems=systems,
        error_cut=error_cut(precisions(sift, data.labels), precisions(mlt, data.labels)),
        lee=lee_correlation(lee_dir, encoder, chunking=chunking) if lee_dir else None,
        by_language=by_language(sift, mlt, data.labels, languages),
    )


def by_language(sift: Lists, baseline: Lists, labels: list[frozenset[str]], languages: list[str | None]) -> dict:
    """Sift's and the baseline's same-topic precision@5 over the sources in each declared language, Sift's error cut
    there, and how many of Sift's items cross into another language."""
    out: dict[str, dict] = {}
    mine, theirs = precisions(sift, labels), precisions(baseline, labels)
    for language in sorted({lang for lang in languages if lang}):
        rows = [i for i, lang in enumerate(languages) if lang == language]
        items = [j for i in rows for j in sift[i]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[language] = {
                "articles": len(rows),
                "sift_precision@5": round(float(np.nanmean(mine[rows])), 4),
                "tfidf_precision@5": round(float(np.nanmean(theirs[rows])), 4),
                "error_cut": error_cut(mine[rows], theirs[rows]),
                "cross_language": round(sum(languages[j] != language for j in items) / max(1, len(items)), 4),
            }
    return out


# -- Lee ------------------------------------------------------------------------------------------------------
def _lee_files(folder: Path) -> Iterator[Path]:
    for name in ("lee50.jsonl.gz", "lee50_pairs.tsv"):
        if not (folder / name).is_file():
            raise LabelledDataError(f"{folder}: no {name} (expected the Lee document-similarity folder)")
        yield folder / name


def lee_correlation(folder: Path, encoder: TextEncoder, *, chunking: ChunkingParams = ChunkingParams()) -> dict:
    """Spearman/Pearson of Sift's related score, and of the dense cosine alone, with Lee's 1,225 human ratings.

    The 50 rated documents are indexed with Lee's 300 background documents (when `original/lee_background.cor`
    is there), as on a site: the neighbourhood and the term weights come from the whole collection.
    """
    from scipy.stats import pearsonr, spearmanr

    docs_path, pairs_path = _lee_files(folder)
    docs = [json.loads(line)["text"] for line in gzip.open(docs_path, "rt", encoding="utf-8") if line.strip()]
    background_path = folder / "original" / "lee_background.cor"
    background = []
    if background_path.is_file():
        background = [t for t in background_path.read_text(encoding="latin-1").splitlines() if t.strip()]
    records = [
        {"id": f"{prefix}-{i:03d}", "title": re.split(r"(?<=[.!?])\s+", t, maxsplit=1)[0][:300], "body": t}
        for prefix, texts in (("lee", docs), ("bg", background))
        for i, t in enumerate(texts)
    ]
    human = np.full((len(docs), len(docs)), np.nan)
    for line in pairs_path.read_text().splitlines()[1:]:
        a, b, score = line.split("\t")
        human[int(a), int(b)] = human[int(b), int(a)] = float(score)
    with tempfile.TemporaryDirectory() as tmp:
        _index(records, Path(tmp) / "idx", encoder, chunking, progress=False)
        engine = Engine.open(Path(tmp) / "idx", encoder)
        rows = np.array([engine._position[f"lee-{i:03d}"] for i in range(len(docs))])
        n = engine.article_index.ntotal
        vectors = engine.article_index.reconstruct_n(0, n)
        full = related_neighbours(
            engine.article_index, vectors, engine.keyword.term_weights(), n - 1, candidates=n - 1,
            unrelated=float(getattr(encoder, "unrelated_cosine", 0.0)),
        )
    related = np.full((n, n), np.nan)
    np.put_along_axis(related, np.maximum(full.ids, 0), full.scores, axis=1)
    cosine = vectors @ vectors.T
    upper = np.triu_indices(len(docs), 1)
    out = {"pairs": len(upper[0]), "background_documents": len(background)}
    for name, matrix in (("sift", related), ("dense_cosine", cosine)):
        sub = matrix[np.ix_(rows, rows)]
        sym = (sub + sub.T) / 2  # the related score is not quite symmetric (each side's neighbourhood)
        x, y = sym[upper], human[upper]
        out[name] = {"spearman": round(float(spearmanr(x, y)[0]), 4), "pearson": round(float(pearsonr(x, y)[0]), 4)}
    return out
