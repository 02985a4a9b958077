import re
from datetime import date

import numpy as np
import pytest

from indexer.errors import ArticleNotFound, InvalidQuery
from search_api.schemas import Filters


def ids(results):
    return [h.id for h in results.hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mangrove restoration grant", "t11"),
        ("boreholes for schools", "t04"),
        ("debt bondage on trawlers", "t10"),
        ("feel good story about a generous prize winner", "t02"),  # meaning, not shared words
        ("people escaping detention in North Africa", "t09"),
    ],
)
def test_top_hit(tiny_engine, query, expected):
    assert ids(tiny_engine.search(query, k=3))[0] == expected


def test_each_article_appears_once_with_its_best_passage(sample_engine):
    results = sample_engine.search("grants for community groups", k=30)
    assert len(ids(results)) == len(set(ids(results))) == 30
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h.snippet for h in results.hits)


def test_paging_is_consistent(tiny_engine):
    full = ids(tiny_engine.search("funding", k=12))
    assert ids(tiny_engine.search("funding", k=5, offset=5)) == full[5:10]
    assert ids(tiny_engine.search("funding", k=5, offset=10)) == full[10:]
    assert tiny_engine.search("funding", k=5, offset=50).hits == []


def test_category_filter_returns_every_member_however_far_down(tiny_engine):
    # an off-topic query on purpose (floor=0 lists what it finds however weak): the filter, not the ranking, decides
    results = tiny_engine.search("stock market rally", k=10, filters=Filters(categories=["funding opportunities"]),
                                 floor=0)
    assert sorted(ids(results)) == ["t03", "t11"]
    assert results.eligible == 2


def test_narrow_filter_on_a_large_index_is_not_starved(sample_engine):
    # a rare category with an off-topic query: its articles rank low overall, yet all must come back
    members = [i for i, cats in enumerate(sample_engine.articles["categories"]) if "WASH" in list(cats)]
    results = sample_engine.search("football transfer news", k=100, filters=Filters(categories=["WASH"]), floor=0)
    assert len(results.hits) == len(members) == results.eligible >= 5


def test_date_filter_is_inclusive(tiny_engine):
    got = ids(tiny_engine.search("news", k=20, filters=Filters(date_from=date(2025, 3, 3), date_to=date(2025, 10, 5)),
                                 floor=0))  # "news" matches nothing well: floor=0 lists every article in range
    assert sorted(got) == ["t04", "t08", "t12"]


def test_filters_combine(tiny_engine):
    f = Filters(categories=["Health"], date_from=date(2025, 1, 1))
    assert ids(tiny_engine.search("clinic", k=10, filters=f)) == ["t08"]


@pytest.mark.parametrize(
    ("query", "filters", "message"),
    [
        ("   ", None, "the query is empty"),
        ("x", Filters(date_from=date(2025, 2, 1), date_to=date(2025, 1, 1)), "date_from 2025-02-01 is after date_to"),
    ],
)
def test_invalid_queries(tiny_engine, query, filters, message):
    with pytest.raises(InvalidQuery, match=message):
        tiny_engine.search(query, filters=filters)


def test_unknown_category_matches_nothing(tiny_engine):
    results = tiny_engine.search("water", filters=Filters(categories=["Sport"]))
    assert (results.eligible, results.hits) == (0, [])


def test_related_never_returns_the_article_itself(tiny_engine):
    for article_id in tiny_engine.articles["id"]:
        items = tiny_engine.related(article_id, k=11).items
        assert article_id not in [i.id for i in items]
        assert len(items) == 11


def test_related_finds_the_topical_neighbour(tiny_engine):
    # Two grant calls on climate / coasts belong together
    assert tiny_engine.related("t11", k=1).items[0].id == "t03"


def test_related_for_unknown_id(tiny_engine):
    with pytest.raises(ArticleNotFound, match="'nope' is not in the index"):
        tiny_engine.related("nope")


def test_related_for_a_draft(tiny_engine):
    results = tiny_engine.related_to_text("Rescued from cocoa plantations", "Boys and girls were freed in Ghana.", k=2)
    assert results.article_id is None and results.items[0].id == "t01"
    with pytest.raises(InvalidQuery):
        tiny_engine.related_to_text(" ", "")


