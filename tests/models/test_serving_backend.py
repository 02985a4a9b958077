"""Which runtime embeds queries when serving: fp32 ONNX for a torch index (same vectors), else the index's own."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from search_api.settings import Settings

pytest.importorskip("onnxruntime")


def test_auto_serves_torch_and_onnx_indexes_on_onnx_and_int8_on_int8():
    assert Settings(embed_backend="torch").serving_backend() == "onnx"
    assert Settings(embed_backend="onnx").serving_backend() == "onnx"
    assert Settings(embed_backend="onnx-int8").serving_backend() == "onnx-int8"
    assert Settings(embed_backend="torch", query_backend="torch").serving_backend() == "torch"


def test_serving_embedder_matches_the_index_embedder(tmp_path):
    settings = Settings(embed_backend="torch")
    serving = settings.embedder(serving=True)
    indexing = settings.embedder()
    assert (serving.backend, indexing.backend) == ("onnx", "torch")
    assert serving.model_id == indexing.model_id  # so a torch-built index opens with it
    query = "child trafficking funding in Africa"
    assert float(serving.encode_query(query) @ indexing.encode_query(query)) > 0.9999


def test_a_failed_export_falls_back_to_torch_with_a_warning(tmp_path, monkeypatch, caplog):
    import models.onnx_backend as onnx_backend

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_backend, "OnnxBackend", broken)
    with caplog.at_level(logging.WARNING):
        embedder = Settings(embed_backend="torch", cache_dir=tmp_path).embedder(serving=True)
    assert embedder.backend == "torch"
    assert "falls back to torch" in caplog.text and "exporter exploded" in caplog.text
    assert np.isclose(np.linalg.norm(embedder.encode_query("water")), 1.0, atol=1e-5)


def test_an_explicit_query_backend_that_fails_is_an_error(tmp_path, monkeypatch):
    import models.onnx_backend as onnx_backend

    monkeypatch.setattr(onnx_backend, "OnnxBackend", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no")))
    with pytest.raises(RuntimeError):
        Settings(embed_backend="torch", query_backend="onnx", cache_dir=tmp_path).embedder(serving=True)


def test_prepare_backend_builds_the_export_once_without_loading_a_model(tmp_path):
    from models.embedder import prepare_backend

    prepare_backend(None, "torch", tmp_path)  # nothing to build
    assert not (tmp_path / "onnx").exists()
    prepare_backend(None, "onnx", tmp_path)
    built = list((tmp_path / "onnx").glob("*/fp32/*.onnx"))
    assert built, list(tmp_path.rglob("*"))
    before = built[0].stat().st_mtime_ns
    prepare_backend(None, "onnx", tmp_path)  # already there: untouched
    assert built[0].stat().st_mtime_ns == before
