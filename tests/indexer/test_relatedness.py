import faiss
import numpy as np
import pytest
import scipy.sparse as sp

from indexer.duplicates import group_near_duplicates
from indexer.publish import build_parameters
from indexer.relatedness import (
    calibrated,
    carry_over,
    context_matrix,
    context_rows,
    pair_cosines,
    pair_overlaps,
    related_neighbours,
    update_related,
)


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


def test_pair_overlaps_by_hand():
    weights = sp.csr_matrix(np.array([
        [2.0, 1.0, 1.0, 0.0],  # row 0: weight 4
        [1.0, 0.0, 0.0, 3.0],  # row 1: weight 4, shares term 0 with row 0
        [4.0, 2.0, 2.0, 0.0],  # row 2: row 0's terms, doubled
        [0.0, 0.0, 0.0, 0.0],  # row 3: no terms
    ], dtype=np.float32))
    got = pair_overlaps(weights, np.array([[1, 2, 3, -1], [0, 2, 3, 1]]), rows=np.array([0, 1]))
    # 0 vs 1: 0 keeps 2/4 of its weight on the shared term, 1 keeps 1/4 → √(0.5 · 0.25); 0 vs 2: the same terms → 1
    np.testing.assert_allclose(got[0], [np.sqrt(0.5 * 0.25), 1.0, 0.0, 0.0], atol=1e-6)
    # symmetric; 1 vs 2: 1/4 and 4/8
    np.testing.assert_allclose(got[1], [np.sqrt(0.25 * 0.5), np.sqrt(0.25 * 0.5), 0.0, 1.0], atol=1e-6)


def test_contexts_are_unit_and_hold_self_and_neighbours():
    ids = np.array([[1, 2], [0, -1], [0, 1]])
    fused = np.array([[0.5, 0.25], [0.5, 0.0], [0.25, 0.2]], dtype=np.float32)
    top_ids, top_w = context_rows(ids, fused, 2)
    m = context_matrix(top_ids, top_w, np.arange(3), 3).toarray()
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-6)
    # article 0: itself weighted like its best neighbour (0.5), then 0.5 and 0.25 → (2, 2, 1) / 3
    np.testing.assert_allclose(m[0], [2 / 3, 2 / 3, 1 / 3], atol=1e-6)
    assert m[1, 2] == 0  # padding adds nothing
    # an incremental pass fills only the rows it names; the others stay empty
    one = context_matrix(top_ids[:1], top_w[:1], np.array([2]), 3).toarray()
    assert not one[:2].any() and np.isclose(np.linalg.norm(one[2]), 1.0)


def test_keyword_overlap_reorders_dense_ties():
    # 1 and 2 are equally close to 0 in meaning; 0 and 2 share their terms, so 2 ranks first
    vectors = _unit([[1, 0.0, 0], [1, 0.3, 0], [1, -0.3, 0], [0, 0, 1]])
    terms = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 1]], dtype=np.float32))
    dense_only = related_neighbours(_index(vectors), vectors, None, 3, context_weight=0)
    assert set(dense_only.ids[0, :2]) == {1, 2}
    fused = related_neighbours(_index(vectors), vectors, terms, 3, context_weight=0)
    assert fused.ids[0, 0] == 2
    np.testing.assert_allclose(fused.cosines[0, 0], vectors[0] @ vectors[2], atol=1e-6)  # cosine kept beside
    # the cosine of the weight vectors (the ranking before the overlap) agrees here; the duplicate rule's keyword
    # cosines are the same whichever ranks
    by_cosine = related_neighbours(_index(vectors), vectors, terms, 3, context_weight=0, keyword_similarity="cosine")
    assert by_cosine.ids[0, 0] == 2
    np.testing.assert_allclose(by_cosine.dense_keyword, fused.dense_keyword, atol=1e-6)
    with pytest.raises(ValueError, match="keyword_similarity is 'overlap' or 'cosine'"):
        related_neighbours(_index(vectors), vectors, terms, 3, keyword_similarity="jaccard")


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


