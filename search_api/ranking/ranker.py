"""The ranked candidates for a query: the legs' lists fused (or one leg alone), re-scored by late interaction and
the geography boost, in score order. One `Candidate` per article carries what later stages need: both legs' scores,
the dense leg's best passage, and the fused score "relevant results" are measured by."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.geography import QueryPlaces, parse_query_places
from search_api.catalogue import Catalogue
from search_api.ranking import fusion
from search_api.ranking.legs import Legs
from search_api.ranking.params import RankingParams
from search_api.ranking.rescoring import LateInteraction, geo_boost
from search_api.schemas import Mode


@dataclass
class Candidate:
    article: int
    score: float
    semantic: float | None = None
    keyword: float | None = None
    chunk: int | None = None  # best dense passage, when the semantic leg found it
    relevance: float | None = None  # the score without late interaction's bonus (None: the score)

    @property
    def measured(self) -> float:
        """The score "relevant results" are cut by (`RankingParams.facet_share`)."""
        return self.score if self.relevance is None else self.relevance


Group = tuple[Candidate, list[int]]  # a candidate and the other members of its near-duplicate group


class Ranker:
    """Legs → fusion → re-scoring, for one version."""

    def __init__(self, legs: Legs, late: LateInteraction, catalogue: Catalogue, params: RankingParams) -> None:
        self.legs = legs
        self.late = late
        self.catalogue = catalogue
        self.params = params
        self._scopes: dict[str, np.ndarray] = {}  # language → its articles (the version never changes)

    def rank(
        self, query: str, mode: Mode, need: int, allowed: np.ndarray | None, also: Sequence[str] = (),
        places: QueryPlaces | None = None, language: str | None = None,
    ) -> list[Candidate]:
        """The eligible articles ranked for `query`; `also` (synonyms) are searched by the keyword leg as well. The
        keyword leg reads the query without its place names (`places`, found when not given), so that "in Africa"
        does not reward articles for literally saying "Africa" while the boost rewards articles about Africa; and
        only in the query's `language` (see `keyword_scope`)."""
        p = self.params
        places = parse_query_places(query, language=language) if places is None else places
        keyword_language, keyword_rows = self.keyword_scope(language, mode)
        dense, keyword = self.legs.run(
            query, need, mode=mode, allowed=allowed, keyword_query=" ".join([places.residual or query, *also]),
            complete=p.fusion == "tm2c2", prime_tokens=self.late.active, keyword_language=keyword_language,
            keyword_rows=keyword_rows,
        )
        semantic = {a: self.legs.calibrated(s) for a, (s, _) in dense.items()}
        if mode == "semantic":
            scored = semantic
        elif mode == "keyword":
            scored = keyword
        else:
            scored = fusion.fuse(semantic, keyword, method=p.fusion, weight=p.weight, rrf_k=p.rrf_k,
                                 unread=self.unread(keyword_rows, semantic))
        # the score "relevant results" are measured by (facets, sort=date: `facet_share` of the best) stays the fused
        # one it was calibrated on; late interaction lifts the top 30 above the rest and re-orders them
        base, scored = scored, self.late.rescore(query, scored) if mode == "hybrid" else scored
        if places.country_set and p.geo_boost:
            c = self.catalogue
            in_place = c.rows_with_any(c.country_members, places.country_set)
            in_place |= c.rows_with_any(c.region_members, places.regions)
            scored, base = geo_boost(scored, in_place, p.geo_boost), geo_boost(base, in_place, p.geo_boost)
        order = sorted(scored, key=lambda a: (-scored[a], a))
        return [
            Candidate(
                article=a, score=scored[a], relevance=base[a], semantic=dense[a][0] if a in dense else None,
                keyword=keyword.get(a), chunk=dense[a][1] if a in dense else None,
            )
            for a in order
        ]

    @staticmethod
    def unread(keyword_rows: np.ndarray | None, candidates: Iterable[int]) -> set[int]:
        """The candidates the keyword leg could not read (outside `keyword_rows`, the mask `keyword_scope` gives):
        fusion scores them by meaning alone."""
        return set() if keyword_rows is None else {a for a in candidates if not keyword_rows[a]}

    def keyword_scope(self, language: str | None, mode: Mode) -> tuple[str, np.ndarray | None]:
        """(the language the keyword leg reads the query in, the articles it may score: None for all). A query in a
        known language is matched against the articles written in it, with its stemmer and stop words; when the site
        has none in that language a hybrid search leaves the keyword leg silent (its terms would only match names and
        noise: measured on XQuAD, Spanish questions over English articles 0.504 nDCG@10 hybrid vs 0.933 by meaning
        alone) and a keyword search reads every article. A query whose language is unknown (short, or mixed) is read
        in the site's main language against every article, as before languages were told."""
        c = self.catalogue
        if language is None:
            return c.main_language, None
        rows = c.language_members.get(language)
        if rows is None:
            return (c.main_language, None) if mode == "keyword" else (language, np.zeros(c.size, dtype=bool))
        if len(rows) == c.size:
            return language, None
        if language not in self._scopes:
            mask = self._scopes[language] = np.zeros(c.size, dtype=bool)
            mask[rows] = True
        return language, self._scopes[language]
