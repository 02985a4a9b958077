"""Token vectors of every passage, stored for late interaction in search (search_api.engine re-scores the fused
top `late_top` by each article's best passage's MaxSim with the query).

MiniLM's last-layer token vectors (stop words and punctuation dropped; ~100 a passage) are stored as int8: rotated
onto the directions of their largest energy (the right singular vectors of a sample of the corpus's own tokens,
uncentred, so dot products are what the rotation keeps) with one scale per direction. The codec is fitted once per
store and model and kept, like a product quantiser's codebook, so a passage's codes are computed once and cached
by text. `DIMS` directions are kept: bench/late_rerank.py measured the compression on its dev set (SciFact train +
Cranfield) at the served setting before reading anything else, with the rule "the fewest directions whose dev mean
nDCG@10 is within 0.001 of float16's": all 384 (0.5825 vs 0.5827); 128 lost 0.002, 64 lost 0.0045 — as much as late
interaction gains. So a token costs 384 bytes (half of float16): ~40 KB a passage.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIMS = 384  # directions kept: bytes a stored token (all of MiniLM's; see above)
FIT_TOKENS = 200_000  # tokens sampled to fit the projection
CLIP = 127
# The query's tokens are quantised to ±63: on a CPU without VNNI, ONNX Runtime's u8 × s8 product adds pairs of
# products in saturating 16-bit lanes (255 × 127 × 2 overflows them; 255 × 63 × 2 does not). Measured on such a
# machine: ±127 put one passage's MaxSim 0.018 off the float product, ±63 0.0016 (tests/indexer/test_passage_tokens.py).
QUERY_CLIP = 63
ZERO = 128  # codes are stored as uint8: value + ZERO
CODES_FILE = "passage_tokens.npy"  # a version's (total tokens, DIMS) uint8 codes, passage after passage
OFFSETS_FILE = "passage_token_offsets.npy"  # (passages + 1,) int64: passage i's codes are offsets[i]:offsets[i + 1]
CODEC_FILE = "passage_token_codec.npy"  # (dim + 1, DIMS) float32: the scale row, then the projection


@dataclass(frozen=True)
class TokenCodec:
    """Projection (dim, DIMS) float32 and per-direction int8 scale (DIMS,) float32."""

    projection: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, tokens: np.ndarray, dims: int = DIMS, *, seed: int = 0) -> TokenCodec:
        """Fitted on (n, dim) token vectors; a sample of FIT_TOKENS when there are more."""
        x = np.asarray(tokens, dtype=np.float32)
        if len(x) > FIT_TOKENS:
            x = x[np.random.default_rng(seed).choice(len(x), FIT_TOKENS, replace=False)]
        if not len(x):
            raise ValueError("no token vectors to fit a projection on")
        dims = min(dims, x.shape[1])
        _, vecs = np.linalg.eigh(x.T @ x)  # ascending eigenvalues of the second-moment matrix
        projection = np.ascontiguousarray(vecs[:, ::-1][:, :dims], dtype=np.float32)
        projection *= np.where(projection.sum(axis=0) < 0, -1.0, 1.0).astype(np.float32)  # a deterministic sign
        reach = np.abs(x @ projection).max(axis=0)
        return cls(projection, (np.maximum(reach, 1e-6) / CLIP).astype(np.float32))

    def project(self, tokens: np.ndarray) -> np.ndarray:
        """A query's tokens in the stored space (float32; not quantised)."""
        return np.asarray(tokens, dtype=np.float32) @ self.projection

    def encode(self, tokens: np.ndarray) -> np.ndarray:
        """(n, dim) token vectors to (n, DIMS) codes: int8 values stored as uint8 with a zero point of 128 (the form
        ONNX Runtime's integer matrix product reads fastest)."""
        signed = np.clip(np.rint(self.project(tokens) / self.scale), -CLIP, CLIP).astype(np.int16)
        return (signed + ZERO).astype(np.uint8)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return (codes.astype(np.float32) - ZERO) * self.scale

    def table(self) -> np.ndarray:
        """(dim + 1, DIMS) float32: the scale row, then the projection (CODEC_FILE, and the store's blob)."""
        return np.concatenate([self.scale[None, :], self.projection]).astype(np.float32)

    @classmethod
    def from_table(cls, table: np.ndarray) -> TokenCodec:
        return cls(np.ascontiguousarray(table[1:]), np.ascontiguousarray(table[0]))

    def to_bytes(self) -> bytes:
        return self.table().tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes, dim: int) -> TokenCodec:
        return cls.from_table(np.frombuffer(blob, dtype=np.float32).reshape(dim + 1, -1))

    @property
    def dims(self) -> int:
        return self.projection.shape[1]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()[:16]


