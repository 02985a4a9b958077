"""The engine over each vector store: pgvector (a real PostgreSQL) answers as FAISS does, and an ANN index keeps the
exact top results within the stated recall while filtered searches stay exact."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from indexer.backup import backup_index
from indexer.pipeline import index_sources
from indexer.publish import read_manifest
from indexer.vectors import VectorConfig, faiss_store, pgvector_store
from indexer.vectors.faiss_store import TARGET_RECALL
from search_api.engine import Engine
from search_api.http.app import create_app
from search_api.related.policy import RelatedRules
from search_api.schemas import Filters
from search_api.settings import Settings

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_corpus.jsonl"
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
TINY_QUERIES = ["debt bondage on trawlers", "water grants", "floods in Bangladesh", "children forced to work"]


@pytest.fixture(scope="module")
def pgvector_config(module_postgres_url) -> VectorConfig:
    return VectorConfig(store="pgvector", database_url=module_postgres_url)


@pytest.fixture(scope="module")
def pgvector_engine(tmp_path_factory, embedder, pgvector_config) -> Engine:
    idx = tmp_path_factory.mktemp("tiny-pgvector") / "idx"
    index_sources([TINY], idx, embedder, progress=False, vectors=pgvector_config)
    return Engine.open(idx, embedder, related_rules=RelatedRules(min_similarity=-1.0), vectors=pgvector_config)


def test_the_pgvector_version_records_its_table_and_nothing_of_the_url(pgvector_engine, module_postgres_url):
    described = pgvector_engine.manifest["vectors"]
    assert described["store"] == "pgvector" and described["kind"] == "flat"
    assert described["table"].startswith(pgvector_store.TABLE_PREFIX) and described["ntotal"] == 12
    assert pgvector_engine.manifest["build"]["vectors"] == {"store": "pgvector", "index": "auto", "flat_below": 2000}
    assert not (pgvector_engine.path / "dense.faiss").exists()
    assert module_postgres_url.split("@")[1] not in (pgvector_engine.path / "manifest.json").read_text()


def test_a_backup_of_a_pgvector_index_says_its_vectors_are_in_the_database(pgvector_engine, tmp_path):
    report = backup_index(pgvector_engine.path.parent.parent, tmp_path / "copy")
    assert report.vectors_elsewhere and report.articles == 12


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
@pytest.mark.parametrize("query", TINY_QUERIES)
def test_pgvector_answers_as_faiss_does(pgvector_engine, tiny_engine, query, mode):
    want = tiny_engine.search(query, k=5, mode=mode)
    got = pgvector_engine.search(query, k=5, mode=mode)
    assert [h.id for h in got.hits] == [h.id for h in want.hits]
    assert [h.semantic_score for h in got.hits] == pytest.approx([h.semantic_score for h in want.hits], abs=1e-5)


def test_pgvector_filtered_search_matches_faiss(pgvector_engine, tiny_engine):
    category = tiny_engine.articles["categories"].iat[0][0]
    filters = Filters(categories=[category])
    want = tiny_engine.search("funding", k=10, mode="semantic", filters=filters)
    got = pgvector_engine.search("funding", k=10, mode="semantic", filters=filters)
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


@pytest.fixture(scope="module")
def pgvector_ann_engine(tmp_path_factory, sample_index, embedder, pgvector_config) -> Engine:
    """The sample corpus (357 passages) republished into pgvector with HNSW forced (the floor under which an index is
    always exact, MIN_ANN, lowered as for `ann_engine` below), from the same store."""
    idx = tmp_path_factory.mktemp("sample-pgvector") / "idx"
    idx.mkdir()
    for path in sample_index.glob("store.sqlite*"):
        shutil.copy(path, idx / path.name)
    config = VectorConfig(store="pgvector", index="hnsw", database_url=pgvector_config.database_url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pgvector_store, "MIN_ANN", 100)
        report = index_sources([SAMPLE], idx, embedder, progress=False, vectors=config)
    assert report.embedded == 0 and report.published
    return Engine.open(idx, embedder, vectors=config)


def test_pgvector_hnsw_keeps_the_exact_top_results_and_exact_filters(pgvector_ann_engine, sample_engine):
    described = read_manifest(pgvector_ann_engine.path)["vectors"]
    assert described["kind"] == "hnsw" and described["calibrated_recall_at_10"] >= TARGET_RECALL
    recall = []
    for query in SAMPLE_QUERIES:
        want = [h.id for h in sample_engine.search(query, k=10, mode="semantic").hits]
        got = [h.id for h in pgvector_ann_engine.search(query, k=10, mode="semantic").hits]
        recall.append(len(set(want) & set(got)) / len(want))
    assert np.mean(recall) >= TARGET_RECALL
    filters = Filters(regions=["East Africa"])
    want = sample_engine.search("funding for communities", k=20, mode="semantic", filters=filters)
    got = pgvector_ann_engine.search("funding for communities", k=20, mode="semantic", filters=filters)
    assert want.hits and [h.id for h in got.hits] == [h.id for h in want.hits]


def test_a_server_whose_database_is_down_at_startup_says_so_and_serves_once_it_is_back(
    tmp_path, embedder, pgvector_config, postgres_server, module_postgres_url
):
    """A new server, with nothing but the database's URL and an empty folder for its copy of the live version."""
    index_sources([TINY], tmp_path / "indexer", embedder, progress=False, vectors=pgvector_config,
                  database=module_postgres_url)
    database = module_postgres_url.rsplit("/", 1)[1]
    settings = Settings(index_dir=tmp_path / "server", vector_store="pgvector", database_url=module_postgres_url)
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
    try:
        with TestClient(create_app(settings)) as client:
            r = client.get("/search", params={"q": "water grants"})
            assert r.status_code == 503
            assert f"cannot connect to the database at {module_postgres_url}" in r.json()["error"]
            with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
            deadline = time.monotonic() + 15  # the server looks for a version to load at most once a second
            while r.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.2)
                r = client.get("/search", params={"q": "water grants"})
            assert r.status_code == 200 and r.json()["hits"]
    finally:
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
