"""Search operators every search box has: "quoted phrases" must appear as written, -words must not.

`"child labour" cocoa -Ghana` ranks articles for `child labour cocoa` among those that contain the words "child
labour" next to each other and never mention Ghana. Everything else in a query is free text, as before.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

# A quoted phrase ("…" or “…”), or a minus that starts a word and is followed by a letter: "-Ghana" excludes, but
# "Guinea-Bissau", "COVID-19", "-5%" and "a - b" are free text.
_OPERATOR = re.compile(r'"([^"]*)"|(?<!\S)-([^\W\d_][\w\'’]*(?:-[\w\'’]+)*)')
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"'})
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class QuerySyntax:
    """A query split into what is ranked and what restricts."""

    text: str  # ranked: the free text with each phrase's words (quotes dropped) and without excluded words
    phrases: tuple[str, ...] = ()  # as typed, without the quotes; each must appear, words in order
    excluded: tuple[str, ...] = ()  # words no result may contain (any form of the word: "-flood" also "floods")
    spans: tuple[tuple[int, int], ...] = ()  # where the operators are in the query (the speller leaves them alone)

    @property
    def restricts(self) -> bool:
        return bool(self.phrases or self.excluded)


def parse_query(query: str) -> QuerySyntax:
    """Split `query` into free text, phrases and excluded words. An unpaired quote is ignored; a phrase with no
    word in it ("", "🙂") restricts nothing (its text is still searched)."""
    query = query.translate(_QUOTES)
    if query.count('"') % 2:  # an unpaired quote quotes nothing: drop the last one
        cut = query.rindex('"')
        query = query[:cut] + " " + query[cut + 1:]
    kept, phrases, excluded, spans, last = [], [], [], [], 0
    for m in _OPERATOR.finditer(query):
        kept.append(query[last:m.start()])
        last = m.end()
        spans.append(m.span())
        if m.group(1) is not None:
            kept.append(" " + m.group(1) + " ")
            if _WORD.search(m.group(1)):
                phrases.append(" ".join(m.group(1).split()))
        else:
            excluded.append(m.group(2))
    kept.append(query[last:])
    return QuerySyntax(" ".join("".join(kept).split()), tuple(phrases), tuple(excluded), tuple(spans))


def phrase_words(phrase: str) -> list[str]:
    """The words a phrase is matched by: "Cox’s Bazar" and "cox's  bazar" are both cox, s, bazar."""
    return _WORD.findall(phrase)


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The phrase's words in order, any case, separated by anything that is not a word character ("Cox's Bazar"
    matches "COX’S BAZAR", "child labour" matches "child-labour" and "child\nlabour"), whole words only."""
    return re.compile(r"(?<!\w)" + r"[\W_]+".join(map(re.escape, phrase_words(phrase))) + r"(?!\w)", re.IGNORECASE)


# The words read off a query's ends below (recency, a time span, open calls) are English, French, Spanish and
# Portuguese, each language its own pattern, and every query is read in all four whatever its detected language. The
# queries that say these words are short, and on two to four words detection is mostly unsure (`detect_confident`
# gives None for "sequía este mes", "convocatorias abiertas", "editais abertos", "floods in Ayer"), so choosing by
# language would read them in all four anyway; when it is sure it tells the names as much as the request ("latest
# news on Côte d'Ivoire élections" is French at 0.96), and Spanish and Portuguese are near enough to be told apart
# wrongly. So each pattern must be safe on its own: one language's words never combine with another's ("in ayer"),
# and the tests hold the cross-language traps ("Ayer", "Hoy" as names, "a largo plazo", French "mes" = "my").
# Accents are optional (readers drop them: "derniere", "ultimas", "mes" for "mês"); words are matched in any case.
_ACCENTED = "àâáãçéèêëíîïóôõúûüñ"
_LOOSE = str.maketrans({c: f"[{c}{unicodedata.normalize('NFD', c)[0]}]" for c in _ACCENTED})
_AFTER_WORDS = r"(?:\s*[:,]\s*|\s+[-–—]\s+|\s+|$)"  # what ends the words at the start ("Latest: …", "today – …")