def test_article_and_stats(tiny_engine):
    info = tiny_engine.article("t08")
    assert info.categories == ["Climate and Environment", "Health"] and info.countries == ["Kenya"]
    stats = tiny_engine.stats()
    assert (stats.articles, stats.chunks, stats.dim) == (12, 12, 384)
    assert stats.categories["Funding Opportunities"] == 2
    assert stats.oldest.date() == date(2024, 3, 30) and stats.newest.date() == date(2026, 2, 14)


def test_complete_legs_score_every_candidate_on_both_legs(sample_engine):
    query = "cholera vaccination campaign after floods"
    vec = sample_engine.encoder.encode_query(query)
    dense, keyword = sample_engine.legs(query, 5, query_vec=vec)
    full_dense, full_keyword = sample_engine.legs(query, 5, query_vec=vec, complete=True)
    assert full_dense.keys() == full_keyword.keys() == dense.keys() | keyword.keys()
    bm25 = sample_engine.keyword.scores(query)
    for art in full_dense:
        assert full_keyword[art] == pytest.approx(float(bm25[art]))
        # the best passage's cosine, computed exactly, whichever leg found the article
        rows = np.flatnonzero(sample_engine.chunk_article == art)
        cosines = sample_engine.chunk_index.reconstruct(rows.astype(np.int64)) @ vec
        assert full_dense[art][0] == pytest.approx(float(cosines.max()), abs=1e-5)
        assert full_dense[art][1] == rows[int(np.argmax(cosines))]


def test_a_version_published_with_chunks_parquet_still_serves_the_same_snippets(
    tiny_index, tiny_engine, embedder, tmp_path
):
    import json
    import shutil

    import pyarrow as pa

    from indexer.publish import sha256_file
    from search_api.engine import Engine

    old = tmp_path / "idx"
    shutil.copytree(tiny_index, old)
    version = next((old / "versions").iterdir())
    passages = pa.ipc.open_file(pa.memory_map(str(version / "passages.arrow"))).read_all().to_pandas()
    passages.to_parquet(version / "chunks.parquet", index=False)  # as versions before passages.arrow held them
    (version / "passages.arrow").unlink()
    manifest = json.loads((version / "manifest.json").read_text())
    del manifest["files"]["passages.arrow"]
    manifest["files"]["chunks.parquet"] = sha256_file(version / "chunks.parquet")
    (version / "manifest.json").write_text(json.dumps(manifest))
    engine = Engine.open(old, embedder)
    assert isinstance(engine.chunk_text, list)
    query = "mangrove restoration grant"
    got, want = engine.search(query, k=5), tiny_engine.search(query, k=5)
    assert [(h.id, h.snippet) for h in got.hits] == [(h.id, h.snippet) for h in want.hits]


def _expected_facets(hits, share=0.5, measured=None):
    """Facet counts computed the long way, from a page of hits holding every result the facets may count;
    `measured` ({article id: score}) when the cut reads other scores than the hits show (hybrid: without late
    interaction's bonus)."""
    from collections import Counter

    score = (lambda h: measured[h.id]) if measured else (lambda h: h.score)
    best = max(score(h) for h in hits)
    counted = hits[: sum(score(h) >= share * best for h in hits)]  # as many as pass, in served order
    tally = {name: Counter() for name in ("categories", "countries", "regions", "years")}
    for h in counted:
        tally["categories"].update(set(h.categories))
        tally["countries"].update(set(h.countries))
        tally["regions"].update(set(h.regions))
        if h.published_at is not None:
            tally["years"][str(h.published_at.year)] += 1
    return len(counted), tally


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@pytest.mark.parametrize("query", ["cholera outbreak", "child trafficking funding in Africa", "grants for women farmers"])
def test_facets_count_the_results_that_score_at_least_half_the_best(sample_engine, query, mode):
    every = sample_engine.search(query, k=100, mode=mode)  # the 100 results the facets look at, one page
    got = sample_engine.search(query, k=3, mode=mode, facets=True).facets
    ids = sample_engine.articles["id"]
    # the cut reads the fused score (late interaction re-orders the top 30 but is not what "relevant" was measured by)
    measured = {ids.iat[c.article]: c.measured for c in sample_engine.ranker.rank(query, mode, 200, None)}
    assert mode != "hybrid" or any(measured[h.id] != h.score for h in every.hits)
    counted, tally = _expected_facets(every.hits, measured=measured)
    assert got.counted == counted and 0 < counted < len(every.hits)  # a query does not count the whole site
    for name, expected in tally.items():
        if name == "years":  # newest first
            order = sorted(expected.items(), key=lambda kv: kv[0], reverse=True)
        else:  # most frequent first, ties alphabetically
            order = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))
        assert [(v.value, v.count) for v in getattr(got, name)] == order[:20]
    assert got.categories and got.regions and got.years


