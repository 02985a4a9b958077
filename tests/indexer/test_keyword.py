import numpy as np

from indexer.keyword import KeywordIndex, analyse, stem_word

DOCS = [
    "Children trafficked to cocoa farms in Ghana",
    "Grants for water and sanitation projects in Zambia",
    "Lottery winner donates funds to a clinic",
    "Trafficking survivors receive legal aid",
]


def test_analysis_stems_and_drops_stop_words():
    assert analyse(["The trafficking of children"]) == [["traffick", "children"]]
    assert stem_word("Trafficked") == "traffick" and stem_word("the") is None


def test_search_ranks_only_matching_documents():
    index = KeywordIndex.build(DOCS)
    ids, scores = index.search("trafficking", k=10)
    assert sorted(ids.tolist()) == [0, 3] and np.all(scores > 0)
    assert index.search("the of and", k=10)[0].size == 0  # only stop words
    assert index.search("unknownword", k=10)[0].size == 0


def test_allowed_mask_restricts_results():
    index = KeywordIndex.build(DOCS)
    ids, _ = index.search("trafficking", k=10, allowed=np.array([False, True, True, True]))
    assert ids.tolist() == [3]


def test_save_and_load_round_trip(tmp_path):
    KeywordIndex.build(DOCS).save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.count == 4 and loaded.search("grants zambia", k=1)[0].tolist() == [1]


def test_empty_index(tmp_path):
    KeywordIndex.build([]).save(tmp_path / "kw")
    assert KeywordIndex.load(tmp_path / "kw").search("anything", k=5)[0].size == 0


def test_frequencies_are_document_frequencies(tmp_path):
    KeywordIndex.build(DOCS).save(tmp_path / "kw")
    for index in (KeywordIndex.build(DOCS), KeywordIndex.load(tmp_path / "kw")):
        terms = ["traffick", "ghana", "unknownword", "fund"]
        assert index.frequencies(terms) == [2, 1, 0, 1]
    assert KeywordIndex.build([]).frequencies(["ghana"]) == [0]


# -- languages: each article analysed in its own language --------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.mark.parametrize("language, text, expected", [
    # Snowball stems and the language's stop words ("la", "des", "de" dropped), then accents dropped
    ("fr", "La traite des enfants au Sénégal", ["trait", "enfant", "senegal"]),
    ("es", "financiación de la trata de niños", ["financi", "trat", "nin"]),
    ("es", "financiacion de la trata de ninos", ["financi", "trat", "nin"]),
    ("pt", "O tráfico de crianças", ["trafic", "crianc"]),
    # Arabic: the attached article and preposition ("بال", "ال") go, alef forms are made one
    ("ar", "بالأطفال الأطفال", ["اطفال", "اطفال"]),
    # no stemmer, no stop words: Unicode words as written, apostrophes split ("d'usafirishaji")
    ("sw", "usafirishaji haramu wa watoto", ["usafirishaji", "haramu", "wa", "watoto"]),
    # Devanagari vowel signs stay inside the word (a plain \w pattern splits "हिन्दी" in three)
    ("hi", "हिन्दी भाषा", ["हिन्द", "भाष"]),
    # a word the stemmer reduces to nothing is no term (bm25s reserves "" for empty documents)
    ("el", "όταν το ρολόι", ["το", "ρολ"]),
    # written without spaces: overlapping character pairs
    ("zh", "儿童贩运", ["儿童", "童贩", "贩运"]),
])
def test_each_language_has_its_analyser(language, text, expected):
    assert analyse([text], language) == [expected]


def test_thai_is_cut_into_pairs_of_letters_with_their_vowel_marks():
    terms = analyse(["การค้ามนุษย์"], "th")[0]
    assert len(terms) > 3 and all(len(t) >= 2 for t in terms)
    # a word of the text found inside a longer text is found by its pairs
    assert set(analyse(["มนุษย์"], "th")[0]) <= set(analyse(["การค้ามนุษย์ในเอเชีย"], "th")[0])


def test_english_is_analysed_as_before_languages():
    assert analyse(["The trafficking of children"], "en") == analyse(["The trafficking of children"])
    assert stem_word("Trafficked", "en") == "traffick"
    assert stem_word("enfants", "fr") == "enfant" and stem_word("les", "fr") is None


def test_a_french_query_finds_the_french_article_by_its_stems():
    docs = [*DOCS, "Les enfants victimes de la traite au Sénégal", "Financement de projets d'eau en Zambie"]
    index = KeywordIndex.build(docs, ["en"] * 4 + ["fr", "fr"])
    ids, _ = index.top(index.scores("enfant traité", "fr"), 5)
    assert ids.tolist() == [4]
    # the English articles were analysed as an all-English index analyses them
    english = KeywordIndex.build(DOCS)
    assert np.allclose(index.scores("trafficking")[:4] > 0, english.scores("trafficking") > 0)


def test_languages_must_align_with_documents():
    with pytest.raises(ValueError, match="2 languages for 4 documents"):
        KeywordIndex.build(DOCS, ["en", "fr"])


def test_an_index_is_the_same_bytes_whatever_the_hash_seed(tmp_path):
    """bm25s orders its vocabulary by set iteration, which changes with PYTHONHASHSEED: Sift sorts it."""
    script = ("import sys; from pathlib import Path; from indexer.keyword import KeywordIndex; "
              "KeywordIndex.build(sys.argv[2:]).save(Path(sys.argv[1]))")
    for seed in ("1", "2"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / seed), *DOCS], check=True,
                       env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    files = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert files and files == sorted(p.name for p in (tmp_path / "2").iterdir())
    for name in files:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