def _opening(words: str) -> re.Pattern[str]:
    """`words` (a pattern written with its accents) at the start of a query."""
    return re.compile(r"^\s*(?:" + words.translate(_LOOSE) + r")" + _AFTER_WORDS, re.IGNORECASE)


def _closing(words: str, not_after: str = "") -> re.Pattern[str]:
    """`words` at the end of a query, as group 1; `not_after`: lookbehinds before the space that precedes them."""
    return re.compile(r"(?:^|\s*[:,]\s*|\s+[-–—]\s+|" + not_after.translate(_LOOSE) + r"\s+)(" + words.translate(_LOOSE)
                      + r")\s*[.!?]*\s*$", re.IGNORECASE)


def _key(word: str) -> str:
    """A word as the tables below know it: lower case, letters and digits, no accents ("Aujourd’hui" → aujourdhui)."""
    bare = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in bare if c.isalnum() and not unicodedata.combining(c))


# Words that ask for the newest articles rather than name a topic: "latest news on floods in Sindh", "Ebola vaccine
# latest", "most recent grant calls". Read only at the start or the end of a query, so "the latest IPCC report" in a
# sentence, or "recent studies show …" (a claim, not a request for news), keep their meaning; plain "recent" and
# "new" ask for recency only before a word for news ("recent news on …"): "new funding" is a topic.
_NEWS = r"(?:news|articles?|stories|story|posts?|updates?|reports?|coverage|headlines|items?)"
_FRESH = r"(?:latest|newest|most\s+recent|recent(?=\s+" + _NEWS + r"\b))"
_RECENCY_START = re.compile(
    r"^\s*(?:(?:show\s+(?:me\s+)?)?(?:the\s+)?(?:very\s+)?" + _FRESH + r"(?:\s+" + _NEWS + r")?"
    r"(?:\s+(?:on|about|of|regarding|re:?|for)\b)?)(?:\s*[:,]\s*|\s+[-–—]\s+|\s+|$)", re.IGNORECASE)
_RECENCY_END = re.compile(
    r"(?:^|\s*[:,]\s*|\s+[-–—]\s+|\s+)((?:the\s+)?(?:very\s+)?(?:" + _FRESH + r"(?:\s+" + _NEWS + r")?|"
    r"recent\s+" + _NEWS + r"))\s*[.!?]*\s*$", re.IGNORECASE)
# French, Spanish, Portuguese: "dernier", "último" ask for recency only before a word for news ("dernier jour du
# ramadan", "último día" are topics), "récent(e)s" / "recientes" only after one ("récentes études montrent …" is a
# claim), "plus récent" only as a superlative ("le plus récent"; "un vaccin plus récent" compares); "nouveau", "nuevo",
# "novo" never ("nouveau financement" is a topic). "de" / "del" / "do" after the words stay in the rest, like "from":
# "dernières nouvelles de Goma" reads the city.
_NEWS_FR = r"(?:nouvelles|actualités?|actus?|infos?|informations?|articles?|reportages?|dépêches?|publications)"
_NEWS_ES = r"(?:noticias|novedades|informaciones|informes?|artículos?|actualizaciones|publicaciones|reportajes?)"
_NEWS_PT = r"(?:notícias|novidades|informações|atualizações|publicações|matérias|reportagens|artigos?)"
_FRESH_FR = (r"(?:les|la|le)\s+plus\s+récente?s?(?:\s+" + _NEWS_FR + r")?|(?:(?:les|la|le)\s+)?(?:(?:toutes\s+)?"
             r"derni(?:er|ère)s?\s+" + _NEWS_FR + r"|" + _NEWS_FR + r"\s+(?:les\s+plus\s+)?récente?s?)")
_FRESH_ES = (r"(?:(?:las|los|la|el)\s+)?(?:últim[oa]s?\s+" + _NEWS_ES + r"|" + _NEWS_ES + r"\s+(?:más\s+)?recientes?|"
             + _NEWS_ES + r"\s+de\s+última\s+hora)|lo\s+(?:más\s+reciente|último)|(?:de\s+)?última\s+hora")
_FRESH_PT = (r"(?:(?:as|os|a|o)\s+)?(?:últim[oa]s?\s+" + _NEWS_PT + r"|" + _NEWS_PT + r"\s+(?:mais\s+)?recentes?|"
             + _NEWS_PT + r"\s+de\s+última\s+hora)|(?:de\s+)?última\s+hora")
