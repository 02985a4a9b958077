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
