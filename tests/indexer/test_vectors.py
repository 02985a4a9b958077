"""The vector-store contract, run against every store: FAISS Flat and its three ANN indexes, and pgvector (exact and
HNSW) on a real PostgreSQL."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from indexer.vectors import FLAT_BELOW, PGVECTOR_FLAT_BELOW, VectorConfig, build_store, open_store
from indexer.vectors.faiss_store import TARGET_RECALL, FaissVectors, exact_search

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_scale import D  # noqa: E402
from bench_scale import synthetic_vectors as clustered  # noqa: E402  the benchmark's generator, one definition

CONFIGS = {
    "flat": VectorConfig(index="flat"),
    "hnsw": VectorConfig(index="hnsw"),
    "ivf-sq8": VectorConfig(index="ivf-sq8"),
    "ivf-pq": VectorConfig(index="ivf-pq"),
    "pgvector": VectorConfig(store="pgvector"),  # auto: exact at this size
    "pgvector-hnsw": VectorConfig(store="pgvector", index="hnsw"),
}
EXACT = ("flat", "pgvector")


def recall_at_10(truth: np.ndarray, found: np.ndarray) -> float:
    return float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)]))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """1,200 stored vectors and 50 queries from the same distribution that are not stored."""
    x = clustered(1250, seed=1)
    return x[:1200], x[1200:]


def config_for(request, name: str) -> VectorConfig:
    """CONFIGS[name], a pgvector one pointed at this module's database (a real PostgreSQL, started on first use)."""
    if CONFIGS[name].store != "pgvector":
        return CONFIGS[name]
    return replace(CONFIGS[name], database_url=request.getfixturevalue("module_postgres_url"))


@pytest.fixture(scope="module", params=list(CONFIGS))
def saved(request, data, tmp_path_factory) -> tuple[str, Path, dict]:
    """Each store built over `data`, saved to a folder: (name, folder, what describe() recorded)."""
    store = build_store(data[0], config_for(request, request.param))
    folder = tmp_path_factory.mktemp(request.param)
    store.save(folder)
    return request.param, folder, store.describe()


@pytest.fixture(scope="module")
def opened(request, saved):
    name, folder, described = saved
    return name, open_store(folder, described, config_for(request, name))


def test_a_reopened_store_answers_like_exact_search(opened, data):
    name, store = opened
    base, queries = data
    assert store.ntotal == len(base)
    exact_scores, exact_ids = exact_search(base, queries, 10)
    scores, ids = store.search(queries, 10)
    assert ids.shape == (len(queries), 10)
    if name in EXACT:
        np.testing.assert_array_equal(ids, exact_ids)
    else:
        assert recall_at_10(exact_ids, ids) >= TARGET_RECALL
    # every store reports exact cosines for what it returns (ANN candidates are re-scored from the full vectors)
    np.testing.assert_allclose(scores, np.einsum("qkd,qd->qk", base[ids], queries), atol=1e-4)


@pytest.mark.parametrize("share", [0.01, 0.25])
def test_a_subset_search_is_exact_and_stays_inside_the_subset(opened, data, share):
    name, store = opened
    base, queries = data
    subset = np.sort(np.random.default_rng(7).choice(len(base), int(share * len(base)), replace=False))
    k = 20
    want_scores, want_ids = exact_search(base, queries, k, subset)
    scores, ids = store.search_subset(queries, k, subset)
    np.testing.assert_array_equal(ids, want_ids)  # exact on ANN indexes too: a filter never loses a match
    np.testing.assert_allclose(scores, want_scores, atol=1e-4)


def test_a_subset_smaller_than_k_returns_all_of_it(opened, data):
    _, store = opened
    scores, ids = store.search_subset(data[1][:2], 10, np.array([5, 3, 900]))
    assert [sorted(row) for row in ids.tolist()] == [[3, 5, 900], [3, 5, 900]]


def test_reconstruct_gives_back_the_stored_vectors(opened, data):
    _, store = opened
    np.testing.assert_allclose(store.reconstruct(np.array([0, 1199, 17])), data[0][[0, 1199, 17]], atol=1e-6)


def test_faiss_files_are_memory_mapped_not_copied(saved):
    name, folder, described = saved
    if name.startswith("pgvector"):
        pytest.skip("pgvector keeps the vectors in the database")
    store = open_store(folder, described, VectorConfig(mmap=True))
    mapped = Path("/proc/self/maps").read_text()
    assert str(folder / "dense.faiss") in mapped  # FAISS reads the index in place: workers share the pages
    if name != "flat":
        assert str(folder / "dense.npy") in mapped and isinstance(store.full, np.memmap)


