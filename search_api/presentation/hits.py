"""Search hits: each ranked article with the passage that best shows why it matched (a passage holding the quoted
phrase, else the one with most query terms, else the dense leg's best), its snippet with the terms marked, its
card fields, its deadline and its near-duplicates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import numpy as np

from search_api.catalogue import Catalogue
from search_api.presentation.snippets import best_passage, make_snippet, passage_stems
from search_api.ranking.ranker import Candidate
from search_api.schemas import SearchHit


class Hits:
    """Builds hits for one version."""

    def __init__(self, catalogue: Catalogue, chunk_text: Sequence[str]) -> None:
        self.catalogue = catalogue
        self.chunk_text = chunk_text
        # each passage's stems, for choosing keyword snippets: stemming a passage costs ~26 µs, and popular
        # articles' passages come up query after query (4,096 passages: ~10 MB at most)
        self.stems = lru_cache(maxsize=4096)(lambda chunk: passage_stems(self.chunk_text[chunk], self._language(chunk)))

    def _language(self, chunk: int) -> str:
        """The language of the article passage `chunk` belongs to."""
        c = self.catalogue
        return c.language[int(np.searchsorted(c.chunk_start, chunk, side="right")) - 1]

    def overlap(self, chunk: int, terms: frozenset[str]) -> int:
        """How many distinct query terms passage `chunk` holds."""
        return len(self.stems(chunk) & terms)

    def _phrase_passage(self, cand: Candidate, phrases: tuple[re.Pattern[str], ...]) -> int | None:
        """A quoted phrase is what the reader insisted on: the passage to show holding it (there is one unless the
        phrase is only in the title): the dense best passage if it does, else the one with most phrases."""
        def held(c: int) -> int:
            return sum(bool(p.search(self.chunk_text[c])) for p in phrases)

        if cand.chunk is not None and held(cand.chunk):
            return cand.chunk
        counts = {c: held(c) for c in self.catalogue.passages(cand.article)}
        most = max(counts, key=lambda c: (counts[c], -c), default=None)  # the earliest on a tie
        return most if most is not None and counts[most] else None

    def passage(self, cand: Candidate, terms: frozenset[str], phrases: tuple[re.Pattern[str], ...]) -> int:
        """The passage a hit shows."""
        chunk = self._phrase_passage(cand, phrases) if phrases else None
        if chunk is not None:
            return chunk
        chunk = cand.chunk
        if chunk is None or (cand.keyword is not None and terms and self.overlap(chunk, terms) < len(terms)):
            # a keyword match shows the passage with most query terms, the dense best passage on a tie — which wins
            # outright when it holds every term, so the other passages are only scanned when it does not
            candidates = list(self.catalogue.passages(cand.article))
            if chunk is not None:  # prefer the dense passage on a tie in term overlap
                candidates.remove(chunk)
                candidates.insert(0, chunk)
            chunk = candidates[best_passage(candidates, terms, self.overlap)]
        return chunk

    def hit(
        self, cand: Candidate, others: list[int], terms: frozenset[str], phrases: tuple[re.Pattern[str], ...] = (),
        *, today: date,
    ) -> SearchHit:
        plain, marked = make_snippet(self.chunk_text[self.passage(cand, terms, phrases)], terms, focus=phrases,
                                     language=self.catalogue.language[cand.article])
        row = self.catalogue.frame.iloc[cand.article]
        deadline, passed = self.catalogue.deadline(cand.article, today)
        return SearchHit(
            id=row["id"],
            title=row["title"],
            url=row["url"],
            score=round(cand.score, 6),
            semantic_score=None if cand.semantic is None else round(cand.semantic, 6),
            keyword_score=None if cand.keyword is None else round(cand.keyword, 6),
            snippet=plain,
            snippet_html=marked,
            published_at=row["published_at"],
            categories=list(row["categories"]),
            countries=list(row["countries"]),
            regions=list(row["regions"]),
            similar=[self.catalogue.frame.iloc[m]["id"] for m in others],
            deadline=deadline,
            deadline_passed=passed,
        )