_ABOUT_FR = r"(?:\s+(?:sur|concernant|à\s+propos\s+(?:de|du|des)|au\s+sujet\s+(?:de|du|des)))?"
_ABOUT_ES = r"(?:\s+(?:sobre|acerca\s+del?|respecto\s+al?|en\s+relación\s+(?:con|a)))?"
_ABOUT_PT = r"(?:\s+(?:sobre|acerca\s+d(?:e|o|a|os|as)|a\s+respeito\s+d(?:e|o|a|os|as)))?"
_RECENCY_STARTS = (_RECENCY_START, _opening(r"(?:" + _FRESH_FR + r")" + _ABOUT_FR),
                   _opening(r"(?:" + _FRESH_ES + r")" + _ABOUT_ES), _opening(r"(?:" + _FRESH_PT + r")" + _ABOUT_PT))
_RECENCY_ENDS = (_RECENCY_END, _closing(_FRESH_FR), _closing(_FRESH_ES), _closing(_FRESH_PT))


@dataclass(frozen=True)
class Peeled:
    """Words read off one end of a query: `words` as typed, `rest` the query without them (may be empty)."""

    words: str
    rest: str
    at_start: bool
    followed_by: str = ""  # excluded words and phrases typed after words read off the close ("-Pakistan")

    def restore(self, rest: str) -> str:
        """`rest` (e.g. spell-corrected) with the words put back where they were typed."""
        if self.at_start:
            return " ".join(p for p in (self.words, rest) if p)
        if self.followed_by and rest.endswith(self.followed_by):
            return " ".join(p for p in (rest[: -len(self.followed_by)].strip(), self.words, self.followed_by) if p)
        return " ".join(p for p in (rest, self.words) if p)


@dataclass(frozen=True)
class Recency(Peeled):
    """A query that asks for the newest articles."""


def recency_intent(query: str) -> Recency | None:
    """The words at the start or end of `query` asking for the latest articles, or None. A quoted phrase is the
    reader's own text: `"latest news"` asks for nothing."""
    found = _peel(query, _RECENCY_STARTS, _RECENCY_ENDS)
    return Recency(*found[:4]) if found else None


def _peel(query: str, starts: Sequence[re.Pattern[str]], ends: Sequence[re.Pattern[str]],
          ) -> tuple[str, str, bool, str, re.Match[str]] | None:
    """(words, rest, at_start, followed_by, match) for one of `starts` matching the query's opening (the first that
    does) or one of `ends` its close (group 1: the words; the longest reading, the first pattern's on a tie). Excluded
    words and quoted phrases typed after the close stay in the rest: "floods this week -Pakistan" is "floods
    -Pakistan" this week."""
    text = " ".join(query.split())
    for start in starts:
        m = start.match(text)
        if m and '"' not in m.group(0):
            return m.group(0).strip(" :,-–—"), text[m.end():].strip(), True, "", m
    tail = _TRAILING_OPERATORS.search(text)
    core, operators = (text[: tail.start()], text[tail.start():].strip()) if tail else (text, "")
    found = [m for m in (end.search(core) for end in ends) if m and '"' not in m.group(0)]
    if found:
        m = min(found, key=lambda m: m.start())
        rest = " ".join(p for p in (core[: m.start()].strip(" :,-–—"), operators) if p)
        return m.group(1).strip(), rest, False, operators, m
    return None


_TRAILING_OPERATORS = re.compile(r"(?:\s+(?:-[^\W\d_][\w'’-]*|\"[^\"]*\"))+\s*$")


# A time span at the start or end of a query: "floods this week", "cholera in the past 30 days", "today: Sudan".
# Counted back from today (UTC): today, yesterday; this week (from Monday), this month, this year (from the 1st);
# last or past week / month / year and the last N days / weeks / months / years (from that long before today).
# Not after "than", "as" or "to": "worse than last year" compares, it does not ask for last year's articles.
_COUNTS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split(), 1)}
_UNIT = r"(day|week|month|year)s?"
_SPAN = (r"(?:(?P<day>today|tonight|yesterday)|(?P<this>this|last|past)\s+(?P<unit1>week|month|year)|"
         r"(?:the\s+)?(?:past|last)\s+(?P<count>\d{1,3}|" + "|".join(_COUNTS) + r")\s+(?P<unit2>" + _UNIT + r"))")
