from search_api.presentation.snippets import best_passage, make_snippet, query_terms


def test_query_terms_are_stemmed_without_stop_words():
    assert query_terms("The funding of trafficking victims in Africa") == {"fund", "traffick", "victim", "africa"}


def test_marks_stems_and_escapes_everything_else():
    plain, marked = make_snippet('Funds for <b>trafficked</b> "victims" & more', query_terms("funding trafficking"))
    assert plain == 'Funds for <b>trafficked</b> "victims" & more'
    assert marked == "<mark>Funds</mark> for &lt;b&gt;<mark>trafficked</mark>&lt;/b&gt; &quot;victims&quot; &amp; more"


def test_long_passage_is_windowed_around_the_first_term():
    text = " ".join(["filler"] * 100) + " the grant for boreholes opens today " + " ".join(["tail"] * 100)
    plain, marked = make_snippet(text, query_terms("boreholes"), limit=120)
    assert plain.startswith("… ") and plain.endswith(" …") and "boreholes" in plain
    assert len(plain) <= 126
    assert "<mark>boreholes</mark>" in marked


def test_no_terms_gives_the_start_of_the_passage():
    plain, marked = make_snippet("word " * 200, frozenset(), limit=50)
    assert plain.startswith("word word") and plain.endswith("…") and "<mark>" not in marked


def test_best_passage_prefers_most_terms_then_the_first():
    passages = ["about floods", "grants for floods in Sindh", "grants"]
    assert best_passage(passages, query_terms("flood grants Sindh")) == 1
    assert best_passage(passages, frozenset()) == 0


def test_a_term_near_the_end_of_a_passage_a_little_longer_than_the_window_is_shown():
    # 10 characters over the limit: the window used to start 40 characters before the term, clamp below zero and
    # show the passage's beginning without the term
    text = " ".join(["filler"] * 16) + " against child labour."
    assert 100 < len(text) <= 140
    plain, marked = make_snippet(text, query_terms("labour"), limit=100)
    assert plain.startswith("… ") and plain.endswith("child labour.") and "<mark>labour</mark>" in marked


def test_a_focus_pattern_picks_the_window_over_the_first_term():
    import re

    text = "child welfare " + " ".join(["filler"] * 100) + " fighting child labour today " + " ".join(["tail"] * 100)
    plain, _ = make_snippet(text, query_terms("child labour"), limit=120)
    assert "child labour" not in plain  # the first term's window
    plain, marked = make_snippet(text, query_terms("child labour"), limit=120, focus=[re.compile(r"child\W+labour")])
    assert "<mark>child</mark> <mark>labour</mark>" in marked and plain.startswith("… ")
