"""The weak-match floor: a search answers nothing rather than its nearest junk when no eligible article matches
well (`RankingParams.match_floor`): a semantic leg always finds *something* nearest."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from indexer.geography import parse_query_places
from indexer.keyword import KeywordIndex, analyse
from search_api.ranking.ranker import Group


def matches_well(
    groups: list[Group], text: str, floor: float, allowed: np.ndarray | None, keyword: KeywordIndex, *,
    calibrated: Callable[[float], float] = float, language: str | None = None, scope: np.ndarray | None = None,
) -> bool:
    """Whether some candidate has a passage at `floor` or more to the query (cosine on the model's `calibrated`
    scale), or some eligible article in the keyword leg's `scope` (None: any) holds every query word the keyword leg
    reads in `language` (place names aside: "Ghana" alone is answered by the place tags)."""
    if floor <= 0 or any(c.semantic is not None and calibrated(c.semantic) >= floor for c, _ in groups):
        return True
    words = analyse([parse_query_places(text, language=language).residual], language)[0]
    if not words:  # only place names or stop words: nothing for the keyword leg to hold
        return True
    rows = keyword.documents_with_all(words)
    if rows is not None and scope is not None:
        rows = rows[scope[rows]]
    return rows is None or bool(len(rows) if allowed is None else allowed[rows].any())
