"""The engine: loads the live version of an index and answers search, related-posts and article queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Literal, Protocol

import faiss
import numpy as np
import pandas as pd

from indexer.article import Article
from indexer.chunking import chunk_article
from indexer.errors import ArticleNotFound, IndexMismatch, InvalidQuery
from indexer.keyword import KeywordIndex
from indexer.publish import FORMAT_VERSION, article_vectors, current_version_dir, read_manifest, sha256_file
from search_api import fusion
from search_api.schemas import (
    ArticleInfo,
    Filters,
    IndexStats,
    Mode,
    RelatedItem,
    RelatedResults,
    SearchHit,
    SearchResults,
)
from search_api.snippets import best_passage, make_snippet, query_terms


class QueryEncoder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress=None) -> np.ndarray: ...


@dataclass(frozen=True)
class RankingParams:
    """How hybrid ranking fuses the two legs; defaults chosen by `sift eval` (see BENCHMARKS.md)."""

    fusion: Literal["convex", "rrf"] = "convex"
    weight: float = 0.5  # convex: share of the semantic leg
    rrf_k: int = 60
    depth: int = 100  # candidates taken from each leg before fusing
    collapse_duplicates: bool = True


@dataclass
class _Candidate:
    article: int
    score: float
    semantic: float | None = None
    keyword: float | None = None
    chunk: int | None = None  # best dense passage, when the semantic leg found it


def _to_utc_seconds(value: object) -> float:
    if value is None or value != value:
        return np.nan
    return datetime.fromisoformat(str(value)).timestamp()


class Engine:
    """One loaded, immutable version. Safe to query from many threads (FAISS and BM25 scoring release the GIL)."""

    def __init__(
        self, version_dir: Path, encoder: QueryEncoder, *, verify: bool = True, ranking: RankingParams = RankingParams()
    ) -> None:
        manifest = read_manifest(version_dir)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"{version_dir} has index format {manifest.get('format_version')}, this Sift reads {FORMAT_VERSION}; "
                "re-run `sift index` to rebuild it"
            )
        if manifest["model_id"] != encoder.model_id:
            raise IndexMismatch(
                f"the index was built with {manifest['model_id']} but the configured model is {encoder.model_id}; "
                "set SIFT_MODEL_PATH to the model the index was built with, or re-index with this one"
            )
        if verify:
            for name, expected in manifest["files"].items():
                if sha256_file(version_dir / name) != expected:
                    raise IndexMismatch(f"{version_dir / name} does not match its checksum; the version is corrupt, re-index")
        self.path = version_dir
        self.manifest = manifest
        self.version: str = manifest["version"]
        self.encoder = encoder
        self.ranking = ranking
        self.chunk_index = faiss.read_index(str(version_dir / "dense.faiss"))
        self.article_index = faiss.read_index(str(version_dir / "articles.faiss"))
        self.keyword = KeywordIndex.load(version_dir / "keyword")
        articles = pd.read_parquet(version_dir / "articles.parquet")
        for column in ("url", "published_at", "author", "language", "image_url"):
            # pandas reads a missing string back as NaN; every consumer expects None
            articles[column] = articles[column].astype(object).where(articles[column].notna(), None)
        self.articles = articles
        chunks = pd.read_parquet(version_dir / "chunks.parquet")
        self.chunk_article = chunks["article"].to_numpy(dtype=np.int64)
        self.chunk_text: list[str] = chunks["text"].tolist()
        # chunks are stored grouped by article, so each article's passages are one contiguous range
        self._chunk_start = np.searchsorted(self.chunk_article, np.arange(len(self.articles) + 1))
        self.neighbours = np.load(version_dir / "neighbours.npy")
        self.neighbour_scores = np.load(version_dir / "neighbour_scores.npy")
        self.group = self.articles["group"].to_numpy(dtype=np.int64)
        self._group_members: dict[int, list[int]] = {}
        for i, g in enumerate(self.group):
            self._group_members.setdefault(int(g), []).append(i)
        self._position = {aid: i for i, aid in enumerate(self.articles["id"])}
        self._published = np.array([_to_utc_seconds(v) for v in self.articles["published_at"]], dtype=np.float64)
        members: dict[str, list[int]] = {}
        for i, cats in enumerate(self.articles["categories"]):
            for cat in cats:
                members.setdefault(cat.casefold(), []).append(i)
        self._category_members = {k: np.array(v, dtype=np.int64) for k, v in members.items()}

    @classmethod
    def open(
        cls, index_dir: str | Path, encoder: QueryEncoder, *, verify: bool = True, ranking: RankingParams = RankingParams()
    ) -> Engine:
        return cls(current_version_dir(Path(index_dir)), encoder, verify=verify, ranking=ranking)

    # -- filters --------------------------------------------------------------------------------------------
    def _allowed_articles(self, filters: Filters) -> np.ndarray | None:
        """Boolean mask of articles passing the filters, or None when there are no filters."""
        if filters.is_empty():
            return None
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise InvalidQuery(f"date_from {filters.date_from} is after date_to {filters.date_to}")
        mask = np.ones(len(self.articles), dtype=bool)
        if filters.categories:
            cat_mask = np.zeros(len(self.articles), dtype=bool)
            for cat in filters.categories:
                found = self._category_members.get(cat.strip().casefold())
                if found is not None:
                    cat_mask[found] = True
            mask &= cat_mask
        with np.errstate(invalid="ignore"):
            if filters.date_from:
                start = datetime.combine(filters.date_from, time.min, tzinfo=timezone.utc).timestamp()
                mask &= self._published >= start
            if filters.date_to:
                end = datetime.combine(filters.date_to, time.max, tzinfo=timezone.utc).timestamp()
                mask &= self._published <= end
        return mask

    # -- the two legs ---------------------------------------------------------------------------------------
    def _dense_articles(self, query_vec: np.ndarray, need: int, allowed: np.ndarray | None) -> dict[int, tuple[float, int]]:
        """The top `need` articles by their best passage: {article: (cosine, chunk)}, fewer only if fewer exist.

        Passages are fetched in growing rounds until enough distinct articles are seen, so neither many passages
        per article nor a narrow filter can starve the result; a filter searches exactly its own passages.
        """
        params = None
        available = self.chunk_index.ntotal
        if allowed is not None:
            chunk_ids = np.flatnonzero(allowed[self.chunk_article]).astype(np.int64)
            available = len(chunk_ids)
            if available == 0:
                return {}
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(chunk_ids))
        if available == 0:
            return {}
        fetch = min(available, max(need * 4, 64))
        query = query_vec.reshape(1, -1).astype(np.float32)
        while True:
            scores, ids = self.chunk_index.search(query, fetch, params=params)
            best: dict[int, tuple[float, int]] = {}
            for score, cid in zip(scores[0], ids[0]):
                if cid < 0:  # FAISS pads with -1 when fewer than `fetch` vectors qualify
                    continue
                art = int(self.chunk_article[cid])
                if art not in best:
                    best[art] = (float(score), int(cid))
                    if len(best) == need:
                        return best
            if fetch >= available:
                return best
            fetch = min(available, fetch * 4)

    def _keyword_articles(self, query: str, need: int, allowed: np.ndarray | None) -> dict[int, float]:
        ids, scores = self.keyword.search(query, need, allowed)
        return {int(i): float(s) for i, s in zip(ids, scores)}

    def legs(
        self, query: str, depth: int, *, mode: Mode = "hybrid", allowed: np.ndarray | None = None,
        query_vec: np.ndarray | None = None,
    ) -> tuple[dict[int, tuple[float, int]], dict[int, float]]:
        """The two ranked lists before fusion: ({article: (cosine, chunk)}, {article: bm25}), `depth` each at most.

        `query_vec` skips embedding (the evaluation harness embeds all queries in one batch).
        """
        dense: dict[int, tuple[float, int]] = {}
        keyword: dict[int, float] = {}
        if mode in ("semantic", "hybrid"):
            qvec = self.encoder.encode([query])[0] if query_vec is None else query_vec
            dense = self._dense_articles(qvec, depth, allowed)
        if mode in ("keyword", "hybrid"):
            keyword = self._keyword_articles(query, depth, allowed)
        return dense, keyword

    def _rank(self, query: str, mode: Mode, need: int, allowed: np.ndarray | None) -> list[_Candidate]:
        dense, keyword = self.legs(query, need, mode=mode, allowed=allowed)
        if mode == "semantic":
            scored = {a: s for a, (s, _) in dense.items()}
        elif mode == "keyword":
            scored = keyword
        else:
            semantic = {a: s for a, (s, _) in dense.items()}
            p = self.ranking
            scored = fusion.fuse(semantic, keyword, method=p.fusion, weight=p.weight, rrf_k=p.rrf_k)
        order = sorted(scored, key=lambda a: (-scored[a], a))
        return [
            _Candidate(
                article=a,
                score=scored[a],
                semantic=dense[a][0] if a in dense else None,
                keyword=keyword.get(a),
                chunk=dense[a][1] if a in dense else None,
            )
            for a in order
        ]

    def _collapse(self, ranked: list[_Candidate], allowed: np.ndarray | None) -> list[tuple[_Candidate, list[int]]]:
        """One hit per near-duplicate group (its best-ranked member), with the group's other members."""
        seen: set[int] = set()
        out = []
        for cand in ranked:
            group = int(self.group[cand.article])
            if group in seen:
                continue
            seen.add(group)
            others = [
                m for m in self._group_members[group] if m != cand.article and (allowed is None or allowed[m])
            ]
            out.append((cand, others))
        return out

    # -- search ---------------------------------------------------------------------------------------------
    def search(
        self, query: str, *, k: int = 10, offset: int = 0, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> SearchResults:
        text = " ".join(query.split())
        if not text:
            raise InvalidQuery("the query is empty; type a few words to search for")
        if k < 1 or offset < 0:
            raise InvalidQuery("k must be at least 1 and offset at least 0")
        if mode not in ("hybrid", "semantic", "keyword"):
            raise InvalidQuery(f"unknown mode {mode!r}; use hybrid, semantic or keyword")
        filters = filters or Filters()
        allowed = self._allowed_articles(filters)
        eligible = int(allowed.sum()) if allowed is not None else len(self.articles)
        hits: list[SearchHit] = []
        if eligible and offset < eligible:
            need = offset + k
            depth = max(self.ranking.depth, need)
            while True:
                ranked = self._rank(text, mode, depth, allowed)
                groups = self._collapse(ranked, allowed) if self.ranking.collapse_duplicates else [(c, []) for c in ranked]
                # collapsing can leave fewer than `need`; look deeper while the legs could still give more
                if len(groups) >= need or depth >= eligible or len(ranked) < depth:
                    break
                depth = min(eligible, depth * 2)
            terms = query_terms(text)
            hits = [self._hit(cand, others, terms) for cand, others in groups[offset:need]]
        return SearchResults(query=text, mode=mode, k=k, offset=offset, eligible=eligible, hits=hits, version=self.version)

    def _hit(self, cand: _Candidate, others: list[int], terms: frozenset[str]) -> SearchHit:
        chunk = cand.chunk
        if chunk is None or (cand.keyword is not None and terms):
            # a keyword match shows the passage with most query terms; the dense best passage otherwise
            start, end = self._chunk_start[cand.article], self._chunk_start[cand.article + 1]
            candidates = list(range(start, end))
            if chunk is not None:  # prefer the dense passage on a tie in term overlap
                candidates.remove(chunk)
                candidates.insert(0, chunk)
            chunk = candidates[best_passage([self.chunk_text[c] for c in candidates], terms)]
        plain, marked = make_snippet(self.chunk_text[chunk], terms)
        row = self.articles.iloc[cand.article]
        return SearchHit(
            id=row["id"],
            title=row["title"],
            url=row["url"],
            score=round(cand.score, 6),
            semantic_score=None if cand.semantic is None else round(cand.semantic, 6),
            keyword_score=None if cand.keyword is None else round(cand.keyword, 6),
            snippet=plain,
            snippet_html=marked,
            published_at=row["published_at"],
            categories=list(row["categories"]),
            countries=list(row["countries"]),
            similar=[self.articles.iloc[m]["id"] for m in others],
        )

    # -- related posts --------------------------------------------------------------------------------------
    def _related_item(self, idx: int, score: float) -> RelatedItem:
        row = self.articles.iloc[idx]
        return RelatedItem(
            id=row["id"],
            title=row["title"],
            url=row["url"],
            score=round(float(score), 6),
            published_at=row["published_at"],
            categories=list(row["categories"]),
        )

    def _pick_related(self, ids: np.ndarray, scores: np.ndarray, k: int, source: int | None) -> list[RelatedItem]:
        """Walk neighbours best first: never the source, nor a near-duplicate of it or of an item already picked."""
        taken_groups = {int(self.group[source])} if source is not None else set()
        items = []
        for idx, score in zip(ids, scores):
            if idx < 0 or idx == source:
                continue
            group = int(self.group[idx])
            if group in taken_groups:
                continue
            taken_groups.add(group)
            items.append(self._related_item(int(idx), score))
            if len(items) == k:
                break
        return items

    def _live_neighbours(self, vec: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        fetch = min(self.article_index.ntotal, fetch)
        if fetch == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.article_index.search(vec.reshape(1, -1).astype(np.float32), fetch)
        return ids[0], scores[0]

    def related(self, article_id: str, *, k: int = 5) -> RelatedResults:
        idx = self._position.get(article_id)
        if idx is None:
            raise ArticleNotFound(article_id)
        items = self._pick_related(self.neighbours[idx], self.neighbour_scores[idx], k, idx)
        if len(items) < k and len(self.articles) > len(items) + 1 and self.neighbours.shape[1] < len(self.articles) - 1:
            # the precomputed list ran out (large k, or many duplicates): fall back to a live search
            ids, scores = self._live_neighbours(self.article_index.reconstruct(idx), 4 * k + 32)
            items = self._pick_related(ids, scores, k, idx)
        return RelatedResults(article_id=article_id, items=items, version=self.version)

    def related_to_text(self, title: str, body: str, *, k: int = 5) -> RelatedResults:
        """Related articles for unsaved text (an editor's draft), embedded the way articles are."""
        if not (title.strip() or body.strip()):
            raise InvalidQuery("give a title or a body for the draft")
        draft = Article(id="draft", title=title.strip() or body.strip()[:120], body=body.strip() or title.strip())
        params = self.manifest.get("build", {})
        chunks = chunk_article(
            draft, max_words=params.get("max_words", 120), overlap_words=params.get("overlap_words", 30)
        )
        vectors = self.encoder.encode([c.embed_text for c in chunks])
        ordinals = np.array([c.ordinal for c in chunks], dtype=np.int32)
        vec = article_vectors(vectors, np.zeros(len(chunks), dtype=np.int32), ordinals, 1)[0]
        ids, scores = self._live_neighbours(vec, 4 * k + 32)
        return RelatedResults(article_id=None, items=self._pick_related(ids, scores, k, None), version=self.version)

    # -- facts ----------------------------------------------------------------------------------------------
    def article(self, article_id: str) -> ArticleInfo:
        idx = self._position.get(article_id)
        if idx is None:
            raise ArticleNotFound(article_id)
        row = self.articles.iloc[idx].to_dict()
        for key in ("categories", "tags", "countries"):
            row[key] = list(row[key])
        return ArticleInfo(**{k: v for k, v in row.items() if k in ArticleInfo.model_fields})

    def stats(self) -> IndexStats:
        categories: dict[str, int] = {}
        for cats in self.articles["categories"]:
            for cat in cats:
                categories[cat] = categories.get(cat, 0) + 1
        dated = self._published[~np.isnan(self._published)]

        def as_dt(seconds: float) -> datetime:
            return datetime.fromtimestamp(float(seconds), tz=timezone.utc)

        return IndexStats(
            version=self.version,
            created_at=self.manifest["created_at"],
            model_id=self.manifest["model_id"],
            dim=self.manifest["dim"],
            articles=self.manifest["counts"]["articles"],
            chunks=self.manifest["counts"]["chunks"],
            categories=dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
            oldest=as_dt(dated.min()) if len(dated) else None,
            newest=as_dt(dated.max()) if len(dated) else None,
            index_bytes=sum((self.path / name).stat().st_size for name in self.manifest["files"]),
        )
