"""Ordering: the "relevant results" (what facets count and what sort=date or sort=deadline orders), those orders,
and browsing ("latest news", "open calls") when a query leaves nothing to rank."""

from __future__ import annotations

from datetime import date

import numpy as np

from search_api.catalogue import Catalogue
from search_api.ranking.params import RankingParams
from search_api.ranking.ranker import Group
from search_api.schemas import Sort


def relevant(groups: list[Group], params: RankingParams) -> list[Group]:
    """The relevant results among the first `facet_depth`, in rank order: as many as score at least `facet_share`
    of the best."""
    head = groups[: params.facet_depth]
    best = max((g[0].measured for g in head), default=0.0)
    cut = params.facet_share * best if best > 0 else -np.inf  # nothing scores well: take the top
    # as many as score at least the share by the fused score (what the share was measured on), in served order:
    # late interaction only re-orders the top 30, which lead by the fused score too
    return head[: sum(g[0].measured >= cut for g in head)]


def in_order(
    groups: list[Group], relevant_groups: list[Group], sort: Sort, catalogue: Catalogue, today: date
) -> list[Group]:
    """The results in the order asked for: by relevance all of `groups`; by date (newest first, undated last, equal
    dates by score) or by deadline (soonest open deadline first; closed calls and other articles after, by score)
    the relevant ones only. The relevance order is kept among equals (stable sorts)."""
    if sort == "date":
        when = catalogue.published
        return sorted(relevant_groups, key=lambda g: np.inf if np.isnan(when[g[0].article]) else -when[g[0].article])
    if sort == "deadline":
        rows = np.array([c.article for c, _ in relevant_groups], dtype=np.int64)
        upcoming = catalogue.next_deadlines(today, rows) if len(rows) else rows
        return [relevant_groups[i] for i in np.argsort(upcoming, kind="stable")]
    return groups


def browse_order(catalogue: Catalogue, allowed: np.ndarray | None, sort: Sort, today: date) -> np.ndarray:
    """The eligible rows newest first (undated last; then by row), or by their next deadline, soonest first
    (`sort="deadline"`; then newest first)."""
    rows = np.flatnonzero(allowed) if allowed is not None else np.arange(catalogue.size)
    when = catalogue.published[rows]
    undated = np.isnan(when)
    keys = [rows, -np.where(undated, 0.0, when), undated]  # np.lexsort: the last key is the primary one
    if sort == "deadline":
        keys.append(catalogue.next_deadlines(today, rows))
    return rows[np.lexsort(keys)]
