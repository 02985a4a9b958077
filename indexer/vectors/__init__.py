"""Passage vectors behind one small interface: FAISS files in the version folder, or a Qdrant collection.

`build_store` makes a store from a version's chunk vectors, `save` writes it into the version folder, and
`open_store` gets it back, from what the manifest's `vectors` entry says was built. Ids are row numbers (chunk
positions in `passages.arrow`); every vector is unit length and scores are inner products (= cosine).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

StoreName = Literal["faiss", "qdrant"]
IndexKind = Literal["auto", "flat", "hnsw", "ivf-sq8", "ivf-pq"]
# Below this many vectors `auto` keeps the exact Flat index: a query scans 1,536 bytes per vector, and until here
# that costs less than an ANN index's build and its recall loss (measured by bench/bench_scale.py, BENCHMARKS.md).
FLAT_BELOW = 100_000


@dataclass(frozen=True)
class VectorConfig:
    """How a version's passage vectors are stored: from SIFT_VECTOR_STORE / SIFT_VECTOR_INDEX and friends."""

    store: StoreName = "faiss"
    index: IndexKind = "auto"  # faiss: which index; auto = flat below `flat_below` vectors, else ivf-sq8
    flat_below: int = FLAT_BELOW
    mmap: bool = True  # faiss: map index files rather than read them, so server workers share one copy
    qdrant_url: str | None = None  # None: Qdrant's local mode, in the version folder (tests, one process)
    qdrant_api_key: str | None = None
    qdrant_prefix: str = "sift"

    def build_params(self) -> dict:
        """The parts that shape a version (never the URL or key): a change publishes a new version."""
        if self.store == "qdrant":
            return {"store": "qdrant"}
        return {"store": "faiss", "index": self.index, "flat_below": self.flat_below}


class VectorStore(Protocol):
    """A version's passage vectors. Searches return (scores, ids), both (queries, k), padded with -inf / -1."""

    @property
    def ntotal(self) -> int: ...

    @property
    def bytes_per_vector(self) -> float:
        """Memory the searched structure takes per vector (full vectors kept on disk for re-ranking excluded)."""
        ...

    def describe(self) -> dict:
        """What was built and with which parameters, for the manifest (enough for `open_store` to reopen it)."""
        ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def search_subset(self, queries: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-`k` among `ids` only (filters): never approximate, so a narrow filter cannot starve."""
        ...

    def reconstruct(self, ids: np.ndarray) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


def build_store(
    vectors: np.ndarray, config: VectorConfig = VectorConfig(), previous: tuple[Path, dict] | None = None
) -> VectorStore:
    """A store over `vectors` (row i gets id i), of the kind `config` asks for. `previous` (the live version's folder
    and its manifest `vectors` entry) lets a FAISS IVF build reuse that version's training."""
    if config.store == "qdrant":
        from indexer.vectors.qdrant_store import QdrantVectors

        return QdrantVectors.build(vectors, config)
    from indexer.vectors.faiss_store import FaissVectors

    trained = None
    if previous is not None:
        try:
            trained = FaissVectors.trained_from(*previous)  # None unless it holds a trained IVF index
        except (OSError, RuntimeError, ValueError):  # missing or damaged: train afresh
            trained = None
    return FaissVectors.build(vectors, kind=config.index, flat_below=config.flat_below, previous=trained)


def open_store(directory: Path, described: dict | None, config: VectorConfig = VectorConfig()) -> VectorStore:
    """Reopen what `describe()` recorded; versions older than the `vectors` manifest entry hold a Flat dense.faiss."""
    described = described or {"store": "faiss", "kind": "flat"}
    if described["store"] == "qdrant":
        from indexer.vectors.qdrant_store import QdrantVectors

        return QdrantVectors.open(directory, described, config)
    from indexer.vectors.faiss_store import FaissVectors

    return FaissVectors.open(directory, described, mmap=config.mmap)


def drop_store(version_dir: Path, config: VectorConfig = VectorConfig()) -> None:
    """Release what a version being pruned holds outside its folder (its Qdrant collection on a server)."""
    try:
        described = json.loads((version_dir / "manifest.json").read_text()).get("vectors") or {}
    except (OSError, ValueError):  # an incomplete version: nothing was recorded, so nothing to release
        return
    if described.get("store") == "qdrant":
        from indexer.vectors.qdrant_store import QdrantVectors

        QdrantVectors.drop(described, config)


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best `k` per row of (queries, candidates) scores, best first (ties: lower id first), padded with -inf / -1."""
    nq, width = scores.shape
    out_s = np.full((nq, k), -np.inf, dtype=np.float32)
    out_i = np.full((nq, k), -1, dtype=np.int64)
    take = min(k, width)
    if take == 0:
        return out_s, out_i
    for row in range(nq):
        s, i = scores[row], ids[row] if ids.ndim == 2 else ids
        part = np.argpartition(-s, take - 1)[:take] if take < width else np.arange(width)
        order = part[np.lexsort((i[part], -s[part]))]
        keep = i[order] >= 0
        n = int(keep.sum())
        out_s[row, :n] = s[order][keep]
        out_i[row, :n] = i[order][keep]
    return out_s, out_i
