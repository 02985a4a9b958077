"""Candidate retrieval: the two legs a hybrid search fuses. The dense leg ranks articles by their best passage's
cosine to the query (FAISS, or the configured vector store); the keyword leg by BM25 over whole articles. Both
search only the eligible articles."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np

from indexer.keyword import KeywordIndex
from indexer.vectors import VectorStore
from search_api.schemas import Mode

Dense = dict[int, tuple[float, int]]  # {article row: (cosine of its best passage, that passage's chunk id)}
Keyword = dict[int, float]  # {article row: BM25}


class QueryEncoder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts, *, progress=None) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


@dataclass(eq=False)
class Legs:
    """The dense and keyword legs over one version's passages and articles."""

    encoder: QueryEncoder
    chunk_index: VectorStore
    chunk_article: np.ndarray  # passage → article row
    chunk_start: np.ndarray  # article row → its first passage (passages are stored grouped by article)
    keyword: KeywordIndex

    @property
    def unrelated(self) -> float:
        """The cosine unrelated texts typically reach under this model (`QueryEncoder.unrelated_cosine`; 0 when the
        encoder does not say)."""
        return float(getattr(self.encoder, "unrelated_cosine", 0.0))

    def calibrated(self, cosine: float) -> float:
        """A cosine on a scale where unrelated texts score about 0 and the same text 1, whatever the model:
        (cosine − unrelated) / (1 − unrelated). multilingual-e5 puts unrelated texts at ~0.80, MiniLM at ~0.1 (taken
        as 0, its cosines as they are), so fusion weights and the match floor mean the same under both."""
        u = self.unrelated
        return cosine if u == 0.0 else (cosine - u) / (1.0 - u)

    def dense_articles(self, query_vec: np.ndarray, need: int, allowed: np.ndarray | None) -> Dense:
        """The top `need` articles by their best passage: {article: (cosine, chunk)}, fewer only if fewer exist.

        Passages are fetched in growing rounds until enough distinct articles are seen, so neither many passages
        per article nor a narrow filter can starve the result; a filter searches exactly its own passages (exact
        search also on an ANN index).
        """
        search = self.chunk_index.search
        available = self.chunk_index.ntotal
        if allowed is not None:
            chunk_ids = np.flatnonzero(allowed[self.chunk_article]).astype(np.int64)
            available = len(chunk_ids)
            search = partial(self.chunk_index.search_subset, ids=chunk_ids)
        if available == 0:
            return {}
        fetch = min(available, max(need * 4, 64))
        query = query_vec.reshape(1, -1).astype(np.float32)
        while True:
            scores, ids = search(query, fetch)
            best: Dense = {}
            for score, cid in zip(scores[0], ids[0]):
                if cid < 0:  # stores pad with -1 when fewer than `fetch` vectors qualify
                    continue
                art = int(self.chunk_article[cid])
                if art not in best:
                    best[art] = (float(score), int(cid))
                    if len(best) == need:
                        return best
            if fetch >= available:
                return best
            fetch = min(available, fetch * 4)

    def run(
        self, query: str, depth: int, *, mode: Mode = "hybrid", allowed: np.ndarray | None = None,
        query_vec: np.ndarray | None = None, keyword_query: str | None = None, complete: bool = False,
        prime_tokens: bool = False, keyword_language: str | None = None, keyword_rows: np.ndarray | None = None,
    ) -> tuple[Dense, Keyword]:
        """The two ranked lists before fusion, `depth` each at most (see `Engine.legs`). `prime_tokens`: embed the
        query with its token vectors in one run of the model, cached for late interaction. The keyword leg reads
        the query in `keyword_language` (English when None) and scores only the articles in `keyword_rows` (a mask;
        None: all), the ones written in that language: elsewhere its terms mean nothing."""
        dense: Dense = {}
        keyword: Keyword = {}
        bm25 = None
        if mode in ("semantic", "hybrid"):
            if query_vec is None and mode == "hybrid" and prime_tokens:
                getattr(self.encoder, "query_tokens", lambda _: None)(query)
            qvec = self.encoder.encode_query(query) if query_vec is None else query_vec
            dense = self.dense_articles(qvec, depth, allowed)
        if mode in ("keyword", "hybrid"):
            bm25 = self.keyword.scores(keyword_query or query, keyword_language)
            if keyword_rows is not None and len(bm25):
                bm25 = np.where(keyword_rows, bm25, np.float32(0.0))
            ids, scores = self.keyword.top(bm25, depth, allowed)
            keyword = {int(i): float(s) for i, s in zip(ids, scores)}
        if complete and mode == "hybrid":
            for art in dense.keys() - keyword.keys():
                keyword[art] = float(bm25[art]) if len(bm25) else 0.0
            dense.update(self.best_passages(qvec, sorted(keyword.keys() - dense.keys())))
        return dense, keyword

    def best_passages(self, query_vec: np.ndarray, articles: list[int]) -> Dense:
        """{article: (cosine, chunk)} of each article's best passage, computed exactly from its stored vectors."""
        if not articles:
            return {}
        ranges = [np.arange(self.chunk_start[a], self.chunk_start[a + 1]) for a in articles]
        chunk_ids = np.concatenate(ranges).astype(np.int64)
        if not len(chunk_ids):
            return {}
        cosines = self.chunk_index.reconstruct(chunk_ids) @ query_vec.reshape(-1).astype(np.float32)
        out, at = {}, 0
        for art, chunks in zip(articles, ranges):
            if len(chunks):
                best = int(np.argmax(cosines[at : at + len(chunks)]))
                out[art] = (float(cosines[at + best]), int(chunks[best]))
            at += len(chunks)
        return out
