"""Search-box suggestions: complete the word being typed with the words the articles use.

"child traff" → "child trafficking", "child traffickers": the last, unfinished word is completed from the index's
vocabulary, written as the articles write it, most used first; with words before it, only completions that some
article holds together with all of them, most such articles first — so every suggestion finds something.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from indexer.keyword import analyse, rows_with_all

MIN_PREFIX = 2  # letters typed before anything is suggested
STEM_SLACK = 3  # a stem may be up to this many letters shorter than the word typed ("trafficki" → "traffick")
MAX_CANDIDATES = 40  # stems looked at per request, the most used first: bounds the work of one keystroke
_LAST_WORD = re.compile(r"(\w+)$")


class Suggester:
    """Completions against one version: `stems()` lists the indexed stems, `frequency(stem)` counts the articles
    holding one, `spell(stem)` counts the words articles write it as, `rows(stem)` gives the articles holding it."""

    def __init__(self, stems: Callable[[], Iterable[str]], frequency: Callable[[str], int],
                 spell: Callable[[str], Mapping[str, int]], rows: Callable[[str], np.ndarray], articles: int) -> None:
        self._stems = stems
        self._df = frequency
        self._spell = spell
        self._rows = rows
        self._articles = articles
        self._sorted: list[str] | None = None

    def _with_prefix(self, prefix: str) -> list[str]:
        if self._sorted is None:  # built on the first request, not when a version opens
            self._sorted = sorted(s for s in self._stems() if s.isalpha())
        start = bisect.bisect_left(self._sorted, prefix)
        end = bisect.bisect_left(self._sorted, prefix + "\uffff")
        return self._sorted[start:end]

    def complete(self, text: str, k: int = 8) -> list[str]:
        """Up to `k` completions of `text`'s last word, each the whole text with that word completed."""
        match = _LAST_WORD.search(text)
        if match is None or len(match.group(1)) < MIN_PREFIX or not match.group(1).isalpha():
            return []
        head, typed = text[: match.start()], match.group(1).lower()
        pool = self._with_prefix(typed[: max(MIN_PREFIX, len(typed) - STEM_SLACK)])
        # stems that can be written starting with what was typed: longer ones ("traf" → "traffick"), shorter ones
        # ("trafficki" → "traffick") and, for 5+ letters, a changed last letter ("countr" → "countri" is covered
        # above; "happy" → "happi"); not every "tr…" stem, which would crowd the candidates on a large site
        stems = [s for s in pool if s.startswith(typed) or typed.startswith(s)
                 or (len(typed) >= 5 and s.startswith(typed[:-1]))]
        stems = sorted(stems, key=lambda s: -self._df(s))[:MAX_CANDIDATES]
        context = self._context(head)
        scored: dict[str, tuple[int, int]] = {}  # word → (articles, how many sampled articles spell it so)
        written: dict[str, Counter[str]] = {}  # word → its spellings ("Trafficked" in a title, "trafficked")
        for stem in stems:
            count = self._df(stem) if context is None else int(context[self._rows(stem)].sum())
            if not count:
                continue
            for form, share in self._spell(stem).items():
                word = form.lower()
                if word.startswith(typed) and word != typed:
                    written.setdefault(word, Counter())[form] += share
                    if scored.get(word, (-1, -1)) < (count, share):
                        scored[word] = (count, share)
        best = sorted(scored, key=lambda w: (-scored[w][0], -scored[w][1], len(w), w))[:k]
        return [head + _written(written[word], match.group(1)) for word in best]

    def _context(self, head: str) -> np.ndarray | None:
        """Which articles hold every indexed word before the one being typed (None: no such word)."""
        rows = rows_with_all(self._rows, analyse([head])[0]) if head.strip() else None
        if rows is None:
            return None
        mask = np.zeros(self._articles, dtype=bool)
        mask[rows] = True
        return mask


def _written(spellings: Counter[str], typed: str) -> str:
    """Names as the articles write them ("bang" → "Bangladesh", "unic" → "UNICEF"): words never written in lowercase.
    Other words lowercase ("Trafficked" in a headline is the word trafficked), or capitalised if the reader
    capitalised them ("Traff" → "Trafficking")."""
    word = next(iter(spellings)).lower()
    if word not in spellings:
        return spellings.most_common(1)[0][0]
    return word[:1].upper() + word[1:] if typed[:1].isupper() else word
