"""Search operators every search box has: "quoted phrases" must appear as written, -words must not.

`"child labour" cocoa -Ghana` ranks articles for `child labour cocoa` among those that contain the words "child
labour" next to each other and never mention Ghana. Everything else in a query is free text, as before.
"""

from __future__ import annotations

import re
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
    found = _peel(query, _RECENCY_START, _RECENCY_END)
    return Recency(*found[:4]) if found else None


def _peel(query: str, start: re.Pattern[str], end: re.Pattern[str]) -> tuple[str, str, bool, str, re.Match[str]] | None:
    """(words, rest, at_start, followed_by, match) for `start` matching the query's opening or `end` its close
    (group 1: the words). Excluded words and quoted phrases typed after the close stay in the rest: "floods this week
    -Pakistan" is "floods -Pakistan" this week."""
    text = " ".join(query.split())
    m = start.match(text)
    if m and '"' not in m.group(0):
        return m.group(0).strip(" :,-–—"), text[m.end():].strip(), True, "", m
    tail = _TRAILING_OPERATORS.search(text)
    core, operators = (text[: tail.start()], text[tail.start():].strip()) if tail else (text, "")
    m = end.search(core)
    if m and '"' not in m.group(0):
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


@dataclass(frozen=True)
class Window(Peeled):
    """A query that asks for articles published in a span of days (inclusive; `end` None: up to now)."""

    start: date | None = None
    end: date | None = None


def time_window(query: str, today: date) -> Window | None:
    """The time span named at the start or end of `query`, counted back from `today`, or None."""
    found = _peel(query, _WINDOW_START, _WINDOW_END)
    if found is None:
        return None
    words, rest, at_start, followed_by, m = found
    return Window(words, rest, at_start, followed_by, *_span(m, today))


def _span(m: re.Match[str], today: date) -> tuple[date, date | None]:
    day = (m.group("day") or "").lower()
    if day in ("today", "tonight"):
        return today, today
    if day == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if m.group("this"):
        unit = m.group("unit1").lower()
        if m.group("this").lower() == "this":
            return {"week": today - timedelta(days=today.weekday()), "month": today.replace(day=1),
                    "year": today.replace(month=1, day=1)}[unit], None
        count = 1
    else:
        unit = m.group("unit2").lower().rstrip("s")
        count = int(m.group("count")) if m.group("count").isdigit() else _COUNTS[m.group("count").lower()]
    return today - relativedelta(**{unit + "s": count}), None


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


@dataclass(frozen=True)
class Calls(Peeled):
    """A query that asks for open grant calls, soonest deadline first."""


def calls_intent(query: str) -> Calls | None:
    """The words at the start or end of `query` asking for open calls, or None."""
    found = _peel(query, _CALLS_START, _CALLS_END)
    return Calls(*found[:4]) if found else None
