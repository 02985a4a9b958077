"""Query spelling correction: words no article contains are corrected to the nearest indexed word."""

import pytest

from indexer.keyword import stem_word
from search_api.query.spelling import Speller


def _speller(words: dict[str, int]) -> Speller:
    """A speller over articles that write each of `words` (word → number of articles)."""
    df: dict[str, int] = {}
    forms: dict[str, set[str]] = {}
    for word, n in words.items():
        stem = stem_word(word)
        df[stem] = df.get(stem, 0) + n
        forms.setdefault(stem, set()).add(word)
    return Speller(lambda: df.keys(), lambda s: df.get(s, 0), lambda s: forms.get(s, {s}))


VOCAB = {"cholera": 5, "outbreak": 3, "outbreaks": 2, "bangladesh": 4, "floods": 9, "traffic": 12,
         "trafficking": 3, "leukemogenesis": 1, "cultured": 6, "grants": 8, "sedan": 1, "mangrove": 2,
         "environment": 7, "weight": 9, "weigt": 1, "government": 5, "governmental": 2}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("colera outbrake", "cholera outbreak"),  # the form nearest as written: outbreak, not outbreaks
        ("Colera Outbrake", "Cholera Outbreak"),  # in the reader's case
        ("Bangldesh floods", "Bangladesh floods"),  # a misspelt place is not a place yet
        ("child traffiking", "child trafficking"),  # nearest as written beats the commoner "traffic"
        ("leuekmogenesis", "leukemogenesis"),  # two edits in a long word
        ("grnats, please!", "grants, please!"),  # punctuation and spacing kept
        ("UNICEF grnts", "UNICEF grants"),  # the acronym untouched, the word beside it corrected
        ("environmetn", "environment"),  # the typo hides the suffix from the stemmer ("environment" → "environ")
        ("governmnet", "government"),  # likewise; "governmental" (stem "government") is the nearer stem, not word
        ("weigth", "weight"),  # an indexed misspelling ("weigt", in one article) loses to the common word
    ],
)
def test_unknown_words_are_corrected(typed, expected):
    assert _speller(VOCAB).correct(typed).query == expected


@pytest.mark.parametrize(
    "typed",
    [
        "cholera outbreaks",  # every word is indexed
        "flod",  # shorter than 5 letters
        "UNICEF",  # acronyms are left alone
        "aPKCz",  # a code with capitals inside
        "cholera2",  # digits
        "uncultured",  # another first letter is another word ("cultured")
        "Sudan",  # a place name the geography parser knows is never corrected (not to "sedan")
        "xylophones",  # nothing near enough
    ],
)
def test_known_short_coded_place_and_hopeless_words_are_left_alone(typed):
    assert _speller(VOCAB).correct(typed) is None


def test_the_search_says_what_it_searched_and_can_search_as_typed(sample_engine):
    corrected = sample_engine.search("colera outbrake", k=3)
    assert corrected.query == "colera outbrake" and corrected.corrected_query == "cholera outbreak"
    assert "Cholera" in corrected.hits[0].title
    assert "<mark>cholera</mark>" in corrected.hits[0].snippet_html.lower()  # the corrected words are marked
    as_typed = sample_engine.search("colera outbrake", k=3, spellcheck=False)
    assert as_typed.corrected_query is None and not any("Cholera" in h.title for h in as_typed.hits)
    assert sample_engine.search("cholera outbreak", k=3).corrected_query is None
