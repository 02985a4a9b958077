"""Candidate retrieval: the two legs a hybrid search fuses. The dense leg ranks articles by their best passage's
cosine to the query (FAISS, or the configured vector store), evened out across the site's languages under a
cross-lingual model (`LanguageBalance`); the keyword leg by BM25 over whole articles. Both search only the eligible
articles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
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


@dataclass(frozen=True, eq=False)
class LanguageBalance:
    """A cross-lingual model's pull towards the query's own language, evened out.

    Under multilingual-e5 every text carries a component of its language: a French question sits nearer every French
    article than any English one, so in a site that mixes languages it ranks wrong stories in its own language above
    the right one in another (measured on XQuAD, half the stories in English and half in the question's language).
    Each language's mean article vector holds that component; a passage's cosine is raised by how much less the query
    leans towards its article's language than towards the language it leans to most: cosine + max_L(q·m_L) −
    q·m_{L(article)}. Within one language nothing moves (the same amount is added to every article), and a site in
    one language is not balanced at all; scores stay on the model's cosine scale, so the match floor and fusion
    weights keep their meaning. Languages with fewer than `MIN_ARTICLES` articles are left as they are: an article
    is a 1/n part of its language's mean, so with too few a language's best match would be held back by itself."""

    # XQuAD, half the stories in English and half in Spanish/Arabic/Chinese, each mean from n random articles
    # (2026-12-05, dense leg, MRR@10 of the other language's questions): n=4 0.921/0.804/0.803, n=20
    # 0.936/0.818/0.822, all 120 0.940/0.824/0.823; unbalanced 0.746/0.557/0.462
    MIN_ARTICLES = 4

    means: np.ndarray  # (languages balanced, dim): each one's mean article vector
    article_group: np.ndarray  # article row → its language's row in `means`; -1: not balanced
    masks: tuple[np.ndarray, ...]  # per row of `means`, its articles; then the unbalanced ones' (may be empty)

    @classmethod
    def of(cls, language_members: dict[str, np.ndarray], size: int, article_vectors: Callable[[np.ndarray], np.ndarray],
           min_articles: int = MIN_ARTICLES) -> LanguageBalance | None:
        """The balance over a version's articles (`language_members`: language → rows; `article_vectors(rows)`: their
        unit vectors), or None when fewer than two languages have `min_articles` articles."""
        balanced = sorted(code for code, rows in language_members.items() if len(rows) >= min_articles)
        if len(balanced) < 2:
            return None
        group = np.full(size, -1, dtype=np.int64)
        means = []
        for g, code in enumerate(balanced):
            rows = language_members[code]
            group[rows] = g
            # summed 8,192 articles at a time: a bounded copy of the vectors
            means.append(sum(article_vectors(rows[start : start + 8192]).sum(axis=0, dtype=np.float64)
                             for start in range(0, len(rows), 8192)) / len(rows))
        masks = tuple(group == g for g in range(len(balanced))) + (group == -1,)
        return cls(np.asarray(means, dtype=np.float32), group, masks)

    def bonus(self, query_vec: np.ndarray) -> np.ndarray:
        """Per row of `means`, then 0 for the unbalanced languages: what is added to the cosines of its articles."""
        lean = self.means @ query_vec.reshape(-1).astype(np.float32)
        return np.append(lean.max() - lean, np.float32(0.0))


@dataclass(eq=False)
class Legs:
    """The dense and keyword legs over one version's passages and articles."""

    encoder: QueryEncoder
    chunk_index: VectorStore
    chunk_article: np.ndarray  # passage → article row
    chunk_start: np.ndarray  # article row → its first passage (passages are stored grouped by article)
    keyword: KeywordIndex
    balance: LanguageBalance | None = None

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
        """The top `need` articles by their best passage: {article: (cosine, chunk)}, fewer only if fewer exist; the
        cosines raised per language by the `balance`, when there is one: each language is searched on its own (its
        articles' order does not change) and the lists merged by the raised cosines."""
        if self.balance is None:
            return self._nearest(query_vec, need, allowed)
        merged: Dense = {}
        for bonus, mask, chunks in zip(self.balance.bonus(query_vec), self.balance.masks, self._language_chunks):
            if allowed is None:  # each language's passages, listed once per version
                found = self._nearest(query_vec, need, None, chunks) if len(chunks) else {}
            else:
                found = self._nearest(query_vec, need, mask & allowed)
            for art, (score, chunk) in found.items():
                merged[art] = (score + float(bonus), chunk)
        best = sorted(merged, key=lambda a: (-merged[a][0], a))[:need]
        return {a: merged[a] for a in best}

    @cached_property
    def _language_chunks(self) -> tuple[np.ndarray, ...]:
        """The passages of each of the balance's groups of articles (`LanguageBalance.masks`)."""
        return tuple(np.flatnonzero(mask[self.chunk_article]).astype(np.int64) for mask in self.balance.masks)

    def _nearest(self, query_vec: np.ndarray, need: int, allowed: np.ndarray | None,
                 chunk_ids: np.ndarray | None = None) -> Dense:
        """The top `need` articles by their best passage's cosine, as the vector store ranks them; only among the
        `allowed` articles, or the passages `chunk_ids`, when given.

        Passages are fetched in growing rounds until enough distinct articles are seen, so neither many passages
        per article nor a narrow filter can starve the result; a filter searches exactly its own passages (exact
        search also on an ANN index).
        """
        search = self.chunk_index.search
        available = self.chunk_index.ntotal
        if allowed is not None:
            chunk_ids = np.flatnonzero(allowed[self.chunk_article]).astype(np.int64)
        if chunk_ids is not None:
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
        """{article: (cosine, chunk)} of each article's best passage, computed exactly from its stored vectors (and
        raised as `dense_articles` raises them)."""
        if not articles:
            return {}
        ranges = [np.arange(self.chunk_start[a], self.chunk_start[a + 1]) for a in articles]
        chunk_ids = np.concatenate(ranges).astype(np.int64)
        if not len(chunk_ids):
            return {}
        cosines = self.chunk_index.reconstruct(chunk_ids) @ query_vec.reshape(-1).astype(np.float32)
        if self.balance is not None:
            cosines += self.balance.bonus(query_vec)[self.balance.article_group[self.chunk_article[chunk_ids]]]
        out, at = {}, 0
        for art, chunks in zip(articles, ranges):
            if len(chunks):
                best = int(np.argmax(cosines[at : at + len(chunks)]))
                out[art] = (float(cosines[at + best]), int(chunks[best]))
            at += len(chunks)
        return out
