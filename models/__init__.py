"""Text to unit vectors: the embedding models Sift indexes and queries with."""

from models.embedder import DEFAULT_MODEL_NAME, Embedder, ModelLoadError, default_model_path

__all__ = ["DEFAULT_MODEL_NAME", "Embedder", "ModelLoadError", "default_model_path"]
