"""Telling an article's and a question's language offline (py3langid's bundled model), and the publish storing it."""

import pytest

from indexer.languages import CONFIDENT, UnknownLanguage, article_language, detect, detect_confident, majority, \
    normalise


@pytest.mark.parametrize("text, language", [
    ("financement de la lutte contre la traite des enfants en Afrique", "fr"),
    ("financiación para combatir la trata de niños en África", "es"),
    ("financiamento para o combate ao tráfico de crianças na África", "pt"),
    ("تمويل مكافحة الاتجار بالأطفال في أفريقيا", "ar"),
    ("ufadhili wa kupambana na usafirishaji haramu wa watoto Afrika", "sw"),
    ("Gwamnati ta ware kudi domin yaki da safarar yara a Najeriya", "ha"),
    ("child trafficking funding in Africa", "en"),
])
def test_questions_in_the_issue_languages_are_told(text, language):
    assert detect_confident(text) == language


def test_dialects_fold_into_their_language_and_short_words_are_unknown():
    assert detect("إزاي أقدر ألاقي منح للأطفال في مصر؟ عايز أعرف")[0] == "ar"  # Egyptian Arabic
    assert detect_confident("Ghana") is None and detect_confident("   ") is None
    code, probability = detect("Les enfants victimes de la traite au Sénégal reçoivent une aide juridique")
    assert code == "fr" and probability >= CONFIDENT


@pytest.mark.parametrize("given, code", [("fr-FR", "fr"), ("FR", "fr"), ("pt_BR", "pt"), ("ary", "ar"), ("sw", "sw")])
def test_language_codes_are_normalised(given, code):
    assert normalise(given) == code


@pytest.mark.parametrize("given", ["English", "", "f", "12"])
def test_what_is_not_a_language_code_is_refused_with_an_example(given):
    with pytest.raises(UnknownLanguage, match="ISO 639-1 code such as en, fr"):
        normalise(given)


def test_a_records_language_wins_and_detection_fills_in():
    body = "Les enfants victimes de la traite au Sénégal reçoivent une aide juridique gratuite."
    assert article_language("Titre", body, "es") == "es"  # the record says so: it wins
    assert article_language("Titre", body, None) == "fr"
    assert article_language("Titre", body, "French") == "fr"  # not a code: detected instead
    assert article_language("", "", None) is None


def test_unknown_articles_take_the_sites_main_language():
    assert majority(["fr", None, "fr", "en"]) == "fr"
    assert majority(["fr", "en"]) == "en"  # a tie: the alphabetically first, so a publish is reproducible
    assert majority([None, None]) == "en"
