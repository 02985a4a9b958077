"""Related-posts candidates for every article in one batched pass: dense + keyword similarity, sharpened by context.

Plain nearest neighbours of the article vectors only tie keyword more-like-this on long news (the model reads the
first 256 tokens of a passage; BM25 reads everything). Three measured steps beat both (bench/bench_related.py,
BENCHMARKS.md):

1. candidates: the `CANDIDATES` nearest article vectors (FAISS, one batched search);
2. a fused similarity per candidate pair: `DENSE_WEIGHT` · dense cosine + the rest · the keyword overlap of the two
   articles' BM25 term weights (the keyword index's own weights, so no second text model): √(a · b), a and b each
   article's share of its BM25 weight on the terms both hold (`pair_overlaps`);
   For a short article (a one-line message), the late interaction of the two texts' token vectors is mixed in too
   (indexer.late: `late.LATE_WEIGHT` of the score, for articles of at most `late.LATE_TOKENS` kept tokens);
3. context: two articles whose neighbourhoods overlap are related even when their texts share few words. Each
   article's top-`CONTEXT` fused neighbours (and itself) form a sparse unit vector; the cosine of two such vectors
   is mixed into the score with weight `CONTEXT_WEIGHT` (a shared-nearest-neighbour similarity, the idea behind
   k-reciprocal re-ranking and query expansion in image retrieval).

The result ranks candidates; the dense cosine is kept beside it, because the similarity floor and near-duplicate
threshold were calibrated on cosine against human ratings.

Incremental passes (`update_related`): a publish that changes a few articles recomputes only the lists those changes
can reach — the changed articles', those whose stored list or context names a changed or deleted article, and those
a changed article is now as close to as their least similar listed article (so it may enter their list) — and keeps
every other list. The kept lists' context profiles and keyword weights drift a little as the collection changes, so
once the articles changed since the last full pass reach `INCREMENTAL_LIMIT` of the collection, the next publish
computes every list again. Measured at 100k articles: 20 edits recompute ~2% of the lists, whose top 5 agree 99.9%
with a full pass (bench/bench_incremental.py; re-run with the keyword overlap, 2026-11-29: 1,510 lists, 99.96% top-5
overlap, every new article's entry into an older list found).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import faiss
import numba
import numpy as np
import scipy.sparse as sp

from indexer import late
from indexer.late import Tokens

# Measured on BBC News (tuning set, 5 topics) and checked on the Disaster Response news split and Lee's human
# ratings; see BENCHMARKS.md "Related posts".
CANDIDATES = 200
DENSE_WEIGHT = 0.4
CONTEXT = 100
CONTEXT_WEIGHT = 0.5
# On a small collection the context is at most this share of the articles (and at least 10), so a 150-article site
# is not smoothed into one blob. Measured (served precision@5): a tenth instead of a twentieth helps the Disaster
# Response news messages (699 articles: 0.725 → 0.736) and the held-out direct messages (390: 0.769 → 0.776), but on
# the sample corpus (164) it pulls a child-labour grant call's list towards grant calls on other topics (topical
# precision 0.683 → 0.674, tests/test_sample_corpus.py); a twentieth stays.
CONTEXT_SHARE = 0.05

# A publish recomputes every list once this share of the articles changed since the last full pass …
INCREMENTAL_LIMIT = 0.1
# … or when its changes reach this share of the lists (each change reaches ~100-200 lists: its own neighbourhood's
# contexts and the lists it may enter), where the bookkeeping stops paying for itself.
MAX_INCREMENTAL_ROWS = 0.3

# The keyword part of the fused score: "overlap" (`pair_overlaps`, the default since 2026-11-29) or "cosine" of the BM25 weight
# vectors (the default until 2026-11-29), kept to compare (bench/related_served.py).
KEYWORD_SIMILARITY: Literal["overlap", "cosine"] = "overlap"

PARAMS = {
    "keyword_similarity": KEYWORD_SIMILARITY,
    "candidates": CANDIDATES,
    "dense_weight": DENSE_WEIGHT,
    "context": CONTEXT,
    "context_weight": CONTEXT_WEIGHT,
    "context_share": CONTEXT_SHARE,
    "late": dict(late.PARAMS),
}


@dataclass(frozen=True)
class Neighbours:
    """Per article, its candidates best first: row ids (-1 padding), related score and dense cosine (-inf padding).

    `dense_ids` / `dense_cosines` / `dense_keyword` are the plain nearest neighbours by cosine and their keyword
    cosines, for near-duplicate grouping. `context_ids` / `context_weights` are each article's context (its top fused
    neighbours, -1 / 0 padding) and `floors` the lowest cosine in its list (-inf when the list is not full): what an
    incremental pass needs from the previous version. `recomputed` is how many lists this
    pass computed (all of them for a full pass).
    """

    ids: np.ndarray
    scores: np.ndarray
    cosines: np.ndarray
    dense_ids: np.ndarray
    dense_cosines: np.ndarray
    dense_keyword: np.ndarray | None
    context_ids: np.ndarray | None = None
    context_weights: np.ndarray | None = None
    floors: np.ndarray | None = None
    late_stats: np.ndarray | None = None  # late.calibration of the last full pass (None: no short article had LI)
    recomputed: int = 0


# What a version stores for the next incremental pass (beside neighbours.npy / neighbour_scores.npy /
# neighbour_rank.npy, which the engine serves).
STATE_FILES = {
    "dense_ids": "related/dense_ids.npy",
    "dense_cosines": "related/dense_cosines.npy",
    "dense_keyword": "related/dense_keyword.npy",
    "context_ids": "related/context_ids.npy",
    "context_weights": "related/context_weights.npy",
    "floors": "related/floors.npy",
    "late_stats": "related/late_stats.npy",
}
# State a version may lack: a dense-only pass stores no dense_keyword, a pass without short articles no late_stats.
OPTIONAL_STATE = ("dense_keyword", "late_stats")


def save_state(folder, neighbours: Neighbours) -> list[str]:
    """Write what the next incremental pass needs; returns the files written (relative to `folder`)."""
    (folder / "related").mkdir(exist_ok=True)
    written = []
    for field, name in STATE_FILES.items():
        value = getattr(neighbours, field)
        if value is not None:
            np.save(folder / name, value)
            written.append(name)
    return written


def load_state(folder, served_ids: np.ndarray, served_cosines: np.ndarray, served_scores: np.ndarray) -> Neighbours:
    """A version's related lists and incremental state (raises OSError / ValueError when a file is missing)."""
    state = {}
    for field, name in STATE_FILES.items():
        path = folder / name
        if field in OPTIONAL_STATE and not path.exists():
            state[field] = None
            continue
        state[field] = np.load(path)
    return Neighbours(ids=served_ids, scores=served_scores, cosines=served_cosines, **state)