_WINDOW_START = re.compile(r"^\s*(?:(?:from|in|during|over|within)\s+)?(?:the\s+)?" + _SPAN + r"(?:\s*[:,]\s*|\s+[-–—]\s+|\s+|$)",
                           re.IGNORECASE)
_WINDOW_END = re.compile(r"(?:^|\s*[:,]\s*|\s+[-–—]\s+|(?<!\bthan)(?<!\bas)(?<!\bto)\s+)"
                         r"((?:(?:from|in|during|over|within|since|for)\s+)?(?:the\s+)?" + _SPAN + r")\s*[.!?]*\s*$",
                         re.IGNORECASE)
# French, Spanish, Portuguese: "aujourd'hui", "hier", "cette semaine", "l'année dernière", "au cours des 30 derniers
# jours"; "hoy", "este mes", "el año pasado", "en los últimos 30 días"; "hoje", "nesta semana", "no mês passado", "nos
# últimos 30 dias" — with their prepositions and articles ("depuis", "durante", "de la", "del", "do"), which the span
# must take when they are there: at the end it may not begin just after one, nor after a word that compares ("que
# l'année dernière", "que el año pasado", "comparado con", "em relação ao") or an English place preposition ("floods in
# Ayer"). "hoy en día" / "hoje em dia" mean nowadays. "depuis 12 ans" / "desde hace" are left alone: "en guerre depuis
# 12 ans" says how long, not which articles. A day word with a capital is a name but at the start of a query ("A.J.
# Ayer", "Afrique Aujourd'hui"; "Hoy: Sudán" is today).
_NOT_A_NAME = r"(?:^|(?-i:(?![A-Z][a-z])))"
_NUMBERS = {  # one to twelve in words, in order (a number's variants joined by "|"); English's: _COUNTS
    "fr": "un|une deux trois quatre cinq six sept huit neuf dix onze douze",
    "es": "un|uno|una dos tres cuatro cinco seis siete ocho nueve diez once doce",
    "pt": "um|uma dois|duas três quatro cinco seis sete oito nove dez onze doze",
}
_COUNT = {lang: r"\d{1,3}|" + "|".join(words.split()) for lang, words in _NUMBERS.items()}
_DURING_FR = r"(?:(?:depuis|durant|pendant|au\s+cours|lors|sur|dans|en)\s+)?"
_SPAN_FR = (
    r"(?:(?:depuis|de)\s+|d['’]\s?)?" + _NOT_A_NAME + r"(?P<day>aujourd['’ ]?hui|hier)|"
    + _DURING_FR + r"(?:de\s+)?(?P<this>cette|cet|ce)\s+(?P<unit1>semaine|mois|année)(?:-ci)?|"
    + _DURING_FR + r"(?:(?:de\s+)?la\s+|(?:de\s+)?l['’]\s?|le\s+|du\s+)?(?P<unit3>semaine|mois|année|an)\s+"
    r"(?:dernière|dernier|passée|passé|écoulée|écoulé)|"
    + _DURING_FR + r"(?:(?:de\s+)?(?:ces|les)\s+|des\s+)?(?P<count>" + _COUNT["fr"] + r")\s+(?:derniers|dernières)\s+"
    r"(?P<unit2>jours|semaines|mois|années|ans)")
_DURING_ES = r"(?:(?:durante|en|desde|a\s+lo\s+largo)\s+)?"
_THE_ES = r"(?:(?:de\s+)?(?:la|el)\s+|del\s+|de\s+)?"
_SPAN_ES = (
    r"(?:(?:desde|de)\s+)?" + _NOT_A_NAME + r"(?P<day>hoy|ayer)(?!\s+en\s+día)|"
    + _DURING_ES + _THE_ES + r"(?P<this>esta|este|última|último)\s+(?P<unit1>semana|mes|año)|"
    + _DURING_ES + _THE_ES + r"(?P<unit3>semana|mes|año)\s+(?:pasada|pasado)|"
    + _DURING_ES + r"(?:(?:de\s+)?(?:los|las)\s+)?(?:últimos|últimas)\s+(?P<count>" + _COUNT["es"] + r")\s+"
    r"(?P<unit2>días|semanas|meses|años)")
