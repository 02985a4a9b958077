"""The search path's stages one at a time, on a hand-made catalogue of six articles (no model, no index): query
understanding, filter masks, near-duplicate collapse, ordering and facets. The engine tests check them wired."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from indexer.errors import InvalidQuery
from search_api.catalogue import NO_DEADLINE, Catalogue
from search_api.presentation.facets import facets
from search_api.query.plan import check_request, understand
from search_api.query.spelling import Speller
from search_api.query.synonyms import Synonyms, parse_synonyms
from search_api.ranking.collapse import collapse, one_each
from search_api.ranking.filters import filter_mask, window_mask
from search_api.ranking.ordering import browse_order, in_order, relevant
from search_api.ranking.params import RankingParams
from search_api.ranking.ranker import Candidate
from search_api.query.syntax import time_window
from search_api.schemas import Filters

TODAY = date(2026, 12, 5)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    rows = [  # id, published, categories, country codes, regions, group, deadlines
        ("a", "2026-12-04T09:00:00+00:00", ["Grants"], ["KEN"], [], 0, ["2026-12-20"]),
        ("b", "2026-11-02T09:00:00+00:00", ["News"], ["SEN"], ["West Africa"], 1, []),
        ("c", "2026-12-01T09:00:00+00:00", ["News"], ["SEN"], [], 1, []),  # b's near-duplicate
        ("d", None, ["grants"], [], ["Asia"], 3, ["2026-10-01"]),  # undated; its call has closed
        ("e", "2025-06-30T23:00:00+00:00", ["News"], ["NPL"], [], 4, []),
        ("f", "2026-12-03T09:00:00+00:00", ["Grants"], ["KEN"], [], 5, ["2027-01-10", "2026-12-10"]),
    ]
    frame = pd.DataFrame(
        [{"id": i, "title": f"Title {i}", "url": None, "published_at": p, "categories": cats, "countries": [],
          "country_codes": codes, "regions": regions, "group": g, "deadlines": sorted(days)}
         for i, p, cats, codes, regions, g, days in rows]
    )
    return Catalogue(frame, chunk_article=np.array([0, 0, 1, 2, 3, 4, 5, 5]))


def _rows(mask) -> list[str]:
    return [chr(ord("a") + i) for i in np.flatnonzero(mask)]


def _groups(rows: list[int], scores: list[float] | None = None):
    scores = scores or [1.0 - 0.1 * n for n in range(len(rows))]
    return [(Candidate(r, s), []) for r, s in zip(rows, scores)]


def test_the_catalogue_reads_passages_deadlines_and_years(catalogue):
    assert list(catalogue.passages(0)) == [0, 1] and list(catalogue.passages(5)) == [6, 7]
    assert catalogue.position["d"] == 3 and catalogue.group_members[1] == [1, 2]
    assert catalogue.year.tolist() == [2026, 2026, 2026, 0, 2025, 2026]
    assert catalogue.deadline(5, TODAY) == (date(2026, 12, 10), False)  # the next of two
    assert catalogue.deadline(5, date(2027, 2, 1)) == (date(2027, 1, 10), True)  # the last, passed
    assert catalogue.deadline(3, TODAY) == (date(2026, 10, 1), True) and catalogue.deadline(1, TODAY) == (None, None)
    assert catalogue.calls_closed(TODAY).tolist() == [False, False, False, True, False, False]
    assert catalogue.next_deadlines(TODAY)[[1, 3]].tolist() == [NO_DEADLINE, NO_DEADLINE]


def test_filter_masks_combine_and_name_what_is_wrong(catalogue):
    assert filter_mask(catalogue, Filters(), TODAY) is None  # no filter: no mask to apply
    assert _rows(filter_mask(catalogue, Filters(categories=[" GRANTS "]), TODAY)) == ["a", "d", "f"]
    assert _rows(filter_mask(catalogue, Filters(countries=["Kenya"]), TODAY)) == ["a", "f"]
    # a region holds the articles tagged with it and those naming one of its countries
    assert _rows(filter_mask(catalogue, Filters(regions=["West Africa"]), TODAY)) == ["b", "c"]
    assert _rows(filter_mask(catalogue, Filters(calls="open"), TODAY)) == ["a", "f"]
    assert _rows(filter_mask(catalogue, Filters(calls="closed"), TODAY)) == ["d"]
    dated = Filters(date_from=date(2026, 12, 1), date_to=date(2026, 12, 3))
    assert _rows(filter_mask(catalogue, dated, TODAY)) == ["c", "f"]  # both ends inclusive; undated never
    both = Filters(categories=["News"], date_from=date(2026, 1, 1))
    assert _rows(filter_mask(catalogue, both, TODAY)) == ["b", "c"]
    with pytest.raises(InvalidQuery, match="unknown country 'Atlantis'"):
        filter_mask(catalogue, Filters(countries=["Atlantis"]), TODAY)
    with pytest.raises(InvalidQuery, match="is after"):
        filter_mask(catalogue, Filters(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1)), TODAY)


def test_a_time_span_keeps_what_was_published_within_it(catalogue):
    week = time_window("floods this week", TODAY)  # Monday 30 November to today
    assert _rows(window_mask(catalogue, week, None)) == ["a", "c", "f"]
    assert _rows(window_mask(catalogue, week, filter_mask(catalogue, Filters(countries=["KEN"]), TODAY))) == ["a", "f"]


def test_collapse_keeps_the_best_ranked_member_and_lists_the_eligible_others(catalogue):
    ranked = [Candidate(2, 0.9), Candidate(0, 0.8), Candidate(1, 0.7), Candidate(4, 0.6)]
    assert [(c.article, others) for c, others in collapse(ranked, catalogue, None)] == [(2, [1]), (0, []), (4, [])]
    only_c = np.array([False, False, True, True, True, True])
    assert [(c.article, o) for c, o in collapse(ranked, catalogue, only_c)][0] == (2, [])  # b is not eligible
    assert len(collapse(ranked, catalogue, None, limit=2)) == 2
    assert [c.article for c, _ in one_each(ranked)] == [2, 0, 1, 4] and len(one_each(iter(ranked), 3)) == 3


def test_relevant_results_are_those_near_the_best_score():
    params = RankingParams(facet_share=0.5, facet_depth=4)
    groups = _groups([0, 1, 2, 3, 4], [1.0, 0.7, 0.5, 0.2, 0.9])
    assert [c.article for c, _ in relevant(groups, params)] == [0, 1, 2]  # in rank order, cut at the first below half
    # the fused score ("relevance") is what is measured, not late interaction's lifted score
    lifted = [(Candidate(0, 2.0, relevance=0.4), []), (Candidate(1, 1.0, relevance=0.3), [])]
    assert len(relevant(lifted, params)) == 2
    assert relevant(_groups([0, 1], [0.0, 0.0]), params) == _groups([0, 1], [0.0, 0.0])  # nothing scores: the top


def test_orders_by_relevance_date_and_deadline(catalogue):
    groups = _groups([3, 4, 1, 0, 5])
    assert in_order(groups, groups[:2], "relevance", catalogue, TODAY) == groups
    by_date = [c.article for c, _ in in_order(groups, groups, "date", catalogue, TODAY)]
    assert by_date == [0, 5, 1, 4, 3]  # newest first, undated last
    by_deadline = [c.article for c, _ in in_order(groups, groups, "deadline", catalogue, TODAY)]
    assert by_deadline == [5, 0, 3, 4, 1]  # soonest open deadline first, then the rest in rank order


def test_browsing_lists_the_eligible_newest_first_or_by_deadline(catalogue):
    assert _names(browse_order(catalogue, None, "date", TODAY)) == ["a", "f", "c", "b", "e", "d"]
    assert _names(browse_order(catalogue, None, "deadline", TODAY)) == ["f", "a", "c", "b", "e", "d"]
    news = filter_mask(catalogue, Filters(categories=["News"]), TODAY)
    assert _names(browse_order(catalogue, news, "date", TODAY)) == ["c", "b", "e"]


def _names(rows) -> list[str]:
    return [chr(ord("a") + int(r)) for r in rows]


def test_facets_count_the_given_rows(catalogue):
    counted = facets(catalogue, [0, 3, 4, 5], TODAY, most=2)
    assert counted.counted == 4
    assert [(v.value, v.count) for v in counted.categories] == [("Grants", 2), ("News", 1)]  # at most `most`
    assert [(v.value, v.count) for v in counted.years] == [("2026", 2), ("2025", 1)]  # newest first; undated not
    assert {v.value: v.count for v in counted.calls} == {"open": 2, "closed": 1}


def _plan(query: str, **options):
    defaults = dict(filters=None, sort=None, spellcheck=False, speller=None, synonyms=Synonyms(), today=TODAY)
    return understand(check_request(query, k=10, offset=0, mode="hybrid", sort=options.get("sort"), floor=0.3),
                      **{**defaults, **options})


def test_the_plan_reads_intents_off_the_ends_and_keeps_the_rest_to_rank():
    plan = _plan("latest news on  floods in Kenya this week")
    assert plan.typed == "latest news on floods in Kenya this week"
    assert (plan.text, plan.sort, plan.browse) == ("floods in Kenya", "date", False)
    assert plan.places.countries == ("KEN",) and plan.places.residual == "floods"
    assert plan.asked()["recency"] == "latest news on" and plan.asked()["time_window"].date_from == date(2026, 11, 30)
    calls = _plan("open calls for girls' education closing soon")
    assert calls.sort == "deadline" and calls.filters.calls == "open" and calls.text == "girls' education"
    assert calls.asked()["calls"] == "open calls for … closing soon"
    assert _plan("open calls", filters=Filters(calls="closed")).filters.calls == "closed"  # the request's wins
    assert _plan("cholera", sort="date").sort == "date"


def test_the_plan_browses_when_nothing_is_left_to_rank():
    assert _plan("latest news").browse and _plan("what's the latest").browse and _plan("news this week").browse
    assert not _plan("latest news on Kenya").browse  # a place is something to rank by
    assert not _plan('latest "news"').browse  # a quoted phrase is the reader's own text
    with pytest.raises(InvalidQuery, match="only excludes"):
        _plan("-sport")
    with pytest.raises(InvalidQuery, match="at most 5 quoted phrases"):
        _plan(" ".join(f'"w{n} x"' for n in range(6)))


def test_the_plan_reads_requests_in_french_spanish_and_portuguese():
    plan = _plan("dernières nouvelles sur les inondations au Sénégal cette semaine")
    assert (plan.language, plan.text, plan.sort, plan.browse) == ("fr", "les inondations au Sénégal", "date", False)
    assert plan.places.countries == ("SEN",) and plan.asked()["time_window"].date_from == date(2026, 11, 30)
    calls = _plan("editais abertos para projetos de água")
    assert (calls.text, calls.sort, calls.filters.calls) == ("projetos de água", "deadline", "open")
    # only asking: the eligible articles (or open calls) are listed
    assert _plan("dernières nouvelles").browse and _plan("noticias de hoy").browse
    assert _plan("convocatorias abiertas").browse and _plan("convocatorias abiertas").filters.calls == "open"
    # every language's words are read whatever the query's language is told to be: the names make this one French
    english = _plan("latest news on Côte d'Ivoire élections")
    assert english.language == "fr" and english.asked()["recency"] == "latest news on"


def test_the_plan_corrects_spelling_and_adds_synonyms():
    vocabulary = {"traffick": ["trafficking"], "child": ["child"]}
    speller = Speller(lambda: vocabulary, lambda stem: 5 if stem in vocabulary else 0,
                      lambda stem: {w: 1 for w in vocabulary.get(stem, [stem])})
    plan = _plan("latest child trafficing", spellcheck=True, speller=speller)
    assert plan.text == "child trafficking" and plan.searched == "latest child trafficking"
    assert plan.correction.words == (("trafficing", "trafficking"),)
    assert _plan("child trafficing", speller=speller).correction is None  # spellcheck off
    synonyms = parse_synonyms("IDPs, internally displaced people")
    assert _plan("IDPs in camps", synonyms=synonyms).synonyms == ("internally displaced people",)


@pytest.mark.parametrize(("options", "message"), [
    (dict(query="  "), "the query is empty"), (dict(k=0), "k must be"), (dict(offset=-1), "k must be"),
    (dict(mode="fuzzy"), "unknown mode"), (dict(sort="title"), "unknown sort"), (dict(floor=1.5), "floor must be"),
])
def test_requests_are_checked_before_anything_runs(options, message):
    request = dict(query="floods", k=10, offset=0, mode="hybrid", sort=None, floor=0.3) | options
    with pytest.raises(InvalidQuery, match=message):
        check_request(request.pop("query"), **request)