def test_facets_are_only_computed_when_asked_and_respect_the_filters(sample_engine):
    assert sample_engine.search("cholera outbreak", k=3).facets is None
    narrowed = sample_engine.search("child trafficking", k=3, facets=True, filters=Filters(countries=["Nigeria"]))
    assert narrowed.facets.countries[0].value == "Nigeria"
    assert narrowed.facets.countries[0].count == narrowed.facets.counted > 0
    # a page past the end still describes the results
    past = sample_engine.search("child trafficking", k=10, offset=500, facets=True)
    assert past.hits == [] and past.facets.counted > 0


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_sort_by_date_orders_the_relevant_results_newest_first(sample_engine, mode):
    query = "child trafficking funding in Africa"
    by_score = sample_engine.search(query, k=100, mode=mode, facets=True)
    by_date = sample_engine.search(query, k=100, mode=mode, sort="date")
    assert by_score.relevant is None and by_date.sort == "date"
    # the results the facets count (scoring at least half the first), no more: not the newest articles of the site
    assert by_date.relevant == by_score.facets.counted and 0 < by_date.relevant < len(by_score.hits)
    assert sorted(h.id for h in by_date.hits) == sorted(h.id for h in by_score.hits[: by_date.relevant])
    dates = [h.published_at for h in by_date.hits]
    dated = [d for d in dates if d is not None]
    assert dated == sorted(dated, reverse=True) and dates[: len(dated)] == dated  # undated ones last
    assert [h.id for h in by_date.hits] != [h.id for h in by_score.hits[: by_date.relevant]]  # the order did change
    pages = [
        h.id for start in range(0, by_date.relevant, 4)
        for h in sample_engine.search(query, k=4, offset=start, mode=mode, sort="date").hits
    ]
    assert pages == [h.id for h in by_date.hits]  # paging walks the same order, and stops at the relevant ones
    assert sample_engine.search(query, k=4, offset=by_date.relevant, mode=mode, sort="date").hits == []


def test_sort_by_date_keeps_filters_and_rejects_other_orders(sample_engine):
    narrowed = sample_engine.search("child trafficking", k=50, sort="date", filters=Filters(countries=["Nigeria"]))
    assert narrowed.hits and all("Nigeria" in h.countries for h in narrowed.hits)
    with pytest.raises(InvalidQuery, match="unknown sort 'oldest'; use relevance, date or deadline"):
        sample_engine.search("child trafficking", sort="oldest")  # type: ignore[arg-type]


def test_latest_news_on_a_topic_is_the_topic_newest_first(sample_engine):
    latest = sample_engine.search("latest news on child trafficking", k=100)
    assert latest.ranked
    plain = sample_engine.search("child trafficking", k=100, sort="date")
    assert (latest.sort, latest.recency, latest.query) == ("date", "latest news on", "latest news on child trafficking")
    # "latest news on" is not searched for: the same results as the topic itself ordered by date
    assert [h.id for h in latest.hits] == [h.id for h in plain.hits] and latest.relevant == plain.relevant > 0
    assert plain.recency is None
    trailing = sample_engine.search("child trafficking - most recent", k=100)
    assert (trailing.recency, [h.id for h in trailing.hits]) == ("most recent", [h.id for h in plain.hits])
    # asked for by relevance: the words are still not searched for, the order is the ranking's
    ranked = sample_engine.search("latest news on child trafficking", k=10, sort="relevance")
    assert ranked.sort == "relevance" and ranked.relevant is None
    assert [h.id for h in ranked.hits] == [h.id for h in sample_engine.search("child trafficking", k=10).hits]
    # a claim that starts with "recent" is a search, not a request for news
    claim = sample_engine.search("recent reports of trafficked children", k=5)
    assert claim.recency == "recent reports of" and claim.sort == "date"
    assert sample_engine.search("recent rise in trafficked children", k=5).recency is None


def test_latest_corrects_the_topic_and_keeps_the_words_where_typed(sample_engine):
    results = sample_engine.search("latest news on child trafficing", k=5)
    assert results.corrected_query == "latest news on child trafficking" and results.recency == "latest news on"
    assert [h.id for h in results.hits] == [h.id for h in sample_engine.search("child trafficking", k=5, sort="date").hits]


