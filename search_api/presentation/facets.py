"""Facet counts over the relevant results: categories, countries, regions, languages, years and open / closed calls."""

from __future__ import annotations

from collections import Counter
from datetime import date

from search_api.catalogue import Catalogue
from search_api.schemas import Facets, FacetValue


def facets(catalogue: Catalogue, rows: list[int], today: date, most: int) -> Facets:
    """Category, country, region, language, year and open / closed call counts over the result rows `rows`, `most` values per
    facet (most frequent first; years newest first)."""
    card = catalogue.card

    def top(counter: Counter, order=lambda kv: (-kv[1], kv[0])) -> list[FacetValue]:
        return [FacetValue(value=str(v), count=c) for v, c in sorted(counter.items(), key=order)[:most]]

    categories, countries, regions, years, calls = Counter(), Counter(), Counter(), Counter(), Counter()
    languages = Counter(catalogue.language[r] for r in rows)
    for r in rows:
        deadline, passed = catalogue.deadline(r, today)  # the counted rows only: at most facet_depth
        if deadline is not None:
            calls["closed" if passed else "open"] += 1
        categories.update(set(card["categories"][r]))
        countries.update(set(card["countries"][r]))
        regions.update(set(card["regions"][r]))
        if catalogue.year[r]:
            years[int(catalogue.year[r])] += 1
    return Facets(counted=len(rows), categories=top(categories), countries=top(countries), regions=top(regions),
                  languages=top(languages), years=top(years, order=lambda kv: -kv[0]), calls=top(calls))
