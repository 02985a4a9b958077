"""The engine: loads the live version of an index and answers search, related-posts and article queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import pandas as pd

from indexer.article import Article
from indexer.chunking import chunk_article
from indexer.errors import ArticleNotFound, IndexMismatch, InvalidQuery
from indexer.publish import FORMAT_VERSION, article_vectors, current_version_dir, read_manifest, sha256_file
from search_api.schemas import (
    ArticleInfo,
    Filters,
    IndexStats,
    RelatedItem,
    RelatedResults,
    SearchHit,
    SearchResults,
)

SNIPPET_CHARS = 300


class QueryEncoder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress=None) -> np.ndarray: ...


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + " …"


def _to_utc_seconds(value: object) -> float:
    if value is None or value != value:
        return np.nan
    return datetime.fromisoformat(str(value)).timestamp()


class Engine:
    """One loaded, immutable version. Cheap to query from many threads (FAISS search releases the GIL)."""

    def __init__(self, version_dir: Path, encoder: QueryEncoder, *, verify: bool = True) -> None:
        manifest = read_manifest(version_dir)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"{version_dir} has index format {manifest.get('format_version')}, this Sift reads {FORMAT_VERSION}; re-index"
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
        self.chunk_index = faiss.read_index(str(version_dir / "dense.faiss"))
        self.article_index = faiss.read_index(str(version_dir / "articles.faiss"))
        self.articles = pd.read_parquet(version_dir / "articles.parquet")
        chunks = pd.read_parquet(version_dir / "chunks.parquet")
        self.chunk_article = chunks["article"].to_numpy(dtype=np.int64)
        self.chunk_text = chunks["text"].tolist()
        self._position = {aid: i for i, aid in enumerate(self.articles["id"])}
        self._published = np.array([_to_utc_seconds(v) for v in self.articles["published_at"]], dtype=np.float64)
        self._category_members: dict[str, np.ndarray] = {}
        for i, cats in enumerate(self.articles["categories"]):
            for cat in cats:
                self._category_members.setdefault(cat.casefold(), []).append(i)  # type: ignore[arg-type]
        self._category_members = {k: np.array(v, dtype=np.int64) for k, v in self._category_members.items()}

    @classmethod
    def open(cls, index_dir: str | Path, encoder: QueryEncoder, *, verify: bool = True) -> Engine:
        return cls(current_version_dir(Path(index_dir)), encoder, verify=verify)

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
                members = self._category_members.get(cat.strip().casefold())
                if members is not None:
                    cat_mask[members] = True
            mask &= cat_mask
        with np.errstate(invalid="ignore"):
            if filters.date_from:
                start = datetime.combine(filters.date_from, time.min, tzinfo=timezone.utc).timestamp()
                mask &= self._published >= start
            if filters.date_to:
                end = datetime.combine(filters.date_to, time.max, tzinfo=timezone.utc).timestamp()
                mask &= self._published <= end
        return mask

    # -- dense retrieval ------------------------------------------------------------------------------------
    def _dense_articles(self, query_vec: np.ndarray, need: int, allowed: np.ndarray | None) -> list[tuple[int, float, int]]:
        """Top articles by their best chunk: [(article, score, chunk)], at least `need` long when that many exist.

        Chunks are fetched in growing rounds until enough distinct articles are seen, so neither many chunks
        per article nor a narrow filter can starve the result.
        """
        params = None
        available = self.chunk_index.ntotal
        if allowed is not None:
            chunk_ids = np.flatnonzero(allowed[self.chunk_article]).astype(np.int64)
            available = len(chunk_ids)
            if available == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(chunk_ids))
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
            if len(best) >= need or fetch >= available:
                break
            fetch = min(available, fetch * 4)
        return [(art, score, cid) for art, (score, cid) in best.items()]

    def _meta(self, i: int) -> dict:
        row = self.articles.iloc[i]
        return {
            "id": row["id"],
            "title": row["title"],
            "url": row["url"],
            "published_at": row["published_at"],
            "categories": list(row["categories"]),
        }

    def search(self, query: str, *, k: int = 10, offset: int = 0, filters: Filters | None = None) -> SearchResults:
        text = " ".join(query.split())
        if not text:
            raise InvalidQuery("the query is empty; type a few words to search for")
        if k < 1 or offset < 0:
            raise InvalidQuery("k must be at least 1 and offset at least 0")
        filters = filters or Filters()
        allowed = self._allowed_articles(filters)
        eligible = int(allowed.sum()) if allowed is not None else len(self.articles)
        hits: list[SearchHit] = []
        if eligible and offset < eligible:
            qvec = self.encoder.encode([text])[0]
            ranked = sorted(self._dense_articles(qvec, offset + k, allowed), key=lambda t: -t[1])
            for art, score, cid in ranked[offset : offset + k]:
                meta = self._meta(art)
                hits.append(
                    SearchHit(
                        **meta,
                        score=round(score, 6),
                        snippet=_snippet(self.chunk_text[cid]),
                        countries=list(self.articles.iloc[art]["countries"]),
                    )
                )
        return SearchResults(query=text, k=k, offset=offset, eligible=eligible, hits=hits, version=self.version)

    # -- related posts --------------------------------------------------------------------------------------
    def _neighbours(self, vec: np.ndarray, k: int, skip: int | None) -> list[RelatedItem]:
        fetch = min(self.article_index.ntotal, k + 1)
        if fetch == 0:
            return []
        scores, ids = self.article_index.search(vec.reshape(1, -1).astype(np.float32), fetch)
        items = []
        for score, idx in zip(scores[0], ids[0]):
            if idx < 0 or idx == skip:
                continue
            items.append(RelatedItem(**self._meta(int(idx)), score=round(float(score), 6)))
        return items[:k]

    def related(self, article_id: str, *, k: int = 5) -> RelatedResults:
        idx = self._position.get(article_id)
        if idx is None:
            raise ArticleNotFound(article_id)
        vec = self.article_index.reconstruct(idx)
        return RelatedResults(article_id=article_id, items=self._neighbours(vec, k, idx), version=self.version)

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
        return RelatedResults(article_id=None, items=self._neighbours(vec, k, None), version=self.version)

    # -- facts ----------------------------------------------------------------------------------------------
    def article(self, article_id: str) -> ArticleInfo:
        idx = self._position.get(article_id)
        if idx is None:
            raise ArticleNotFound(article_id)
        row = self.articles.iloc[idx].to_dict()
        for key in ("categories", "tags", "countries"):
            row[key] = list(row[key])
        return ArticleInfo(**row)

    def stats(self) -> IndexStats:
        categories: dict[str, int] = {}
        for cats in self.articles["categories"]:
            for cat in cats:
                categories[cat] = categories.get(cat, 0) + 1
        dated = self._published[~np.isnan(self._published)]
        as_dt = lambda s: datetime.fromtimestamp(float(s), tz=timezone.utc)  # noqa: E731
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
