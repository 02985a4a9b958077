"""Related posts for an indexed article (its precomputed neighbours, searched deeper when they run out) or for an
unsaved draft (embedded the way articles are), chosen by the policy (`policy.select_related`) under the editors'
pins and excludes, each with a caption saying why it is related."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

import faiss
import numpy as np

from indexer.article import Article
from indexer.chunking import chunk_article
from indexer.editorial import Curation
from indexer.errors import ArticleNotFound, InvalidQuery
from indexer.languages import detect_confident
from indexer.publish import article_vectors
from search_api.catalogue import Catalogue
from search_api.ranking.legs import QueryEncoder
from search_api.related.explain import PINNED_REASON, Explainer, Neighbourhood, TermProfile, term_profile
from search_api.related.policy import Picked, Pin, RelatedRules, select_related
from search_api.schemas import RelatedItem, RelatedResults


@dataclass(frozen=True)
class Neighbours:
    """A version's precomputed related lists: each article's nearest articles, their dense cosines, and the
    related score the lists are ordered by."""

    ids: np.ndarray
    scores: np.ndarray
    rank: np.ndarray


@dataclass(eq=False)
class RelatedPosts:
    """Answers related-post lists for one loaded version."""

    catalogue: Catalogue
    article_index: faiss.Index
    neighbours: Neighbours
    explainer: Explainer
    encoder: QueryEncoder
    rules: RelatedRules
    version: str
    build: dict  # the version's build parameters: drafts are cut into passages the same way
    # (source row, item row) → caption; fixed per version
    _reasons: dict[tuple[int, int], str] = field(default_factory=dict, init=False, repr=False)

    def for_article(
        self, article_id: str, *, k: int = 5, rules: RelatedRules | None = None, curation: Curation | None = None
    ) -> RelatedResults:
        """The article's related posts under `rules` (default: the version's), with the editors' `curation`."""
        idx = self.catalogue.position.get(article_id)
        if idx is None:
            raise ArticleNotFound(article_id)
        rules = rules or self.rules
        n = self.neighbours
        vec = self.article_index.reconstruct(idx)
        scores = self._similarity(n.scores[idx])
        language = self.catalogue.language[idx]
        picks = self._pick(
            n.ids[idx], scores, k, rules, source=idx, source_vec=vec, curation=curation, rank=n.rank[idx],
            language=language,
        )
        if len(picks) < k and n.ids.shape[1] < self.catalogue.size - 1 and scores.min() >= rules.min_similarity:
            # the precomputed list ran out above the floor (large k, duplicates, excludes, another language): search
            # deeper, live
            ids, scores = self._live_neighbours(vec, 4 * k + 32)
            picks = self._pick(ids, scores, k, rules, source=idx, source_vec=vec, curation=curation,
                               language=language)
        items = self._items(picks, lambda: self.explainer.profile(idx), self._places(idx), n.ids[idx], source_row=idx)
        return RelatedResults(article_id=article_id, items=items, version=self.version)

    def for_draft(self, title: str, body: str, *, k: int = 5, rules: RelatedRules | None = None) -> RelatedResults:
        """Related articles for unsaved text (an editor's draft), embedded the way articles are."""
        if not (title.strip() or body.strip()):
            raise InvalidQuery("give a title or a body for the draft")
        draft = Article(id="draft", title=title.strip() or body.strip()[:120], body=body.strip() or title.strip())
        chunks = chunk_article(
            draft, max_words=self.build.get("max_words", 120), overlap_words=self.build.get("overlap_words", 30)
        )
        vectors = self.encoder.encode([c.embed_text for c in chunks])
        ordinals = np.array([c.ordinal for c in chunks], dtype=np.int32)
        vec = article_vectors(vectors, np.zeros(len(chunks), dtype=np.int32), ordinals, 1)[0]
        ids, scores = self._live_neighbours(vec, 4 * k + 32)
        picks = self._pick(ids, scores, k, rules or self.rules, source=None, source_vec=vec,
                           language=detect_confident(f"{draft.title}\n{draft.body}"))
        profile = term_profile(f"{draft.title}\n{draft.body}")
        items = self._items(picks, lambda: profile, [], ids)
        return RelatedResults(article_id=None, items=items, version=self.version)

    def _places(self, idx: int) -> list[str]:
        return list(self.catalogue.card["countries"][idx])

    def _live_neighbours(self, vec: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        fetch = min(self.article_index.ntotal, fetch)
        if fetch == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.article_index.search(vec.reshape(1, -1).astype(np.float32), fetch)
        return ids[0], self._similarity(scores[0])

    def _similarity(self, cosines: np.ndarray) -> np.ndarray:
        """Article cosines on the model-independent scale the floor is set on (`Legs.calibrated`: e5's unrelated
        pairs sit at ~0.80, MiniLM's cosines are taken as they are)."""
        u = float(getattr(self.encoder, "unrelated_cosine", 0.0))
        return cosines if u == 0.0 else (cosines - u) / (1.0 - u)

    def _curated(self, curation: Curation, source: int | None, source_vec: np.ndarray) -> tuple[list[Pin], list[int]]:
        """The editors' pins (with their similarity to the source) and excluded rows; ids no longer (or not yet) in
        this version are skipped."""
        position = self.catalogue.position
        pins: list[Pin] = []
        for target, at in curation.pins:
            row = position.get(target)
            if row is not None and row != source:
                cosine = np.float32(self.article_index.reconstruct(row) @ source_vec)
                pins.append(Pin(row, at, float(self._similarity(np.array([cosine]))[0])))
        return pins, [position[t] for t in curation.excludes if t in position]

    def _pick(
        self, ids: np.ndarray, scores: np.ndarray, k: int, rules: RelatedRules, *, source: int | None,
        source_vec: np.ndarray, curation: Curation | None = None, rank: np.ndarray | None = None,
        language: str | None = None,
    ) -> list[Picked]:
        """The candidates' features the rules need, and the editors' pins and excludes, handed to the policy.
        `language`: the source's (None: unknown, no candidate is of another language)."""
        c = self.catalogue
        rows = np.asarray(ids, dtype=np.int64)
        valid = np.maximum(rows, 0)  # -1 padding is dropped by the policy; index safely meanwhile
        age = same = vectors = closed = None
        if rules.uses_dates:
            age = (c.newest - c.published[valid]) / 86400.0
        if rules.same_category_boost and source is not None:
            mine = set(c.frame["categories"].iat[source])
            same = np.array([bool(mine.intersection(c.frame["categories"].iat[r])) for r in valid])
        if rules.mmr_lambda < 1.0 and len(valid):
            vectors = self.article_index.reconstruct_batch(valid)
        if rules.hide_closed_calls:
            closed = c.calls_closed(datetime.now(timezone.utc).date(), valid)
        other = None
        if rules.same_language and language is not None:
            other = np.array([c.language[r] != language for r in valid.tolist()], dtype=bool)
        pins, excluded = self._curated(curation, source, source_vec) if curation is not None else ([], [])
        return select_related(
            rows, scores, k, rules, group=c.group, source=source, age_days=age, same_category=same,
            vectors=vectors, pins=pins, excluded=excluded, rank=rank, closed=closed, other_language=other,
        )

    def _reason(
        self, source_row: int | None, source: Callable[[], TermProfile], places: list[str], row: int,
        nearby: Callable[[], Neighbourhood],
    ) -> str:
        """Why `row` is related to the source; cached per pair for an indexed source (drafts are computed)."""
        if source_row is None:
            return self.explainer.reason(source(), places, row, nearby())
        key = (source_row, row)
        reason = self._reasons.get(key)
        if reason is None:
            if len(self._reasons) >= 200_000:
                self._reasons.clear()
            reason = self._reasons[key] = self.explainer.reason(
                source(), places, row, nearby(), source_categories=self.catalogue.frame["categories"].iat[source_row]
            )
        return reason

    def _items(
        self, picks: list[Picked], source: Callable[[], TermProfile], places: list[str], nearby_rows: np.ndarray,
        source_row: int | None = None,
    ) -> list[RelatedItem]:
        """The picks as items with their captions; `nearby_rows` (the source's nearest articles) tell the captions
        which shared terms belong to the source's neighbourhood."""
        card = self.catalogue.card
        today = datetime.now(timezone.utc).date()

        @lru_cache(maxsize=1)
        def nearby() -> Neighbourhood:
            rows = nearby_rows if source_row is None else np.concatenate([[source_row], nearby_rows])
            return self.explainer.neighbourhood(rows)

        items = []
        for pick in picks:
            r = pick.row
            deadline, passed = self.catalogue.deadline(r, today)
            items.append(
                RelatedItem(
                    id=card["id"][r], title=card["title"][r], url=card["url"][r], score=round(pick.similarity, 6),
                    published_at=card["published_at"][r], categories=list(card["categories"][r]),
                    reason=PINNED_REASON if pick.pinned else self._reason(source_row, source, places, r, nearby),
                    pinned=pick.pinned, deadline=deadline, deadline_passed=passed,
                )
            )
        return items