_DURING_PT = r"(?:(?:durante|em|desde|ao\s+longo)\s+)?"
_THE_PT = r"(?:[dn]?(?:os|as|o|a)\s+|de\s+)?"
_SPAN_PT = (
    r"(?:(?:desde|de)\s+)?" + _NOT_A_NAME + r"(?P<day>hoje|ontem)(?!\s+em\s+dia)|"
    + _DURING_PT + _THE_PT + r"(?P<this>[nd]?esta|[nd]?este|última|último)\s+(?P<unit1>semana|mês|ano)|"
    + _DURING_PT + _THE_PT + r"(?P<unit3>semana|mês|ano)\s+(?:passada|passado)|"
    + _DURING_PT + _THE_PT + r"(?:últimos|últimas)\s+(?P<count>" + _COUNT["pt"] + r")\s+"
    r"(?P<unit2>dias|semanas|meses|anos)")
_SPAN_NOT_AFTER = (  # comparisons, the spans' own prepositions and articles, English place words; "a día de hoy"
    "que con com al ao a à au aux than as to in of on at near from "
    "de del do da dos das du des la le les los las o os el ces em en no na nos nas "
    "durante desde depuis durant pendant cours lors sur dans largo longo día")
_NOT_AFTER = "".join(rf"(?<!\b{w})" for w in _SPAN_NOT_AFTER.split())
_WINDOW_STARTS = (_WINDOW_START, *(_opening(span) for span in (_SPAN_FR, _SPAN_ES, _SPAN_PT)))
_WINDOW_ENDS = (_WINDOW_END, *(_closing(span, _NOT_AFTER) for span in (_SPAN_FR, _SPAN_ES, _SPAN_PT)))
# How the spans' words count, in all four languages (looked up by _key: no accents, lower case)
_DAYS_BACK = {"today": 0, "tonight": 0, "yesterday": 1, "aujourdhui": 0, "hier": 1, "hoy": 0, "ayer": 1, "hoje": 0,
              "ontem": 1}
_THIS = {"this", "ce", "cet", "cette", "este", "esta", "neste", "nesta", "deste", "desta"}  # else last / past / último
_UNITS = {key: unit for unit, words in {
    "day": "day days jour jours día días dia dias", "week": "week weeks semaine semaines semana semanas",
    "month": "month months mois mes meses mês", "year": "year years an ans année années año años ano anos",
}.items() for key in map(_key, words.split())}
_COUNT_WORDS = {**_COUNTS, **{_key(word): n for words in _NUMBERS.values()
                              for n, variants in enumerate(words.split(), 1) for word in variants.split("|")}}


@dataclass(frozen=True)
class Window(Peeled):
    """A query that asks for articles published in a span of days (inclusive; `end` None: up to now)."""

    start: date | None = None
    end: date | None = None


def time_window(query: str, today: date) -> Window | None:
    """The time span named at the start or end of `query`, counted back from `today`, or None."""
    found = _peel(query, _WINDOW_STARTS, _WINDOW_ENDS)
    if found is None:
        return None
    words, rest, at_start, followed_by, m = found
    return Window(words, rest, at_start, followed_by, *_span(m, today))


def _span(m: re.Match[str], today: date) -> tuple[date, date | None]:
    said = {name: _key(words) for name, words in m.groupdict().items() if words}  # the groups this span's form has
    if "day" in said:
        day = today - timedelta(days=_DAYS_BACK[said["day"]])
        return day, day
    unit = _UNITS[said.get("unit1") or said.get("unit2") or said["unit3"]]
    if said.get("this") in _THIS:
        return {"week": today - timedelta(days=today.weekday()), "month": today.replace(day=1),
                "year": today.replace(month=1, day=1)}[unit], None
    count = said.get("count", "1")  # "last week", "la semaine dernière", "el último mes": one
    return today - relativedelta(**{unit + "s": int(count) if count.isdigit() else _COUNT_WORDS[count]}), None