def test_latest_news_alone_lists_the_newest_articles(sample_engine):
    every = sample_engine.search("latest news", k=200, facets=True)
    assert (every.sort, every.recency, every.weak_only, every.ranked) == ("date", "latest news", False, False)
    assert every.eligible == len(sample_engine.articles)
    dates = [h.published_at for h in every.hits]
    dated = [d for d in dates if d is not None]
    assert dated and dated == sorted(dated, reverse=True) and dates[: len(dated)] == dated
    # one per near-duplicate group, every group once: the newest of the site, not a ranking
    assert every.relevant == len(every.hits) == len(set(sample_engine.group))
    assert any(h.similar for h in every.hits)
    assert all(h.score == 0.0 and h.semantic_score is None and h.keyword_score is None and h.snippet for h in every.hits)
    assert every.facets.counted == min(sample_engine.ranking.facet_depth, every.relevant)
    newest = max(dated)
    assert every.hits[0].published_at == newest
    pages = [h.id for start in range(0, every.relevant, 7) for h in sample_engine.search("latest", k=7, offset=start).hits]
    assert pages == [h.id for h in every.hits]
    # filters and excluded words narrow it; question words around "latest" ask for nothing more
    kenya = sample_engine.search("what's the latest", k=50, filters=Filters(countries=["Kenya"]))
    assert kenya.hits and all("Kenya" in h.countries for h in kenya.hits) and kenya.recency == "the latest"
    assert [h.id for h in kenya.hits] == [h.id for h in every.hits if "Kenya" in h.countries][: len(kenya.hits)]
    without = sample_engine.search("latest -Kenya", k=200)
    says_kenya = {h.id for h in every.hits if re.search(r"\bKenya\b", _text(sample_engine, h.id), re.IGNORECASE)}
    assert says_kenya and [h.id for h in without.hits] == [h.id for h in every.hits if h.id not in says_kenya]
    # a place is something to search for: the newest about Kenya, ranked, then ordered by date
    place = sample_engine.search("latest in Kenya", k=50)
    assert place.hits and (place.hits[0].keyword_score is not None or place.hits[0].semantic_score is not None)
    assert place.relevant < every.relevant


def test_a_time_span_in_the_query_keeps_the_articles_published_within_it(sample_engine):
    today = date(2026, 10, 27)  # the day after the sample's newest article
    month = sample_engine.search("child labour this month", k=50, today=today)
    assert month.time_window.words == "this month" and month.time_window.date_from == date(2026, 10, 1)
    assert month.time_window.date_to is None and month.recency is None and month.sort == "relevance"
    dated = sample_engine.search("child labour", k=50, filters=Filters(date_from=date(2026, 10, 1)))
    # the span is a date filter: the same results as the topic with date_from, and the words are not searched
    assert month.hits and [h.id for h in month.hits] == [h.id for h in dated.hits] and month.eligible == dated.eligible
    assert all(h.published_at.date() >= date(2026, 10, 1) for h in month.hits)
    # with a filter of its own: both hold
    both = sample_engine.search("refugees in the past 60 days", k=50, today=today,
                                filters=Filters(date_to=date(2026, 9, 30)))
    assert both.hits and all(date(2026, 8, 28) <= h.published_at.date() <= date(2026, 9, 30) for h in both.hits)
    # nothing else asked: the newest articles of the span; a span with no article answers nothing
    week = sample_engine.search("news this week", k=50, today=today)
    assert week.time_window.date_from == date(2026, 10, 26) and week.relevant == len(week.hits) >= 1
    assert all(h.published_at.date() >= date(2026, 10, 26) for h in week.hits)
    assert sample_engine.search("floods today", k=5, today=today).hits == []
    # with "latest": the span's relevant results, newest first; a typo is corrected and the words kept in place
    latest = sample_engine.search("latest news on child trafficing this year", k=50, today=today)
    assert (latest.sort, latest.recency, latest.time_window.words) == ("date", "latest news on", "this year")
    assert latest.corrected_query == "latest news on child trafficking this year"
    assert all(h.published_at.date() >= date(2026, 1, 1) for h in latest.hits)
    days = [h.published_at for h in latest.hits]
    assert days == sorted(days, reverse=True)
    # a comparison is not a span
    assert sample_engine.search("harvests worse than last year", k=3, today=today).time_window is None


