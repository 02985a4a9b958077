import pytest

from search_api.ranking.fusion import convex, fuse, min_max, rrf, tm2c2


def test_min_max_scales_to_unit_range_and_handles_ties():
    assert min_max({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert min_max({7: 3.3, 8: 3.3}) == {7: 1.0, 8: 1.0}
    assert min_max({}) == {}


def test_convex_weights_the_legs_and_scores_absent_items_zero():
    dense = {1: 0.9, 2: 0.5, 3: 0.7}
    keyword = {2: 12.0, 4: 6.0}
    fused = convex(dense, keyword, 0.5)
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.25, 4: 0.0})
    assert convex(dense, keyword, 1.0) == pytest.approx({1: 1.0, 2: 0.0, 3: 0.5, 4: 0.0})
    assert convex(dense, keyword, 0.0) == pytest.approx({1: 0.0, 2: 1.0, 3: 0.0, 4: 0.0})


def test_tm2c2_keeps_cosines_and_divides_bm25_by_its_best():
    dense = {1: 0.6, 2: 0.4, 3: 0.5}
    keyword = {1: 0.0, 2: 8.0, 3: 2.0}
    fused = tm2c2(dense, keyword, 0.75)
    # 0.75 * cosine + 0.25 * bm25 / 8
    assert fused == pytest.approx({1: 0.45, 2: 0.55, 3: 0.4375})
    # unlike min-max, a weak list keeps its weakness: cosines 0.31 / 0.30 are not stretched to 1 / 0
    assert tm2c2({1: 0.31, 2: 0.30}, {2: 1.0}, 0.5) == pytest.approx({1: 0.155, 2: 0.65})
    assert convex({1: 0.31, 2: 0.30}, {2: 1.0}, 0.5) == pytest.approx({1: 0.5, 2: 0.5})


def test_tm2c2_scores_a_missing_leg_at_its_lower_bound():
    assert tm2c2({1: 0.5}, {2: 4.0}, 0.5) == pytest.approx({1: 0.25, 2: 0.0})
    assert tm2c2({1: 0.5}, {}, 0.5) == pytest.approx({1: 0.25})
    assert fuse({1: 0.5}, {1: 2.0}, method="tm2c2", weight=0.5) == pytest.approx({1: 0.75})


def test_rrf_sums_reciprocal_ranks():
    fused = rrf({1: 0.9, 2: 0.8}, {2: 5.0, 3: 4.0}, k=60)
    assert fused == pytest.approx({1: 1 / 61, 2: 1 / 62 + 1 / 61, 3: 1 / 62})
    assert max(fused, key=fused.get) == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: convex({}, {}, 1.5), "fusion weight must be within"),
        (lambda: rrf({}, {}, 0), "RRF k must be at least 1"),
        (lambda: fuse({}, {}, method="max"), "unknown fusion method 'max'"),
    ],
)
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unread_items_have_their_cosine_over_the_best_of_theirs_as_keyword_share():
    # articles 2 and 3 are in another language than the question: BM25's silence there says nothing about them
    dense, keyword = {1: 0.5, 2: 0.6, 3: 0.3}, {1: 3.0, 2: 0.0, 3: 0.0}
    assert tm2c2(dense, keyword, 0.75) == pytest.approx({1: 0.625, 2: 0.45, 3: 0.225})
    read_as_stand_in = {1: 0.625, 2: 0.75 * 0.6 + 0.25 * 1.0, 3: 0.75 * 0.3 + 0.25 * 0.5}
    assert tm2c2(dense, keyword, 0.75, unread={2, 3}) == pytest.approx(read_as_stand_in)
    assert fuse(dense, keyword, method="tm2c2", weight=0.75, unread={2, 3}) == pytest.approx(read_as_stand_in)
    # a negative cosine stands in as 0; every article unread: a ranking by meaning
    assert tm2c2({1: -0.2, 2: 0.4}, {}, 0.5, unread={1, 2}) == pytest.approx({1: -0.1, 2: 0.7})
    # min-max: the dense leg's min-max over the unread stands in for theirs
    assert fuse({1: 0.5, 2: 0.6, 3: 0.4}, {1: 3.0, 3: 1.0}, method="convex", weight=0.5, unread={2, 3}) == pytest.approx(
        {1: 0.5 * 0.5 + 0.5 * 1.0, 2: 0.5 * 1.0 + 0.5 * 1.0, 3: 0.0})