def test_memory_per_vector_is_within_the_budget(saved):
    name, _, described = saved
    # pgvector's are on the database's disk (and in its cache), not in this process: a table row is the vector plus
    # ~40 bytes (tuple header, id, line pointer; five to an 8 KB page), its primary-key entry ~20 more, and HNSW
    # keeps the vector again in its element with its links (~2 KB, four to a page, at 384 dims and m=16)
    budget = {"flat": 4 * D, "hnsw": 2048, "ivf-sq8": 4 * D, "ivf-pq": 100, "pgvector": 4 * D + 300,
              "pgvector-hnsw": 8 * D + 1000}[name]
    assert described["bytes_per_vector"] <= budget
    if name.startswith("pgvector"):  # measured, not assumed: never less than the vectors themselves
        assert described["bytes_per_vector"] >= (4 if name == "pgvector" else 8) * D
    if name == "flat":
        assert described["bytes_per_vector"] == 1536  # 384 float32


def test_auto_is_flat_below_the_threshold_and_ann_from_it(data):
    base = data[0]
    assert build_store(base, VectorConfig(flat_below=1201)).describe()["kind"] == "flat"
    chosen = build_store(base, VectorConfig(flat_below=1200)).describe()
    assert chosen["kind"] == "ivf-sq8" and chosen["calibrated_recall_at_10"] >= TARGET_RECALL
    assert build_store(base[:399], VectorConfig(index="hnsw")).describe()["kind"] == "flat"  # too few to calibrate


def test_pgvector_auto_is_exact_below_its_own_threshold_and_hnsw_from_it(data, module_postgres_url):
    base = data[0]
    config = VectorConfig(store="pgvector", database_url=module_postgres_url)
    assert config.exact_below() == PGVECTOR_FLAT_BELOW and VectorConfig().exact_below() == FLAT_BELOW
    assert build_store(base, replace(config, flat_below=1201)).describe()["kind"] == "flat"
    chosen = build_store(base, replace(config, flat_below=1200)).describe()
    assert chosen["kind"] == "hnsw" and chosen["calibrated_recall_at_10"] >= TARGET_RECALL
    assert chosen["m"] == 16 and chosen["ef_search"] >= 10
    assert build_store(base[:399], replace(config, index="hnsw")).describe()["kind"] == "flat"  # too few to calibrate
    with pytest.raises(ValueError, match="pgvector keeps an exact table or an HNSW index, not 'ivf-sq8'; use auto, "
                                         "flat or hnsw"):
        build_store(base, replace(config, index="ivf-sq8"))


@pytest.mark.slow  # 10k vectors per index; the contract tests above check the same at 1.2k
@pytest.mark.parametrize("kind", ["hnsw", "ivf-sq8", "ivf-pq"])
def test_ann_recall_at_10_holds_on_held_out_queries(kind):
    x = clustered(10_300, seed=3)
    base, queries = x[:10_000], x[10_000:]
    store = FaissVectors.build(base, kind=kind)
    _, truth = exact_search(base, queries, 10)
    _, found = store.search(queries, 10)
    assert recall_at_10(truth, found) >= TARGET_RECALL


def test_deep_pages_on_ivf_probe_more_lists_rather_than_come_back_short(data):
    store = FaissVectors.build(data[0], kind="ivf-sq8")
    _, ids = store.search(data[1][:3], 1000)
    assert (ids >= 0).all() and all(len(set(row)) == 1000 for row in ids.tolist())


def test_an_unknown_index_kind_is_refused(data):
    with pytest.raises(ValueError, match="unknown vector index 'annoy'; use auto, flat, hnsw, ivf-sq8, ivf-pq"):
        FaissVectors.build(data[0], kind="annoy")


@pytest.mark.parametrize("kind", ["ivf-sq8", "ivf-pq"])
def test_a_rebuild_after_a_few_changes_reuses_the_saved_training(kind, data, tmp_path):
    base, queries = data
    first = build_store(base, CONFIGS[kind])
    first.save(tmp_path)
    described = first.describe()
    previous = FaissVectors.trained_from(tmp_path, described)
    edited = np.concatenate([base[20:], clustered(1250, seed=9)[:40]])  # 20 deleted, 40 added: ~5% changed
    again = build_store(edited, CONFIGS[kind], previous=(tmp_path, described))
    assert again.describe()["trained_at"] == described["trained_at"]  # not trained again
    np.testing.assert_array_equal(
        again.index.quantizer.reconstruct_n(0, described["nlist"]),
        previous.index.quantizer.reconstruct_n(0, described["nlist"]),
    )
    assert again.ntotal == len(edited)  # none of the old lists came along
    _, truth = exact_search(edited, queries, 10)
    assert recall_at_10(truth, again.search(queries, 10)[1]) >= TARGET_RECALL  # calibrated on the new vectors
    # a collection that grew past RETRAIN_GROWTH is trained afresh
    grown = np.concatenate([base, clustered(2000, seed=11)[:600]])
    retrained = build_store(grown, CONFIGS[kind], previous=(tmp_path, described))
    assert retrained.describe()["trained_at"] != described["trained_at"]


def test_a_damaged_saved_index_means_training_afresh(data, tmp_path):
    first = build_store(data[0], CONFIGS["ivf-sq8"])
    first.save(tmp_path)
    (tmp_path / "dense.faiss").write_bytes(b"not an index")
    again = build_store(data[0][:1100], CONFIGS["ivf-sq8"], previous=(tmp_path, first.describe()))
    assert again.describe()["trained_at"] != first.describe()["trained_at"]
