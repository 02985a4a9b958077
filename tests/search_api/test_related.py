"""The related-posts policy over small hand-made candidate lists, then the same rules through the real engine."""

from datetime import date

import numpy as np
import pytest

from indexer.editorial import Curation
from search_api.related.policy import Pin, RelatedRules, select_related

# Six articles; 2 and 3 are near-duplicates of each other (group 2). Candidates of source 0, best first.
GROUP = np.array([0, 1, 2, 2, 4, 5])
ROWS = np.array([1, 2, 3, 4, 5])
SIMS = np.array([0.9, 0.8, 0.79, 0.5, 0.2], dtype=np.float32)
OFF = RelatedRules(min_similarity=-1.0)


def pick(rows=ROWS, sims=SIMS, k=5, rules=OFF, **kw):
    return [p.row for p in select_related(rows, sims, k, rules, group=GROUP, source=kw.pop("source", 0), **kw)]


def test_walks_best_first_and_keeps_one_member_per_duplicate_group():
    assert pick() == [1, 2, 4, 5]


@pytest.mark.parametrize(
    ("rows", "source", "expected"),
    [
        ([0, 2, 3, 1], 0, [2, 1]),  # a live search finds the source itself first
        ([2, 3, 1, 4], 2, [1, 4]),  # 3 is the same story as the source
        ([0, 2, 3, 1], None, [0, 2, 1]),  # a draft has no source, only duplicate groups
    ],
)
def test_never_the_source_nor_its_near_duplicates(rows, source, expected):
    assert pick(np.array(rows), np.array([1.0, 0.9, 0.85, 0.5]), source=source) == expected


def test_padding_rows_are_ignored():
    assert pick(np.array([4, -1, -1]), np.array([0.5, -np.inf, -np.inf])) == [4]


@pytest.mark.parametrize(
    ("floor", "expected"),
    [(-1.0, [1, 2, 4, 5]), (0.5, [1, 2, 4]), (0.85, [1]), (0.95, [])],
)
def test_below_the_floor_means_fewer_items_never_padding(floor, expected):
    assert pick(rules=RelatedRules(min_similarity=floor)) == expected


def test_similarity_reported_is_the_raw_cosine():
    picked = select_related(ROWS, SIMS, 2, OFF, group=GROUP, source=0)
    assert [(p.row, p.similarity, p.pinned) for p in picked] == [(1, pytest.approx(0.9), False), (2, pytest.approx(0.8), False)]


def test_k_limits_and_k_below_one_is_empty():
    assert pick(k=2) == [1, 2]
    assert pick(k=0) == []


AGES = np.array([730.0, np.nan, 10.0, 400.0, 0.0])  # per candidate; NaN = undated


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (RelatedRules(min_similarity=-1, max_age_days=365), [2, 5]),  # 730 and 400 days old dropped, undated kept
        # 0.9 × 2^-2 = 0.225 now ranks below 0.8 (undated: not decayed) and 0.5 × 2^-1.1 = 0.234
        (RelatedRules(min_similarity=-1, half_life_days=365), [2, 4, 1, 5]),
        (RelatedRules(min_similarity=-1, half_life_days=365, max_age_days=500), [2, 4, 5]),
    ],
)
def test_recency_drops_or_decays_old_candidates(rules, expected):
    assert pick(rules=rules, age_days=AGES) == expected


def test_recency_rules_without_dates_change_nothing():
    assert pick(rules=RelatedRules(min_similarity=-1, half_life_days=30, max_age_days=30)) == [1, 2, 4, 5]


def test_the_floor_applies_to_the_cosine_not_the_decayed_score():
    rules = RelatedRules(min_similarity=0.7, half_life_days=1)
    assert pick(rules=rules, age_days=np.full(5, 100.0)) == [1, 2]


@pytest.mark.parametrize(("boost", "expected"), [(0.0, [1, 2, 4, 5]), (0.15, [2, 1, 4, 5]), (0.45, [2, 4, 1, 5])])
def test_same_category_boost(boost, expected):
    same = np.array([False, True, True, True, False])
    assert pick(rules=RelatedRules(min_similarity=-1, same_category_boost=boost), same_category=same) == expected


