"""Telling an article's and a question's language offline (py3langid's bundled model), and the publish storing it."""

import pytest

from indexer.languages import CONFIDENT, UnknownLanguage, article_language, detect, detect_confident, majority, \
    normalise, query_language


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


SITE = ("en", "es", "fr")


@pytest.mark.parametrize("query, alone, on_the_site", [
    # too short to tell alone (Galician 0.40, Spanish 0.34): among the site's languages, Spanish
    ("matrimonio infantil forzado de niñas", None, "es"),
    ("floods in Kenya", None, "en"),
    ("trata de personas", None, "es"),
    # confident alone: told whatever the site holds
    ("casamento infantil forçado de meninas", "pt", "pt"),
    ("ndoa za utotoni za lazima kwa wasichana", "sw", "sw"),
    # a misspelling, a lone name or acronym: still unknown (the site's languages hold little of the probability)
    ("colera outbrake", None, None),
    ("IOM", None, None),
    ("", None, None),
])
def test_a_short_query_is_told_among_the_sites_languages(query, alone, on_the_site):
    assert detect_confident(query) == alone
    assert query_language(query) == alone  # no site languages given: detection alone
    assert query_language(query, SITE) == on_the_site


def test_a_site_in_one_language_tells_a_short_query_as_that_language_or_unknown():
    assert query_language("cholera outbreak", ("en",)) == "en"
    assert query_language("matrimonio infantil forzado de niñas", ("en",)) is None  # not English: unknown


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


def test_the_model_loads_on_a_full_disk():
    """py3langid's own loader unpacks its model through a temporary file; Sift's reads it in memory, so a server
    whose disk is full (no file may grow) still tells languages."""
    import subprocess
    import sys
    from pathlib import Path

    script = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY)); "
              "from indexer.languages import detect; print(detect('les enfants victimes de la traite')[0])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0 and done.stdout.strip() == "fr", done.stderr
