import pytest

from search_api.query_syntax import parse_query, phrase_pattern


@pytest.mark.parametrize(
    ("query", "text", "phrases", "excluded"),
    [
        ('"child labour" cocoa -Ghana', "child labour cocoa", ("child labour",), ("Ghana",)),
        ("\u201cCox\u2019s Bazar\u201d camps", "Cox\u2019s Bazar camps", ("Cox\u2019s Bazar",), ()),  # curly quotes
        ('"  child   labour " ', "child labour", ("child labour",), ()),
        ("Guinea-Bissau COVID-19 -5% a - b", "Guinea-Bissau COVID-19 -5% a - b", (), ()),  # hyphens, not operators
        ('unpaired "quote here', "unpaired quote here", (), ()),
        ('"a b" "c d" unpaired "e', "a b c d unpaired e", ("a b", "c d"), ()),
        ('"" empty', "empty", (), ()),
        ('"\U0001f642"', "\U0001f642", (), ()),  # no word: searched, restricts nothing
        ("-flood -the rain", "rain", (), ("flood", "the")),
        ("floods -Guinea-Bissau", "floods", (), ("Guinea-Bissau",)),
        ("-Ghana", "", (), ("Ghana",)),
    ],
)
def test_parse_query(query, text, phrases, excluded):
    parsed = parse_query(query)
    assert (parsed.text, parsed.phrases, parsed.excluded) == (text, phrases, excluded)
    assert parsed.restricts == bool(phrases or excluded)


def test_spans_cover_the_operators_as_typed():
    query = '"child labour" cocoa -Ghana'
    assert [query[s:e] for s, e in parse_query(query).spans] == ['"child labour"', "-Ghana"]


@pytest.mark.parametrize(
    ("phrase", "text", "found"),
    [
        ("Cox's Bazar", "camps in COX\u2019S BAZAR flooded", True),
        ("child labour", "ending child-labour and child\nlabour", True),
        ("child labour", "a child in labour", False),  # words in order, next to each other
        ("child labour", "children labouring", False),  # whole words, as written
        ("labour", "labourers", False),
    ],
)
def test_phrase_pattern(phrase, text, found):
    assert bool(phrase_pattern(phrase).search(text)) is found
