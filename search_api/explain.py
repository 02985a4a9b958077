"""Why two articles are related, in a widget caption: the places and the distinctive terms they share."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from indexer.keyword import KeywordIndex, stem_word

# bm25s's token pattern, so a profile's stems are the keyword index's terms
_WORD = re.compile(r"(?u)\b\w\w+\b")
_DIGIT = re.compile(r"\d")
MAX_REASON_CHARS = 120
MAX_TERMS = 4
# A term in more than this share of all articles ("said", "year") says nothing about why two are related.
MAX_DOCUMENT_SHARE = 0.1
# The title and first sentences say what an article is about; a shared term there is a good reason.
LEAD_WORDS = 60
LEAD_BONUS = 2.0
PINNED_REASON = "Chosen by the editors"
NOTHING_SHARED = "Close in meaning, with no key terms in common"


@dataclass(frozen=True)
class TermProfile:
    """An article's terms: stem → saturated term frequency, and stem → the word as the article writes it."""

    weights: dict[str, float]
    surface: dict[str, str]
    lead: frozenset[str] = frozenset()  # stems in the title and first sentences


def term_profile(text: str) -> TermProfile:
    counts: Counter[str] = Counter()
    forms: dict[str, list[tuple[bool, int, str]]] = {}
    # each distinct word is judged and stemmed once: this runs on the serving path the first time an article shows
    for word, n in Counter(_WORD.findall(text)).items():
        if _DIGIT.search(word):  # years, amounts and ids are not topics
            continue
        if len(word) < 3 and not word.isupper():  # "up", "go" are noise; "UN", "EU" are not
            continue
        stem = stem_word(word)
        if stem is None:  # a stop word
            continue
        counts[stem] += n
        forms.setdefault(stem, []).append((word.islower(), n, word))
    # tf / (tf + 1.2), BM25-style saturation: a term's tenth mention adds little, so one long article cannot
    # drown the other's terms
    weights = {stem: n / (n + 1.2) for stem, n in counts.items()}
    # the lower-case spelling when there is one ("Farming" at a sentence start is "farming"), else the commonest
    surface = {stem: max(seen, key=lambda f: (f[0], f[1]))[2] for stem, seen in forms.items()}
    lead = {stem_word(w) for w in _WORD.findall(" ".join(text.split()[:LEAD_WORDS]))}
    return TermProfile(weights, surface, frozenset(lead & counts.keys()))


def shared_terms(
    a: TermProfile, b: TermProfile, document_frequency: Callable[[list[str]], Sequence[int]], documents: int
) -> list[str]:
    """The terms both profiles contain, most telling first, as `a` writes them.

    A term scores IDF × its weight in a × its weight in b, doubled when it is in either article's title or lead.
    A passing word — said once in each article and in neither lead ("invited", "warned") — is only used when
    nothing better is shared: rare words are not reasons by themselves.
    """
    common = sorted(a.weights.keys() & b.weights.keys())
    if not common or documents == 0:
        return []
    limit = max(2, MAX_DOCUMENT_SHARE * documents)
    scored = []
    for stem, df in zip(common, document_frequency(common)):
        if df > limit:
            continue
        idf = math.log(1 + (documents - df + 0.5) / (df + 0.5))
        in_lead = stem in a.lead or stem in b.lead
        passing = not in_lead and max(a.weights[stem], b.weights[stem]) <= _ONCE
        score = idf * a.weights[stem] * b.weights[stem] * (LEAD_BONUS if in_lead else 1.0)
        scored.append((passing, -score, stem))
    return [a.surface[stem] for _, _, stem in sorted(scored)[:MAX_TERMS]]


_ONCE = 1 / (1 + 1.2)  # the saturated weight of a single mention


def caption(places: Sequence[str], terms: Sequence[str], limit: int = MAX_REASON_CHARS) -> str:
    """"Both mention Ghana, cocoa and harvest": shared places first, then terms, as many as fit in `limit`."""
    words: list[str] = []
    for word in [*places, *terms]:
        if word.casefold() not in {w.casefold() for w in words}:
            words.append(word)
    prefix = "Both mention "
    fitted: list[str] = []
    for word in words:
        trial = prefix + _join([*fitted, word])
        if len(trial) > limit:
            break
        fitted.append(word)
    return prefix + _join(fitted) if fitted else NOTHING_SHARED


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class Explainer:
    """Captions for related items over one index version; each article's profile is built once and cached."""

    def __init__(self, keyword: KeywordIndex, text_of: Callable[[int], str], places_of: Callable[[int], Sequence[str]]):
        self._keyword = keyword
        self._places_of = places_of
        self.profile: Callable[[int], TermProfile] = functools.lru_cache(maxsize=4096)(
            lambda row: term_profile(text_of(row))
        )

    def reason(self, source: TermProfile, source_places: Sequence[str], target: int) -> str:
        target_places = {p.casefold() for p in self._places_of(target)}
        places = [p for p in source_places if p.casefold() in target_places]
        terms = shared_terms(source, self.profile(target), self._keyword.document_frequency, self._keyword.count)
        return caption(places, terms)
