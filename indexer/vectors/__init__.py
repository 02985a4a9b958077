"""Passage vectors behind one small interface: FAISS files in the version folder, or a PostgreSQL table (pgvector).

`build_store` makes a store from a version's chunk vectors, `save` writes it into the version folder, and
`open_store` gets it back, from what the manifest's `vectors` entry says was built (a pgvector table is filled by
`build` and named there; `drop_store` drops it when the version is pruned). Ids are row numbers (chunk positions in
`passages.arrow`); every vector is unit length and scores are inner products (= cosine).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

StoreName = Literal["faiss", "pgvector"]
IndexKind = Literal["auto", "flat", "hnsw", "ivf-sq8", "ivf-pq"]
# Below this many vectors `auto` keeps the exact Flat index: a query scans 1,536 bytes per vector, and until here
# that costs less than an ANN index's build and its recall loss (measured by bench/bench_scale.py, BENCHMARKS.md).
FLAT_BELOW = 100_000
# pgvector's exact scan costs ~1.7 ms per 1,000 vectors (2.3 ms at 1k, 4.4 at 2k, 17 at 10k) where an HNSW search
# takes 1.5–2.4 ms from 2k to 10k, after a build every publish pays (1.9 s at 2k); below about 2k rows PostgreSQL's
# planner scans the table rather than use the index anyway (bench/bench_pgvector.py, BENCHMARKS.md).
PGVECTOR_FLAT_BELOW = 2_000


@dataclass(frozen=True)
class VectorConfig:
    """How a version's passage vectors are stored: from SIFT_VECTOR_STORE / SIFT_VECTOR_INDEX and friends."""

    store: StoreName = "faiss"
    # which index; auto = exact below `flat_below` vectors, else the store's ANN index (FAISS ivf-sq8, pgvector hnsw)
    index: IndexKind = "auto"
    flat_below: int | None = None  # None: the store's own threshold (FLAT_BELOW, PGVECTOR_FLAT_BELOW)
    mmap: bool = True  # faiss: map index files rather than read them, so server workers share one copy
    database_url: str | None = field(default=None, repr=False)  # pgvector: the PostgreSQL database

    def exact_below(self) -> int:
        """The vector count from which `auto` builds an ANN index."""
        if self.flat_below is not None:
            return self.flat_below
        return PGVECTOR_FLAT_BELOW if self.store == "pgvector" else FLAT_BELOW

    def build_params(self) -> dict:
        """The parts that shape a version (never the database URL): a change publishes a new version."""
        return {"store": self.store, "index": self.index, "flat_below": self.exact_below()}


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
    if config.store == "pgvector":
        from indexer.vectors.pgvector_store import PgVectors

        return PgVectors.build(vectors, config)
    from indexer.vectors.faiss_store import FaissVectors

    trained = None
    if previous is not None:
        try:
            trained = FaissVectors.trained_from(*previous)  # None unless it holds a trained IVF index
        except (OSError, RuntimeError, ValueError):  # missing or damaged: train afresh
            trained = None
    return FaissVectors.build(vectors, kind=config.index, flat_below=config.exact_below(), previous=trained)


def open_store(directory: Path, described: dict | None, config: VectorConfig = VectorConfig()) -> VectorStore:
    """Reopen what `describe()` recorded; versions older than the `vectors` manifest entry hold a Flat dense.faiss."""
    described = described or {"store": "faiss", "kind": "flat"}
    if described["store"] == "pgvector":
        from indexer.vectors.pgvector_store import PgVectors

        return PgVectors.open(directory, described, config)
    from indexer.vectors.faiss_store import FaissVectors

    return FaissVectors.open(directory, described, mmap=config.mmap)


def drop_store(version_dir: Path, config: VectorConfig = VectorConfig()) -> None:
    """Release what a version being pruned holds outside its folder (its pgvector table)."""
    try:
        described = json.loads((version_dir / "manifest.json").read_text()).get("vectors") or {}
    except (OSError, ValueError):  # an incomplete version: nothing was recorded, so nothing to release
        return
    drop_described(described, config)


def drop_described(described: dict, config: VectorConfig = VectorConfig()) -> None:
    """Release what a store's `describe()` says it holds outside the version folder: a pgvector table is dropped
    (VectorsUnavailable or StoreUnreachable when its database cannot be reached); FAISS files need nothing."""
    if described.get("store") == "pgvector":
        from indexer.vectors.pgvector_store import PgVectors

        PgVectors.drop(described, config)


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
