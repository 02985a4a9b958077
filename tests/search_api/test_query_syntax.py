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


# French, Spanish and Portuguese: every query is read in all four languages (syntax.py says why), so each case below
# is also a check that no other language's pattern reads it differently.
@pytest.mark.parametrize("query, words, rest, at_start", [
    ("dernières nouvelles sur les inondations", "dernières nouvelles sur", "les inondations", True),
    ("Dernieres nouvelles : choléra en Haïti", "Dernieres nouvelles", "choléra en Haïti", True),  # accents dropped
    ("les dernières actualités à propos de la sécheresse", "les dernières actualités à propos de", "la sécheresse",
     True),
    ("dernières nouvelles de Goma", "dernières nouvelles", "de Goma", True),  # "de": the place keeps it
    ("choléra Haïti – dernières infos", "dernières infos", "choléra Haïti", False),
    ("inondations, les plus récentes", "les plus récentes", "inondations", False),
    ("nouvelles récentes sur le paludisme", "nouvelles récentes sur", "le paludisme", True),
    ("DERNIÈRES NOUVELLES", "DERNIÈRES NOUVELLES", "", True),
    ("últimas noticias sobre la sequía", "últimas noticias sobre", "la sequía", True),
    ("ultimas noticias: sequía en Somalia", "ultimas noticias", "sequía en Somalia", True),
    ("sequía en Somalia, noticias más recientes", "noticias más recientes", "sequía en Somalia", False),
    ("lo último sobre la sequía", "lo último sobre", "la sequía", True),
    ("terremoto en Turquía última hora", "última hora", "terremoto en Turquía", False),
    ("notícias mais recentes", "notícias mais recentes", "", True),
    ("as últimas notícias sobre a seca", "as últimas notícias sobre", "a seca", True),
    ("seca no Nordeste: ultimas noticias", "ultimas noticias", "seca no Nordeste", False),
])
def test_recency_words_in_french_spanish_and_portuguese(query, words, rest, at_start):
    assert recency_intent(query) == Recency(words, rest, at_start)


@pytest.mark.parametrize("query", [
    "dernier jour du ramadan",  # "dernier" / "último" ask only before a word for news
    "último día de clases",
    "récentes études montrent un lien",  # a claim
    "nouveau financement pour les écoles",  # "nouveau" is a topic, like "new funding"
    "nuevas becas para niñas",
    "un vaccin plus récent",  # compares; "le plus récent" would ask
    "ce que disent les dernières nouvelles du Sahel",  # inside the query
    '"dernières nouvelles" émission',  # the reader's own phrase
    '"últimas noticias"',
])
def test_recency_words_in_other_languages_only_as_a_request(query):
    assert recency_intent(query) is None


@pytest.mark.parametrize("query, words, rest, start, end", [
    ("inondations cette semaine", "cette semaine", "inondations", date(2026, 11, 23), None),  # from Monday
    ("inondations de cette semaine", "de cette semaine", "inondations", date(2026, 11, 23), None),
    ("Cette année : récoltes au Sahel", "Cette année", "récoltes au Sahel", date(2026, 1, 1), None),
    ("ce mois-ci au Kenya", "ce mois-ci", "au Kenya", date(2026, 11, 1), None),
    ("choléra au cours des 30 derniers jours", "au cours des 30 derniers jours", "choléra", date(2026, 10, 30), None),
    ("réfugiés ces trois dernières semaines", "ces trois dernières semaines", "réfugiés", date(2026, 11, 8), None),
    ("sécheresse l'année dernière", "l'année dernière", "sécheresse", date(2025, 11, 29), None),
    ("sécheresse l\u2019an dernier", "l\u2019an dernier", "sécheresse", date(2025, 11, 29), None),
    ("inondations de la semaine dernière", "de la semaine dernière", "inondations", date(2026, 11, 22), None),
    ("pluies au cours de l'année écoulée", "au cours de l'année écoulée", "pluies", date(2025, 11, 29), None),
    ("inondations d'aujourd'hui", "d'aujourd'hui", "inondations", SUNDAY, SUNDAY),
    ("aujourd'hui : Soudan", "aujourd'hui", "Soudan", SUNDAY, SUNDAY),
    ("inondations depuis hier", "depuis hier", "inondations", date(2026, 11, 28), date(2026, 11, 28)),
    ("sequía este mes", "este mes", "sequía", date(2026, 11, 1), None),
    ("inundaciones la semana pasada", "la semana pasada", "inundaciones", date(2026, 11, 22), None),
    ("inundaciones del mes pasado", "del mes pasado", "inundaciones", date(2026, 10, 29), None),
    ("cólera en los últimos 30 días", "en los últimos 30 días", "cólera", date(2026, 10, 30), None),
    ("refugiados durante las ultimas dos semanas", "durante las ultimas dos semanas", "refugiados", date(2026, 11, 15),
     None),
    ("el último año en Gaza", "el último año", "en Gaza", date(2025, 11, 29), None),
    ("Hoy: Sudán", "Hoy", "Sudán", SUNDAY, SUNDAY),
    ("lluvias en Valencia ayer", "ayer", "lluvias en Valencia", date(2026, 11, 28), date(2026, 11, 28)),
    ("seca esta semana", "esta semana", "seca", date(2026, 11, 23), None),  # Spanish and Portuguese alike
    ("seca nesta semana", "nesta semana", "seca", date(2026, 11, 23), None),
    ("desmatamento no mes passado", "no mes passado", "desmatamento", date(2026, 10, 29), None),  # "mês"
    ("cólera nos últimos 30 dias", "nos últimos 30 dias", "cólera", date(2026, 10, 30), None),
    ("refugiados ao longo dos últimos doze meses", "ao longo dos últimos doze meses", "refugiados",
     date(2025, 11, 29), None),
    ("notícias de ontem", "de ontem", "notícias", date(2026, 11, 28), date(2026, 11, 28)),
    ("inondations cette semaine -Paris", "cette semaine", "inondations -Paris", date(2026, 11, 23), None),
])
def test_time_window_in_french_spanish_and_portuguese(query, words, rest, start, end):
    window = time_window(query, SUNDAY)
    assert (window.words, window.rest, window.start, window.end) == (words, rest, start, end)


