import pytest

from search_api.query_syntax import Recency, parse_query, phrase_pattern, recency_intent


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


@pytest.mark.parametrize("query, words, rest, at_start", [
    ("latest news on floods in Sindh", "latest news on", "floods in Sindh", True),
    ("Latest: cholera Haiti", "Latest", "cholera Haiti", True),
    ("most recent grant calls", "most recent", "grant calls", True),
    ("recent news about trafficking", "recent news about", "trafficking", True),
    ("show me the latest stories about malaria", "show me the latest stories about", "malaria", True),
    ("latest from Goma", "latest", "from Goma", True),  # the place preposition stays: "from Goma" reads the city
    ("Ebola vaccine latest", "latest", "Ebola vaccine", False),
    ("floods bangladesh - latest news", "latest news", "floods bangladesh", False),
    ("child labour, recent articles", "recent articles", "child labour", False),
    ("latest news", "latest news", "", True),
    ("  newest  ", "newest", "", True),
])
def test_recency_words_at_either_end(query, words, rest, at_start):
    assert recency_intent(query) == Recency(words, rest, at_start)


@pytest.mark.parametrize("query", [
    "recent studies show vitamin D lowers risk",  # a claim: "recent" asks for news only before a word for news
    "new funding for girls' education",  # "new" is a topic
    "recent",
    "latest-model water pumps",  # part of a word
    "latestnews",
    '"latest news" programme',  # a quoted phrase is the reader's own text
    "floods in the latest monsoon season",  # inside the query: part of what is asked
])
def test_recency_words_only_as_a_request(query):
    assert recency_intent(query) is None


def test_recency_restores_a_corrected_rest_where_it_was_typed():
    assert recency_intent("latest news on trafficing").restore("trafficking") == "latest news on trafficking"
    assert recency_intent("trafficing latest").restore("trafficking") == "trafficking latest"
    assert recency_intent("latest").restore("") == "latest"
