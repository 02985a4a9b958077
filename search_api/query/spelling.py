"""Spelling correction for queries: a word the index has never seen is replaced by the closest one it has.

A misspelt word ("colera", "Bangldesh") matches nothing in the keyword leg and pulls the query's vector off topic,
so the search comes back with unrelated articles. Only words whose stem occurs in no article are candidates, and only
when an indexed stem with the same first letter lies within a small edit distance (optimal string alignment: a swap
of two letters is one edit) — one edit for words of up to 7 letters, two beyond. Place names the geography parser
recognises are never touched, nor words shorter than 5 letters, with digits, or capitals inside (acronyms, codes).
The index vocabulary is the keyword index's own (stems), so a correction is always a term that matches articles;
it is written back as the articles spell it, in the form nearest the typed word ("governmnet" → "government", whose
stem is "govern": a typo can hide a suffix from the stemmer, so stems near the word's beginnings count too).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from indexer.geography import parse_query_places
from indexer.keyword import stem_word

MIN_LETTERS = 5
MAX_CANDIDATES = 10  # nearest stems whose spellings are compared with the typed word
MIN_STEM = 4  # the shortest beginning of a word compared with stems …
MAX_SUFFIX = 5  # … which leaves at most this many letters for a suffix the stemmer would strip
_WORD = re.compile(r"\w+", re.UNICODE)


def max_edits(word: str) -> int:
    return 1 if len(word) <= 7 else 2


def _checkable(word: str) -> bool:
    """Plain words only: long enough, letters only, not an acronym or code ("UNICEF", "aPKCz", "CoYMV")."""
    return len(word) >= MIN_LETTERS and word.isalpha() and (word.islower() or word[1:].islower())


@dataclass(frozen=True)
class Correction:
    query: str  # the query as searched
    words: tuple[tuple[str, str], ...]  # (as typed, as corrected)


class Speller:
    """Corrections against one version's vocabulary: `stems()` lists the indexed stems, `frequency(stem)` counts
    the articles holding one, `spell(stem)` gives the words articles write it as."""

    def __init__(self, stems: Callable[[], Iterable[str]], frequency: Callable[[str], int],
                 spell: Callable[[str], Iterable[str]]) -> None:
        self._stems = stems
        self._df = frequency
        self._spell = spell
        self._buckets: dict[tuple[str, int], list[str]] | None = None

    def _near(self, probe: str, edits: int, first: str) -> list[tuple[str, int]]:
        """Indexed stems starting with `first` within `edits` of `probe`, with their distances."""
        if self._buckets is None:  # built on the first unknown word, not when a version opens
            buckets: dict[tuple[str, int], list[str]] = {}
            for stem in self._stems():
                if stem.isalpha():
                    buckets.setdefault((stem[0], len(stem)), []).append(stem)
            self._buckets = buckets
        pool = [s for n in range(len(probe) - edits, len(probe) + edits + 1)
                for s in self._buckets.get((first, n), ())]
        found = process.extract(probe, pool, scorer=OSA.distance, score_cutoff=edits, limit=None)
        return [(s, int(d)) for s, d, _ in found]

    def closest(self, word: str, stem: str) -> str | None:
        """The indexed word nearest `word` (whose stem is `stem`), or None if none is near enough.

        Candidates are the indexed stems near the typed word's stem, and near the word's beginnings (a typo can hide
        a suffix from the stemmer: "environmetn" stems to itself, "environment" to "environ"); each is written as the
        articles write it, and the written form nearest the typed word wins, then the stem in more articles (a rare
        indexed misspelling such as "weigt" loses to "weight"), then the nearer stem. Typists rarely miss a word's
        first letter, and another first letter is usually another word ("uncultured" / "cultured", "Merlin" /
        "Berlin"), so it must match.
        """
        edits = max_edits(word)
        typed = word.lower()
        first = typed[0]
        found: dict[str, int] = dict(self._near(stem, edits, first))
        for length in range(max(MIN_STEM, len(typed) - MAX_SUFFIX), len(typed)):
            for candidate, distance in self._near(typed[:length], edits, first):
                found[candidate] = min(found.get(candidate, distance), distance)
        order = sorted(found.items(), key=lambda kv: (kv[1], -len(kv[0]), -self._df(kv[0]), kv[0]))
        ranked = []
        for candidate, distance in order[:MAX_CANDIDATES]:
            for form in self._spell(candidate):
                written = OSA.distance(typed, form.lower())
                if form[:1].lower() == first and written <= edits:  # near as written too, not only as stems
                    ranked.append((written, -self._df(candidate), distance, form))
        return min(ranked)[3] if ranked else None

    def correct(self, query: str, keep: Sequence[tuple[int, int]] = ()) -> Correction | None:
        """The query with each unknown word corrected, or None when every word is known (or none can be fixed).
        Words inside the `keep` spans (quoted phrases, excluded words) and place names are left as typed."""
        spans = (*parse_query_places(query).spans, *keep)
        out, changed, last = [], [], 0
        for m in _WORD.finditer(query):
            word = m.group()
            fixed = None
            if _checkable(word) and not any(s < m.end() and m.start() < e for s, e in spans):
                stem = stem_word(word)
                if stem is not None and not self._df(stem):
                    better = self.closest(word, stem)
                    if better is not None:
                        fixed = _like(better, word)
            out.append(query[last:m.start()])
            out.append(fixed or word)
            last = m.end()
            if fixed:
                changed.append((word, fixed))
        if not changed:
            return None
        out.append(query[last:])
        return Correction("".join(out), tuple(changed))


def _like(word: str, typed: str) -> str:
    """`word` in the case the reader typed (only lower-case and capitalised words are corrected)."""
    return word.lower() if typed.islower() else word[:1].upper() + word[1:]
