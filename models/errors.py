"""Errors of the embedding models, shared by the backends (models.embedder imports models.onnx_backend, never the
other way round)."""


class ModelLoadError(RuntimeError):
    """The model could not be loaded from the given path (missing files, not a sentence-transformers model)."""
