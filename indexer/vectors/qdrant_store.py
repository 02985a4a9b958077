"""The Qdrant vector store: the same interface over a Qdrant collection, so a site that outgrows one machine moves
to a Qdrant cluster by configuration (SIFT_VECTOR_STORE=qdrant, SIFT_QDRANT_URL) rather than by code.

Without a URL it runs Qdrant's local mode in the version folder (`dense.qdrant/`): the same client calls, exact
brute-force search, one process at a time (local mode locks its folder) — for tests and small single-process sites.
With a URL every version gets its own collection (named in the manifest), dropped when the version is pruned.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np

from indexer.errors import IndexMismatch
from indexer.vectors import VectorConfig

try:
    from qdrant_client import QdrantClient, models
except ImportError:  # an optional extra; the FAISS store needs none of it
    QdrantClient = models = None

LOCAL_DIR = "dense.qdrant"
LOCAL_COLLECTION = "passages"
UPLOAD_BATCH = 256
HNSW_EF = 128  # a server's search beam; Qdrant's default (efConstruction 100, m 16) index keeps recall@10 ≈ 0.99


def _require_client() -> None:
    if QdrantClient is None:
        raise IndexMismatch("SIFT_VECTOR_STORE=qdrant needs qdrant-client: pip install 'sift-search[qdrant]'")


def _connect(config: VectorConfig) -> QdrantClient:
    _require_client()
    return QdrantClient(url=config.qdrant_url, api_key=config.qdrant_api_key)


class QdrantVectors:
    """A version's passage vectors in one Qdrant collection (point id = chunk row)."""

    def __init__(
        self, client: QdrantClient | None, collection: str | None, ntotal: int, dim: int, *, remote: bool,
        config: VectorConfig = VectorConfig(), vectors: np.ndarray | None = None,
    ) -> None:
        self._client = client
        self.collection = collection
        self._ntotal = ntotal
        self.dim = dim
        self.remote = remote
        self._config = config
        self._vectors = vectors  # kept from build() until save() uploads them
        self._lock = threading.Lock()  # local mode keeps plain Python state; a server client is thread-safe anyway

    @classmethod
    def build(cls, vectors: np.ndarray, config: VectorConfig) -> QdrantVectors:
        """Hold the vectors; `save` uploads them (to the version folder, or a new collection on the server)."""
        _require_client()
        full = np.ascontiguousarray(vectors, dtype=np.float32)
        return cls(None, None, len(full), full.shape[1], remote=config.qdrant_url is not None, config=config, vectors=full)

    def _upload(self, client: QdrantClient, collection: str) -> None:
        client.create_collection(
            collection, vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.DOT)
        )
        if self._ntotal:
            client.upload_collection(
                collection, vectors=self._vectors, ids=range(self._ntotal), batch_size=UPLOAD_BATCH, wait=True
            )

    def save(self, directory: Path) -> None:
        if self.remote:
            client, collection = _connect(self._config), f"{self._config.qdrant_prefix}-{uuid.uuid4().hex}"
        else:
            client, collection = QdrantClient(path=str(directory / LOCAL_DIR)), LOCAL_COLLECTION
        self._upload(client, collection)
        if not self.remote:
            client.close()  # releases local mode's folder lock: the engine opens it from the published folder
            client = None
        self._client, self.collection = client, collection

    @classmethod
    def open(cls, directory: Path, described: dict, config: VectorConfig) -> QdrantVectors:
        _require_client()
        if described.get("remote"):
            if config.qdrant_url is None:
                raise IndexMismatch(
                    f"{directory} keeps its vectors in the Qdrant collection {described['collection']!r}; "
                    "set SIFT_QDRANT_URL to the cluster it was published to"
                )
            client = _connect(config)
        else:
            client = QdrantClient(path=str(directory / LOCAL_DIR))
        return cls(
            client, described["collection"], described["ntotal"], described["dim"],
            remote=bool(described.get("remote")), config=config,
        )

    @classmethod
    def drop(cls, described: dict, config: VectorConfig) -> None:
        """Delete a pruned version's collection on the server (local mode's folder goes with the version)."""
        if described.get("remote") and config.qdrant_url is not None:
            _connect(config).delete_collection(described["collection"])

    # -- the store interface ----------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return self._ntotal

    @property
    def bytes_per_vector(self) -> float:
        return float(4 * self.dim)  # float32 vectors (a server adds its HNSW links, ~2 × m × 4 bytes)

    def describe(self) -> dict:
        """Call after `save`: the collection name is chosen there."""
        return {
            "store": "qdrant",
            "kind": "qdrant",
            "collection": self.collection,
            "remote": self.remote,
            "ntotal": self._ntotal,
            "dim": self.dim,
            "bytes_per_vector": self.bytes_per_vector,
        }

    def _search_client(self) -> QdrantClient:
        if self._client is None:  # built but not saved: search an in-memory copy
            self._client, self.collection = QdrantClient(":memory:"), LOCAL_COLLECTION
            self._upload(self._client, self.collection)
        return self._client

    def _query(self, queries: np.ndarray, k: int, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = min(k, self._ntotal if ids is None else len(ids))
        scores = np.full((len(q), max(k, 0)), -np.inf, dtype=np.float32)
        found = np.full((len(q), max(k, 0)), -1, dtype=np.int64)
        if k <= 0:
            return scores, found
        query_filter = None if ids is None else models.Filter(must=[models.HasIdCondition(has_id=ids.tolist())])
        # a filter must be exact (never starve); local mode is always exact and warns about any search_params
        params = None
        if self.remote:
            params = models.SearchParams(hnsw_ef=max(HNSW_EF, k), exact=ids is not None)
        requests = [
            models.QueryRequest(query=row.tolist(), limit=k, filter=query_filter, params=params) for row in q
        ]
        with self._lock:
            answers = self._search_client().query_batch_points(self.collection, requests=requests)
        for row, answer in enumerate(answers):
            for col, point in enumerate(answer.points):
                scores[row, col], found[row, col] = point.score, point.id
        return scores, found

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._query(queries, k, None)

    def search_subset(self, queries: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._query(queries, k, np.unique(np.asarray(ids, dtype=np.int64)))

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        wanted = [int(i) for i in np.asarray(ids).ravel()]
        with self._lock:
            points = self._search_client().retrieve(self.collection, wanted, with_vectors=True)
        by_id = {int(p.id): p.vector for p in points}
        return np.array([by_id[i] for i in wanted], dtype=np.float32).reshape(len(wanted), self.dim)
