"""Text to unit vectors: the embedding models Sift indexes and queries with."""

from models.embedder import BACKENDS, DEFAULT_MODEL_NAME, Backend, Embedder, ModelLoadError, default_model_path

__all__ = ["BACKENDS", "DEFAULT_MODEL_NAME", "Backend", "Embedder", "ModelLoadError", "default_model_path"]