def _topics(n_topics, per_topic, dim=16, seed=0, spread=0.35):
    """Clustered unit vectors and matching term weights: each topic has its own centre and its own few words."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_topics, dim))
    topic = np.repeat(np.arange(n_topics), per_topic)
    vectors = _unit(centres[topic] + spread * rng.normal(size=(len(topic), dim)))
    terms = np.zeros((len(topic), n_topics * 4 + 20), dtype=np.float32)
    for i, t in enumerate(topic):
        terms[i, rng.choice(4, 2, replace=False) + 4 * t] = 1.0
        terms[i, n_topics * 4 + rng.choice(20, 3, replace=False)] = 0.5  # shared filler words
    return vectors, sp.csr_matrix(terms), topic


def _incremental(previous_vectors, previous_terms, vectors, terms, old_to_new, changed_old, k=8, **params):
    previous = related_neighbours(_index(previous_vectors), previous_vectors, previous_terms, k, **params)
    n = len(vectors)
    carried, stale = carry_over(previous, old_to_new, n, changed_old)
    changed = np.ones(n, dtype=bool)
    kept = np.flatnonzero(old_to_new >= 0)
    changed[old_to_new[kept]] = changed_old[kept]
    got = update_related(_index(vectors), vectors, terms, k, carried, changed, stale, **params)
    return previous, carried, stale, changed, got


def test_an_incremental_pass_recomputes_only_lists_near_the_changes_and_agrees_with_a_full_pass():
    vectors, terms, topic = _topics(12, 60, seed=1)  # 720 articles
    params = dict(candidates=40, context=20)
    n_old = 700  # the last 20 articles are new; articles 5, 6 deleted; 100's vector moved to another topic
    old_vectors, old_terms = vectors[:n_old].copy(), terms[:n_old]
    vectors = vectors.copy()
    vectors[100] = vectors[400]
    keep_old = np.setdiff1d(np.arange(n_old), [5, 6])
    new_rows = np.concatenate([keep_old, np.arange(n_old, len(vectors))])
    vectors, terms, topic = vectors[new_rows], terms[new_rows], topic[new_rows]
    old_to_new = np.full(n_old, -1)
    old_to_new[keep_old] = np.arange(len(keep_old))
    changed_old = np.zeros(n_old, dtype=bool)
    changed_old[100] = True
    terms = sp.csr_matrix(terms)
    previous, carried, stale, changed, got = _incremental(
        old_vectors, old_terms, vectors, terms, old_to_new, changed_old, **params
    )
    full = related_neighbours(_index(vectors), vectors, terms, 8, **params)
    n = len(vectors)
    assert got is not None and 21 <= got.recomputed < n * 0.3
    assert not (got.ids == np.arange(n)[:, None]).any()  # never self
    assert (got.ids >= 0).all()  # no dangling entry where a deleted article was
    # lists the changes cannot reach are the previous ones, renumbered
    entering = (vectors @ vectors[changed].T >= carried.floors[:, None]).any(axis=1)
    far = np.flatnonzero(~(changed | stale | entering))
    assert len(far) > n / 2
    np.testing.assert_array_equal(got.ids[far], carried.ids[far])
    # and the whole agrees with computing every list again: top-5 overlap, and the new articles enter old lists
    overlap = np.mean([len(set(a[:5]) & set(b[:5])) / 5 for a, b in zip(got.ids, full.ids)])
    assert overlap >= 0.95
    new = set(range(len(keep_old), n)) | {int(old_to_new[100])}
    listed_full = {(i, j) for i in range(n) for j in full.ids[i, :5] if j in new}
    listed_got = {(i, j) for i in range(n) for j in got.ids[i, :5] if j in new}
    assert len(listed_got & listed_full) >= 0.9 * len(listed_full) > 0
    # the moved article's lists follow it to its new topic
    assert np.mean(topic[got.ids[old_to_new[100], :5]] == topic[old_to_new[400]]) >= 0.8


def test_an_incremental_pass_with_no_changes_recomputes_nothing():
    vectors, terms, _ = _topics(10, 50, seed=2)
    identity = np.arange(len(vectors))
    previous, carried, stale, changed, got = _incremental(
        vectors, terms, vectors, terms, identity, np.zeros(len(vectors), dtype=bool), candidates=40, context=20
    )
    assert got.recomputed == 0 and not stale.any()
    for field in ("ids", "scores", "cosines", "dense_ids", "context_ids", "floors"):
        np.testing.assert_array_equal(getattr(got, field), getattr(previous, field))


def test_a_full_pass_is_due_when_changes_reach_many_lists_or_the_state_does_not_fit():
    vectors, terms, _ = _topics(4, 50, seed=3)  # 200 articles, 40 candidates: every new article is near a fifth
    shuffle = np.random.default_rng(0).permutation(200)  # the 20 new articles come from every topic
    vectors, terms = vectors[shuffle], terms[shuffle]
    n_old = 180
    old_to_new = np.arange(n_old)
    previous, carried, stale, changed, got = _incremental(
        vectors[:n_old], terms[:n_old], vectors, terms, old_to_new, np.zeros(n_old, dtype=bool),
        candidates=40, context=20,
    )
    assert got is None  # 20 new articles reach more than 30% of the lists
    # a different context width (the collection grew past a step) cannot reuse the stored contexts
    _, _, _, _, got = _incremental(
        vectors, terms, vectors, terms, np.arange(200), np.zeros(200, dtype=bool), candidates=40, context=20,
        context_share=0.05,
    )
    assert got is not None
    carried_wrong, stale = carry_over(previous, old_to_new, len(vectors), np.zeros(n_old, dtype=bool))
    assert update_related(_index(vectors), vectors, terms, 8, carried_wrong, np.zeros(200, bool), stale,
                          candidates=40, context=20, context_share=0.1) is None


def test_pair_cosines_sum_a_term_listed_twice_in_a_row_and_take_rows_by_number():
    # row 0 lists column 1 twice (0.6 + 0.2): a scatter that kept only the last would lose 0.6
    duplicated = sp.csr_matrix(
        (np.array([0.6, 0.2, 1.0, 0.8], dtype=np.float32), np.array([1, 1, 0, 1]), np.array([0, 2, 3, 4])),
        shape=(3, 2),
    )
    assert not duplicated.has_canonical_format
    got = pair_cosines(duplicated, np.array([[2, 1]]), rows=np.array([0]))
    np.testing.assert_allclose(got, [[0.8 * 0.8, 0.0]], atol=1e-6)


def test_the_dense_part_is_fused_on_the_models_calibrated_scale():
    """Under multilingual-e5 (unrelated texts at ~0.80) a candidate far closer by meaning (0.98 against 0.82) ranks
    first although it shares fewer words; on the raw cosines the 0.16 gap moved the fused score too little."""
    s1, s2 = np.sqrt(1 - 0.98**2), np.sqrt(1 - 0.82**2)
    vectors = np.array([[1, 0, 0], [0.98, s1, 0], [0.82, 0, s2]], dtype=np.float32)
    terms = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 4, 0], [1, 1, 0, 1]], dtype=np.float32))
    kwargs = dict(candidates=2, context_weight=0.0)
    raw = related_neighbours(_index(vectors), vectors, terms, 2, **kwargs)
    e5 = related_neighbours(_index(vectors), vectors, terms, 2, unrelated=0.80, **kwargs)
    assert raw.ids[0].tolist() == [2, 1] and e5.ids[0].tolist() == [1, 2]
    np.testing.assert_allclose(e5.cosines[0], [0.98, 0.82], atol=1e-6)  # the listed cosines stay the model's own
    np.testing.assert_allclose(calibrated(np.array([0.8, 0.9, 1.0]), 0.8), [0.0, 0.5, 1.0], atol=1e-6)
    assert calibrated(raw.cosines, 0.0) is raw.cosines  # MiniLM's as they are


def test_the_calibration_is_a_build_parameter_only_for_a_model_that_needs_it():
    assert "unrelated_cosine" not in build_parameters({}, 0.8)["related"]  # English versions keep their parameters
    assert build_parameters({}, 0.96, 0.80)["related"]["unrelated_cosine"] == 0.80  # a change: a full related pass
