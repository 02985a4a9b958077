"""The ONNX Runtime backend: the Embedder's model exported once to ONNX (fp32, or int8 by dynamic quantisation), on CPU.

Why not sentence-transformers' own `backend="onnx"` and `export_dynamic_quantized_onnx_model`: both go through
optimum-onnx, whose only release (0.1.0) pins transformers<4.58 while sentence-transformers 6 needs transformers>=5,
so pip cannot install them side by side. This module calls what optimum calls underneath: `torch.onnx.export` and
`onnxruntime.quantization.quantize_dynamic`, on the local model folder, with nothing downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from models.embedder import ModelLoadError

# Bump when the export or the quantisation changes: exports land in a new cache folder, and the int8 model_id
# (models.embedder) changes with it, so no index mixes vectors from two recipes.
RECIPE = 1
MODEL_FILE = "model.onnx"
META_FILE = "sift-onnx.json"  # written last: a folder holding it is complete
INSTALL_HINT = "pip install 'sift-search[onnx]' (onnxruntime, onnx, onnxscript), or use the torch backend"


def default_cache_dir() -> Path:
    """Where exported models are kept unless told otherwise: ~/.cache/sift (never inside site-packages)."""
    return Path.home() / ".cache" / "sift"


def _require(*modules: str) -> None:
    for name in modules:
        try:
            __import__(name)
        except ImportError as exc:
            raise ModelLoadError(f"the ONNX backends need the package {name!r}, which is not installed: {INSTALL_HINT}") from exc


def _cache_key(model_dir: Path) -> str:
    """A hash of every byte of the model folder and the recipe.

    Stronger than the model_id fingerprint (configs and weight *sizes*): a fine-tuned copy has the same shapes and
    sizes, and must not be served by another model's export.
    """
    digest = hashlib.sha256(f"sift-onnx recipe {RECIPE}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """Return `final`, building it first if needed: `build(tmp)` fills a sibling temporary folder, renamed into place.

    Readers never see a half-written export; two processes building at once both succeed and one result is kept.
    """
    if (final / META_FILE).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache folder from the service's other users
    try:
        build(tmp)
        _fsync_tree(tmp)
        if final.exists() and not (final / META_FILE).is_file():
            shutil.rmtree(final)  # left by a build from before the meta file existed, or damaged by hand
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / META_FILE).is_file():  # not "another process finished first": a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Exporting and quantising chatter on stdout, in warnings and through the root logger; the latter installs a
    stderr handler on first use, a global side effect a library must not leave behind."""
    root, exporter = logging.getLogger(), logging.getLogger("torch.onnx")
    handlers, level, exporter_level = root.handlers[:], root.level, exporter.level
    exporter.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms" and the like
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        exporter.setLevel(exporter_level)


def _export(model_dir: Path, target: Path) -> None:
    """Export the whole sentence-transformers pipeline, token ids → sentence embedding, to `target`/model.onnx.

    The graph holds the model's own modules after the transformer (pooling, and Dense or Normalize where a model has
    them), so pooling is the library's code, not a re-implementation, and the session returns (batch, dim) rather
    than every token's state. Exported with the torch.export-based exporter (the TorchScript one is deprecated).
    """
    _require("torch", "onnxscript")
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True).eval()
    tokenizer = model.tokenizer
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            return self.model(features)["sentence_embedding"]

    # Two texts of different length, so the traced graph sees a padded row and both axes stay dynamic.
    sample = tokenizer(["a short text", "a somewhat longer text, so that the first row is padded"],
                       padding=True, return_tensors="pt")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with _quiet(), torch.inference_mode():
        program = torch.onnx.export(
            Pipeline().eval(),
            tuple(sample[n] for n in names),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_shapes=tuple({0: batch, 1: seq} for _ in names),
            dynamo=True,
            verbose=False,
        )
        program.save(str(target / MODEL_FILE))
    config_path = model_dir / "sentence_bert_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    meta = {
        "recipe": RECIPE,
        "quantization": None,
        "inputs": names,
        "dim": int(model.get_embedding_dimension()),
        "max_seq_length": int(model.max_seq_length),
        "do_lower_case": bool(config.get("do_lower_case", False)),
        "torch": torch.__version__,
    }
    (target / META_FILE).write_text(json.dumps(meta, indent=2))