def codec_key(model_id: str) -> str:
    """Where a store keeps its passage-token codec for a model (one per store and model, fitted once)."""
    return f"{model_id}#passage-token-codec"


def codes_key(model_id: str, codec: TokenCodec) -> str:
    """Where a store caches passages' codes, by passage hash: they are only valid with the codec that made them."""
    return f"{model_id}#passage-tokens/u8/{codec.digest}"


def stored_codec(store, model_id: str, dim: int) -> TokenCodec | None:
    blob = store.get_blob(codec_key(model_id), "codec")
    return None if blob is None else TokenCodec.from_bytes(blob, dim)


def cache_codes(store, model_id: str, dim: int, codec: TokenCodec | None, hashes: list[str],
                tokens: list[np.ndarray]) -> TokenCodec | None:
    """Cache the codes of passages' token vectors, fitting (and keeping) the store's codec on them when it has
    none yet; returns the codec (None when there were no tokens to fit on)."""
    if codec is None:
        kept = [t for t in tokens if len(t)]
        if not kept:
            return None
        codec = TokenCodec.fit(np.concatenate(kept))
        store.put_blob(codec_key(model_id), "codec", codec.to_bytes())
    store.put_token_vectors(codes_key(model_id, codec), hashes, [codec.encode(t) for t in tokens], dtype=np.uint8)
    return codec


def drop_cached(store, model_id: str) -> int:
    """Delete the store's codec and every passage's codes for `model_id` (late interaction turned off); returns how
    many rows went. A store that never had a codec has no codes: that is one look-up."""
    if store.get_blob(codec_key(model_id), "codec") is None:
        return 0
    return store.drop_cached(codec_key(model_id), prefix=f"{model_id}#passage-tokens/")


FILES = (CODES_FILE, OFFSETS_FILE, CODEC_FILE)