def nearest_neighbours(
    index: faiss.Index, vectors: np.ndarray, k: int, batch: int = 4096, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` neighbours of every vector, itself excluded: (ids, scores), -1 / -inf where fewer exist.

    `rows[i]` is `vectors[i]`'s own row in `index` (default: i), the one left out of its neighbours.
    """
    n = len(vectors)
    own = np.arange(n) if rows is None else np.asarray(rows)
    ids = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    fetch = min(index.ntotal, k + 1)
    for start in range(0, n, batch):
        block = np.ascontiguousarray(vectors[start : start + batch], dtype=np.float32)
        d, i = index.search(block, fetch)
        for row in range(len(block)):
            me = own[start + row]
            keep = [(j, s) for j, s in zip(i[row], d[row]) if j >= 0 and j != me][:k]
            if keep:
                ids[start + row, : len(keep)] = [j for j, _ in keep]
                scores[start + row, : len(keep)] = [s for _, s in keep]
    return ids, scores


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def pair_cosines(
    matrix: sp.csr_matrix, pairs: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """Cosine of row `rows[i]` (default i) with row `pairs[i, j]` for every candidate (0 for -1 padding); the
    matrix's rows are L2-normalised.

    Only the asked-for pairs are computed (each row scattered once into a dense scratch vector, each candidate's
    non-zeros read against it). Multiplying blocks of rows by every column their candidates name (scipy) computed
    ~250 products per one used: 127 of the 240 s of a 100k-article related pass; this is 3.6× faster on random
    pairs (20k rows × 200, 150 terms each: 1.9 s vs 6.9 s, identical values).
    """
    n, width = pairs.shape
    out = np.zeros((n, width), dtype=np.float32)
    if n == 0 or width == 0:
        return out
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if not matrix.has_canonical_format:  # the scatter needs each term once per row
        matrix = matrix.copy()
        matrix.sum_duplicates()
    left = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    _pair_dots(
        matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data, left,
        np.ascontiguousarray(pairs, dtype=np.int64), matrix.shape[1], out,
    )
    return out


@numba.njit(cache=True)
def _pair_dots(indptr, indices, data, left, pairs, n_cols, out):  # pragma: no cover - compiled
    # serial on purpose: numba's default parallel layer aborts the process when two threads launch kernels at once
    # (the server publishes in a background thread)
    scratch = np.zeros(n_cols, np.float32)
    for r in range(left.shape[0]):
        i = left[r]
        for p in range(indptr[i], indptr[i + 1]):
            scratch[indices[p]] = data[p]
        for c in range(pairs.shape[1]):
            j = pairs[r, c]
            if j < 0:
                continue
            total = np.float32(0.0)
            for p in range(indptr[j], indptr[j + 1]):
                total += scratch[indices[p]] * data[p]
            out[r, c] = total
        for p in range(indptr[i], indptr[i + 1]):
            scratch[indices[p]] = 0.0


def pair_overlaps(
    matrix: sp.csr_matrix, pairs: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """Weighted Ochiai coefficient of row `rows[i]` (default i) with row `pairs[i, j]`: √(a · b), where a is the
    share of the first row's weight on the terms both rows hold and b the same share of the second's (0 for -1
    padding, and for an empty row). Weights must be positive; symmetric, 1 for rows with the same terms.

    With BM25 term weights, a · b is also the product of the two searches: the BM25 score one article's terms give
    the other, as a share of the score they give itself, times the converse (regroup the four sums). Where the
    cosine multiplies the two weights of each shared term, so that the heaviest shared terms dominate, each
    article's weights count here linearly. Chosen by measurement over the cosine (BENCHMARKS.md, "Related posts",
    2026-11-29).
    """
    n, width = pairs.shape
    out = np.zeros((n, width), dtype=np.float32)
    if n == 0 or width == 0:
        return out
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    sums = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()
    left = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    _pair_overlaps(
        matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data, sums, left,
        np.ascontiguousarray(pairs, dtype=np.int64), matrix.shape[1], out,
    )
    return out


def warm_up() -> None:
    """Load the compiled kernels (numba's cache) now: the first related pass of a process otherwise pays ~2 s for it,
    which a server would add to its first write's wait."""
    matrix = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32))
    pairs = np.array([[1], [0]], dtype=np.int64)
    pair_cosines(matrix, pairs)
    pair_overlaps(matrix, pairs)


@numba.njit(cache=True)
def _pair_overlaps(indptr, indices, data, sums, left, pairs, n_cols, out):  # pragma: no cover - compiled
    # serial, as _pair_dots; branch-free sums over the candidate's terms (3× faster than testing each term)
    weight = np.zeros(n_cols, np.float32)  # the row's weights by term
    holds = np.zeros(n_cols, np.float32)  # 1 where the row holds the term
    for r in range(left.shape[0]):
        i = left[r]
        if sums[i] <= 0:
            continue
        for p in range(indptr[i], indptr[i + 1]):
            weight[indices[p]] = data[p]
            holds[indices[p]] = 1.0
        for c in range(pairs.shape[1]):
            j = pairs[r, c]
            if j < 0 or sums[j] <= 0:
                continue
            mine = np.float32(0.0)
            theirs = np.float32(0.0)
            for p in range(indptr[j], indptr[j + 1]):
                mine += weight[indices[p]]
                theirs += holds[indices[p]] * data[p]
            out[r, c] = np.sqrt((mine / sums[i]) * (theirs / sums[j]))
        for p in range(indptr[i], indptr[i + 1]):
            weight[indices[p]] = 0.0
            holds[indices[p]] = 0.0


def context_rows(ids: np.ndarray, fused: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Each article's top-`context` fused neighbours and their (non-negative) weights; -1 / 0 padding."""
    width = min(context, ids.shape[1])
    order = np.argsort(-fused, axis=1, kind="stable")[:, :width]
    top_ids = np.take_along_axis(ids, order, axis=1)
    top_w = np.maximum(np.take_along_axis(fused, order, axis=1), 0.0)
    top_w = np.where(top_ids >= 0, top_w, 0.0).astype(np.float32)
    return np.where(top_ids >= 0, top_ids, -1).astype(np.int32), top_w


def context_matrix(top_ids: np.ndarray, top_w: np.ndarray, rows: np.ndarray, n: int) -> sp.csr_matrix:
    """An n × n sparse matrix whose row `rows[i]` is article rows[i]'s context — its neighbours `top_ids[i]` and
    itself (weighted like its best neighbour), unit length; the rows not named stay empty."""
    self_w = top_w.max(axis=1, initial=0.0)
    self_w = np.where(self_w > 0, self_w, 1.0)  # an article with no neighbour still has itself
    cols = np.concatenate([np.asarray(rows)[:, None], np.maximum(top_ids, 0)], axis=1).ravel()
    data = np.concatenate([self_w[:, None], np.where(top_ids >= 0, top_w, 0.0)], axis=1).ravel().astype(np.float32)
    matrix = sp.csr_matrix((data, (np.repeat(rows, top_ids.shape[1] + 1), cols)), shape=(n, n))
    matrix.eliminate_zeros()
    return _unit_rows(matrix)


def calibrated(cosines: np.ndarray, unrelated: float) -> np.ndarray:
    """Cosines on a scale where the model's unrelated texts score about 0 and the same text 1: (c − u) / (1 − u), as
    search fuses them (search_api.ranking.legs.Legs.calibrated); MiniLM's (u = 0) as they are. Measured on
    MasakhaNEWS with multilingual-e5 (u = 0.80), 200 articles per language in one pool, same-topic precision@5 of the
    fused lists: 0.708 → 0.746 (am 0.801 → 0.819, en 0.678 → 0.736, fr 0.729 → 0.773, ha 0.686 → 0.735, sw 0.646 →
    0.669; BENCHMARKS.md, 2026-12-05)."""
    if unrelated == 0.0:
        return cosines
    return ((cosines - unrelated) / (1.0 - unrelated)).astype(np.float32)


def context_width(n: int, context: int = CONTEXT, context_share: float = CONTEXT_SHARE) -> int:
    """The context width for a collection of `n` articles: at most `context_share` of them, at least 10."""
    return min(context, max(10, int(n * context_share)))


@dataclass(frozen=True)
class _Terms:
    weights: sp.csr_matrix  # BM25 term weights, canonical (each term once per row), for the ranking's overlap
    unit: sp.csr_matrix  # the same rows at unit length, for the near-duplicate rule's cosine


def _keyword_terms(term_weights: sp.csr_matrix | None, n: int) -> _Terms | None:
    if term_weights is None or term_weights.shape[0] != n:
        return None
    weights = sp.csr_matrix(term_weights, dtype=np.float32, copy=True)
    weights.sum_duplicates()
    return _Terms(weights, _unit_rows(weights))


def _rank(
    rows: np.ndarray,
    ids: np.ndarray,
    cosines: np.ndarray,
    terms: _Terms | None,
    k: int,
    n: int,
    *,
    dense_weight: float,
    context_weight: float,
    width: int,
    keyword_similarity: str = KEYWORD_SIMILARITY,
    stored_context: tuple[np.ndarray, np.ndarray] | None = None,
    late_mix: tuple[np.ndarray, np.ndarray] | None = None,
    late_stats: np.ndarray | None = None,
    unrelated: float = 0.0,
) -> Neighbours:
    """Score the candidates `ids` / `cosines` of the articles `rows` (see the module docstring).

    The dense part is fused on a scale where the model's unrelated texts score 0 (`calibrated`): multilingual-e5's
    cosines sit between ~0.80 and 1, so as they are their weight moved the fused score a quarter of what MiniLM's do.

    The context of a candidate outside `rows` comes from `stored_context` (every article's context ids and weights)
    when given; a full pass has every article in `rows`. `late_mix` (from `_late_mix`) mixes late interaction into
    the short articles' fused scores; `late_stats` is kept in the result for the next incremental pass.
    """
    valid = ids >= 0
    dense_keyword = None
    if terms is not None:
        if keyword_similarity == "overlap":
            keyword = pair_overlaps(terms.weights, ids, rows)
            dense_keyword = pair_cosines(terms.unit, ids[:, :k], rows)  # the duplicate rule's (cosine-calibrated)
        elif keyword_similarity == "cosine":
            keyword = pair_cosines(terms.unit, ids, rows)
            dense_keyword = keyword[:, :k]
        else:
            raise ValueError(f"keyword_similarity is 'overlap' or 'cosine', not {keyword_similarity!r}")
        fused = dense_weight * calibrated(cosines, unrelated) + (1.0 - dense_weight) * keyword
    else:
        fused = calibrated(cosines, unrelated)
    if late_mix is not None:
        values, weight = late_mix
        with np.errstate(invalid="ignore"):  # 0 · -inf at padding, replaced just below
            fused = (1.0 - weight[:, None]) * fused + weight[:, None] * calibrated(values, unrelated)
    fused = np.where(valid, fused, -np.inf).astype(np.float32)
    top_ids, top_w = context_rows(ids, np.where(valid, fused, 0.0), width)
    if context_weight > 0 and n > 1:
        if stored_context is None:
            profiles = context_matrix(top_ids, top_w, rows, n)
        else:
            needed = np.unique(ids[valid])
            others = np.setdiff1d(needed, rows, assume_unique=True)
            profiles = context_matrix(
                np.concatenate([top_ids, stored_context[0][others]]),
                np.concatenate([top_w, stored_context[1][others]]),
                np.concatenate([rows, others]),
                n,
            )
        shared = pair_cosines(profiles, ids, rows)
        score = np.where(valid, context_weight * shared + (1.0 - context_weight) * fused, -np.inf)
    else:
        score = fused
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    listed = np.take_along_axis(cosines, order, axis=1).astype(np.float32)
    # the weakest cosine in the list: an article less similar than that rarely outranks a listed one
    floors = np.where(np.isfinite(listed).all(axis=1), listed.min(axis=1, initial=np.inf), -np.inf)
    return Neighbours(
        ids=np.take_along_axis(ids, order, axis=1),
        scores=np.take_along_axis(score, order, axis=1).astype(np.float32),
        cosines=listed,
        dense_ids=ids[:, :k].astype(np.int32),
        dense_cosines=cosines[:, :k],
        dense_keyword=dense_keyword,
        context_ids=top_ids,
        context_weights=top_w,
        floors=floors.astype(np.float32),
        late_stats=late_stats,
        recomputed=len(rows),
    )


def related_neighbours(
    index: faiss.Index,
    vectors: np.ndarray,
    term_weights: sp.csr_matrix | None,
    k: int,
    *,
    candidates: int = CANDIDATES,
    dense_weight: float = DENSE_WEIGHT,
    context: int = CONTEXT,
    context_weight: float = CONTEXT_WEIGHT,
    context_share: float = CONTEXT_SHARE,
    keyword_similarity: str = KEYWORD_SIMILARITY,
    tokens: Tokens | None = None,
    late_weight: float = late.LATE_WEIGHT,
    unrelated: float = 0.0,
) -> Neighbours:
    """Every article's top-`k` related candidates, best first, scored as the module docstring says.

    `term_weights` is the article × term BM25 weight matrix (None: dense only); `tokens` every article's token
    vectors (None: no late interaction). The context width shrinks on small collections (at most `context_share`
    of the articles, at least 10).
    """
    n = len(vectors)
    ids, cosines = nearest_neighbours(index, vectors, max(k, candidates))
    rows = np.arange(n)
    mix, stats = _late_mix(tokens, rows, ids, cosines, None, late_weight)
    return _rank(
        rows, ids, cosines, _keyword_terms(term_weights, n), k, n, dense_weight=dense_weight,
        context_weight=context_weight, width=context_width(n, context, context_share),
        keyword_similarity=keyword_similarity, late_mix=mix, late_stats=stats, unrelated=unrelated,
    )


def _late_mix(
    tokens: Tokens | None, rows: np.ndarray, ids: np.ndarray, cosines: np.ndarray, stats: np.ndarray | None,
    weight: float,
) -> tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
    """((LI on the cosines' scale per candidate, its weight per row), the calibration used) for the short ones of
    `rows`; (None, `stats`) when none is short. `stats` None: calibrated on these pairs (a full pass)."""
    if tokens is None or weight <= 0:
        return None, stats
    short = tokens.short(rows)
    if not short.any():
        return None, stats
    li, computed = late.chamfer(tokens, rows[short], ids[short])
    if stats is None:
        stats = late.calibration(li, cosines[short], computed)
    values = np.asarray(cosines, dtype=np.float32).copy()
    values[short] = late.rescaled(li, cosines[short], computed, stats)
    return (values, np.where(short, weight, 0.0).astype(np.float32)), stats


def carry_over(
    previous: Neighbours, old_to_new: np.ndarray, n: int, changed_old: np.ndarray
) -> tuple[Neighbours, np.ndarray]:
    """The previous version's lists and state in this version's row numbers, and which rows are stale.

    `old_to_new[r]` is the new row of the previous version's row r (-1: deleted); `changed_old[r]` marks previous
    rows whose article changed. A row is stale when its list, its dense neighbours or its context names a deleted
    or changed article; rows of new articles are empty (-1 / -inf), for the caller to recompute.
    """
    gone = (old_to_new < 0) | changed_old
    kept = np.flatnonzero(old_to_new >= 0)
    target = old_to_new[kept]

    def refers(a: np.ndarray) -> np.ndarray:
        return ((a >= 0) & gone[np.maximum(a, 0)]).any(axis=1)

    stale = np.zeros(n, dtype=bool)
    stale_old = refers(previous.ids) | refers(previous.dense_ids) | refers(previous.context_ids)
    stale[target] = stale_old[kept]

    def move(a: np.ndarray | None, fill, *, ids: bool = False) -> np.ndarray | None:
        if a is None:
            return None
        out = np.full((n,) + a.shape[1:], fill, dtype=a.dtype)
        got = a[kept]
        if ids:
            got = np.where(got >= 0, old_to_new[np.maximum(got, 0)], -1).astype(a.dtype)
        out[target] = got
        return out

    carried = Neighbours(
        ids=move(previous.ids, -1, ids=True),
        scores=move(previous.scores, -np.inf),
        cosines=move(previous.cosines, -np.inf),
        dense_ids=move(previous.dense_ids, -1, ids=True),
        dense_cosines=move(previous.dense_cosines, -np.inf),
        dense_keyword=move(previous.dense_keyword, 0.0),
        context_ids=move(previous.context_ids, -1, ids=True),
        context_weights=move(previous.context_weights, 0.0),
        floors=move(previous.floors, -np.inf),
        late_stats=previous.late_stats,
    )
    return carried, stale


def update_related(
    index: faiss.Index,
    vectors: np.ndarray,
    term_weights: sp.csr_matrix | None,
    k: int,
    carried: Neighbours,
    changed: np.ndarray,
    stale: np.ndarray,
    *,
    candidates: int = CANDIDATES,
    dense_weight: float = DENSE_WEIGHT,
    context: int = CONTEXT,
    context_weight: float = CONTEXT_WEIGHT,
    context_share: float = CONTEXT_SHARE,
    keyword_similarity: str = KEYWORD_SIMILARITY,
    max_rows: float = MAX_INCREMENTAL_ROWS,
    block: int = 8192,
    tokens: Tokens | None = None,
    late_weight: float = late.LATE_WEIGHT,
    unrelated: float = 0.0,
) -> Neighbours | None:
    """Recompute only the lists a publish's changes can reach (module docstring); None when a full pass is due
    (the state does not fit these parameters, or the changes reach more than `max_rows` of the lists).

    `carried` / `stale` come from `carry_over`; `changed` marks the rows of new and changed articles.
    """
    n = len(vectors)
    width = min(context_width(n, context, context_share), max(k, candidates))
    terms = _keyword_terms(term_weights, n)
    if (
        carried.context_ids is None
        or carried.floors is None
        or carried.context_ids.shape != (n, width)
        or carried.ids.shape[1] != k
        or (terms is None) != (carried.dense_keyword is None)
    ):
        return None
    affected = changed | stale
    moved = np.ascontiguousarray(vectors[changed], dtype=np.float32)
    if len(moved):  # a changed article as close as an article's least similar listed one may enter its list
        for start in range(0, n, block):
            sims = vectors[start : start + block] @ moved.T
            affected[start : start + block] |= (sims >= carried.floors[start : start + block, None]).any(axis=1)
    rows = np.flatnonzero(affected)
    if len(rows) > max_rows * n:
        return None
    ids, cosines = nearest_neighbours(index, vectors[rows], max(k, candidates), rows=rows)
    mix, stats = _late_mix(tokens, rows, ids, cosines, carried.late_stats, late_weight)  # the full pass's scale
    part = _rank(
        rows, ids, cosines, terms, k, n, dense_weight=dense_weight, context_weight=context_weight, width=width,
        keyword_similarity=keyword_similarity, stored_context=(carried.context_ids, carried.context_weights),
        late_mix=mix, late_stats=stats, unrelated=unrelated,
    )

    def splice(whole: np.ndarray | None, new: np.ndarray | None) -> np.ndarray | None:
        if whole is None:
            return None
        out = whole.copy()
        out[rows] = new
        return out

    spliced = {f.name: splice(getattr(carried, f.name), getattr(part, f.name)) for f in fields(Neighbours)
               if f.name not in ("recomputed", "late_stats")}
    spliced["late_stats"] = part.late_stats
    return Neighbours(**spliced, recomputed=len(rows))
