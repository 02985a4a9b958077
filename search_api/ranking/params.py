"""How a search ranks: fusion of the two legs, late interaction, facets' "relevant results", the geography boost,
the weak-match floor and the site's synonyms. Defaults chosen by `sift eval` (see BENCHMARKS.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from search_api.query.synonyms import Synonyms


DEFAULT_MATCH_FLOOR = 0.30


@dataclass(frozen=True)
class RankingParams:
    """How hybrid ranking fuses the two legs; defaults chosen by `sift eval` (see BENCHMARKS.md)."""

    # TM2C2 at 0.75, chosen on SciFact's train queries (plateau 0.65-0.80); on the test queries it beats min-max
    # convex and RRF on SciFact, CISI and MEDLINE (BENCHMARKS.md "Relevance").
    fusion: Literal["tm2c2", "convex", "rrf"] = "tm2c2"
    weight: float = 0.75  # tm2c2 / convex: share of the semantic leg
    rrf_k: int = 60
    depth: int = 100  # candidates taken from each leg before fusing
    # Late interaction (indexer.passage_tokens): the TM2C2 top `late_top` re-scored as fused + late_weight × their
    # best passage's MaxSim with the query (each query token's best match among the passage's tokens, averaged).
    # Chosen by bench/late_rerank.py on a dev set of SciFact's train queries and Cranfield (the argmax of their mean
    # over three ways of mixing it in, 19 settings and none). `sift eval`: SciFact test 0.7389 → 0.7410, MEDLINE
    # 0.8060 → 0.8048, CISI 0.4648 → 0.4689, Cranfield 0.4142 → 0.4189 — small, not significant on any one of them
    # (BENCHMARKS.md "Relevance"). 0 turns it off; a version without token codes has none.
    late_top: int = 30
    late_weight: float = 0.25
    collapse_duplicates: bool = True
    # Facets count, and sort=date orders, the results scoring at least `facet_share` of the best one, among the first
    # `facet_depth` ("the relevant results"). Semantic search scores every article, so a fixed top-k would count most
    # of a small site for any query. Measured on SciFact's train queries (hybrid): half the best score keeps 97% of
    # the judged-relevant articles in the top 100 and counts a median of 41 results (0.6: 92%, 14).
    facet_depth: int = 100
    facet_share: float = 0.5
    facet_values: int = 20  # values listed per facet at most
    # Articles about a place the query names score (1 + geo_boost) × their score: a soft preference, not a filter.
    geo_boost: float = 0.5
    # A search answers nothing rather than its nearest junk when no eligible article matches well: none has a passage
    # at this cosine to the query (hybrid and semantic), and none holds every query word. Measured (BENCHMARKS.md,
    # "Weak matches", bench/bench_floor.py): on the sample corpus the best passage of 90 on-topic searches is 0.385 or
    # more at the 1st percentile and every one is answered, while 80% of BBC sport/entertainment/tech headlines and
    # 84.5% of SciFact claims are held back; no judged query of SciFact, MEDLINE or CISI is. 0 turns the check off.
    # None: the model's own floor on its calibrated scale (`match_floor` of the encoder, e.g. multilingual-e5's), else
    # DEFAULT_MATCH_FLOOR; the engine resolves it when it loads.
    match_floor: float | None = None
    # the site's synonyms (SIFT_SYNONYMS): phrases the keyword leg also searches when the query holds their partner
    synonyms: Synonyms = Synonyms()