# Words that ask for grant calls still open, soonest deadline first: "open calls for water projects", "education
# grants closing soon", "upcoming deadlines". Read at the start or the end of a query, like the recency words; "open"
# only before a word for a call ("open defecation" is a topic), "deadline(s)" only with a word for soon.
_CALL = (r"(?:(?:grant|funding)\s+)?(?:calls?(?:\s+for\s+(?:proposals|applications|concept\s+notes))?|grants?|"
         r"funding(?:\s+(?:calls?|opportunities))?|opportunities|tenders?|fellowships?|scholarships?)")
_CALLS_START = re.compile(
    r"^\s*(?:(?:show\s+(?:me\s+)?)?(?:(?:all|the|any)\s+)?(?:currently\s+)?open\s+" + _CALL +
    r"(?:\s+(?:on|about|for|in|to)\b)?|(?:upcoming|approaching|next)\s+deadlines?(?:\s+(?:on|about|for|in)\b)?)"
    r"(?:\s*[:,]\s*|\s+[-–—]\s+|\s+|$)", re.IGNORECASE)
_CALLS_END = re.compile(
    r"(?:^|\s*[:,]\s*|\s+[-–—]\s+|\s+)((?:(?:that|which)\s+(?:are|is)\s+)?(?:"
    r"(?:closing|ending|due|closes|close|ends)\s+soon|(?:still\s+)?open\s+(?:now|for\s+applications)|still\s+open|"
    r"(?:with\s+)?(?:upcoming|approaching|open|future)\s+deadlines?|deadlines?\s+(?:soon|approaching|coming\s+up)|"
    r"(?:still\s+)?accepting\s+(?:applications|proposals)))\s*[.!?]*\s*$", re.IGNORECASE)
# French, Spanish, Portuguese: a word for a call with "ouverts" / "abiertas" / "abertos" after it ("appels à
# propositions ouverts", "convocatorias abiertas", "editais abertos"), next deadlines ("date limite proche", "próximos
# plazos"), or at the end "qui ferment bientôt", "que cierran pronto", "encerram em breve", "encore ouverts", "aún
# abiertas". "abierta" alone is no call ("ciencia abierta", "carta abierta"), nor "plazo" / "prazo" without a word
# for soon or open ("a largo plazo", "médio prazo"), nor "en cours" ("financements en cours" are being paid).
_CALL_FR = (r"(?:appels?(?:\s+à\s+(?:propositions|projets|candidatures|manifestations?\s+d['’]intérêt))?|"
            r"appels?\s+d['’]offres|subventions?|financements?|opportunités\s+de\s+financement|bourses?)")
_CALL_ES = (r"(?:convocatorias?|llamad[oa]s?(?:\s+a\s+(?:propuestas|proyectos|concursos?))?|subvenciones|ayudas|becas|"
            r"licitaciones|oportunidades\s+de\s+(?:financiación|financiamiento)|fondos\s+concursables|inscripciones|"
            r"postulaciones)")
_CALL_PT = (r"(?:editais|edital|chamadas?(?:\s+públicas?|\s+(?:de|para)\s+(?:propostas|projetos|candidaturas))?|"
            r"chamamentos?(?:\s+públicos?)?|convocatórias|subvenções|bolsas|licitações|"
            r"oportunidades\s+de\s+financiamento|inscrições|candidaturas)")
_CALLS_STARTS = (_CALLS_START, _opening(
    r"(?:(?:les|des|tous\s+les|toutes\s+les)\s+)?" + _CALL_FR + r"\s+(?:actuellement\s+|encore\s+|toujours\s+)?"
    r"ouverte?s?(?:\s+(?:pour|sur|dans|en|à|au|aux|concernant))?|"
    r"(?:(?:les\s+)?prochaines?\s+(?:dates?\s+limites?|échéances?)|(?:dates?\s+limites?|échéances?)\s+"
    r"(?:proches?|à\s+venir|imminentes?))(?:\s+(?:pour|sur|dans|en))?"), _opening(
    r"(?:(?:las|los|todas\s+las|todos\s+los)\s+)?" + _CALL_ES + r"\s+(?:actualmente\s+|todavía\s+|aún\s+)?"
    r"(?:abiert[oa]s?|vigentes?)(?:\s+(?:para|sobre|en))?|"
    r"(?:(?:(?:los|las)\s+)?próxim[oa]s\s+(?:plazos|fechas\s+límites?|cierres|vencimientos)|"
    r"(?:plazos?|fechas?\s+límites?)\s+(?:próxim[oa]s?|abiert[oa]s?))(?:\s+(?:para|sobre|en|de))?"), _opening(
    r"(?:(?:os|as|todos\s+os|todas\s+as)\s+)?" + _CALL_PT + r"\s+(?:atualmente\s+|actualmente\s+|ainda\s+)?"
    r"(?:abert[oa]s?|em\s+aberto|vigentes?)(?:\s+(?:para|sobre|em))?|"
    r"(?:(?:os\s+)?próximos\s+prazos|prazos?\s+(?:próximos?|abertos?|a\s+terminar|terminando|encerrando))"
    r"(?:\s+(?:para|sobre|em|de))?"))
