"""Site synonyms (SIFT_SYNONYMS): Solr-format rules, located errors, and the keyword leg searching the other side."""

import re

import pytest

from search_api.query.synonyms import SynonymsInvalid, load_synonyms, parse_synonyms

RULES = """
# equivalent phrases, then a one-way rule
gbv, gender-based violence, Violence against women
idps, idp => internally displaced

"""


def test_equivalent_phrases_find_each_other_and_one_way_rules_do_not_reverse():
    synonyms = parse_synonyms(RULES)
    assert synonyms.expand("GBV services in Kharkiv") == ["gender-based violence", "Violence against women"]
    assert synonyms.expand("shelters for violence against women") == ["gbv", "gender-based violence"]
    assert synonyms.expand("IDPs in Darfur") == ["internally displaced"]  # "idps" whole word, any case
    assert synonyms.expand("internally displaced families") == []  # one way
    assert synonyms.expand("gbvx and idpsx") == []  # whole words only
    # a phrase the query already holds is not added again
    assert synonyms.expand("gbv and gender-based violence") == ["Violence against women"]


@pytest.mark.parametrize(("text", "message"), [
    ("gbv", "rules.txt, line 1: give two or more phrases"),
    ("ok, fine\nidp =>", "rules.txt, line 2: '=>' needs words on both sides"),
    ("a => b => c", "rules.txt, line 1: one '=>' at most"),
    ("gbv, !!", "rules.txt, line 1: '!!' has no word in it"),
])
def test_a_malformed_line_is_named(text, message):
    with pytest.raises(SynonymsInvalid, match=re.escape(message)):
        parse_synonyms(text, "rules.txt")


def test_an_unreadable_file_says_so(tmp_path):
    with pytest.raises(SynonymsInvalid, match="cannot read the synonyms file"):
        load_synonyms(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9, coffee".encode("latin-1"))
    with pytest.raises(SynonymsInvalid, match="cannot read the synonyms file"):
        load_synonyms(tmp_path / "latin1.txt")


def test_the_keyword_leg_searches_the_other_side(sample_index, sample_engine, embedder):
    from search_api.engine import Engine, RankingParams

    # the sample never says "IDPs"; one article says "internally displaced"
    plain = sample_engine.search("IDPs", k=5)
    assert plain.synonyms == [] and plain.weak_only and plain.hits == []  # nothing holds it, nothing is close
    engine = Engine.open(sample_index, embedder, ranking=RankingParams(synonyms=parse_synonyms(RULES)))
    found = engine.search("IDPs", k=5)
    assert found.synonyms == ["internally displaced"] and not found.weak_only
    first = found.hits[0]
    assert first.keyword_score is not None and "internally displaced" in engine.article_text(engine.catalogue.position[first.id])
    assert "<mark>displaced</mark>" in first.snippet_html or "<mark>internally</mark>" in first.snippet_html
    # the other way round adds nothing for a one-way rule
    assert engine.search("internally displaced families", k=3).synonyms == []


def test_settings_read_the_file_and_refuse_a_bad_one(tmp_path, sample_index):
    from search_api.settings import Settings

    good = tmp_path / "synonyms.txt"
    good.write_text(RULES, encoding="utf-8")
    assert len(Settings(index_dir=sample_index, synonyms=good).ranking().synonyms) == 4  # three, and one way
    bad = tmp_path / "bad.txt"
    bad.write_text("gbv, gender-based violence\nwash\n", encoding="utf-8")
    with pytest.raises(SynonymsInvalid, match=r"bad.txt, line 2"):
        Settings(index_dir=sample_index, synonyms=bad).ranking()


def test_variants_replace_the_phrase_read():
    synonyms = parse_synonyms(RULES)
    assert synonyms.variants("IDPs in Darfur") == ["internally displaced in Darfur"]
    assert synonyms.variants("GBV support") == ["gender-based violence support", "Violence against women support"]
    assert synonyms.variants("cholera") == []
