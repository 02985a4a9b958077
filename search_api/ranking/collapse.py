"""Near-duplicate collapse: one result per group of near-duplicate articles (found at indexing), its best-ranked
member, with the group's other eligible members listed as `similar`."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from search_api.catalogue import Catalogue
from search_api.ranking.ranker import Candidate, Group


def collapse(
    ranked: Iterable[Candidate], catalogue: Catalogue, allowed: np.ndarray | None, limit: int | None = None
) -> list[Group]:
    """One hit per near-duplicate group (its best-ranked member), with the group's other members; the first
    `limit` groups when given."""
    seen: set[int] = set()
    out: list[Group] = []
    for cand in ranked:
        if limit is not None and len(out) >= limit:
            break
        group = int(catalogue.group[cand.article])
        if group in seen:
            continue
        seen.add(group)
        others = [m for m in catalogue.group_members[group] if m != cand.article and (allowed is None or allowed[m])]
        out.append((cand, others))
    return out


def one_each(ranked: Iterable[Candidate], limit: int | None = None) -> list[Group]:
    """The candidates as groups of one (collapse turned off); the first `limit` when given."""
    if limit is None:
        return [(cand, []) for cand in ranked]
    return [(cand, []) for cand, _ in zip(ranked, range(limit))]