_CALLS_ENDS = (_CALLS_END, _closing(
    r"(?:qui\s+)?(?:se\s+)?(?:ferment|ferme|clôturent|clôture|terminent|termine|expirent|expire|finissent|finit)\s+"
    r"bientôt|(?:à\s+)?(?:clôture|échéance)\s+(?:proche|prochaine|imminente)|"
    r"(?:avec\s+(?:une\s+|des\s+)?|dont\s+la\s+)?(?:dates?\s+limites?|échéances?)\s+"
    r"(?:proches?|à\s+venir|imminentes?|approche|approchent)|"
    r"(?:qui\s+sont\s+)?(?:encore|toujours)\s+ouverte?s?|ouverte?s?\s+(?:actuellement|maintenant|aux\s+candidatures)|"
    r"(?:qui\s+)?(?:acceptent|accepte|acceptant|reçoivent)\s+(?:encore\s+)?(?:les\s+|des\s+)?"
    r"(?:candidatures|propositions|demandes)|"
    r"(?:avec\s+)?(?:candidatures|inscriptions)\s+(?:encore\s+)?ouvertes"), _closing(
    r"(?:que\s+)?(?:cierran|cierra|vencen|vence|terminan|termina|acaban|acaba|finalizan|finaliza)\s+pronto|"
    r"(?:próxim[oa]s?\s+a|a\s+punto\s+de|por)\s+(?:cerrar|vencer)|"
    r"(?:con\s+)?(?:el\s+)?(?:plazos?|cierres?|fechas?\s+límites?)\s+(?:próxim[oa]s?|abiert[oa]s?|inminentes?)|"
    r"(?:que\s+(?:están|siguen)\s+)?(?:todavía|aún)\s+abiert[oa]s?|"
    r"abiert[oa]s?\s+(?:actualmente|ahora|a\s+(?:solicitudes|propuestas|postulaciones))|"
    r"(?:que\s+)?(?:aceptan|acepta|reciben|recibe)\s+(?:solicitudes|propuestas|postulaciones|candidaturas)|"
    r"(?:con\s+)?(?:inscripciones|postulaciones)\s+abiertas"), _closing(
    r"(?:que\s+)?(?:encerram|encerra|fecham|fecha|terminam|termina|acabam|acaba|vencem|vence)\s+em\s+breve|"
    r"prestes\s+a\s+(?:encerrar|fechar|terminar|vencer)|"
    r"(?:com\s+)?(?:o\s+)?prazos?\s+(?:próximos?|abertos?|a\s+terminar|terminando|encerrando)|"
    r"(?:que\s+)?(?:(?:estão|continuam|seguem)\s+)?ainda\s+(?:estão\s+)?abert[oa]s?|"
    r"abert[oa]s?\s+(?:agora|atualmente|actualmente)|"
    r"(?:que\s+)?(?:aceitam|aceita|recebem|recebe)\s+(?:propostas|candidaturas|inscrições)|"
    r"(?:com\s+)?(?:inscrições|candidaturas)\s+(?:ainda\s+)?abertas"))


@dataclass(frozen=True)
class Calls(Peeled):
    """A query that asks for open grant calls, soonest deadline first."""


def calls_intent(query: str) -> Calls | None:
    """The words at the start or end of `query` asking for open calls, or None."""
    found = _peel(query, _CALLS_STARTS, _CALLS_ENDS)
    return Calls(*found[:4]) if found else None