# The sample's grant calls name their deadlines in the text ("The deadline for applications is 15 December 2026");
# on 1 October 2026 six are still open.
OPEN_ON_1_OCTOBER = ["pr-073", "dg-071", "dg-074", "dg-076", "pr-077", "dg-078"]  # soonest deadline first


def test_open_calls_soonest_deadline_first(sample_engine):
    today = date(2026, 10, 1)
    listed = sample_engine.search("open calls", k=20, today=today)
    assert (listed.calls, listed.sort, listed.ranked) == ("open calls", "deadline", False)
    assert [h.id for h in listed.hits] == OPEN_ON_1_OCTOBER and listed.relevant == len(OPEN_ON_1_OCTOBER)
    assert [h.deadline for h in listed.hits] == sorted(h.deadline for h in listed.hits)
    assert listed.hits[0].deadline == date(2026, 10, 15) and not any(h.deadline_passed for h in listed.hits)
    # a topic among the open calls, soonest first: the child-labour call is listed, nothing closed is
    topic = sample_engine.search("child labour grants closing soon", k=20, today=today)
    assert (topic.calls, topic.sort, topic.ranked) == ("closing soon", "deadline", True)
    assert "pr-077" in [h.id for h in topic.hits] and {h.id for h in topic.hits} <= set(OPEN_ON_1_OCTOBER)
    assert [h.deadline for h in topic.hits] == sorted(h.deadline for h in topic.hits)
    # the reader's own order wins; "open" before something other than a call is a topic
    ranked = sample_engine.search("child labour grants closing soon", k=20, today=today, sort="relevance")
    assert ranked.sort == "relevance" and [h.score for h in ranked.hits] == sorted((h.score for h in ranked.hits),
                                                                                  reverse=True)
    assert sample_engine.search("open defecation", k=3, today=today).calls is None


def test_the_calls_filter_and_the_deadline_of_each_hit(sample_engine):
    today = date(2026, 10, 1)
    closed = sample_engine.search("water and sanitation grants", k=20, today=today, filters=Filters(calls="closed"))
    assert closed.hits and all(h.deadline_passed and h.deadline < today for h in closed.hits)
    opened = sample_engine.search("water and sanitation grants", k=20, today=today, filters=Filters(calls="open"))
    assert opened.hits[0].id == "pr-073"  # Yemen's water grants, deadline 15 October
    assert {h.id for h in opened.hits} <= set(OPEN_ON_1_OCTOBER) and opened.eligible == len(OPEN_ON_1_OCTOBER)
    # the same article a month later: its last deadline, passed
    later = sample_engine.search("water and sanitation grants", k=20, today=date(2026, 11, 1))
    yemen = next(h for h in later.hits if h.id == "pr-073")
    assert (yemen.deadline, yemen.deadline_passed) == (date(2026, 10, 15), True)
    assert any(h.deadline is None and h.deadline_passed is None for h in later.hits)  # not a call
    # sort=deadline without the filter: open calls first, by deadline, then the rest by relevance
    mixed = sample_engine.search("grants", k=50, today=today, sort="deadline")
    is_open = [h.deadline is not None and not h.deadline_passed for h in mixed.hits]
    assert any(is_open) and is_open == sorted(is_open, reverse=True)
    faceted = sample_engine.search("grants", k=5, today=today, facets=True)
    assert {v.value for v in faceted.facets.calls} == {"open", "closed"}
    assert sample_engine.article("dg-007").deadlines == [date(2024, 5, 31)]
    assert sample_engine.article("dg-080").deadlines == []


def _text(engine, article_id):
    return engine.article_text(engine.catalogue.position[article_id])


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_a_quoted_phrase_must_appear_and_an_excluded_word_must_not(sample_engine, mode):
    free = sample_engine.search("child labour cocoa", k=100, mode=mode)
    quoted = sample_engine.search('"child labour" cocoa', k=100, mode=mode)
    holding = [h.id for h in free.hits if re.search(r"child\W+labour", _text(sample_engine, h.id), re.IGNORECASE)]
    assert 0 < quoted.eligible == len(quoted.hits) < free.eligible
    assert [h.id for h in quoted.hits] == holding  # the same ranking, narrowed: a semantic leg ranks every article
    without = sample_engine.search('"child labour" cocoa -Ghana', k=100, mode=mode)
    assert without.hits and all("ghana" not in _text(sample_engine, h.id).lower() for h in without.hits)
    assert without.eligible == len([h for h in quoted.hits if "ghana" not in _text(sample_engine, h.id).lower()])
    for hit in quoted.hits:  # the snippet shows the phrase, its words marked (unless only the title has it)
        row = sample_engine.catalogue.position[hit.id]
        passages = sample_engine.chunk_text[sample_engine.catalogue.chunk_start[row] : sample_engine.catalogue.chunk_start[row + 1]]
        if any(re.search(r"child\W+labour", text, re.I) for text in passages):
            assert re.search(r"<mark>child</mark>\W+<mark>labour</mark>", hit.snippet_html, re.I), hit.snippet_html


