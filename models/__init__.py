"""Text to unit vectors: the embedding models Sift indexes and queries with.

`embedder` loads the bundled model (or a local path) and embeds with torch or ONNX Runtime; `onnx_backend` exports
the model to ONNX once and runs it; `errors` holds what both raise. Depends on nothing else of Sift.
"""

from models.embedder import BACKENDS, DEFAULT_MODEL_NAME, Backend, Embedder, default_model_path
from models.errors import ModelLoadError

__all__ = ["BACKENDS", "DEFAULT_MODEL_NAME", "Backend", "Embedder", "ModelLoadError", "default_model_path"]
