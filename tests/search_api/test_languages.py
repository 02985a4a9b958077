"""Languages in a search: each article's language told and stored, a `language` filter, the keyword leg reading a
question in its own language against the articles written in it (silent when the site has none), and spelling
left alone in another language. On a small English/French/Spanish corpus written for the tests, with the default
English model: what is checked here does not depend on the model."""

from datetime import date
from pathlib import Path

import pytest

from indexer.errors import InvalidQuery
from search_api.schemas import Filters

MIXED = Path(__file__).resolve().parents[1] / "fixtures" / "multilingual" / "mixed_corpus.jsonl"


@pytest.fixture(scope="module")
def engine(tmp_path_factory, embedder):
    from indexer.pipeline import index_sources
    from search_api.engine import Engine

    path = tmp_path_factory.mktemp("mixed") / "idx"
    report = index_sources([MIXED], path, embedder, progress=False)
    assert report.added == 9 and report.skipped == 0
    return Engine.open(path, embedder)


def test_each_article_has_its_language(engine):
    languages = {i: engine.article(i).language for i in ("en1", "en4", "fr1", "fr3", "es1", "es2")}
    assert languages == {"en1": "en", "en4": "en", "fr1": "fr", "fr3": "fr", "es1": "es", "es2": "es"}
    assert engine.catalogue.main_language == "en"


def test_the_language_filter_keeps_the_articles_in_it(engine):
    hits = engine.search("water for clinics and schools", filters=Filters(languages=["fr", "es"]), k=10).hits
    assert {h.id for h in hits} <= {"fr1", "fr2", "fr3", "es1", "es2"} and "fr3" in {h.id for h in hits}
    with pytest.raises(InvalidQuery, match="not a language code"):
        engine.search("water", filters=Filters(languages=["French"]))


def test_a_french_question_is_matched_by_words_only_in_french_articles(engine):
    dense, keyword = engine.legs("enfants victimes de la traite", 10, language="fr", complete=True)
    assert max(keyword, key=keyword.get) == engine.catalogue.position["fr1"]
    french = set(engine.catalogue.language_members["fr"].tolist())
    assert {a for a, s in keyword.items() if s > 0} <= french
    # read in English against every article, "victimes"/"traite" would not stem alike: the scope matters
    everywhere = engine.legs("enfants victimes de la traite", 10, language=None)[1]
    assert everywhere != {a: s for a, s in keyword.items() if s > 0}


def test_a_question_in_a_language_the_site_lacks_leaves_the_keyword_leg_silent(engine):
    _, keyword = engine.legs("Kinder Opfer des Menschenhandels in Ghana", 10, language="de", complete=True)
    assert keyword and not any(keyword.values())  # every candidate scored 0 on it: fusion ranks by meaning
    # a keyword search still reads every article (its words may be names)
    _, keyword = engine.legs("Ghana", 10, mode="keyword", language="de")
    assert engine.catalogue.position["en1"] in keyword


def test_a_search_in_french_finds_the_french_story_first(engine):
    results = engine.search("enfants victimes de la traite au Sénégal", k=3)
    assert results.hits[0].id == "fr1"
    assert "<mark>enfants</mark>" in results.hits[0].snippet_html  # marked as French words


def test_spelling_is_not_corrected_into_another_language(engine):
    # "victmes" is in no article; in English the corrector would rewrite it; a French question is searched as typed
    results = engine.search("les enfants victmes de la traite au Sénégal", k=3)
    assert results.corrected_query is None
    english = engine.search("children rescued from traficking", k=3)
    assert english.corrected_query == "children rescued from trafficking"


def test_facets_count_the_results_languages(engine):
    facets = engine.search("grants for water in rural clinics and schools", facets=True, floor=0).facets
    counted = {f.value: f.count for f in facets.languages}
    assert set(counted) <= {"en", "fr", "es"} and sum(counted.values()) == facets.counted


def test_places_are_read_in_the_articles_and_the_questions_language(engine):
    # "Guinée" is Guinea in French only: the publish tags each article with its language's names too
    assert "Guinea" in engine.article("fr3").countries and "Guinea" not in engine.article("en3").countries
    from search_api.query.plan import understand
    from search_api.query.synonyms import Synonyms

    plan = understand("financement de la traite des enfants en Afrique", filters=None, sort=None, spellcheck=False,
                      speller=None, synonyms=Synonyms(), today=date(2026, 12, 5))
    assert plan.language == "fr" and "Africa" in plan.places.regions
    assert "Afrique" not in plan.places.residual  # the keyword leg reads the topic; the boost reads the place


def test_related_posts_can_keep_to_the_articles_language(engine):
    from search_api.related.policy import RelatedRules

    rules = RelatedRules(min_similarity=-1.0)  # nine short stories: show every neighbour
    mixed = engine.related("fr1", k=8, rules=rules).items
    assert {engine.article(i.id).language for i in mixed} > {"fr"}  # other languages by default
    french = engine.related("fr1", k=8, rules=RelatedRules(min_similarity=-1.0, same_language=True)).items
    assert [i.id for i in french] and {i.id for i in french} <= {"fr2", "fr3"}
    # a draft's language is told from its text
    draft = engine.related_to_text("Travail des enfants", "Des enfants travaillent dans les plantations de cacao.",
                                   k=8, rules=RelatedRules(min_similarity=-1.0, same_language=True)).items
    assert draft and all(engine.article(i.id).language == "fr" for i in draft)