def test_excluded_words_match_any_form_and_combine_with_filters(sample_engine):
    hits = sample_engine.search("floods -flood", k=100).hits  # "-flood" also rules out "floods", "flooding"
    assert all(not re.search(r"\bflood", _text(sample_engine, h.id), re.IGNORECASE) for h in hits)
    narrowed = sample_engine.search("cholera -Yemen", k=100, filters=Filters(regions=["Asia"]))
    assert narrowed.hits and all(not re.search(r"\byemen\b", _text(sample_engine, h.id), re.I) for h in narrowed.hits)
    assert all("Asia" in h.regions for h in narrowed.hits)  # a word, not a country: "Yemeni" is another word
    everything = sample_engine.search("cholera -the", k=5)  # a stop word is indexed nowhere: nothing excluded
    assert everything.eligible == len(sample_engine.articles)


def test_query_operators_edge_cases(sample_engine):
    # stop words only: no index narrows it, so it restricts nothing (reading every text per query would be a way
    # to stall the server)
    assert sample_engine.search('"to be or not" water', k=5).eligible == len(sample_engine.articles)
    with pytest.raises(InvalidQuery, match="at most 5 quoted phrases in a query; 6 given"):
        sample_engine.search(" ".join(f'"water {i}"' for i in range(6)))
    assert sample_engine.search('"no such phrase anywhere" water', k=5).hits == []
    with pytest.raises(InvalidQuery, match="only excludes words"):
        sample_engine.search("-Ghana -cocoa")
    with pytest.raises(InvalidQuery, match="query is empty"):
        sample_engine.search('""')
    # quoted and excluded words are taken as typed; the speller still fixes the rest
    typed = sample_engine.search('"colera" outbreak')
    assert typed.corrected_query is None and typed.hits == []
    fixed = sample_engine.search('colera "safe water" -Haiti')
    assert fixed.corrected_query == 'cholera "safe water" -Haiti'
    assert fixed.hits and all(not re.search(r"\bhaiti\b", _text(sample_engine, h.id), re.I) for h in fixed.hits)


def test_facets_of_a_search_that_matches_nothing(tiny_engine):
    nothing = tiny_engine.search("grant", mode="keyword", facets=True, filters=Filters(categories=["No such"]))
    assert nothing.eligible == 0 and nothing.facets.counted == 0 and nothing.facets.categories == []


def test_suggestions_complete_the_last_word_and_always_find_something(sample_engine):
    got = sample_engine.suggest("child traf").suggestions
    assert got and got[0] == "child trafficking" and all(s.startswith("child traf") for s in got)
    for suggestion in got:  # every completion is held by some article with the words before it
        assert sample_engine.search(suggestion, k=1, mode="keyword", spellcheck=False).hits
    assert sample_engine.suggest("Bangl").suggestions[0] == "Bangladesh"
    assert sample_engine.suggest("cholera ").suggestions == []  # a finished word
    assert sample_engine.suggest("   ").suggestions == []
    assert len(sample_engine.suggest("c", k=3).suggestions) == 0  # one letter is too little
    assert len(sample_engine.suggest("co", k=3).suggestions) == 3
    with pytest.raises(InvalidQuery, match="k must be between 1 and 20"):
        sample_engine.suggest("co", k=21)


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_a_search_nothing_matches_well_lists_nothing_unless_asked(sample_engine, mode):
    off_topic = sample_engine.search("football world cup final", mode=mode, facets=True)
    assert off_topic.weak_only and off_topic.hits == [] and off_topic.facets.counted == 0
    assert off_topic.eligible == len(sample_engine.articles)  # nothing was filtered out: nothing matched well
    nearest = sample_engine.search("football world cup final", mode=mode, floor=0)
    assert not nearest.weak_only and len(nearest.hits) == 10
    assert max(h.semantic_score for h in nearest.hits) < sample_engine.ranking.match_floor
    on_topic = sample_engine.search("child trafficking funding in Africa", mode=mode)
    assert not on_topic.weak_only and on_topic.hits


