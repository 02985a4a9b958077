"""The engine over each vector store: Qdrant (local mode) answers as FAISS does, and an ANN index keeps the exact
top results within the stated recall while filtered searches stay exact."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.pipeline import index_sources
from indexer.publish import read_manifest
from indexer.vectors import VectorConfig
from indexer.vectors import faiss_store
from indexer.vectors.faiss_store import TARGET_RECALL
from search_api.engine import Engine
from search_api.related.policy import RelatedRules
from search_api.schemas import Filters

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_corpus.jsonl"
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
QDRANT = VectorConfig(store="qdrant")
TINY_QUERIES = ["debt bondage on trawlers", "water grants", "floods in Bangladesh", "children forced to work"]


@pytest.fixture(scope="module")
def qdrant_engine(tmp_path_factory, embedder) -> Engine:
    idx = tmp_path_factory.mktemp("tiny-qdrant") / "idx"
    index_sources([TINY], idx, embedder, progress=False, vectors=QDRANT)
    return Engine.open(idx, embedder, related_rules=RelatedRules(min_similarity=-1.0), vectors=QDRANT)


def test_the_qdrant_version_records_its_store(qdrant_engine):
    described = qdrant_engine.manifest["vectors"]
    assert described["store"] == "qdrant" and described["remote"] is False
    assert qdrant_engine.manifest["build"]["vectors"] == {"store": "qdrant"}
    assert not (qdrant_engine.path / "dense.faiss").exists() and (qdrant_engine.path / "dense.qdrant").is_dir()


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
@pytest.mark.parametrize("query", TINY_QUERIES)
def test_qdrant_local_mode_answers_as_faiss_does(qdrant_engine, tiny_engine, query, mode):
    want = tiny_engine.search(query, k=5, mode=mode)
    got = qdrant_engine.search(query, k=5, mode=mode)
    assert [h.id for h in got.hits] == [h.id for h in want.hits]
    assert [h.semantic_score for h in got.hits] == pytest.approx([h.semantic_score for h in want.hits], abs=1e-5)


def test_qdrant_filtered_search_matches_faiss(qdrant_engine, tiny_engine):
    category = tiny_engine.articles["categories"].iat[0][0]
    filters = Filters(categories=[category])
    want = tiny_engine.search("funding", k=10, mode="semantic", filters=filters)
    got = qdrant_engine.search("funding", k=10, mode="semantic", filters=filters)
    assert [h.id for h in got.hits] == [h.id for h in want.hits] and got.eligible == want.eligible


@pytest.fixture(scope="module")
def ann_engine(tmp_path_factory, sample_index, embedder) -> Engine:
    """The sample corpus (357 passages) republished with the default ANN index forced, from the same store. Its
    passages are fewer than the floor under which an index is always exact (MIN_ANN, 400): lowered here, so the IVF
    path runs on real vectors (9 lists)."""
    idx = tmp_path_factory.mktemp("sample-ann") / "idx"
    idx.mkdir()
    for path in sample_index.glob("store.sqlite*"):
        shutil.copy(path, idx / path.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(faiss_store, "MIN_ANN", 100)
        report = index_sources([SAMPLE], idx, embedder, progress=False, vectors=VectorConfig(flat_below=0))
    assert report.embedded == 0 and report.published  # the store had every vector: only the index is new
    return Engine.open(idx, embedder)


SAMPLE_QUERIES = [
    "child trafficking funding in Africa", "water and sanitation grants", "flood relief in Bangladesh",
    "girls education programme", "climate adaptation for farmers", "malaria prevention", "refugee camps",
    "microfinance for women", "cocoa harvest Ghana", "call for proposals health", "drought in the Sahel",
    "forced labour on fishing boats",
]


def test_the_ann_version_records_its_index_and_calibration(ann_engine):
    described = read_manifest(ann_engine.path)["vectors"]
    assert described["kind"] == "ivf-sq8" and described["calibrated_recall_at_10"] >= TARGET_RECALL
    assert (ann_engine.path / "dense.npy").is_file()


def test_ann_search_keeps_the_exact_top_results_within_the_stated_recall(ann_engine, sample_engine):
    recall = []
    for query in SAMPLE_QUERIES:
        want = [h.id for h in sample_engine.search(query, k=10, mode="semantic").hits]
        got = [h.id for h in ann_engine.search(query, k=10, mode="semantic").hits]
        recall.append(len(set(want) & set(got)) / len(want))
    assert np.mean(recall) >= TARGET_RECALL


@pytest.mark.parametrize("filters", [Filters(categories=["WASH"]), Filters(regions=["East Africa"]), Filters(countries=["Kenya"])])
def test_filtered_search_on_the_ann_index_is_exact(ann_engine, sample_engine, filters):
    want = sample_engine.search("funding for communities", k=20, mode="semantic", filters=filters)
    got = ann_engine.search("funding for communities", k=20, mode="semantic", filters=filters)
    assert want.hits and [h.id for h in got.hits] == [h.id for h in want.hits]
    assert [h.semantic_score for h in got.hits] == pytest.approx([h.semantic_score for h in want.hits], abs=1e-5)
