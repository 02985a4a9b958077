"""The weak-match floor: a search answers nothing rather than its nearest junk when no eligible article matches
well (`RankingParams.match_floor`): a semantic leg always finds *something* nearest."""

from __future__ import annotations

import numpy as np

from indexer.geography import parse_query_places
from indexer.keyword import KeywordIndex, analyse
from search_api.ranking.ranker import Group


def matches_well(
    groups: list[Group], text: str, floor: float, allowed: np.ndarray | None, keyword: KeywordIndex
) -> bool:
    """Whether some candidate has a passage at cosine `floor` or more to the query, or some eligible article holds
    every query word the keyword leg reads (place names aside: "Ghana" alone is answered by the place tags)."""
    if floor <= 0 or any(c.semantic is not None and c.semantic >= floor for c, _ in groups):
        return True
    words = analyse([parse_query_places(text).residual])[0]
    if not words:  # only place names or stop words: nothing for the keyword leg to hold
        return True
    rows = keyword.documents_with_all(words)
    return rows is None or bool(len(rows) if allowed is None else allowed[rows].any())
