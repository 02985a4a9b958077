"""Why two articles are related, in a widget caption: the places and the distinctive terms they share."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from indexer.keyword import KeywordIndex
# profiles are built when a version is published (indexer.terms); re-exported here, where captions are made
from indexer.terms import LEAD_WORDS, StoredProfiles, TermProfile, term_profile  # noqa: F401

MAX_REASON_CHARS = 120
MAX_TERMS = 4
# A term in more than this share of all articles ("said", "year") says nothing about why two are related.
MAX_DOCUMENT_SHARE = 0.1
LEAD_BONUS = 2.0
# Function words pass BM25's short stop list and, on a small site, the document-share limit ("would", "whether",
# "among", "nothing": 7% of the caption terms on Disaster Response's one-line messages, BENCHMARKS.md "Captions"):
# scikit-learn's English stop list, without the content words its documentation warns it holds ("fire", "interest",
# "call", "well", "bill", "system": a wildfire, a loan's interest, a call for proposals, a water well).
_CONTENT_WORDS = frozenset(
    "amount back bill bottom call cry describe detail empty fill find fire found front full interest mill move name "
    "part serious show side sincere system thick thin top well".split()
)
# Counting and quantifying words pass both lists, but "Both mention six, any and debt" tells a reader nothing either.
_NOT_REASONS = (ENGLISH_STOP_WORDS - _CONTENT_WORDS) | frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands "
    "million millions billion billions dozen dozens first second third fourth fifth sixth seventh eighth ninth tenth "
    "half once twice any many much several few some all each every other another others more most less least both "
    "own same".split()
)
# How strongly a term's concentration around the article counts (1: its lift as is). Measured on BBC News' served
# lists (BENCHMARKS.md, "Captions"): the share of caption terms mostly used in other topics 29% -> 22%.
CONCENTRATION = 1.0
RERANKED = 16  # the best-scoring shared terms re-ranked by it (each a look-up in the posting lists)
PINNED_REASON = "Chosen by the editors"
CATEGORY_PREFIX = "Both in "
NOTHING_SHARED = "Close in meaning, with no key terms in common"


@dataclass(frozen=True)
class Neighbourhood:
    """An article and its nearest neighbours: `count(stem)` says how many of them use a stem."""

    count: Callable[[str], int]
    size: int

    def lift(self, stem: str, df: int, documents: int) -> float:
        """The stem's share of the neighbourhood over its share of the site (add-one smoothed)."""
        return ((self.count(stem) + 1) / (self.size + 1)) / ((df + 1) / (documents + 1))


def shared_terms(
    a: TermProfile, b: TermProfile, document_frequency: Callable[[list[str]], Sequence[int]], documents: int,
    most: int = MAX_TERMS, nearby: Neighbourhood | None = None,
) -> list[str]:
    """The terms both profiles contain, most telling first, as `a` writes them (`most` at most; a capital only a
    sentence's start gave in `a` is dropped when `b` writes the word in lower case).

    A term scores IDF × its weight in a × its weight in b, doubled when it is in either article's title or lead,
    and, given the articles `nearby` (a's nearest neighbours), × how much more often they use it than the whole
    site does (to the power CONCENTRATION): "seaweed" is everywhere around a seaweed story, "higher" and "caused"
    are not. A passing word — said once in each article and in neither lead ("invited", "warned") — is only used
    when nothing better is shared: rare words are not reasons by themselves.
    """
    wa, wb = a.weights, b.weights
    common = list(wa.keys() & wb.keys())  # unordered: the final sort is total (stems are unique)
    if not common or documents == 0:
        return []
    limit = max(2, MAX_DOCUMENT_SHARE * documents)
    lead = a.lead | b.lead
    scored = []
    for stem, df in zip(common, document_frequency(common)):
        surface = a.surface[stem]
        if df > limit or (surface.casefold() in _NOT_REASONS and not surface.isupper()):  # "WHO", "US" stay
            continue
        idf = math.log(1 + (documents - df + 0.5) / (df + 0.5))
        in_lead = stem in lead
        passing = not in_lead and max(wa[stem], wb[stem]) <= _ONCE
        score = idf * wa[stem] * wb[stem] * (LEAD_BONUS if in_lead else 1.0)
        scored.append((passing, -score, stem, df))
    scored.sort()
    if nearby is not None and nearby.size:  # re-rank the head by concentration: the tail would not make a caption
        head = [(passing, negated * nearby.lift(stem, df, documents) ** CONCENTRATION, stem, df)
                for passing, negated, stem, df in scored[:RERANKED]]  # scores are negated: the best sorts first
        scored[:RERANKED] = sorted(head)
    return [_spelling(a.surface[stem], b.surface[stem]) for _, _, stem, _ in scored[:most]]


