"""The ranked candidates for a query: the legs' lists fused (or one leg alone), re-scored by late interaction and
the geography boost, in score order. One `Candidate` per article carries what later stages need: both legs' scores,
the dense leg's best passage, and the fused score "relevant results" are measured by."""

from __future__ import annotations

from collections.abc import Sequence
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

    def rank(
        self, query: str, mode: Mode, need: int, allowed: np.ndarray | None, also: Sequence[str] = (),
        places: QueryPlaces | None = None,
    ) -> list[Candidate]:
        """The eligible articles ranked for `query`; `also` (synonyms) are searched by the keyword leg as well. The
        keyword leg reads the query without its place names (`places`, found when not given), so that "in Africa"
        does not reward articles for literally saying "Africa" while the boost rewards articles about Africa."""
        p = self.params
        places = parse_query_places(query) if places is None else places
        dense, keyword = self.legs.run(
            query, need, mode=mode, allowed=allowed, keyword_query=" ".join([places.residual or query, *also]),
            complete=p.fusion == "tm2c2", prime_tokens=self.late.active,
        )
        if mode == "semantic":
            scored = {a: s for a, (s, _) in dense.items()}
        elif mode == "keyword":
            scored = keyword
        else:
            semantic = {a: s for a, (s, _) in dense.items()}
            scored = fusion.fuse(semantic, keyword, method=p.fusion, weight=p.weight, rrf_k=p.rrf_k)
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