@pytest.mark.parametrize("query", [
    "récoltes pires que l'année dernière",  # comparisons
    "prix par rapport à l'an dernier",
    "plus chaud qu'hier",
    "cosechas peores que el año pasado",
    "precios comparado con el año pasado",
    "más que en el año pasado",
    "colheitas piores do que no ano passado",
    "preços em relação ao ano passado",
    "en guerre depuis 12 ans",  # how long, not which articles
    "grève de 30 jours",
    "hoy en día los jóvenes",  # nowadays
    "hoje em dia os jovens",
    "los edificios a día de hoy",  # to this day
    "works of A.J. Ayer",  # names
    "floods in Ayer",
    "Afrique Aujourd'hui",
    '"cette semaine" émission',
])
def test_time_window_in_other_languages_only_as_a_span(query):
    assert time_window(query, SUNDAY) is None


def test_words_in_other_languages_go_back_where_they_were_typed():
    assert time_window("inondatons cette semaine -Paris", SUNDAY).restore("inondations -Paris") == \
        "inondations cette semaine -Paris"
    assert recency_intent("últimas noticias sobre la sequia").restore("la sequía") == \
        "últimas noticias sobre la sequía"


@pytest.mark.parametrize("query, words, rest", [
    ("appels à propositions ouverts pour l'eau", "appels à propositions ouverts pour", "l'eau"),
    ("appels ouverts", "appels ouverts", ""),
    ("Appels a projets ouverts : climat", "Appels a projets ouverts", "climat"),
    ("subventions ouvertes pour l'éducation", "subventions ouvertes pour", "l'éducation"),
    ("subventions éducation qui ferment bientôt", "qui ferment bientôt", "subventions éducation"),
    ("bourses avec date limite proche", "avec date limite proche", "bourses"),
    ("date limite proche", "date limite proche", ""),
    ("prochaines dates limites pour les ONG", "prochaines dates limites pour", "les ONG"),
    ("convocatorias abiertas", "convocatorias abiertas", ""),
    ("convocatorias abiertas para proyectos de agua", "convocatorias abiertas para", "proyectos de agua"),
    ("Convocatoria abierta: educación", "Convocatoria abierta", "educación"),
    ("becas que cierran pronto", "que cierran pronto", "becas"),
    ("becas con plazo abierto", "con plazo abierto", "becas"),
    ("próximos plazos", "próximos plazos", ""),
    ("licitaciones vigentes en Perú", "licitaciones vigentes en", "Perú"),
    ("editais abertos", "editais abertos", ""),
    ("editais abertos para projetos de água", "editais abertos para", "projetos de água"),
    ("chamadas em aberto para cultura", "chamadas em aberto para", "cultura"),
    ("bolsas com inscrições abertas", "com inscrições abertas", "bolsas"),
    ("bolsas que encerram em breve", "que encerram em breve", "bolsas"),
    ("editais com prazo aberto", "com prazo aberto", "editais"),
])
def test_calls_words_in_french_spanish_and_portuguese(query, words, rest):
    found = calls_intent(query)
    assert (found.words, found.rest) == (words, rest)


@pytest.mark.parametrize("query", [
    "subventions",  # a word for a call alone asks for nothing, like "grants"
    "financements en cours",  # being paid
    "porte ouverte",
    "ciencia abierta",  # "abierta" alone is no call
    "carta abierta al presidente",
    "a largo plazo",  # "plazo" / "prazo" only with a word for soon or open
    "investimentos de longo prazo",
    "economia aberta",
    "questões em aberto",
    '"convocatorias abiertas" de arte',
])
def test_calls_words_in_other_languages_only_as_a_request(query):
    assert calls_intent(query) is None
