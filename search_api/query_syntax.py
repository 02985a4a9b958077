"""Search operators every search box has: "quoted phrases" must appear as written, -words must not.

`"child labour" cocoa -Ghana` ranks articles for `child labour cocoa` among those that contain the words "child
labour" next to each other and never mention Ghana. Everything else in a query is free text, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
class Recency:
    """A query that asks for the newest articles: `words` as typed, `rest` the query without them (may be empty)."""

    words: str
    rest: str
    at_start: bool

    def restore(self, rest: str) -> str:
        """`rest` (e.g. spell-corrected) with the recency words put back where they were typed."""
        return " ".join(p for p in ((self.words, rest) if self.at_start else (rest, self.words)) if p)


def recency_intent(query: str) -> Recency | None:
    """The words at the start or end of `query` asking for the latest articles, or None. A quoted phrase is the
    reader's own text: `"latest news"` asks for nothing."""
    text = " ".join(query.split())
    m = _RECENCY_START.match(text)
    if m and '"' not in m.group(0):
        return Recency(m.group(0).strip(" :,-–—"), text[m.end():].strip(), True)
    m = _RECENCY_END.search(text)
    if m and '"' not in m.group(0):
        return Recency(m.group(1).strip(), text[:m.start()].strip(" :,-–—"), False)
    return None
