"""The related-posts policy: which of an article's nearest neighbours make its list, and in what order.

A pure function over candidate arrays (the precomputed neighbours, or a live search for a draft), so every rule
is tested with small hand-made arrays: similarity floor, near-duplicates, recency, category boost, MMR diversity,
and the editors' pins and excludes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

# Defaults measured by bench/bench_related.py (see BENCHMARKS.md). The floor: on the Lee corpus, people rated 14-78%
# of the article pairs below cosine 0.30 as unrelated but at most 6% of those above it; on BBC News and data/sample
# the floor shortens fewer than 0.5% of top-5 lists and empties none, so it only bites where an article has no
# real neighbour.
DEFAULT_MIN_SIMILARITY = 0.30
# MMR off: on BBC News every lambda below 1 cost same-topic precision (0.9: -0.5 points, 0.7: -3.2) for diversity.
DEFAULT_MMR_LAMBDA = 1.0


@dataclass(frozen=True)
class RelatedRules:
    """How a related list is chosen from the candidates. Every rule but the similarity floor is off by default."""

    min_similarity: float = DEFAULT_MIN_SIMILARITY  # cosine below which a candidate is never shown
    mmr_lambda: float = DEFAULT_MMR_LAMBDA  # 1.0 = rank by relevance only; lower trades relevance for diversity
    half_life_days: float | None = None  # a candidate this many days older than the newest article scores half
    max_age_days: float | None = None  # candidates older than this are dropped (undated ones are kept)
    same_category_boost: float = 0.0  # added to the score of a candidate sharing a category with the source
    hide_closed_calls: bool = False  # drop candidates whose application deadlines have all passed (stale calls)
    same_language: bool = False  # only candidates written in the source's language (a multilingual site's choice)

    def __post_init__(self) -> None:
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be within [-1, 1], got {self.min_similarity}")
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ValueError(f"mmr_lambda must be within [0, 1] (1 turns MMR off), got {self.mmr_lambda}")
        for name in ("half_life_days", "max_age_days"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, or None to turn it off; got {value}")
        if not 0.0 <= self.same_category_boost <= 1.0:
            raise ValueError(f"same_category_boost must be within [0, 1], got {self.same_category_boost}")

    @property
    def uses_dates(self) -> bool:
        return self.half_life_days is not None or self.max_age_days is not None


@dataclass(frozen=True)
class Picked:
    """One chosen article: its row, its cosine similarity to the source, and whether an editor pinned it."""

    row: int
    similarity: float
    pinned: bool = False


@dataclass(frozen=True)
class Pin:
    """An editor's pin, resolved to a row: show `row` at 1-based `position` whatever the rules say."""

    row: int
    position: int
    similarity: float


def _choose(
    pool: list[int], score: np.ndarray, rows: np.ndarray, group: np.ndarray, taken: set[int], want: int,
    mmr_lambda: float, vectors: np.ndarray | None,
) -> list[int]:
    """Greedily the best-scoring candidates of `pool` (positions), one per near-duplicate group not yet `taken`;
    with MMR (`mmr_lambda` < 1 and `vectors`), each pick's score is lowered by its similarity to those chosen."""
    chosen: list[int] = []
    use_mmr = mmr_lambda < 1.0 and vectors is not None
    # the most similar already-chosen item per candidate, for MMR: a running max, one matrix row per pick
    redundancy = np.zeros(len(rows), dtype=np.float64)
    while len(chosen) < want:
        best, best_value = -1, -np.inf
        for i in pool:
            if int(group[rows[i]]) in taken:
                continue
            value = score[i]
            if use_mmr:
                value = mmr_lambda * value - (1.0 - mmr_lambda) * redundancy[i]
            if value > best_value:  # strict: on a tie the earlier (more similar) candidate wins
                best, best_value = i, value
        if best < 0:
            break
        chosen.append(best)
        taken.add(int(group[rows[best]]))
        if use_mmr:
            redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return chosen


def select_related(
    rows: np.ndarray,
    similarity: np.ndarray,
    k: int,
    rules: RelatedRules,
    *,
    group: np.ndarray,
    source: int | None = None,
    age_days: np.ndarray | None = None,
    same_category: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
    pins: Sequence[Pin] = (),
    excluded: Collection[int] = (),
    rank: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    other_language: np.ndarray | None = None,
) -> list[Picked]:
    """Up to `k` articles from the candidates, best first; fewer (even none) rather than any below the floor.

    `rows`/`similarity` are the candidates best first (-1 rows are padding); `age_days`, `same_category` and
    `vectors` are per candidate and needed only by the rules that use them. `group` maps every article row to its
    near-duplicate group. Never the source; never two members of one group, nor a member of the source's group;
    never an excluded article or its near-duplicates. Pins take their positions first and ignore the rules.
    `rank` (per candidate, default the similarity) orders the candidates; the floor always applies to `similarity`.
    `closed` (per candidate) marks calls whose deadlines have all passed, dropped under `hide_closed_calls`;
    `other_language` (per candidate) the ones written in another language than the source, dropped under
    `same_language`.
    """
    if k < 1:
        return []
    pins = sorted(pins, key=lambda p: (p.position, p.row))[:k]
    taken = {int(group[source])} if source is not None else set()
    taken |= {int(group[p.row]) for p in pins}
    banned = {int(group[row]) for row in excluded}

    keep = (rows >= 0) & (similarity >= rules.min_similarity)
    if source is not None:
        keep &= rows != source
    if rules.max_age_days is not None and age_days is not None:
        keep &= ~(age_days > rules.max_age_days)  # NaN (undated) compares False: kept
    if rules.hide_closed_calls and closed is not None:
        keep &= ~closed
    if rules.same_language and other_language is not None:
        keep &= ~other_language
    score = (similarity if rank is None else rank).astype(np.float64)
    if rules.half_life_days is not None and age_days is not None:
        ages = np.nan_to_num(np.clip(age_days, 0.0, None), nan=0.0)
        score = score * np.power(0.5, ages / rules.half_life_days)
    if rules.same_category_boost and same_category is not None:
        score = score + rules.same_category_boost * same_category
    pool = [i for i in np.flatnonzero(keep) if int(group[rows[i]]) not in banned]

    chosen = _choose(pool, score, rows, group, taken, k - len(pins), rules.mmr_lambda, vectors)
    picked = [Picked(int(rows[i]), float(similarity[i])) for i in chosen]
    for pin in pins:
        picked.insert(min(pin.position - 1, len(picked)), Picked(pin.row, pin.similarity, pinned=True))
    return picked
