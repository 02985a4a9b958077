"""Near-duplicate grouping: articles whose vectors are nearly identical (the same story from two outlets)."""

from __future__ import annotations

import numpy as np

# Measured on data/sample's six rewritten-story pairs: their article-vector cosines are 0.835–0.972 while the
# most similar pair that is not a duplicate scores 0.722. 0.80 sits in the gap. See BENCHMARKS.md.
DEFAULT_THRESHOLD = 0.80
# Meaning alone over-groups long news: on BBC News 756 of 2,225 articles have a neighbour at cosine >= 0.80, most
# of them follow-ups ("Slovakia reach Hopman Cup final" / "Slovakia seal Hopman Cup success"; median keyword cosine
# 0.34) rather than copies. Copies also share their words: data/sample's rewritten pairs have keyword (BM25-weight)
# cosines 0.767-0.841, while no other sample pair exceeds 0.33. A pair must pass both thresholds.
DEFAULT_KEYWORD_THRESHOLD = 0.60


def group_near_duplicates(
    neighbour_ids: np.ndarray,
    neighbour_scores: np.ndarray,
    threshold: float,
    *,
    keyword_scores: np.ndarray | None = None,
    keyword_threshold: float = DEFAULT_KEYWORD_THRESHOLD,
) -> np.ndarray:
    """Group id per article (the smallest member's row), joining every neighbour pair scoring ≥ `threshold`
    (and, when `keyword_scores` are given, whose keyword cosine is ≥ `keyword_threshold` too).

    `neighbour_ids[i]` / `neighbour_scores[i]` are article i's nearest neighbours (FAISS output, -1 for padding);
    `keyword_scores[i]` the keyword cosines of the same pairs.
    Grouping is transitive (union-find), as a reader would expect of "copies of the same story".
    """
    n = neighbour_ids.shape[0]
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    close = (neighbour_scores >= threshold) & (neighbour_ids >= 0)
    if keyword_scores is not None:
        close &= keyword_scores >= keyword_threshold
    rows, cols = np.nonzero(close)
    for i, j in zip(rows, neighbour_ids[rows, cols]):
        a, b = find(int(i)), find(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)], dtype=np.int64)
