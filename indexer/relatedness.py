"""Related-posts candidates for every article in one batched pass: dense + keyword similarity, sharpened by context.

Plain nearest neighbours of the article vectors only tie keyword more-like-this on long news (the model reads the
first 256 tokens of a passage; BM25 reads everything). Three measured steps beat both (bench/bench_related.py,
BENCHMARKS.md):

1. candidates: the `CANDIDATES` nearest article vectors (FAISS, one batched search);
2. a fused similarity per candidate pair: `DENSE_WEIGHT` · dense cosine + the rest · cosine of the two articles'
   BM25 term-weight vectors (the keyword index's own weights, so no second text model);
3. context: two articles whose neighbourhoods overlap are related even when their texts share few words. Each
   article's top-`CONTEXT` fused neighbours (and itself) form a sparse unit vector; the cosine of two such vectors
   is mixed into the score with weight `CONTEXT_WEIGHT` (a shared-nearest-neighbour similarity, the idea behind
   k-reciprocal re-ranking and query expansion in image retrieval).

The result ranks candidates; the dense cosine is kept beside it, because the similarity floor and near-duplicate
threshold were calibrated on cosine against human ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import scipy.sparse as sp

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

PARAMS = {
    "candidates": CANDIDATES,
    "dense_weight": DENSE_WEIGHT,
    "context": CONTEXT,
    "context_weight": CONTEXT_WEIGHT,
    "context_share": CONTEXT_SHARE,
}


@dataclass(frozen=True)
class Neighbours:
    """Per article, its candidates best first: row ids (-1 padding), related score and dense cosine (-inf padding).

    `dense_ids` / `dense_cosines` / `dense_keyword` are the plain nearest neighbours by cosine and their keyword
    cosines, for near-duplicate grouping.
    """

    ids: np.ndarray
    scores: np.ndarray
    cosines: np.ndarray
    dense_ids: np.ndarray
    dense_cosines: np.ndarray
    dense_keyword: np.ndarray | None


def nearest_neighbours(index: faiss.Index, vectors: np.ndarray, k: int, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` neighbours of every vector, itself excluded: (ids, scores), -1 / -inf where fewer exist."""
    n = len(vectors)
    ids = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    fetch = min(n, k + 1)
    for start in range(0, n, batch):
        block = np.ascontiguousarray(vectors[start : start + batch], dtype=np.float32)
        d, i = index.search(block, fetch)
        for row in range(len(block)):
            me = start + row
            keep = [(j, s) for j, s in zip(i[row], d[row]) if j >= 0 and j != me][:k]
            if keep:
                ids[me, : len(keep)] = [j for j, _ in keep]
                scores[me, : len(keep)] = [s for _, s in keep]
    return ids, scores


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def pair_cosines(rows: sp.csr_matrix, pairs: np.ndarray, block: int = 256) -> np.ndarray:
    """Cosine of row i with row `pairs[i, j]` for every candidate (0 for -1 padding); rows are L2-normalised.

    Each block of rows is multiplied only with the columns its candidates name, so the cost grows with
    articles × candidates rather than with articles squared.
    """
    n, width = pairs.shape
    out = np.zeros((n, width), dtype=np.float32)
    if n == 0 or width == 0:
        return out
    transposed = rows.T.tocsc()
    for start in range(0, n, block):
        stop = min(n, start + block)
        cand = pairs[start:stop]
        columns, where = np.unique(np.maximum(cand, 0), return_inverse=True)
        products = (rows[start:stop] @ transposed[:, columns]).toarray()
        got = np.take_along_axis(products, where.reshape(cand.shape), axis=1)
        out[start:stop] = np.where(cand >= 0, got, 0.0)
    return out


def context_vectors(ids: np.ndarray, fused: np.ndarray, context: int) -> sp.csr_matrix:
    """Each article's top-`context` fused neighbours and itself (weighted like its best neighbour), unit length."""
    n = len(ids)
    width = min(context, ids.shape[1])
    order = np.argsort(-fused, axis=1, kind="stable")[:, :width]
    top_ids = np.take_along_axis(ids, order, axis=1)
    top_w = np.maximum(np.take_along_axis(fused, order, axis=1), 0.0)
    top_w = np.where(top_ids >= 0, top_w, 0.0)
    self_w = top_w.max(axis=1, initial=0.0)
    self_w = np.where(self_w > 0, self_w, 1.0)  # an article with no neighbour still has itself
    cols = np.concatenate([np.arange(n)[:, None], np.maximum(top_ids, 0)], axis=1).ravel()
    data = np.concatenate([self_w[:, None], top_w], axis=1).ravel().astype(np.float32)
    rows = np.repeat(np.arange(n), width + 1)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(n, n))
    matrix.eliminate_zeros()
    return _unit_rows(matrix)


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
) -> Neighbours:
    """Every article's top-`k` related candidates, best first, scored as the module docstring says.

    `term_weights` is the article × term BM25 weight matrix (None: dense only). The context width shrinks on small
    collections (at most `context_share` of the articles, at least 10).
    """
    n = len(vectors)
    ids, cosines = nearest_neighbours(index, vectors, max(k, candidates))
    valid = ids >= 0
    keyword = None
    if term_weights is not None and term_weights.shape[0] == n:
        keyword = pair_cosines(_unit_rows(sp.csr_matrix(term_weights, dtype=np.float32)), ids)
        fused = dense_weight * cosines + (1.0 - dense_weight) * keyword
    else:
        fused = cosines.copy()
    fused = np.where(valid, fused, -np.inf).astype(np.float32)
    if context_weight > 0 and n > 1:
        width = min(context, max(10, int(n * context_share)))
        profiles = context_vectors(ids, np.where(valid, fused, 0.0), width)
        shared = pair_cosines(profiles, ids)
        score = np.where(valid, context_weight * shared + (1.0 - context_weight) * fused, -np.inf)
    else:
        score = fused
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    return Neighbours(
        ids=np.take_along_axis(ids, order, axis=1),
        scores=np.take_along_axis(score, order, axis=1).astype(np.float32),
        cosines=np.take_along_axis(cosines, order, axis=1).astype(np.float32),
        dense_ids=ids[:, :k],
        dense_cosines=cosines[:, :k],
        dense_keyword=None if keyword is None else keyword[:, :k],
    )
