"""Which articles a search may return: boolean masks over the catalogue from the request's filters (category,
country, region, language, dates, open or closed calls), the query's time span, and its quoted phrases and excluded words.
The legs search within the mask, so a narrow filter never starves the results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

import numpy as np

from indexer.errors import InvalidQuery
from indexer.geography import UnknownRegion, canonical_region, country_code, region_members
from indexer.keyword import KeywordIndex, analyse
from indexer.languages import UnknownLanguage, normalise
from search_api.catalogue import NO_DEADLINE, Catalogue
from search_api.query.syntax import QuerySyntax, Window, phrase_pattern, phrase_words
from search_api.schemas import Filters


def _country_codes(names: Sequence[str]) -> list[str]:
    codes = []
    for name in names:
        code = country_code(name.strip())
        if code is None:
            raise InvalidQuery(f"unknown country {name!r}; use an English name or an ISO code, e.g. Kenya or KEN")
        codes.append(code)
    return codes


def _language_codes(codes: Sequence[str]) -> list[str]:
    try:
        return [normalise(code) for code in codes]
    except UnknownLanguage as exc:
        raise InvalidQuery(str(exc)) from None


def _region_mask(catalogue: Catalogue, regions: Sequence[str]) -> np.ndarray:
    """The articles tagged with one of the regions or naming one of their countries."""
    try:
        names = [canonical_region(name.strip()) for name in regions]
    except UnknownRegion as exc:
        raise InvalidQuery(str(exc)) from None
    mask = catalogue.rows_with_any(catalogue.region_members, names)
    mask |= catalogue.rows_with_any(catalogue.country_members, {c for n in names for c in region_members(n)})
    return mask


def filter_mask(catalogue: Catalogue, filters: Filters, today: date) -> np.ndarray | None:
    """Boolean mask of articles passing the filters, or None when there are no filters."""
    if filters.is_empty():
        return None
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidQuery(f"date_from {filters.date_from} is after date_to {filters.date_to}")
    mask = np.ones(catalogue.size, dtype=bool)
    if filters.categories:
        wanted = (c.strip().casefold() for c in filters.categories)
        mask &= catalogue.rows_with_any(catalogue.category_members, wanted)
    if filters.countries:
        mask &= catalogue.rows_with_any(catalogue.country_members, _country_codes(filters.countries))
    if filters.regions:
        mask &= _region_mask(catalogue, filters.regions)
    if filters.languages:
        mask &= catalogue.rows_with_any(catalogue.language_members, _language_codes(filters.languages))
    with np.errstate(invalid="ignore"):
        if filters.date_from:
            start = datetime.combine(filters.date_from, time.min, tzinfo=timezone.utc).timestamp()
            mask &= catalogue.published >= start
        if filters.date_to:
            end = datetime.combine(filters.date_to, time.max, tzinfo=timezone.utc).timestamp()
            mask &= catalogue.published <= end
    if filters.calls == "open":
        mask &= catalogue.next_deadlines(today) != NO_DEADLINE
    elif filters.calls is not None:
        mask &= catalogue.calls_closed(today)
    return mask


def window_mask(catalogue: Catalogue, window: Window, allowed: np.ndarray | None) -> np.ndarray:
    """`allowed` narrowed to the articles published within the window (undated ones are not)."""
    mask = np.ones(catalogue.size, dtype=bool) if allowed is None else allowed.copy()
    with np.errstate(invalid="ignore"):
        if window.start is not None:
            mask &= catalogue.published >= datetime.combine(window.start, time.min, tzinfo=timezone.utc).timestamp()
        if window.end is not None:
            end = datetime.combine(window.end + timedelta(days=1), time.min, tzinfo=timezone.utc).timestamp()
            mask &= catalogue.published < end
    return mask


class SyntaxFilter:
    """Quoted phrases and excluded words as a mask. A phrase is looked for only in the articles BM25 says hold all
    its terms, so a rare phrase costs a few texts; "climate change" on a large site reads every article about
    climate (25-72 µs each on BBC News). The rows holding a phrase are cached per version, so paging through a
    phrase search reads the texts once."""

    def __init__(self, catalogue: Catalogue, keyword: KeywordIndex, chunk_text: Sequence[str]) -> None:
        self.catalogue = catalogue
        self.keyword = keyword
        self.chunk_text = chunk_text
        self.rows_holding = lru_cache(maxsize=256)(self._rows_holding)

    def mask(self, syntax: QuerySyntax, allowed: np.ndarray | None) -> np.ndarray:
        """`allowed` (every article when None) narrowed to the articles holding each phrase and none of the
        excluded words."""
        mask = np.ones(self.catalogue.size, dtype=bool) if allowed is None else allowed.copy()
        for phrase in syntax.phrases:
            holds = np.zeros(len(mask), dtype=bool)
            holds[self.rows_holding(" ".join(phrase_words(phrase)).casefold())] = True
            mask &= holds
        for word in syntax.excluded:
            rows = self.keyword.documents_with_all(analyse([word])[0])
            if rows is not None:  # a stop word ("-the") is in no index: it excludes nothing
                mask[rows] = False
        return mask

    def _rows_holding(self, phrase: str) -> np.ndarray:
        """Rows of the articles holding `phrase` (its words, casefolded and joined by one space)."""
        rows = self.keyword.documents_with_all(analyse([phrase])[0])
        if rows is None:  # only stop words ("to be or not"): BM25 cannot narrow it, and reading every text per
            return np.arange(self.catalogue.size)  # query would let a few quotes stall the server; it restricts nothing
        search, titles = phrase_pattern(phrase).search, self.catalogue.card["title"]
        starts, texts = self.catalogue.chunk_start, self.chunk_text

        def holds(row: int) -> bool:  # the title, then passage by passage: most phrases are found in the first
            return bool(search(titles[row])) or any(search(texts[c]) for c in range(starts[row], starts[row + 1]))

        return np.array([r for r in rows.tolist() if holds(r)], dtype=np.int64)