def _spelling(a: str, b: str) -> str:
    """How a caption writes a term: as `a` writes it, unless only a sentence's start capitalised it there and `b`
    writes it in lower case ("Boys as young as ten …" and "… boys" -> "boys"; "UNICEF", "Ghana" stay)."""
    return b if a[:1].isupper() and a[1:].islower() and b.islower() and b.lower() == a.lower() else a


_ONCE = 1 / (1 + 1.2)  # the saturated weight of a single mention
_WORDS = re.compile(r"\w+")


def caption(places: Sequence[str], terms: Sequence[str], limit: int = MAX_REASON_CHARS) -> str:
    """"Both mention Ghana, cocoa and harvest": shared places first, then up to `MAX_TERMS` terms, as many as fit in
    `limit`. A term that is a word of a listed place ("Burkina" after "Burkina Faso") is not repeated."""
    named: list[str] = []
    for place in places:  # each place once, as first written
        if place.casefold() not in {p.casefold() for p in named}:
            named.append(place)
    said = {p.casefold() for p in named} | {w.casefold() for p in named for w in _WORDS.findall(p)}
    shown: list[str] = []
    for term in terms:
        if len(shown) == MAX_TERMS:
            break
        if term.casefold() not in said:
            said.add(term.casefold())
            shown.append(term)
    return _listed("Both mention ", named + shown, limit) or NOTHING_SHARED


def category_caption(categories: Sequence[str], limit: int = MAX_REASON_CHARS) -> str | None:
    """"Both in Child Labour and Funding Opportunities", as many categories as fit; None when none does."""
    return _listed(CATEGORY_PREFIX, categories, limit)


def _listed(prefix: str, words: Sequence[str], limit: int) -> str | None:
    """`prefix` and as many of `words` as fit in `limit` characters ("a, b and c"); None when not even one does."""
    fitted: list[str] = []
    for word in words:
        if len(prefix + _join([*fitted, word])) > limit:
            break
        fitted.append(word)
    return prefix + _join(fitted) if fitted else None


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class Explainer:
    """Captions for related items over one index version; each article's profile is read (or built) once, cached.

    With `stored` (the version's published profiles) a profile is a lookup; without (a version published before
    profiles were stored) it is built from `text_of(row)` on first use.
    """

    def __init__(
        self, keyword: KeywordIndex, text_of: Callable[[int], str], places_of: Callable[[int], Sequence[str]],
        stored: StoredProfiles | None = None, categories_of: Callable[[int], Sequence[str]] = lambda row: (),
        category_size: Callable[[str], int] = lambda category: 0,
    ):
        self._keyword = keyword
        self._places_of = places_of
        self._categories_of = categories_of
        self._category_size = category_size
        build: Callable[[int], TermProfile] = stored.__getitem__ if stored is not None else (
            lambda row: term_profile(text_of(row))
        )
        self.profile: Callable[[int], TermProfile] = functools.lru_cache(maxsize=4096)(build)

    def neighbourhood(self, rows: Iterable[int]) -> Neighbourhood:
        """These articles (an article and its stored nearest neighbours; -1 padding skipped) as a neighbourhood
        whose stem counts come from the keyword index's posting lists."""
        held = np.unique(np.fromiter((r for r in rows if r >= 0), dtype=np.int64))
        count = functools.lru_cache(maxsize=256)(functools.partial(self._keyword.count_among, rows=held))
        return Neighbourhood(count, len(held))

    def reason(
        self, source: TermProfile, source_places: Sequence[str], target: int, nearby: Neighbourhood | None = None,
        source_categories: Sequence[str] = (),
    ) -> str:
        """Shared places and terms; when they share no place and no telling term (as one-line messages often), the
        categories both are filed under, the most specific first ("Both in Child Labour and Funding Opportunities")."""
        target_places = {p.casefold() for p in self._places_of(target)}
        places = [p for p in source_places if p.casefold() in target_places]
        # more terms than a caption shows: those that repeat a place's words give way to the next ones
        terms = shared_terms(source, self.profile(target), self._keyword.frequencies, self._keyword.count,
                             most=2 * MAX_TERMS, nearby=nearby)
        said = caption(places, terms)
        if said == NOTHING_SHARED and len(source_categories):
            theirs = {c.casefold() for c in self._categories_of(target)}
            shared = [c for c in dict.fromkeys(source_categories) if c.casefold() in theirs]
            return category_caption(sorted(shared, key=lambda c: (self._category_size(c), c.casefold()))) or said
        return said
