"""Searching a site in several languages with the multilingual model: the sample corpus's protection stories (80,
English) and the French and Spanish sample articles, asked in English, French, Spanish, Portuguese, Arabic and
Swahili. Slow (the index embeds ~190 passages with multilingual-e5-small); the full figures are XQuAD's
(BENCHMARKS.md "Languages")."""

from pathlib import Path

import pytest

from search_api.schemas import Filters

DATA = Path(__file__).resolve().parents[2] / "data"
SOURCES = [DATA / "sample" / "protection_and_relief.jsonl", DATA / "sample-multilingual"]

SEED = {  # the README's question, asked in six languages
    "en": "child trafficking funding in Africa",
    "fr": "financement de la lutte contre la traite des enfants en Afrique",
    "es": "financiación para combatir la trata de niños en África",
    "pt": "financiamento para combater o tráfico de crianças na África",
    "ar": "تمويل مكافحة الاتجار بالأطفال في أفريقيا",
    "sw": "ufadhili wa kupambana na usafirishaji haramu wa watoto Afrika",
}
QUESTIONS = {  # the seed question and two more, in six languages (translations written for the project)
    "seed": SEED,
    "marriage": {
        "en": "forced early marriage of girls",
        "fr": "mariage précoce forcé des filles",
        "es": "matrimonio infantil forzado de niñas",
        "pt": "casamento infantil forçado de meninas",
        "ar": "الزواج المبكر القسري للفتيات",
        "sw": "ndoa za utotoni za lazima kwa wasichana",
    },
    "floods": {
        "en": "floods displacing families in East Africa",
        "fr": "inondations qui déplacent des familles en Afrique de l'Est",
        "es": "inundaciones que desplazan a familias en África oriental",
        "pt": "inundações que deslocam famílias na África Oriental",
        "ar": "فيضانات تشرد الأسر في شرق أفريقيا",
        "sw": "familia zilizohamishwa na mafuriko Afrika Mashariki",
    },
}
# How many of the English question's top 3 each language's top 3 holds, measured 2026-12-05 (BENCHMARKS.md
# "Languages"): the target, the same three everywhere, is reached in 5 of these 15; the floods question in Arabic
# (1) and Swahili (0) is the model's miss (the keyword leg is silent: no article is in either language)
AT_LEAST = {
    "seed": {"fr": 2, "es": 2, "pt": 2, "ar": 3, "sw": 2},
    "marriage": {"fr": 2, "es": 2, "pt": 3, "ar": 2, "sw": 2},
    "floods": {"fr": 3, "es": 3, "pt": 3, "ar": 1, "sw": 0},
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from indexer.pipeline import index_sources
    from models.multilingual import MultilingualEmbedder
    from search_api.engine import Engine

    encoder = MultilingualEmbedder()
    path = tmp_path_factory.mktemp("multilingual-sample") / "idx"
    report = index_sources(SOURCES, path, encoder, progress=False)
    assert report.skipped == 0 and report.added == 88
    return Engine.open(path, encoder)


@pytest.mark.slow
@pytest.mark.parametrize("question", QUESTIONS)
def test_three_questions_in_five_languages_find_the_english_answers(engine, question):
    """Over the English articles, each language's top 3 holds at least what it held when measured (AT_LEAST); where
    that is two or more, its best answer is one of the English question's top 3."""
    asked = QUESTIONS[question]
    only_english = Filters(languages=["en"])
    english = [h.id for h in engine.search(asked["en"], k=3, filters=only_english).hits]
    for language, least in AT_LEAST[question].items():
        hits = [h.id for h in engine.search(asked[language], k=3, filters=only_english).hits]
        assert len(set(hits) & set(english)) >= least, (language, hits, english)
        assert least < 2 or hits[0] in english, (language, hits, english)


@pytest.mark.slow
def test_an_english_question_finds_the_spanish_story(engine):
    # found by meaning alone: the keyword leg reads only the English stories, and fusion scores the others by meaning
    hits = [h.id for h in engine.search("shelters for girls rescued from trafficking in Guatemala", k=5).hits]
    assert "ml-es-001" in hits


@pytest.mark.slow
def test_a_story_in_another_language_is_not_held_below_unrelated_ones_in_the_questions(engine):
    """The language balance (search_api.ranking.legs.LanguageBalance): before it, the French story about Senegal's
    talibés came 8th for this English question, under seven English stories about other places."""
    assert engine.retrieval.balance is not None  # the French and the Spanish articles count (4 each)
    hits = [h.id for h in engine.search("forced begging of Koranic pupils in Senegal", k=3).hits]
    assert "ml-fr-001" in hits, hits


@pytest.mark.slow
def test_the_models_floor_answers_the_site_and_holds_back_the_off_topic(engine):
    assert engine.ranking.match_floor == 0.125  # multilingual-e5's own (SIFT_MATCH_FLOOR unset)
    for question in SEED.values():
        assert not engine.search(question, k=3).weak_only, question
    assert engine.search("Arsenal beat Chelsea in the FA Cup semi-final", k=3).weak_only


@pytest.mark.slow
def test_each_article_is_tagged_with_its_language_and_places_in_it(engine):
    article = engine.article("ml-fr-001")
    assert article.language == "fr" and "Senegal" in article.countries and "Mali" in article.countries
    assert engine.article("ml-es-001").language == "es" and engine.article("pr-001").language == "en"