def test_closed_calls_are_dropped_only_when_asked():
    closed = np.array([True, False, True, False, False])  # per candidate: rows 1 and 3 are calls that have closed
    assert pick(closed=closed) == [1, 2, 4, 5]
    assert pick(rules=RelatedRules(min_similarity=-1, hide_closed_calls=True), closed=closed) == [2, 4, 5]  # 1 goes
    # a closed call's open near-duplicate may take its place; without the per-candidate facts nothing is dropped
    assert pick(rules=RelatedRules(min_similarity=-1, hide_closed_calls=True), closed=~closed) == [1, 3]
    assert pick(rules=RelatedRules(min_similarity=-1, hide_closed_calls=True)) == [1, 2, 4, 5]


def test_other_languages_are_dropped_only_when_asked():
    other = np.array([False, True, False, False, True])  # per candidate: rows 2 and 5 are in another language
    assert pick(other_language=other) == [1, 2, 4, 5]
    # 2 goes and its near-duplicate 3, in the source's language, takes its place; 5 goes
    assert pick(rules=RelatedRules(min_similarity=-1, same_language=True), other_language=other) == [1, 3, 4]
    assert pick(rules=RelatedRules(min_similarity=-1, same_language=True)) == [1, 2, 4, 5]  # language unknown


def test_mmr_trades_relevance_for_diversity():
    # 1 and 4 say nearly the same thing; 5 is less similar to the source but new
    vecs = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows, sims = np.array([1, 4, 5]), np.array([0.9, 0.88, 0.6])
    assert pick(rows, sims, rules=RelatedRules(min_similarity=-1, mmr_lambda=1.0), vectors=vecs) == [1, 4, 5]
    assert pick(rows, sims, rules=RelatedRules(min_similarity=-1, mmr_lambda=0.5), vectors=vecs) == [1, 5, 4]


def test_excluding_an_article_also_hides_its_near_duplicates():
    assert pick(excluded=[2]) == [1, 4, 5]
    assert pick(excluded=[3, 5]) == [1, 4]


@pytest.mark.parametrize(
    ("pins", "k", "expected"),
    [
        ([Pin(5, 1, 0.2)], 3, [5, 1, 2]),
        ([Pin(5, 2, 0.2)], 3, [1, 5, 2]),
        ([Pin(5, 9, 0.2)], 3, [1, 2, 5]),  # a position past the end is the end
        ([Pin(3, 1, 0.79)], 3, [3, 1]),  # the pin's near-duplicate 2 is not shown beside it
        ([Pin(4, 2, 0.5), Pin(5, 1, 0.2), Pin(1, 3, 0.9)], 2, [5, 4]),  # more pins than room: by position
    ],
)
def test_pins_take_their_positions_whatever_the_rules(pins, k, expected):
    assert pick(k=k, pins=pins, rules=RelatedRules(min_similarity=0.7)) == expected