def write_version_files(folder: Path, store, model_id: str, dim: int, hashes: list[str],
                        previous: tuple[Path, str] | None = None) -> str | None:
    """Write the codes of every passage (in `hashes`' order: the version's passage order) into a version folder and
    return their digest (the codec's and the passages'); None, writing nothing, when the store has no codec or lacks
    any passage's codes (search then fuses the two legs without late interaction until `sift index` computes them).
    `previous` (the live version's folder and digest, its files verified): the same digest links its files instead
    of writing them again (hundreds of MB for a large site)."""
    codec = stored_codec(store, model_id, dim)
    if codec is None or not hashes:
        return None
    digest = hashlib.sha256("\n".join([codec.digest, *hashes]).encode()).hexdigest()[:32]
    if previous is not None and previous[1] == digest:
        try:
            for name in FILES:
                os.link(previous[0] / name, folder / name)
            return digest
        except OSError:  # another file system, or a file gone: write them
            for name in FILES:
                (folder / name).unlink(missing_ok=True)
    # streamed (a large site's codes are hundreds of MB): the sizes from the store's record headers, then the codes
    # slice by slice into the mapped file
    key, width = codes_key(model_id, codec), codec.dims
    stored = store.blob_sizes(key, hashes)
    if len(stored) < len(set(hashes)):
        return None
    offsets = np.concatenate([[0], np.cumsum([stored[h] // width for h in hashes])]).astype(np.int64)
    if offsets[-1]:
        out = np.lib.format.open_memmap(folder / CODES_FILE, mode="w+", dtype=np.uint8, shape=(int(offsets[-1]), width))
        for start in range(0, len(hashes), 2048):
            part = hashes[start : start + 2048]
            cached = store.get_token_vectors(key, part, width, dtype=np.uint8)
            out[offsets[start] : offsets[start + len(part)]] = np.concatenate([cached[h] for h in part])
        out.flush()
        del out
    else:  # no passage has a kept token (a mapped file cannot be empty)
        np.save(folder / CODES_FILE, np.zeros((0, width), np.uint8))
    np.save(folder / OFFSETS_FILE, offsets)
    np.save(folder / CODEC_FILE, codec.table())
    return digest


@dataclass(frozen=True)
class PassageTokens:
    """A version's passage-token codes, memory-mapped: what search's late interaction reads."""

    codes: np.ndarray
    offsets: np.ndarray
    codec: TokenCodec

    @classmethod
    def open(cls, folder: Path) -> PassageTokens | None:
        if not (folder / OFFSETS_FILE).is_file():
            return None  # a version from before late interaction, or one whose codes were incomplete
        codec = TokenCodec.from_table(np.load(folder / CODEC_FILE))
        return cls(np.load(folder / CODES_FILE, mmap_mode="r"), np.load(folder / OFFSETS_FILE), codec)

    def best(self, query: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
        """For each (first passage, end passage) range — an article's passages — the best passage's MaxSim."""
        out = np.zeros(len(ranges), dtype=np.float32)
        spans = [(a, b) for a, b in ranges if b > a]
        if not len(query) or not spans:
            return out
        # an article's passages are consecutive, and so are their codes: one slice of the mapped file each
        codes = np.concatenate([self.codes[self.offsets[a]: self.offsets[b]] for a, b in spans])
        chunks = np.concatenate([np.arange(a, b) for a, b in spans])
        sizes = self.offsets[chunks + 1] - self.offsets[chunks]
        per_passage = maxsim(query, codes, np.concatenate([[0], np.cumsum(sizes)]), self.codec)
        at = 0
        for i, (a, b) in enumerate(ranges):
            if b > a:
                out[i] = per_passage[at : at + b - a].max()
                at += b - a
        return out


_PRODUCT = None  # the integer matrix product's ONNX Runtime session, built on first use


def _integer_product():
    """(uint8 codes with zero point 128, T × DIMS) @ (int8, DIMS × q) → int32 (T × q) in ONNX Runtime: with VNNI
    ~20× numpy's float product on the same codes (0.7 ms against 16 ms for 7,200 tokens and 12 query tokens, measured
    on this machine under load), since numpy must first widen every code to float32."""
    global _PRODUCT
    if _PRODUCT is None:
        import onnxruntime as ort
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["codes", "query", "zero"], ["sims"])], "maxsim",
            [helper.make_tensor_value_info("codes", TensorProto.UINT8, ["tokens", "dims"]),
             helper.make_tensor_value_info("query", TensorProto.INT8, ["dims", "query_tokens"])],
            [helper.make_tensor_value_info("sims", TensorProto.INT32, ["tokens", "query_tokens"])],
            initializer=[helper.make_tensor("zero", TensorProto.UINT8, [], [ZERO])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # well under a millisecond: threads would cost more than they save
        options.log_severity_level = 3
        _PRODUCT = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return _PRODUCT


def maxsim(query: np.ndarray, codes: np.ndarray, offsets: np.ndarray, codec: TokenCodec) -> np.ndarray:
    """Each passage's MaxSim with the query: the mean over the query's tokens of their best dot product among the
    passage's tokens. `query` (q, dim) unit tokens; `codes` the passages' codes one after another, passage i at
    offsets[i]:offsets[i + 1] (offsets[0] = 0). The query is quantised too, per token (int8, its own scale), so the
    product runs on integers. A passage (or query) without tokens scores 0."""
    sizes = np.diff(offsets)
    out = np.zeros(len(sizes), dtype=np.float32)
    has = sizes > 0
    if not len(query) or not has.any():
        return out
    weights = codec.project(query) * codec.scale  # (q, DIMS): a signed code times this is the dot product
    step = np.maximum(np.abs(weights).max(axis=1), 1e-12) / QUERY_CLIP
    quantised = np.ascontiguousarray(np.rint(weights / step[:, None]).astype(np.int8).T)
    sims = _integer_product().run(None, {"codes": np.ascontiguousarray(codes), "query": quantised})[0]
    sims = sims.astype(np.float32) * step
    out[has] = np.maximum.reduceat(sims, offsets[:-1][has], axis=0).mean(axis=1)
    return out