def test_an_article_holding_every_word_is_a_good_match_whatever_its_cosine(sample_engine):
    # "cocoa" alone: its best passage is far below a floor of 0.99, but articles hold the word
    held = sample_engine.search("cocoa", floor=0.99)
    assert not held.weak_only and held.hits[0].keyword_score
    assert sample_engine.search("cocoa bitcoin", floor=0.99).weak_only  # no article holds both
    assert not sample_engine.search("Ghana", floor=0.99).weak_only  # a place alone: the place tags answer it
    assert not sample_engine.search("cocoa bitcoin", floor=0.99, mode="keyword").weak_only  # keyword: as asked
    # an article that holds every word but is filtered out does not count
    held_elsewhere = sample_engine.search("cocoa", floor=0.99, filters=Filters(categories=["WASH"]))
    assert held_elsewhere.weak_only and held_elsewhere.hits == []
    with pytest.raises(InvalidQuery, match="floor must be between 0 and 1"):
        sample_engine.search("cocoa", floor=1.5)


def test_by_default_hybrid_search_is_the_fused_ranking_without_late_interaction(sample_engine):
    from search_api.ranking import fusion

    query = "clean water for displaced families"
    assert sample_engine.passage_tokens is None and not sample_engine.late_active
    dense, keyword = sample_engine.legs(query, 100, complete=True)
    fused = fusion.tm2c2({a: s for a, (s, _) in dense.items()}, keyword, sample_engine.ranking.weight)
    assert sample_engine.late_rescore(query, fused) == fused
    served = [c.article for c in sample_engine.ranker.rank(query, "hybrid", 100, None)]
    assert served == sorted(fused, key=lambda a: (-fused[a], a))


def test_late_interaction_rescores_the_fused_top_and_leaves_the_rest(late_sample_engine, embedder):
    """With late interaction on, hybrid search re-scores TM2C2's top `late_top` by fused + late_weight ×
    best-passage MaxSim (indexer.passage_tokens); what lies below keeps its fused score and stays below."""
    from dataclasses import replace

    from search_api.ranking import fusion
    from search_api.ranking.rescoring import LateInteraction

    sample_engine = late_sample_engine
    query = "clean water for displaced families"
    p = sample_engine.ranking
    assert sample_engine.passage_tokens is not None and (p.late_top, p.late_weight) == (30, 0.25)
    dense, keyword = sample_engine.legs(query, 100, complete=True)
    fused = fusion.tm2c2({a: s for a, (s, _) in dense.items()}, keyword, p.weight)
    rescored = sample_engine.late_rescore(query, fused)
    order = sorted(fused, key=lambda a: (-fused[a], a))
    head, rest = order[:30], order[30:]
    tokens = embedder.query_tokens(query)
    for a in head[:5]:  # MaxSim by hand: the article's passages' codes, decoded, against the query's tokens
        stored = sample_engine.passage_tokens
        sims = [float((stored.codec.project(tokens) @ stored.codec.decode(
            stored.codes[stored.offsets[c]:stored.offsets[c + 1]]).T).max(axis=1).mean())
            for c in range(sample_engine.catalogue.chunk_start[a], sample_engine.catalogue.chunk_start[a + 1])]
        # (the served product quantises the query's tokens too: within 0.01 of MaxSim, a quarter of that here)
        assert rescored[a] == pytest.approx(fused[a] + 0.25 * max(max(sims), 0.0), abs=0.0025)
    assert all(rescored[a] == fused[a] for a in rest)
    assert min(rescored[a] for a in head) >= max(rescored[a] for a in rest)
    served = [c.article for c in sample_engine.ranker.rank(query, "hybrid", 100, None)]
    assert served == sorted(rescored, key=lambda a: (-rescored[a], a))
    # off: a zero weight, another fusion (its scores are on another scale), a version without codes
    late = sample_engine.late
    for ranking in (replace(p, late_weight=0.0), replace(p, fusion="rrf")):
        assert LateInteraction(late.tokens, late.chunk_start, ranking, embedder).rescore(query, fused) == fused