def test_pinned_items_are_marked_and_keep_their_similarity():
    picked = select_related(ROWS, SIMS, 2, RelatedRules(min_similarity=0.95), group=GROUP, source=0, pins=[Pin(5, 1, 0.2)])
    assert [(p.row, p.similarity, p.pinned) for p in picked] == [(5, pytest.approx(0.2), True)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_similarity": 1.5}, "min_similarity must be within"),
        ({"mmr_lambda": -0.1}, r"mmr_lambda must be within \[0, 1\] \(1 turns MMR off\)"),
        ({"half_life_days": 0}, "half_life_days must be positive, or None"),
        ({"max_age_days": -3}, "max_age_days must be positive, or None"),
        ({"same_category_boost": 2}, "same_category_boost must be within"),
    ],
)
def test_bad_rules(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RelatedRules(**kwargs)


# -- through the engine -----------------------------------------------------------------------------------------
def test_default_floor_returns_fewer_rather_than_junk(tiny_engine):
    everything = tiny_engine.related("t02", k=11, rules=OFF).items
    served = tiny_engine.related("t02", k=11, rules=RelatedRules()).items
    floor = RelatedRules().min_similarity
    assert [i.id for i in served] == [i.id for i in everything if i.score >= floor]
    assert len(served) < len(everything)
    assert tiny_engine.related("t02", k=5, rules=RelatedRules(min_similarity=0.99)).items == []


def test_every_item_says_why_it_is_related(tiny_engine):
    items = tiny_engine.related("t11", k=3).items
    assert items[0].id == "t03"
    assert all(0 < len(i.reason) <= 120 for i in items)
    assert items[0].reason == "Both mention coastal"  # "grant" is in too many of the 12 articles to tell


def test_pins_and_excludes_apply_to_a_served_list(tiny_engine):
    plain = [i.id for i in tiny_engine.related("t11", k=3, rules=OFF).items]
    curation = Curation(pins=(("t02", 2),), excludes=frozenset({plain[0]}))
    curated = tiny_engine.related("t11", k=3, rules=OFF, curation=curation).items
    assert [i.id for i in curated] == [plain[1], "t02", plain[2]]
    assert curated[1].pinned and curated[1].reason == "Chosen by the editors"
    assert not curated[0].pinned and curated[0].reason != "Chosen by the editors"
    # a pin shows its true similarity, however low
    vector = tiny_engine.article_index.reconstruct
    assert curated[1].score == pytest.approx(float(vector(1) @ vector(10)), abs=1e-5)  # rows of t02 and t11


def test_curation_naming_articles_outside_the_version_is_skipped(tiny_engine):
    curated = tiny_engine.related("t11", k=2, curation=Curation(pins=(("gone", 1), ("t11", 1)), excludes=frozenset({"gone"})))
    assert [i.id for i in curated.items] == [i.id for i in tiny_engine.related("t11", k=2).items]


def test_draft_items_are_explained_too(tiny_engine):
    items = tiny_engine.related_to_text("Cocoa harvest children rescued", "Police in Ghana freed children on cocoa farms.", k=1).items
    assert items[0].id == "t01" and "cocoa" in items[0].reason


def test_a_closed_call_leaves_related_lists_only_under_the_rule(tiny_engine):
    # t03 is the tiny corpus's only call; it closed on 15 March 2026
    lists = {aid: [i.id for i in tiny_engine.related(aid, k=11).items] for aid in tiny_engine.articles["id"] if aid != "t03"}
    assert all("t03" in ids for ids in lists.values())  # every other article lists it somewhere, floor off
    hidden = RelatedRules(min_similarity=-1.0, hide_closed_calls=True)
    for aid, ids in lists.items():
        shown = [i.id for i in tiny_engine.related(aid, k=11, rules=hidden).items]
        assert shown == [i for i in ids if i != "t03"]  # only the closed call goes; the rest keep their order
    item = next(i for i in tiny_engine.related("t04", k=11).items if i.id == "t03")
    assert (item.deadline, item.deadline_passed) == (date(2026, 3, 15), True)


def test_rules_come_from_the_environment(monkeypatch):
    from search_api.settings import Settings

    assert Settings().related_rules() == RelatedRules()
    for name, value in [("MIN_SIMILARITY", "0.4"), ("MMR_LAMBDA", "0.8"), ("HALF_LIFE_DAYS", "180"),
                        ("MAX_AGE_DAYS", "730"), ("SAME_CATEGORY_BOOST", "0.05"), ("HIDE_CLOSED_CALLS", "true")]:
        monkeypatch.setenv(f"SIFT_RELATED_{name}", value)
    assert Settings().related_rules() == RelatedRules(
        min_similarity=0.4, mmr_lambda=0.8, half_life_days=180, max_age_days=730, same_category_boost=0.05,
        hide_closed_calls=True,
    )
    monkeypatch.setenv("SIFT_RELATED_MMR_LAMBDA", "1.5")
    with pytest.raises(ValueError, match="related_mmr_lambda"):
        Settings()
