"""Fusion of ranked lists: convex combinations (min-max or theoretical-min-max normalised), and reciprocal rank fusion."""

from __future__ import annotations

from collections.abc import Collection, Mapping


def min_max(scores: Mapping[int, float]) -> dict[int, float]:
    """Scale to [0, 1]; a list whose scores are all equal maps to 1.0 (every item matched equally well)."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return {key: 1.0 for key in scores}
    return {key: (value - lo) / (hi - lo) for key, value in scores.items()}


def convex(
    dense: Mapping[int, float], keyword: Mapping[int, float], weight: float, unread: Collection[int] = ()
) -> dict[int, float]:
    """weight · dense + (1 − weight) · keyword, each min-max normalised; an item absent from a list scores 0 there.
    Items in `unread` (see `tm2c2`) have the dense leg's min-max over them as their keyword score."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight must be within [0, 1], got {weight}")
    d = min_max(dense)
    kw = min_max({key: value for key, value in keyword.items() if key not in unread})
    kw.update(min_max({key: dense[key] for key in unread if key in dense}))
    return {key: weight * d.get(key, 0.0) + (1.0 - weight) * kw.get(key, 0.0) for key in d.keys() | kw.keys()}


def tm2c2(
    dense: Mapping[int, float], keyword: Mapping[int, float], weight: float, unread: Collection[int] = ()
) -> dict[int, float]:
    """Convex combination under theoretical min-max normalisation (Bruch et al. 2022, "TM2C2"): the cosine is used
    as it is (its bounds are fixed) and BM25 is divided by the best score (its lower bound is 0), so one outlier in
    the candidate list does not stretch the other scores as min-max does. An item absent from a list scores that
    list's lower bound (cosine −1, BM25 0); the engine fills both legs in for every candidate, so none is absent.

    `unread`: items the keyword leg could not read (articles in another language than the question's, on a site
    that mixes languages). BM25's 0 says nothing about them, and counting it put every same-language article sharing
    a few words above the right story in the other language; scoring them by meaning alone still left them without
    the share the best keyword match always gets. So their keyword share is their cosine divided by the best of
    theirs, as BM25 is divided by its best: the best of them by meaning stands in for their best keyword match.
    XQuAD, half the stories in English and half in Spanish, MRR@10 served (2026-12-05): Spanish questions 0.762 with
    BM25's 0, 0.838 by meaning alone, 0.947 so (0.970 in a Spanish-only index); English questions 0.944 (0.975).
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"fusion weight must be within [0, 1], got {weight}")
    top = max((value for key, value in keyword.items() if key not in unread), default=0.0)
    scale = 1.0 / top if top > 0 else 0.0
    best = max((dense[key] for key in unread if key in dense), default=0.0)
    stand_in = 1.0 / best if best > 0 else 0.0
    return {
        key: weight * dense.get(key, -1.0) + (1.0 - weight) * (
            max(dense.get(key, 0.0), 0.0) * stand_in if key in unread else keyword.get(key, 0.0) * scale)
        for key in dense.keys() | keyword.keys()
    }


def rrf(dense: Mapping[int, float], keyword: Mapping[int, float], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack et al. 2009): Σ 1 / (k + rank), ranks from 1, over the lists an item is in."""
    if k < 1:
        raise ValueError(f"RRF k must be at least 1, got {k}")
    fused: dict[int, float] = {}
    for ranked in (dense, keyword):
        order = sorted(ranked, key=lambda key: (-ranked[key], key))
        for rank, key in enumerate(order, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


def fuse(
    semantic: Mapping[int, float], keyword: Mapping[int, float], *, method: str, weight: float = 0.5, rrf_k: int = 60,
    unread: Collection[int] = (),
) -> dict[int, float]:
    """Fuse two {item: score} lists with `method` "tm2c2", "convex" (min-max) or "rrf"; `unread` as `tm2c2` (RRF
    counts ranks, where an item no list holds adds nothing)."""
    if method == "tm2c2":
        return tm2c2(semantic, keyword, weight, unread)
    if method == "convex":
        return convex(semantic, keyword, weight, unread)
    if method == "rrf":
        return rrf(semantic, keyword, rrf_k)
    raise ValueError(f"unknown fusion method {method!r}; use tm2c2, convex or rrf")
