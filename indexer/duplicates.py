"""Near-duplicate grouping: articles whose vectors are nearly identical (the same story from two outlets)."""

from __future__ import annotations

import numpy as np

# Measured on data/sample's six rewritten-story pairs: their article-vector cosines are 0.835–0.972 while the
# most similar pair that is not a duplicate scores 0.722. 0.80 sits in the gap. See BENCHMARKS.md.
DEFAULT_THRESHOLD = 0.80


def group_near_duplicates(neighbour_ids: np.ndarray, neighbour_scores: np.ndarray, threshold: float) -> np.ndarray:
    """Group id per article (the smallest member's row), joining every neighbour pair scoring ≥ `threshold`.

    `neighbour_ids[i]` / `neighbour_scores[i]` are article i's nearest neighbours (FAISS output, -1 for padding).
    Grouping is transitive (union-find), as a reader would expect of "copies of the same story".
    """
    n = neighbour_ids.shape[0]
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows, cols = np.nonzero((neighbour_scores >= threshold) & (neighbour_ids >= 0))
    for i, j in zip(rows, neighbour_ids[rows, cols]):
        a, b = find(int(i)), find(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)], dtype=np.int64)
