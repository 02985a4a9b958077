"""Re-scoring after fusion: late interaction lifts and re-orders the fused top by each article's best passage's
MaxSim with the query's tokens (when the version stores passage token codes), and the geography boost prefers
articles about the places a query names."""

from __future__ import annotations

import numpy as np

from indexer.passage_tokens import PassageTokens
from search_api.ranking.params import RankingParams


class LateInteraction:
    """TM2C2's top `late_top` re-scored as fused + late_weight × their best passage's MaxSim with the query."""

    def __init__(
        self, tokens: PassageTokens | None, chunk_start: np.ndarray, params: RankingParams, encoder: object
    ) -> None:
        self.tokens = tokens
        self.chunk_start = chunk_start
        self.params = params
        self.encoder = encoder  # its `query_tokens`, when it has one, gives the query's token vectors

    @property
    def active(self) -> bool:
        """The version has passages' token codes (indexed with late interaction on) and the ranking uses them."""
        p = self.params
        return self.tokens is not None and p.late_weight > 0 and p.late_top > 0 and p.fusion == "tm2c2"

    def rescore(self, query: str, fused: dict[int, float], query_tokens: np.ndarray | None = None) -> dict[int, float]:
        """The fused scores with the top re-scored (never below the fused score, so they stay ahead of the rest).
        Unchanged without passage codes, with another fusion (its scores are on another scale), or with an encoder
        that gives no tokens."""
        p = self.params
        if not self.active or not fused:
            return fused
        if query_tokens is None:
            tokens_of = getattr(self.encoder, "query_tokens", None)
            if tokens_of is None:
                return fused
            query_tokens = tokens_of(query)
        head = sorted(fused, key=lambda a: (-fused[a], a))[: p.late_top]
        ranges = [(int(self.chunk_start[a]), int(self.chunk_start[a + 1])) for a in head]
        late = self.tokens.best(query_tokens, ranges)
        out = dict(fused)
        for a, m in zip(head, late):
            out[a] = fused[a] + p.late_weight * max(float(m), 0.0)
        return out


def geo_boost(scores: dict[int, float], in_place: np.ndarray, boost: float) -> dict[int, float]:
    """Articles about a place the query names (`in_place` rows) score (1 + boost) × their score, when positive."""
    factor = 1.0 + boost
    return {a: s * factor if in_place[a] and s > 0 else s for a, s in scores.items()}