def _quantize(fp32: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the fp32 export: int8 weights, activations quantised per batch at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target / "prepared.onnx"
    with _quiet():
        # ONNX Runtime's recommended pre-processing (shape inference, constant folding); the symbolic shape pass
        # does not complete on this graph and is not needed for weight-only dynamic quantisation.
        quant_pre_process(str(fp32 / MODEL_FILE), str(prepared), skip_symbolic_shape=True)
        # Per-channel weight scales: with one scale per tensor the cosine to the fp32 vectors fell to a mean of
        # 0.93 (min 0.75) over 60 SciFact abstracts and a few short texts; per channel it is 0.993 (min 0.976).
        # Every op type the quantiser supports, the embedding Gather included: 23 MB instead of 59 MB (MatMul
        # only), same speed and cosine. tests/models/test_onnx_backend.py holds the floor.
        quantize_dynamic(str(prepared), str(target / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True)
    prepared.unlink()
    meta = json.loads((fp32 / META_FILE).read_text()) | {"quantization": "int8-dynamic-per-channel"}
    (target / META_FILE).write_text(json.dumps(meta, indent=2))


def exported_model(model_dir: Path, cache_dir: Path, *, quantized: bool, label: str) -> Path:
    """The cache folder holding `model_dir` exported to ONNX (int8 when `quantized`), built on first use."""
    base = cache_dir / "onnx" / f"{label}-{_cache_key(model_dir)}"
    fp32 = _build_once(base / "fp32", lambda tmp: _export(model_dir, tmp))
    if not quantized:
        return fp32
    return _build_once(base / "int8", lambda tmp: _quantize(fp32, tmp))


class OnnxBackend:
    """Runs an exported model with ONNX Runtime on CPU, tokenising with the model folder's own tokenizer."""

    def __init__(
        self,
        model_dir: Path,
        *,
        quantized: bool,
        cache_dir: Path,
        label: str,
        threads: int | None = None,
        max_seq_length: int | None = None,
    ) -> None:
        _require("onnxruntime", "onnx")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.folder = exported_model(model_dir, cache_dir, quantized=quantized, label=label)
        meta = json.loads((self.folder / META_FILE).read_text())
        options = ort.SessionOptions()
        # One operator at a time, each spread over every core: on 2 cores intra-op threads = cores was fastest
        # (bench/bench_embedding.py measures 1 and 2); inter-op parallelism only adds contention on a linear graph.
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only; graph-optimisation notes are not the user's business
        try:
            self._session = ort.InferenceSession(
                str(self.folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a damaged cache file: say which folder to delete
            raise ModelLoadError(
                f"could not load the ONNX model in {self.folder}: {exc}; delete that folder and it is rebuilt"
            ) from exc
        self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self._inputs: list[str] = meta["inputs"]
        self._lower = bool(meta["do_lower_case"])
        self.dim: int = int(meta["dim"])
        self.max_seq_length: int = int(max_seq_length or meta["max_seq_length"])

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for one batch, (len(texts), dim) float32."""
        texts = [t.strip().lower() if self._lower else t.strip() for t in texts]
        tokens = self._tokenizer(
            texts, padding=True, truncation="longest_first", max_length=self.max_seq_length, return_tensors="np"
        )
        vectors = self._session.run(None, {n: tokens[n].astype(np.int64, copy=False) for n in self._inputs})[0]
        # The graph ends in the model's Normalize module when it has one; normalising here as well gives unit rows
        # for any model, as normalize_embeddings=True does on the torch path.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
