from datetime import date

import pytest

from search_api.query.syntax import Recency, calls_intent, parse_query, phrase_pattern, recency_intent, time_window


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


SUNDAY = date(2026, 11, 29)


@pytest.mark.parametrize("query, words, rest, start, end", [
    ("floods this week", "this week", "floods", date(2026, 11, 23), None),  # from Monday
    ("grants this month", "this month", "grants", date(2026, 11, 1), None),
    ("trafficking cases this year", "this year", "trafficking cases", date(2026, 1, 1), None),
    ("Sudan news today", "today", "Sudan news", SUNDAY, SUNDAY),
    ("today: Sudan", "today", "Sudan", SUNDAY, SUNDAY),
    ("floods yesterday", "yesterday", "floods", date(2026, 11, 28), date(2026, 11, 28)),
    ("floods last week", "last week", "floods", date(2026, 11, 22), None),
    ("cholera in the past 30 days", "in the past 30 days", "cholera", date(2026, 10, 30), None),
    ("last 3 months cholera", "last 3 months", "cholera", date(2026, 8, 29), None),
    ("refugees over the past two weeks", "over the past two weeks", "refugees", date(2026, 11, 15), None),
    ("child labour this month -Ghana", "this month", "child labour -Ghana", date(2026, 11, 1), None),
    ("this week in Kenya", "this week", "in Kenya", date(2026, 11, 23), None),  # the place keeps its preposition
])
def test_time_window_at_either_end(query, words, rest, start, end):
    window = time_window(query, SUNDAY)
    assert (window.words, window.rest, window.start, window.end) == (words, rest, start, end)


@pytest.mark.parametrize("query", [
    "harvests worse than last year",  # a comparison, not a span to search in
    "prices compared to last year",
    "floods in the last decade",
    "last weekend's floods",
    '"this week" radio programme',
    "this weekly bulletin",
])
def test_time_window_only_as_a_span(query):
    assert time_window(query, SUNDAY) is None


def test_peeled_words_go_back_where_they_were_typed():
    assert time_window("child labor this month -Ghana", SUNDAY).restore("child labour -Ghana") == \
        "child labour this month -Ghana"
    assert time_window("today: Sudan", SUNDAY).restore("Sudan") == "today Sudan"
    assert recency_intent("floods -Pakistan latest").restore("floods -Pakistan") == "floods -Pakistan latest"
    assert recency_intent('flods latest -Pakistan "Sindh"').restore('floods -Pakistan "Sindh"') == \
        'floods latest -Pakistan "Sindh"'


@pytest.mark.parametrize("query, words, rest", [
    ("open calls for water projects", "open calls for", "water projects"),
    ("Open grants in Kenya", "Open grants in", "Kenya"),
    ("show me open funding opportunities: climate", "show me open funding opportunities", "climate"),
    ("open calls for proposals on child labour", "open calls for proposals on", "child labour"),
    ("upcoming deadlines", "upcoming deadlines", ""),
    ("education grants closing soon", "closing soon", "education grants"),
    ("child labour grants that are still open -Ghana", "that are still open", "child labour grants -Ghana"),
    ("WASH calls with upcoming deadlines.", "with upcoming deadlines", "WASH calls"),
    ("fellowships still accepting applications", "still accepting applications", "fellowships"),
])
def test_calls_words_at_either_end(query, words, rest):
    found = calls_intent(query)
    assert (found.words, found.rest) == (words, rest)


@pytest.mark.parametrize("query", [
    "open defecation in India",  # "open" before something other than a call
    "Open Society grants to Roma groups",
    "why deadlines slip",
    "grants for schools that stay open",
    '"open calls" for artists',  # the reader's own phrase
    "the call was open for two weeks",
])
def test_calls_words_only_as_a_request(query):
    assert calls_intent(query) is None
