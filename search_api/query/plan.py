"""Query understanding, the first stage of a search: a typed query and its request options become a QueryPlan.

Words at the ends that ask for the newest articles ("latest news on …"), a time span ("… this week") or open calls
("open calls for …") are read off and become the order, a time window and a filter; quoted phrases and -excluded
words restrict; the query's language is told; words no article contains are spell-corrected within the index's
vocabulary (in the site's main language only); the site's synonyms
add phrases for the keyword leg; places named are found for the geography boost. With nothing left to rank
("latest news", "open calls this month") the plan browses instead.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from indexer.errors import InvalidQuery
from indexer.geography import QueryPlaces, parse_query_places
from indexer.keyword import DEFAULT_LANGUAGE, analyse
from indexer.languages import query_language
from search_api.query.spelling import Correction, Speller
from search_api.query.synonyms import Synonyms
from search_api.query.syntax import Calls, Peeled, QuerySyntax, Recency, Window, calls_intent, parse_query, \
    recency_intent, time_window
from search_api.schemas import Filters, Mode, Sort, TimeSpan

MAX_PHRASES = 5  # distinct quoted phrases per query: each may read many articles' texts the first time

# Stems left by questions around "latest" that name no topic ("what's the latest", "any news, latest first"), and the
# French, Spanish and Portuguese words for news a time span leaves ("noticias de hoy", "actualités d'hier").
_NOT_A_TOPIC = frozenset(analyse([("what whats which any anything new news there nouvelles actualités actualites "
                                   "actualité actualite infos noticias novedades notícias novidades")])[0])


def check_request(query: str, *, k: int, offset: int, mode: Mode, sort: Sort | None, floor: float) -> str:
    """The query with its whitespace normalised, after checking the request's options (InvalidQuery when not)."""
    text = " ".join(query.split())
    if not text:
        raise InvalidQuery("the query is empty; type a few words to search for")
    if k < 1 or offset < 0:
        raise InvalidQuery("k must be at least 1 and offset at least 0")
    if mode not in ("hybrid", "semantic", "keyword"):
        raise InvalidQuery(f"unknown mode {mode!r}; use hybrid, semantic or keyword")
    if sort not in (None, "relevance", "date", "deadline"):
        raise InvalidQuery(f"unknown sort {sort!r}; use relevance, date or deadline")
    if not 0.0 <= floor <= 1.0:
        raise InvalidQuery("floor must be between 0 and 1 (0 shows the nearest articles however weak)")
    return text


@dataclass(frozen=True)
class QueryPlan:
    """What a query asks for, as the later stages need it."""

    typed: str  # as typed, whitespace normalised
    syntax: QuerySyntax  # `syntax.text` is ranked; its phrases and excluded words restrict
    places: QueryPlaces  # places named in the ranked text (the geography boost; cut from the keyword leg's query)
    sort: Sort
    filters: Filters  # the request's, with calls="open" when the query asked for open calls
    recency: Recency | None = None  # "latest …"
    window: Window | None = None  # "… this week": articles published within it
    calls: tuple[Calls, ...] = ()  # "open calls for …", "… closing soon" (both ends may say it)
    correction: Correction | None = None
    searched: str = ""  # the query searched: the corrected words with the words read off the ends put back
    synonyms: tuple[str, ...] = ()  # the site's synonyms of the query's words, searched by the keyword leg too
    browse: bool = False  # nothing to rank: list the eligible articles newest first (or by deadline)
    language: str | None = None  # the query's language (ISO 639-1) when detection is confident; None: unknown

    @property
    def text(self) -> str:
        return self.syntax.text

    def asked(self) -> dict:
        """What the words read off the ends asked for, as SearchResults fields."""
        span = self.window
        return {
            "recency": self.recency.words if self.recency else None,
            "time_window": TimeSpan(words=span.words, date_from=span.start, date_to=span.end) if span else None,
            "calls": " … ".join(c.words for c in sorted(self.calls, key=lambda c: not c.at_start)) or None,
        }


def asks_anything(text: str, places: QueryPlaces) -> bool:
    """Whether `text` names something to rank by: a word the keyword leg reads or a place ("what is", "in the" do
    not: after "latest" they leave nothing to search for)."""
    return bool(set(analyse([text])[0]) - _NOT_A_TOPIC) or bool(places.countries or places.regions)


def understand(
    text: str, *, filters: Filters | None, sort: Sort | None, spellcheck: bool, speller: Speller, synonyms: Synonyms,
    today: date, site_language: str = DEFAULT_LANGUAGE, site_languages: Collection[str] = (),
) -> QueryPlan:
    """The plan for a checked query `text` (see `check_request`); InvalidQuery when it asks for nothing. Spelling is
    corrected only in the site's main language `site_language` (or when the query's language is unknown): a French
    question on an English site is searched as typed, never rewritten into English words. The query's language is
    told among `site_languages` (the languages the site is written in) when the words alone leave it unsure
    (`languages.query_language`)."""
    typed = text
    language = query_language(text, site_languages or (site_language,))
    spellcheck = spellcheck and language in (None, site_language)
    recency = recency_intent(text)  # read in English, French, Spanish and Portuguese whatever `language` (syntax.py)
    if recency is not None:  # "latest news on X": X is searched, newest first
        text = recency.rest
    window = time_window(text, today)
    if window is not None:  # "floods this week": floods, published since Monday
        text = window.rest
    calls: list[Calls] = []
    while len(calls) < 2 and (found := calls_intent(text)) is not None:
        calls.append(found)
        text = found.rest
    filters = filters or Filters()
    if calls and filters.calls is None:
        filters = filters.model_copy(update={"calls": "open"})
    syntax = parse_query(text)
    correction = speller.correct(text, keep=syntax.spans) if spellcheck and text else None
    if correction is not None:
        text = correction.query
        syntax = parse_query(text)
    if len(set(syntax.phrases)) > MAX_PHRASES:
        raise InvalidQuery(f"at most {MAX_PHRASES} quoted phrases in a query; {len(set(syntax.phrases))} given")
    places = parse_query_places(syntax.text, language=language)
    browse = bool(recency or window or calls) and not syntax.phrases and not asks_anything(syntax.text, places)
    if not syntax.text and not browse:
        raise InvalidQuery("the query only excludes words (-word); add words to search for" if syntax.excluded
                           else "the query is empty; type a few words to search for")
    peeled: list[Peeled] = [p for p in (recency, window, *calls) if p is not None]
    searched = text
    for words in reversed(peeled):  # the words read off the ends go back where they were typed
        searched = words.restore(searched)
    return QueryPlan(
        typed=typed, syntax=syntax, places=places,
        sort=sort or ("deadline" if calls else "date" if recency else "relevance"), filters=filters,
        recency=recency, window=window, calls=tuple(calls), correction=correction, searched=searched,
        synonyms=tuple(synonyms.expand(syntax.text)) if synonyms else (), browse=browse, language=language,
    )
