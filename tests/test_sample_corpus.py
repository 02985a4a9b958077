"""The bundled sample corpus, indexed for real: the questions the project exists to answer."""

import csv
import json
import re
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
AFRICAN = {"Nigeria", "Ghana", "Kenya", "Côte d'Ivoire", "Uganda", "Malawi", "Ethiopia", "Tanzania", "Benin",
           "Mali", "Burkina Faso", "Guinea", "Niger", "Sierra Leone", "Zambia"}


def test_sample_is_large_and_clean(sample_engine):
    stats = sample_engine.stats()
    assert stats.articles >= 150
    assert stats.oldest.year == 2024 and stats.newest.year == 2026
    assert {"Human Trafficking", "Child Labour", "Funding Opportunities", "WASH", "Health"} <= set(stats.categories)


def test_child_trafficking_funding_in_africa(sample_engine):
    hits = sample_engine.search("child trafficking funding in Africa", k=3).hits
    for hit in hits:
        assert set(hit.countries) & AFRICAN, hit
        assert {"Child Labour", "Human Trafficking"} & set(hit.categories), hit
    # at least one of the top three is a funding call
    assert any("Funding Opportunities" in h.categories for h in hits)


@pytest.mark.parametrize("query", ["football world cup final", "Oscars red carpet fashion", "formula one race results"])
def test_questions_the_site_cannot_answer_list_nothing(sample_engine, query):
    # an aid and development news site: the nearest articles are aid stories, none close to these questions
    results = sample_engine.search(query)
    assert results.weak_only and results.hits == []


@pytest.mark.parametrize(
    ("query", "article_id"),
    [
        ("kids trafficked into cacao picking", "pr-012"),
        ("keeping adolescent daughters enrolled via tuition", "dg-015"),
    ],
)
def test_relevant_article_found_without_shared_words(sample_engine, query, article_id):
    record = next(
        json.loads(line) for f in SAMPLE.glob("*.jsonl") for line in f.open() if f'"id": "{article_id}"' in line
    )
    article_words = set(re.findall(r"\w+", (record["title"] + " " + record["body"]).lower()))
    assert not set(re.findall(r"\w+", query.lower())) & article_words, "the query must share no word with the article"
    # the semantic leg on its own: hybrid ranking may let partial keyword matches overtake it
    assert article_id in [h.id for h in sample_engine.search(query, k=3, mode="semantic").hits]


def test_related_posts_have_no_self_link_and_stay_on_topic(sample_engine):
    """Across the sample corpus, not one article: an article's related posts share one of its topics (categories
    other than the generic "Funding Opportunities"/"News") 0.695 of the time (measured 2026-12-05 with 200-word
    and with 120/30-word passages alike)."""
    generic = {"Funding Opportunities", "News"}
    shares = []
    for article_id in sample_engine.articles["id"]:
        topics = set(sample_engine.article(article_id).categories) - generic
        items = sample_engine.related(article_id, k=5).items
        assert article_id not in [i.id for i in items]
        if topics and items:
            shares.append(sum(bool(topics & set(i.categories)) for i in items) / len(items))
    assert len(shares) > 150
    assert sum(shares) / len(shares) >= 0.65


def _pairs():
    with open(SAMPLE / "near_duplicates.tsv") as fh:
        return [(row["id_a"], row["id_b"]) for row in csv.DictReader(fh, delimiter="\t")]


def test_exactly_the_deliberate_near_duplicates_are_grouped(sample_engine):
    groups: dict[int, set[str]] = {}
    for article_id, group in zip(sample_engine.articles["id"], sample_engine.group):
        groups.setdefault(int(group), set()).add(article_id)
    assert sorted(sorted(g) for g in groups.values() if len(g) > 1) == sorted(sorted(p) for p in _pairs())


@pytest.mark.parametrize(("a", "b"), _pairs())
def test_near_duplicates_collapse_in_search_and_related(sample_engine, a, b):
    title = sample_engine.article(a).title
    hits = sample_engine.search(title, k=10).hits
    found = [h for h in hits if h.id in (a, b)]
    assert len(found) == 1 and found[0].similar == [b if found[0].id == a else a]
    assert b not in [i.id for i in sample_engine.related(a, k=10).items]


def test_html_pages_are_indexed_without_their_sidebars(sample_engine):
    info = sample_engine.article("pr-page-4")
    assert "Latest News" not in info.summary and info.published_at is not None
    assert "pr-page-4" in [h.id for h in sample_engine.search("shelter for flood families in Sindh", k=3).hits]


def test_a_question_about_africa_finds_african_stories_that_never_say_africa(sample_engine):
    hits = sample_engine.search("child trafficking funding in Africa", k=5).hits
    assert all("Africa" in h.regions for h in hits), [(h.id, h.regions) for h in hits]
    texts = {h.id: (sample_engine.article(h.id).title + " " + h.snippet) for h in hits}
    assert sum("africa" not in t.lower() for t in texts.values()) >= 3


@pytest.mark.parametrize(
    ("region", "member"),
    [("East Africa", "Eastern Africa"), ("Sahel", "Sahel"), ("South Asia", "South Asia"), ("latin america", "Latin America")],
)
def test_region_filter_keeps_only_that_region(sample_engine, region, member):
    from search_api.schemas import Filters

    results = sample_engine.search("floods and drought relief", k=50, filters=Filters(regions=[region]))
    # every eligible article is shown (near-duplicates folded into their hit's `similar`): the filter starves nothing
    assert results.hits and len(results.hits) + sum(len(h.similar) for h in results.hits) == results.eligible
    assert all(member in h.regions for h in results.hits), [(h.id, h.regions) for h in results.hits]


def test_country_filter_accepts_names_and_codes(sample_engine):
    from search_api.schemas import Filters

    by_name = sample_engine.search("grants", k=50, filters=Filters(countries=["Ghana"]))
    by_code = sample_engine.search("grants", k=50, filters=Filters(countries=["GHA"]))
    assert [h.id for h in by_name.hits] == [h.id for h in by_code.hits]
    assert by_name.hits and all("Ghana" in h.countries for h in by_name.hits)


@pytest.mark.parametrize(
    ("filters", "message"),
    [({"regions": ["Est Africa"]}, "unknown region 'Est Africa'; did you mean"), ({"countries": ["Narnia"]}, "unknown country 'Narnia'")],
)
def test_unknown_places_are_clear_errors(sample_engine, filters, message):
    from indexer.errors import InvalidQuery
    from search_api.schemas import Filters

    with pytest.raises(InvalidQuery, match=message):
        sample_engine.search("water", filters=Filters(**filters))
