import faiss
import numpy as np
import scipy.sparse as sp

from indexer.duplicates import group_near_duplicates
from indexer.relatedness import context_vectors, pair_cosines, related_neighbours


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _index(vectors):
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def test_pair_cosines_match_dense_products_and_zero_padding():
    rng = np.random.default_rng(3)
    dense = _unit(rng.random((7, 5)))
    pairs = np.array([[1, 2, -1], [0, 6, 5], [3, 3, 4], [2, 1, 0], [5, -1, -1], [6, 0, 1], [4, 2, 3]])
    got = pair_cosines(sp.csr_matrix(dense), pairs)
    want = np.where(pairs >= 0, np.einsum("ij,ikj->ik", dense, dense[np.maximum(pairs, 0)]), 0.0)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_context_vectors_are_unit_and_hold_self_and_neighbours():
    ids = np.array([[1, 2], [0, -1], [0, 1]])
    fused = np.array([[0.5, 0.25], [0.5, 0.0], [0.25, 0.2]], dtype=np.float32)
    m = context_vectors(ids, fused, 2).toarray()
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-6)
    # article 0: itself weighted like its best neighbour (0.5), then 0.5 and 0.25 → (2, 2, 1) / 3
    np.testing.assert_allclose(m[0], [2 / 3, 2 / 3, 1 / 3], atol=1e-6)
    assert m[1, 2] == 0  # padding adds nothing


def test_keyword_overlap_reorders_dense_ties():
    # 1 and 2 are equally close to 0 in meaning; 0 and 2 share their terms, so 2 ranks first
    vectors = _unit([[1, 0.0, 0], [1, 0.3, 0], [1, -0.3, 0], [0, 0, 1]])
    terms = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 1]], dtype=np.float32))
    dense_only = related_neighbours(_index(vectors), vectors, None, 3, context_weight=0)
    assert set(dense_only.ids[0, :2]) == {1, 2}
    fused = related_neighbours(_index(vectors), vectors, terms, 3, context_weight=0)
    assert fused.ids[0, 0] == 2
    np.testing.assert_allclose(fused.cosines[0, 0], vectors[0] @ vectors[2], atol=1e-6)  # cosine kept beside


def test_lists_never_hold_self_and_are_sorted_by_score():
    rng = np.random.default_rng(0)
    vectors = _unit(rng.normal(size=(60, 8)))
    terms = sp.random(60, 40, density=0.2, random_state=1, format="csr", dtype=np.float32)
    got = related_neighbours(_index(vectors), vectors, terms, 10, candidates=30)
    assert got.ids.shape == (60, 10)
    assert not (got.ids == np.arange(60)[:, None]).any()
    assert (np.diff(got.scores, axis=1) <= 1e-6).all()
    assert (got.ids >= 0).all() and (got.dense_ids >= 0).all()
    # cosines belong to the listed pairs
    np.testing.assert_allclose(got.cosines, np.einsum("ij,ikj->ik", vectors, vectors[got.ids]), atol=1e-5)


def test_context_joins_articles_with_shared_neighbourhoods():
    # two tight clusters; 0 and 5 are each other's closest out-of-cluster point, but context pulls 0's cluster first
    rng = np.random.default_rng(5)
    a = _unit(np.array([1, 0, 0, 0]) + 0.05 * rng.normal(size=(20, 4)))
    b = _unit(np.array([0, 1, 0, 0]) + 0.05 * rng.normal(size=(20, 4)))
    vectors = np.vstack([a, b]).astype(np.float32)
    got = related_neighbours(_index(vectors), vectors, None, 5, context=10)
    assert (got.ids[:20] < 20).all() and (got.ids[20:] >= 20).all()


def test_small_collections_and_a_single_article():
    one = _unit([[1, 0]])
    got = related_neighbours(_index(one), one, sp.csr_matrix(np.ones((1, 2), dtype=np.float32)), 3)
    assert (got.ids == -1).all() and np.isneginf(got.scores).all()


def test_near_duplicates_need_shared_words_when_keyword_scores_are_given():
    ids = np.array([[1], [0], [3], [2]])
    cos = np.array([[0.9], [0.9], [0.85], [0.85]], dtype=np.float32)
    words = np.array([[0.8], [0.8], [0.3], [0.3]], dtype=np.float32)  # 2-3: same meaning, different words
    assert group_near_duplicates(ids, cos, 0.8).tolist() == [0, 0, 2, 2]
    assert group_near_duplicates(ids, cos, 0.8, keyword_scores=words).tolist() == [0, 0, 2, 3]
