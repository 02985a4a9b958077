"""The engine: loads the live version of an index and answers search, related-posts and article queries."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache, partial
from pathlib import Path
from typing import Literal, Protocol

import faiss
import numpy as np
import pandas as pd

from indexer.article import Article
from indexer.chunking import chunk_article
from indexer.editorial import Curation
from indexer.errors import ArticleNotFound, IndexCorrupt, IndexMismatch, InvalidQuery
from indexer.geography import UnknownRegion, canonical_region, country_code, parse_query_places, region_members
from indexer.keyword import KeywordIndex, analyse
from indexer.passage_tokens import PassageTokens
from indexer.passages import open_passages
from indexer.publish import FORMAT_VERSION, article_vectors, current_version_dir, read_manifest, verify_files
from indexer.terms import FILES as PROFILE_FILES
from indexer.terms import StoredProfiles, article_text
from indexer.vectors import VectorConfig, open_store
from search_api.ranking import fusion
from search_api.related.explain import PINNED_REASON, Explainer, Neighbourhood, TermProfile, term_profile
from search_api.related.policy import Picked, Pin, RelatedRules, select_related
from search_api.query.syntax import (
    Calls, Peeled, QuerySyntax, Window, calls_intent, parse_query, phrase_pattern, phrase_words,
    recency_intent, time_window,
)
from search_api.schemas import (
    ArticleInfo,
    Facets,
    FacetValue,
    Filters,
    IndexStats,
    Mode,
    RelatedItem,
    RelatedResults,
    SearchHit,
    SearchResults,
    Sort,
    Suggestions,
    TimeSpan,
)
from search_api.presentation.snippets import best_passage, make_snippet, passage_stems, query_terms
from search_api.query.spelling import Speller
from search_api.query.suggest import Suggester
from search_api.query.synonyms import Synonyms


class QueryEncoder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress=None) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


# Stems left by questions around "latest" that name no topic ("what's the latest", "any news, latest first").
_NOT_A_TOPIC = frozenset(analyse(["what whats which any anything new news there"])[0])

MAX_PHRASES = 5  # distinct quoted phrases per query: each may read many articles' texts the first time


@dataclass(frozen=True)
class RankingParams:
    """How hybrid ranking fuses the two legs; defaults chosen by `sift eval` (see BENCHMARKS.md)."""

    # TM2C2 at 0.75, chosen on SciFact's train queries (plateau 0.65-0.80); on the test queries it beats min-max
    # convex and RRF on SciFact, CISI and MEDLINE (BENCHMARKS.md "Relevance").
    fusion: Literal["tm2c2", "convex", "rrf"] = "tm2c2"
    weight: float = 0.75  # tm2c2 / convex: share of the semantic leg
    rrf_k: int = 60
    depth: int = 100  # candidates taken from each leg before fusing
    # Late interaction (indexer.passage_tokens): the TM2C2 top `late_top` re-scored as fused + late_weight × their
    # best passage's MaxSim with the query (each query token's best match among the passage's tokens, averaged).
    # Chosen by bench/late_rerank.py on a dev set of SciFact's train queries and Cranfield (the argmax of their mean
    # over three ways of mixing it in, 19 settings and none). `sift eval`: SciFact test 0.7389 → 0.7410, MEDLINE
    # 0.8060 → 0.8048, CISI 0.4648 → 0.4689, Cranfield 0.4142 → 0.4189 — small, not significant on any one of them
    # (BENCHMARKS.md "Relevance"). 0 turns it off; a version without token codes has none.
    late_top: int = 30
    late_weight: float = 0.25
    collapse_duplicates: bool = True
    # Facets count, and sort=date orders, the results scoring at least `facet_share` of the best one, among the first
    # `facet_depth` ("the relevant results"). Semantic search scores every article, so a fixed top-k would count most
    # of a small site for any query. Measured on SciFact's train queries (hybrid): half the best score keeps 97% of
    # the judged-relevant articles in the top 100 and counts a median of 41 results (0.6: 92%, 14).
    facet_depth: int = 100
    facet_share: float = 0.5
    facet_values: int = 20  # values listed per facet at most
    # Articles about a place the query names score (1 + geo_boost) × their score: a soft preference, not a filter.
    geo_boost: float = 0.5
    # A search answers nothing rather than its nearest junk when no eligible article matches well: none has a passage
    # at this cosine to the query (hybrid and semantic), and none holds every query word. Measured (BENCHMARKS.md,
    # "Weak matches", bench/bench_floor.py): on the sample corpus the best passage of 90 on-topic searches is 0.385 or
    # more at the 1st percentile and every one is answered, while 80% of BBC sport/entertainment/tech headlines and
    # 84.5% of SciFact claims are held back; no judged query of SciFact, MEDLINE or CISI is. 0 turns the check off.
    match_floor: float = 0.30
    # the site's synonyms (SIFT_SYNONYMS): phrases the keyword leg also searches when the query holds their partner
    synonyms: Synonyms = Synonyms()


@dataclass
class _Candidate:
    article: int
    score: float
    semantic: float | None = None
    keyword: float | None = None
    chunk: int | None = None  # best dense passage, when the semantic leg found it
    relevance: float | None = None  # the score without late interaction's bonus (None: the score)

    @property
    def measured(self) -> float:
        """The score "relevant results" are cut by (`RankingParams.facet_share`)."""
        return self.score if self.relevance is None else self.relevance


def _to_utc_seconds(value: object) -> float:
    if value is None or value != value:
        return np.nan
    return datetime.fromisoformat(str(value)).timestamp()


@dataclass(frozen=True)
class _Asked:
    """What the words read off a query's ends asked for, as SearchResults fields."""

    recency: str | None = None
    time_window: TimeSpan | None = None
    calls: str | None = None

    def fields(self) -> dict:
        return {"recency": self.recency, "time_window": self.time_window, "calls": self.calls}


_NO_DEADLINE = np.iinfo(np.int64).max  # padding of the deadline table (day ordinals)


def _deadline_table(column: Iterable) -> np.ndarray:
    """Articles × their deadlines as proleptic ordinals (date.toordinal), earliest first, padded with _NO_DEADLINE."""
    rows = [[date.fromisoformat(d).toordinal() for d in days] for days in column]
    table = np.full((len(rows), max((len(r) for r in rows), default=0) or 1), _NO_DEADLINE, dtype=np.int64)
    for i, days in enumerate(rows):
        table[i, : len(days)] = days
    return table


def _span_info(window: Window | None) -> TimeSpan | None:
    return TimeSpan(words=window.words, date_from=window.start, date_to=window.end) if window is not None else None


class Engine:
    """One loaded, immutable version. Safe to query from many threads (FAISS and BM25 scoring release the GIL)."""

    def __init__(
        self, version_dir: Path, encoder: QueryEncoder, *, verify: bool = True, ranking: RankingParams = RankingParams(),
        related_rules: RelatedRules = RelatedRules(), vectors: VectorConfig = VectorConfig(),
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
        verify_files(version_dir, manifest["files"], checksums=verify)  # IndexCorrupt: missing or altered file
        self.path = version_dir
        self.manifest = manifest
        self.version: str = manifest["version"]
        self.encoder = encoder
        self.ranking = ranking
        # the passage vectors as the manifest says they were built (FAISS Flat or ANN, or Qdrant); FAISS files are
        # memory-mapped, so server workers share one copy (unlinking a pruned version leaves mapped pages valid)
        self.chunk_index = open_store(version_dir, manifest.get("vectors"), vectors)
        self.article_index = faiss.read_index(
            str(version_dir / "articles.faiss"), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if vectors.mmap else 0
        )
        try:
            self.keyword = KeywordIndex.load(version_dir / "keyword", mmap=vectors.mmap)  # shared by workers
        except ValueError as exc:  # built with other BM25 parameters
            raise IndexMismatch(f"{exc}; re-run `sift index` to rebuild it") from None
        articles = pd.read_parquet(version_dir / "articles.parquet")
        for column in ("url", "published_at", "author", "language", "image_url"):
            # pandas reads a missing string back as NaN; every consumer expects None
            articles[column] = articles[column].astype(object).where(articles[column].notna(), None)
        if "deadlines" not in articles:  # a version published before deadlines were read: none (the next publish)
            articles["deadlines"] = [[] for _ in range(len(articles))]
        self.articles = articles
        self._deadlines = _deadline_table(articles["deadlines"])
        # passage texts stay in the mapped file, shared by the workers, until a snippet or caption reads one
        self.chunk_article, self.chunk_text = open_passages(version_dir, manifest["files"], mmap=vectors.mmap)
        # chunks are stored grouped by article, so each article's passages are one contiguous range
        self._chunk_start = np.searchsorted(self.chunk_article, np.arange(len(self.articles) + 1))
        self.passage_tokens = PassageTokens.open(version_dir)  # memory-mapped; None: no late interaction
        self.neighbours = np.load(version_dir / "neighbours.npy")
        self.neighbour_scores = np.load(version_dir / "neighbour_scores.npy")  # dense cosine
        self.neighbour_rank = np.load(version_dir / "neighbour_rank.npy")  # the related score, lists' order
        self.group = self.articles["group"].to_numpy(dtype=np.int64)
        self._group_members: dict[int, list[int]] = {}
        for i, g in enumerate(self.group):
            self._group_members.setdefault(int(g), []).append(i)
        self._position = {aid: i for i, aid in enumerate(self.articles["id"])}
        self._published = np.array([_to_utc_seconds(v) for v in self.articles["published_at"]], dtype=np.float64)
        # UTC publication year, 0 when undated
        self._year = np.zeros(len(self._published), dtype=np.int64)
        dated_rows = ~np.isnan(self._published)
        years = self._published[dated_rows].astype("datetime64[s]").astype("datetime64[Y]")
        self._year[dated_rows] = years.astype(np.int64) + 1970
        self._category_members = self._members(self.articles["categories"], str.casefold)
        self._country_members = self._members(self.articles["country_codes"], str)
        self._region_members = self._members(self.articles["regions"], str)
        self.related_rules = related_rules
        dated = self._published[~np.isnan(self._published)]
        self._newest = float(dated.max()) if len(dated) else np.nan  # recency rules count age from here
        self._explainer = Explainer(
            self.keyword, self._article_text, self._places, self._stored_profiles(),
            categories_of=lambda row: self.articles["categories"].iat[row],
            category_size=lambda name: len(self._category_members.get(name.casefold(), ())),
        )
        # a stem's spellings decode up to 20 term profiles: suggestions ask for ~40 stems a keystroke, mostly the same
        self._spelling = lru_cache(maxsize=16384)(self._spelling)  # type: ignore[method-assign]
        self._speller = Speller(
            self.keyword.vocabulary, lambda stem: self.keyword.frequencies([stem])[0], self._spelling
        )
        self._suggester = Suggester(
            self.keyword.vocabulary, lambda stem: self.keyword.frequencies([stem])[0], self._spelling,
            self.keyword.documents_with, len(self.articles),
        )
        self.keyword.frequencies(())  # builds the term → document frequency table now, not on a first request
        parse_query_places("")  # and the place tables (~0.35 s once per process: the cities are 16 MB of JSON)
        # plain lists for the serving path: a related list reads five rows, and pandas row access costs ~0.1 ms each
        self._card = {
            column: self.articles[column].tolist()
            for column in ("id", "title", "url", "published_at", "categories", "countries", "regions")
        }
        self._reasons: dict[tuple[int, int], str] = {}  # (source row, item row) → caption; fixed per version
        # each passage's stems, for choosing keyword snippets: stemming a passage costs ~26 µs, and popular
        # articles' passages come up query after query (4,096 passages: ~10 MB at most)
        self._stems = lru_cache(maxsize=4096)(lambda chunk: passage_stems(self.chunk_text[chunk]))
        # the articles holding a quoted phrase (row arrays, as long as the phrase is common)
        self._phrase_rows = lru_cache(maxsize=256)(self._rows_holding)

    def _spelling(self, stem: str) -> Counter[str]:
        """The words an indexed stem is written as, in the first 20 articles holding it (their profiles' spellings),
        with how many of those articles write it so."""
        rows = self.keyword.documents_with(stem)[:20]
        return Counter(self._explainer.profile(int(row)).surface.get(stem, stem) for row in rows)

    def _stored_profiles(self) -> StoredProfiles | None:
        """The term profiles published with the version (memory-mapped, decoded per article on use), or None for a
        version published before profiles were stored: its captions build profiles from the text."""
        if not all(name in self.manifest["files"] for name in PROFILE_FILES):
            return None
        try:
            stored = StoredProfiles(self.path)
        except ValueError as exc:
            raise IndexCorrupt(f"{exc}; the version is corrupt, re-run `sift index`") from None
        if len(stored) != len(self.articles):
            raise IndexCorrupt(
                f"{self.path} holds {len(stored)} term profiles for {len(self.articles)} articles; the version is "
                "corrupt, re-run `sift index`"
            )
        return stored

    @staticmethod
    def _members(column: pd.Series, key) -> dict[str, np.ndarray]:
        """{value: rows holding it} for a list-valued column."""
        members: dict[str, list[int]] = {}
        for i, values in enumerate(column):
            for value in values:
                members.setdefault(key(value), []).append(i)
        return {k: np.array(v, dtype=np.int64) for k, v in members.items()}

    def _rows_with_any(self, members: dict[str, np.ndarray], keys) -> np.ndarray:
        mask = np.zeros(len(self.articles), dtype=bool)
        for key in keys:
            found = members.get(key)
            if found is not None:
                mask[found] = True
        return mask

    @classmethod
    def open(
        cls, index_dir: str | Path, encoder: QueryEncoder, *, verify: bool = True, ranking: RankingParams = RankingParams(),
        related_rules: RelatedRules = RelatedRules(), vectors: VectorConfig = VectorConfig(),
    ) -> Engine:
        return cls(
            current_version_dir(Path(index_dir)), encoder, verify=verify, ranking=ranking, related_rules=related_rules,
            vectors=vectors,
        )

    # -- filters --------------------------------------------------------------------------------------------
    def _allowed_articles(self, filters: Filters, today: date) -> np.ndarray | None:
        """Boolean mask of articles passing the filters, or None when there are no filters."""
        if filters.is_empty():
            return None
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise InvalidQuery(f"date_from {filters.date_from} is after date_to {filters.date_to}")
        mask = np.ones(len(self.articles), dtype=bool)
        if filters.categories:
            mask &= self._rows_with_any(self._category_members, (c.strip().casefold() for c in filters.categories))
        if filters.countries:
            codes = []
            for name in filters.countries:
                code = country_code(name.strip())
                if code is None:
                    raise InvalidQuery(f"unknown country {name!r}; use an English name or an ISO code, e.g. Kenya or KEN")
                codes.append(code)
            mask &= self._rows_with_any(self._country_members, codes)
        if filters.regions:
            try:
                names = [canonical_region(name.strip()) for name in filters.regions]
            except UnknownRegion as exc:
                raise InvalidQuery(str(exc)) from None
            # an article is in a region if it was tagged with it or names one of its countries
            region_mask = self._rows_with_any(self._region_members, names)
            region_mask |= self._rows_with_any(self._country_members, {c for n in names for c in region_members(n)})
            mask &= region_mask
        with np.errstate(invalid="ignore"):
            if filters.date_from:
                start = datetime.combine(filters.date_from, time.min, tzinfo=timezone.utc).timestamp()
                mask &= self._published >= start
            if filters.date_to:
                end = datetime.combine(filters.date_to, time.max, tzinfo=timezone.utc).timestamp()
                mask &= self._published <= end
        if filters.calls is not None:
            mask &= self._next_deadlines(today) != _NO_DEADLINE if filters.calls == "open" else self._calls_closed(today)
        return mask

    def _next_deadlines(self, today: date, rows: np.ndarray | None = None) -> np.ndarray:
        """Each article's (or each of `rows`') first deadline on or after `today` (day ordinal), _NO_DEADLINE when
        none is."""
        table = self._deadlines if rows is None else self._deadlines[rows]
        return np.where(table >= today.toordinal(), table, _NO_DEADLINE).min(axis=1)

    def _calls_closed(self, today: date, rows: np.ndarray | None = None) -> np.ndarray:
        """Per article (or per one of `rows`): a call whose deadlines have all passed by `today`; False without one."""
        has_one = (self._deadlines if rows is None else self._deadlines[rows])[:, 0] != _NO_DEADLINE
        return has_one & (self._next_deadlines(today, rows) == _NO_DEADLINE)

    def _deadline(self, row: int, today: date) -> tuple[date | None, bool | None]:
        """(the next deadline, else the last; whether all have passed) of one article; (None, None) without one."""
        days = self._deadlines[row]
        days = days[days != _NO_DEADLINE]
        if not len(days):
            return None, None
        upcoming = days[days >= today.toordinal()]
        return date.fromordinal(int(upcoming[0] if len(upcoming) else days[-1])), not len(upcoming)

    # -- the two legs ---------------------------------------------------------------------------------------
    def _dense_articles(self, query_vec: np.ndarray, need: int, allowed: np.ndarray | None) -> dict[int, tuple[float, int]]:
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
            best: dict[int, tuple[float, int]] = {}
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

    def legs(
        self, query: str, depth: int, *, mode: Mode = "hybrid", allowed: np.ndarray | None = None,
        query_vec: np.ndarray | None = None, keyword_query: str | None = None, complete: bool = False,
    ) -> tuple[dict[int, tuple[float, int]], dict[int, float]]:
        """The two ranked lists before fusion: ({article: (cosine, chunk)}, {article: bm25}), `depth` each at most.

        `query_vec` skips embedding (the evaluation harness embeds all queries in one batch). `keyword_query`
        replaces the query for BM25: the search drops place names there, so that "in Africa" does not reward
        articles for literally saying "Africa" while the geography boost rewards articles about African countries.
        `complete` (hybrid only) scores every candidate on both legs: an article only BM25 found gets its best
        passage's cosine, one only the dense leg found its BM25 score (0 when it shares no term), so fusion never
        has to guess a missing score.
        """
        dense: dict[int, tuple[float, int]] = {}
        keyword: dict[int, float] = {}
        bm25 = None
        if mode in ("semantic", "hybrid"):
            if query_vec is None and mode == "hybrid" and self.late_active:
                # one run of the model gives the query's vector and its token vectors, cached for late_rescore
                getattr(self.encoder, "query_tokens", lambda _: None)(query)
            qvec = self.encoder.encode_query(query) if query_vec is None else query_vec
            dense = self._dense_articles(qvec, depth, allowed)
        if mode in ("keyword", "hybrid"):
            bm25 = self.keyword.scores(keyword_query or query)
            ids, scores = self.keyword.top(bm25, depth, allowed)
            keyword = {int(i): float(s) for i, s in zip(ids, scores)}
        if complete and mode == "hybrid":
            for art in dense.keys() - keyword.keys():
                keyword[art] = float(bm25[art]) if len(bm25) else 0.0
            dense.update(self._best_passages(qvec, sorted(keyword.keys() - dense.keys())))
        return dense, keyword

    def _best_passages(self, query_vec: np.ndarray, articles: list[int]) -> dict[int, tuple[float, int]]:
        """{article: (cosine, chunk)} of each article's best passage, computed exactly from its stored vectors."""
        if not articles:
            return {}
        ranges = [np.arange(self._chunk_start[a], self._chunk_start[a + 1]) for a in articles]
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

    def _rank(
        self, query: str, mode: Mode, need: int, allowed: np.ndarray | None, also: Sequence[str] = ()
    ) -> list[_Candidate]:
        """The eligible articles ranked for `query`; `also` (synonyms) are searched by the keyword leg as well."""
        places = parse_query_places(query)
        dense, keyword = self.legs(
            query, need, mode=mode, allowed=allowed, keyword_query=" ".join([places.residual or query, *also]),
            complete=self.ranking.fusion == "tm2c2",
        )
        if mode == "semantic":
            scored = {a: s for a, (s, _) in dense.items()}
        elif mode == "keyword":
            scored = keyword
        else:
            semantic = {a: s for a, (s, _) in dense.items()}
            p = self.ranking
            scored = fusion.fuse(semantic, keyword, method=p.fusion, weight=p.weight, rrf_k=p.rrf_k)
        # the score "relevant results" are measured by (facets, sort=date: `facet_share` of the best) stays the fused
        # one it was calibrated on; late interaction lifts the top 30 above the rest and re-orders them
        base, scored = scored, self.late_rescore(query, scored) if mode == "hybrid" else scored
        if places.country_set and self.ranking.geo_boost:
            in_place = self._rows_with_any(self._country_members, places.country_set)
            in_place |= self._rows_with_any(self._region_members, places.regions)
            factor = 1.0 + self.ranking.geo_boost
            scored = {a: s * factor if in_place[a] and s > 0 else s for a, s in scored.items()}
            base = {a: s * factor if in_place[a] and s > 0 else s for a, s in base.items()}
        order = sorted(scored, key=lambda a: (-scored[a], a))
        return [
            _Candidate(
                article=a,
                score=scored[a],
                relevance=base[a],
                semantic=dense[a][0] if a in dense else None,
                keyword=keyword.get(a),
                chunk=dense[a][1] if a in dense else None,
            )
            for a in order
        ]

    @property
    def late_active(self) -> bool:
        """This version has passages' token codes (indexed with late interaction on) and the ranking uses them."""
        p = self.ranking
        return self.passage_tokens is not None and p.late_weight > 0 and p.late_top > 0 and p.fusion == "tm2c2"

    def late_rescore(
        self, query: str, fused: dict[int, float], query_tokens: np.ndarray | None = None
    ) -> dict[int, float]:
        """TM2C2's top `late_top` re-scored by late interaction: fused + late_weight × their best passage's MaxSim
        with the query (never below the fused score, so they stay ahead of the rest). Unchanged without passage
        codes, with another fusion (its scores are on another scale), or with an encoder that gives no tokens."""
        p = self.ranking
        if not self.late_active or not fused:
            return fused
        if query_tokens is None:
            tokens_of = getattr(self.encoder, "query_tokens", None)
            if tokens_of is None:
                return fused
            query_tokens = tokens_of(query)
        head = sorted(fused, key=lambda a: (-fused[a], a))[: p.late_top]
        ranges = [(int(self._chunk_start[a]), int(self._chunk_start[a + 1])) for a in head]
        late = self.passage_tokens.best(query_tokens, ranges)
        out = dict(fused)
        for a, m in zip(head, late):
            out[a] = fused[a] + p.late_weight * max(float(m), 0.0)
        return out

    def _collapse(
        self, ranked: Iterable[_Candidate], allowed: np.ndarray | None, limit: int | None = None
    ) -> list[tuple[_Candidate, list[int]]]:
        """One hit per near-duplicate group (its best-ranked member), with the group's other members; the first
        `limit` groups when given."""
        seen: set[int] = set()
        out: list[tuple[_Candidate, list[int]]] = []
        for cand in ranked:
            if limit is not None and len(out) >= limit:
                break
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
        self, query: str, *, k: int = 10, offset: int = 0, filters: Filters | None = None, mode: Mode = "hybrid",
        facets: bool = False, spellcheck: bool = True, sort: Sort | None = None, floor: float | None = None,
        today: date | None = None,
    ) -> SearchResults:
        """Ranked articles for `query`. With `spellcheck`, words no article contains are corrected to the nearest
        indexed word first (`corrected_query` says so; search again with `spellcheck=False` for the words as typed).

        `sort="date"` orders the relevant results newest first: those scoring at least `facet_share` of the best
        among the first `facet_depth` (the ones the facets count). A semantic search ranks every article, so
        "all matches by date" would put the newest article on the site first whatever was asked.

        Words at the start or end that ask for the newest articles ("latest news on …", "… most recent") are not
        searched for; they make the order `date` unless `sort` is given. A time span there ("… this week", "… in
        the past 30 days", counted back from `today`, default the UTC date) is not searched for either; it keeps
        the articles published within it. With nothing else to search for ("latest news", "latest -sport", "news
        today") the hits are the newest eligible articles.

        When no article matches well (`RankingParams.match_floor`, or `floor` for this search; keyword mode is never
        held back) the results are empty and `weak_only` says so: a semantic leg always finds *something* nearest."""
        typed = text = " ".join(query.split())
        if not text:
            raise InvalidQuery("the query is empty; type a few words to search for")
        if k < 1 or offset < 0:
            raise InvalidQuery("k must be at least 1 and offset at least 0")
        if mode not in ("hybrid", "semantic", "keyword"):
            raise InvalidQuery(f"unknown mode {mode!r}; use hybrid, semantic or keyword")
        if sort not in (None, "relevance", "date", "deadline"):
            raise InvalidQuery(f"unknown sort {sort!r}; use relevance, date or deadline")
        floor = self.ranking.match_floor if floor is None else floor
        if not 0.0 <= floor <= 1.0:
            raise InvalidQuery("floor must be between 0 and 1 (0 shows the nearest articles however weak)")
        today = today or datetime.now(timezone.utc).date()
        recency = recency_intent(text)
        if recency is not None:  # "latest news on X": X is searched, newest first
            text = recency.rest
        window = time_window(text, today)
        if window is not None:  # "floods this week": floods, published since Monday
            text = window.rest
        calls: list[Calls] = []  # "open calls for X", "X closing soon" (both ends may say it)
        while len(calls) < 2 and (found := calls_intent(text)) is not None:
            calls.append(found)
            text = found.rest
        sort = sort or ("deadline" if calls else "date" if recency else "relevance")
        filters = filters or Filters()
        if calls and filters.calls is None:
            filters = filters.model_copy(update={"calls": "open"})
        syntax = parse_query(text)
        correction = self._speller.correct(text, keep=syntax.spans) if spellcheck and text else None
        if correction is not None:
            text = correction.query
            syntax = parse_query(text)
        if len(set(syntax.phrases)) > MAX_PHRASES:
            raise InvalidQuery(f"at most {MAX_PHRASES} quoted phrases in a query; {len(set(syntax.phrases))} given")
        browse = bool(recency or window or calls) and not syntax.phrases and not self._asks_anything(syntax.text)
        if not syntax.text and not browse:
            raise InvalidQuery("the query only excludes words (-word); add words to search for" if syntax.excluded
                               else "the query is empty; type a few words to search for")
        allowed = self._allowed_articles(filters, today)
        if window is not None:
            allowed = self._window_mask(window, allowed)
        if syntax.restricts:  # phrases and excluded words narrow the articles like a filter
            allowed = self._syntax_mask(syntax, allowed)
        eligible = int(allowed.sum()) if allowed is not None else len(self.articles)
        peeled: list[Peeled] = [p for p in (recency, window, *calls) if p is not None]
        searched = text
        for words in reversed(peeled):  # the words read off the ends go back where they were typed
            searched = words.restore(searched)
        span = _span_info(window)
        asked = _Asked(recency=recency.words if recency else None, time_window=span,
                       calls=" … ".join(c.words for c in sorted(calls, key=lambda c: not c.at_start)) or None)
        also = self.ranking.synonyms.expand(syntax.text) if self.ranking.synonyms else []
        if browse:
            return self._browse(typed, asked, allowed, eligible, k=k, offset=offset, mode=mode, facets=facets,
                                sort="deadline" if sort == "deadline" else "date", today=today)
        hits: list[SearchHit] = []
        groups: list[tuple[_Candidate, list[int]]] = []
        ordered = sort != "relevance"  # by date or deadline: the relevant results only
        if eligible and (offset < eligible or facets):
            need = self.ranking.facet_depth if ordered else offset + k  # an ordered list pages the relevant ones only
            depth = max(self.ranking.depth, need)
            while True:
                ranked = self._rank(syntax.text, mode, depth, allowed, also)
                groups = self._collapse(ranked, allowed) if self.ranking.collapse_duplicates else [(c, []) for c in ranked]
                # collapsing can leave fewer than `need`; look deeper while the legs could still give more
                if len(groups) >= need or depth >= eligible or len(ranked) < depth:
                    break
                depth = min(eligible, depth * 2)
        weak_only = bool(groups) and mode != "keyword" and not self._matches_well(groups, syntax.text, floor, allowed)
        if weak_only and also:  # "IDPs" is held by no article, but "internally displaced" may be
            weak_only = not any(self._matches_well(groups, variant, floor, allowed)
                                for variant in self.ranking.synonyms.variants(syntax.text))
        if weak_only:
            groups = []
        relevant = self._relevant(groups) if facets or ordered else []
        if eligible and offset < eligible:
            if sort == "date":  # newest first, undated last, equal dates by score (the relevance order is stable)
                when = self._published
                page = sorted(relevant, key=lambda g: np.inf if np.isnan(when[g[0].article]) else -when[g[0].article])
            elif sort == "deadline":  # soonest open deadline first; closed calls and other articles after, by score
                rows = np.array([c.article for c, _ in relevant], dtype=np.int64)
                upcoming = self._next_deadlines(today, rows) if len(rows) else rows
                page = [relevant[i] for i in np.argsort(upcoming, kind="stable")]
            else:
                page = groups
            terms = query_terms(" ".join([syntax.text, *also]))  # a synonym found is marked too
            phrases = tuple(phrase_pattern(p) for p in syntax.phrases)
            hits = [self._hit(cand, others, terms, phrases, today=today) for cand, others in page[offset:offset + k]]
        counts = self._facets([c.article for c, _ in relevant], today) if facets else None
        return SearchResults(query=typed, corrected_query=searched if correction else None, mode=mode, sort=sort, k=k,
                             offset=offset, eligible=eligible, relevant=len(relevant) if ordered else None, hits=hits,
                             **asked.fields(), synonyms=also, weak_only=weak_only, version=self.version, facets=counts)

    def _asks_anything(self, text: str) -> bool:
        """Whether `text` names something to rank by: a word the keyword leg reads or a place ("what is", "in the"
        do not: after "latest" they leave nothing to search for)."""
        places = parse_query_places(text)
        return bool(set(analyse([text])[0]) - _NOT_A_TOPIC) or bool(places.countries or places.regions)

    def _window_mask(self, window: Window, allowed: np.ndarray | None) -> np.ndarray:
        """`allowed` narrowed to the articles published within the window (undated ones are not)."""
        mask = np.ones(len(self.articles), dtype=bool) if allowed is None else allowed.copy()
        with np.errstate(invalid="ignore"):
            if window.start is not None:
                mask &= self._published >= datetime.combine(window.start, time.min, tzinfo=timezone.utc).timestamp()
            if window.end is not None:
                end = datetime.combine(window.end + timedelta(days=1), time.min, tzinfo=timezone.utc).timestamp()
                mask &= self._published < end
        return mask

    def _browse(
        self, typed: str, asked: _Asked, allowed: np.ndarray | None, eligible: int, *, k: int, offset: int, mode: Mode,
        facets: bool, sort: Sort, today: date,
    ) -> SearchResults:
        """"latest news", "news this week", "open calls": the eligible articles newest first (undated last), or by
        their next deadline, soonest first (`sort="deadline"`; then newest first), one per near-duplicate group;
        facets count the first `facet_depth` of them."""
        rows = np.flatnonzero(allowed) if allowed is not None else np.arange(len(self.articles))
        when = self._published[rows]
        undated = np.isnan(when)
        keys = [rows, -np.where(undated, 0.0, when), undated]  # np.lexsort: the last key is the primary one
        if sort == "deadline":
            keys.append(self._next_deadlines(today, rows))
        order = rows[np.lexsort(keys)]
        want = max(offset + k, self.ranking.facet_depth if facets else 0)
        listed = (_Candidate(int(a), 0.0, chunk=int(self._chunk_start[a])) for a in order)
        if self.ranking.collapse_duplicates:
            groups = self._collapse(listed, allowed, limit=want)
        else:
            groups = [(cand, []) for cand, _ in zip(listed, range(want))]
        shown = (np.unique(self.group[rows]).size if self.ranking.collapse_duplicates else len(rows)) if len(rows) else 0
        hits = [self._hit(cand, others, frozenset(), today=today) for cand, others in groups[offset:offset + k]]
        counts = self._facets([c.article for c, _ in groups[: self.ranking.facet_depth]], today) if facets else None
        return SearchResults(query=typed, mode=mode, sort=sort, k=k, offset=offset, eligible=eligible, relevant=shown,
                             hits=hits, ranked=False, **asked.fields(), version=self.version, facets=counts)

    def _matches_well(
        self, groups: list[tuple[_Candidate, list[int]]], text: str, floor: float, allowed: np.ndarray | None
    ) -> bool:
        """Whether some candidate has a passage at cosine `floor` or more to the query, or some eligible article holds
        every query word the keyword leg reads (place names aside: "Ghana" alone is answered by the place tags)."""
        if floor <= 0 or any(c.semantic is not None and c.semantic >= floor for c, _ in groups):
            return True
        words = analyse([parse_query_places(text).residual])[0]
        if not words:  # only place names or stop words: nothing for the keyword leg to hold
            return True
        rows = self.keyword.documents_with_all(words)
        return rows is None or bool(len(rows) if allowed is None else allowed[rows].any())

    def suggest(self, query: str, *, k: int = 8) -> Suggestions:
        """Completions of the word being typed ("child traf" → "child trafficking"), for a search box."""
        if not 1 <= k <= 20:
            raise InvalidQuery("k must be between 1 and 20")
        text = " ".join(query.split()) + (" " if query[-1:].isspace() else "")  # a finished word completes nothing
        return Suggestions(query=query, suggestions=self._suggester.complete(text, k=k) if text.strip() else [])

    def _syntax_mask(self, syntax: QuerySyntax, allowed: np.ndarray | None) -> np.ndarray:
        """`allowed` (every article when None) narrowed to the articles holding each phrase and none of the excluded
        words. A phrase is looked for only in the articles BM25 says hold all its terms, so a rare phrase costs a
        few texts; "climate change" on a large site reads every article about climate (25-72 µs each on BBC News)."""
        mask = np.ones(len(self.articles), dtype=bool) if allowed is None else allowed.copy()
        for phrase in syntax.phrases:
            holds = np.zeros(len(mask), dtype=bool)
            holds[self._phrase_rows(" ".join(phrase_words(phrase)).casefold())] = True
            mask &= holds
        for word in syntax.excluded:
            rows = self.keyword.documents_with_all(analyse([word])[0])
            if rows is not None:  # a stop word ("-the") is in no index: it excludes nothing
                mask[rows] = False
        return mask

    def _rows_holding(self, phrase: str) -> np.ndarray:
        """Rows of the articles holding `phrase` (its words, casefolded and joined by one space): cached per version
        in `_phrase_rows`, so paging through a phrase search reads the texts once."""
        rows = self.keyword.documents_with_all(analyse([phrase])[0])
        if rows is None:  # only stop words ("to be or not"): BM25 cannot narrow it, and reading every text per
            return np.arange(len(self.articles))  # query would let a few quotes stall the server; it restricts nothing
        search, titles = phrase_pattern(phrase).search, self._card["title"]
        starts, texts = self._chunk_start, self.chunk_text

        def holds(row: int) -> bool:  # the title, then passage by passage: most phrases are found in the first
            return bool(search(titles[row])) or any(search(texts[c]) for c in range(starts[row], starts[row + 1]))

        return np.array([r for r in rows.tolist() if holds(r)], dtype=np.int64)

    def _relevant(self, groups: list[tuple[_Candidate, list[int]]]) -> list[tuple[_Candidate, list[int]]]:
        """The relevant results among the first `facet_depth`, in rank order: as many as score at least `facet_share`
        of the best."""
        head = groups[: self.ranking.facet_depth]
        best = max((g[0].measured for g in head), default=0.0)
        cut = self.ranking.facet_share * best if best > 0 else -np.inf  # nothing scores well: take the top
        # as many as score at least the share by the fused score (what the share was measured on), in served order:
        # late interaction only re-orders the top 30, which lead by the fused score too
        return head[: sum(g[0].measured >= cut for g in head)]

    def _facets(self, rows: list[int], today: date) -> Facets:
        """Category, country, region, year and open / closed call counts over the result rows `rows`."""
        card, most = self._card, self.ranking.facet_values

        def top(counter: Counter, order=lambda kv: (-kv[1], kv[0])) -> list[FacetValue]:
            return [FacetValue(value=str(v), count=c) for v, c in sorted(counter.items(), key=order)[:most]]

        categories, countries, regions, years, calls = Counter(), Counter(), Counter(), Counter(), Counter()
        for r in rows:
            deadline, passed = self._deadline(r, today)  # the counted rows only: at most facet_depth
            if deadline is not None:
                calls["closed" if passed else "open"] += 1
            categories.update(set(card["categories"][r]))
            countries.update(set(card["countries"][r]))
            regions.update(set(card["regions"][r]))
            if self._year[r]:
                years[int(self._year[r])] += 1
        return Facets(counted=len(rows), categories=top(categories), countries=top(countries), regions=top(regions),
                      years=top(years, order=lambda kv: -kv[0]), calls=top(calls))

    def _hit(
        self, cand: _Candidate, others: list[int], terms: frozenset[str], phrases: tuple[re.Pattern[str], ...] = (),
        *, today: date,
    ) -> SearchHit:
        chunk = cand.chunk
        start, end = self._chunk_start[cand.article], self._chunk_start[cand.article + 1]
        shows_phrase = False
        if phrases:
            # a quoted phrase is what the reader insisted on: show a passage holding it (there is one unless the
            # phrase is only in the title), the dense best passage if it does, else the one with most phrases
            def held(c: int) -> int:
                return sum(bool(p.search(self.chunk_text[c])) for p in phrases)

            if chunk is not None and held(chunk):
                shows_phrase = True
            else:
                counts = {c: held(c) for c in range(start, end)}
                most = max(counts, key=lambda c: (counts[c], -c), default=None)  # the earliest on a tie
                if most is not None and counts[most]:
                    chunk, shows_phrase = most, True
        if chunk is None or (cand.keyword is not None and terms and not shows_phrase
                             and self._overlap(chunk, terms) < len(terms)):
            # a keyword match shows the passage with most query terms, the dense best passage on a tie — which wins
            # outright when it holds every term, so the other passages are only scanned when it does not
            candidates = list(range(start, end))
            if chunk is not None:  # prefer the dense passage on a tie in term overlap
                candidates.remove(chunk)
                candidates.insert(0, chunk)
            chunk = candidates[best_passage(candidates, terms, self._overlap)]
        plain, marked = make_snippet(self.chunk_text[chunk], terms, focus=phrases)
        row = self.articles.iloc[cand.article]
        deadline, passed = self._deadline(cand.article, today)
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
            regions=list(row["regions"]),
            similar=[self.articles.iloc[m]["id"] for m in others],
            deadline=deadline,
            deadline_passed=passed,
        )

    def _overlap(self, chunk: int, terms: frozenset[str]) -> int:
        """How many distinct query terms passage `chunk` holds."""
        return len(self._stems(chunk) & terms)

    # -- related posts --------------------------------------------------------------------------------------
    def has_article(self, article_id: str) -> bool:
        return article_id in self._position

    def _article_text(self, idx: int) -> str:
        start, end = self._chunk_start[idx], self._chunk_start[idx + 1]
        return article_text(self.articles["title"].iat[idx], self.chunk_text[start:end])  # as profiles were built

    def _places(self, idx: int) -> list[str]:
        return list(self._card["countries"][idx])

    def _reason(
        self, source_row: int | None, source: Callable[[], TermProfile], places: list[str], row: int,
        nearby: Callable[[], Neighbourhood],
    ) -> str:
        """Why `row` is related to the source; cached per pair for an indexed source (drafts are computed)."""
        if source_row is None:
            return self._explainer.reason(source(), places, row, nearby())
        key = (source_row, row)
        reason = self._reasons.get(key)
        if reason is None:
            if len(self._reasons) >= 200_000:
                self._reasons.clear()
            reason = self._reasons[key] = self._explainer.reason(
                source(), places, row, nearby(), source_categories=self.articles["categories"].iat[source_row]
            )
        return reason

    def _related_items(
        self, picks: list[Picked], source: Callable[[], TermProfile], places: list[str], nearby_rows: np.ndarray,
        source_row: int | None = None,
    ) -> list[RelatedItem]:
        """The picks as items with their captions; `nearby_rows` (the source's nearest articles) tell the captions
        which shared terms belong to the source's neighbourhood."""
        card = self._card
        items = []
        today = datetime.now(timezone.utc).date()

        @lru_cache(maxsize=1)
        def nearby() -> Neighbourhood:
            rows = nearby_rows if source_row is None else np.concatenate([[source_row], nearby_rows])
            return self._explainer.neighbourhood(rows)

        for pick in picks:
            r = pick.row
            reason = PINNED_REASON if pick.pinned else self._reason(source_row, source, places, r, nearby)
            deadline, passed = self._deadline(r, today)
            items.append(
                RelatedItem(
                    id=card["id"][r],
                    title=card["title"][r],
                    url=card["url"][r],
                    score=round(pick.similarity, 6),
                    published_at=card["published_at"][r],
                    categories=list(card["categories"][r]),
                    reason=reason,
                    pinned=pick.pinned,
                    deadline=deadline,
                    deadline_passed=passed,
                )
            )
        return items

    def _pick_related(
        self, ids: np.ndarray, scores: np.ndarray, k: int, rules: RelatedRules, *, source: int | None,
        source_vec: np.ndarray, curation: Curation | None = None, rank: np.ndarray | None = None,
    ) -> list[Picked]:
        """The candidates' features the rules need, and the editors' pins and excludes, handed to the policy."""
        rows = np.asarray(ids, dtype=np.int64)
        valid = np.maximum(rows, 0)  # -1 padding is dropped by the policy; index safely meanwhile
        age = same = vectors = None
        if rules.uses_dates:
            age = (self._newest - self._published[valid]) / 86400.0
        if rules.same_category_boost and source is not None:
            mine = set(self.articles["categories"].iat[source])
            same = np.array([bool(mine.intersection(self.articles["categories"].iat[r])) for r in valid])
        if rules.mmr_lambda < 1.0 and len(valid):
            vectors = self.article_index.reconstruct_batch(valid)
        closed = None
        if rules.hide_closed_calls:
            closed = self._calls_closed(datetime.now(timezone.utc).date(), valid)
        pins: list[Pin] = []
        excluded: list[int] = []
        if curation is not None:  # ids no longer (or not yet) in this version are skipped
            for target, position in curation.pins:
                row = self._position.get(target)
                if row is not None and row != source:
                    similarity = float(self.article_index.reconstruct(row) @ source_vec)
                    pins.append(Pin(row, position, similarity))
            excluded = [self._position[t] for t in curation.excludes if t in self._position]
        return select_related(
            rows, scores, k, rules, group=self.group, source=source, age_days=age, same_category=same,
            vectors=vectors, pins=pins, excluded=excluded, rank=rank, closed=closed,
        )

    def _live_neighbours(self, vec: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        fetch = min(self.article_index.ntotal, fetch)
        if fetch == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.article_index.search(vec.reshape(1, -1).astype(np.float32), fetch)
        return ids[0], scores[0]

    def related(
        self, article_id: str, *, k: int = 5, rules: RelatedRules | None = None, curation: Curation | None = None
    ) -> RelatedResults:
        """The article's related posts under `rules` (default: the engine's), with the editors' `curation` applied."""
        idx = self._position.get(article_id)
        if idx is None:
            raise ArticleNotFound(article_id)
        rules = rules or self.related_rules
        vec = self.article_index.reconstruct(idx)
        scores = self.neighbour_scores[idx]
        picks = self._pick_related(
            self.neighbours[idx], scores, k, rules, source=idx, source_vec=vec, curation=curation,
            rank=self.neighbour_rank[idx],
        )
        if len(picks) < k and self.neighbours.shape[1] < len(self.articles) - 1 and scores.min() >= rules.min_similarity:
            # the precomputed list ran out above the floor (large k, duplicates, excludes): search deeper, live
            ids, scores = self._live_neighbours(vec, 4 * k + 32)
            picks = self._pick_related(ids, scores, k, rules, source=idx, source_vec=vec, curation=curation)
        items = self._related_items(picks, lambda: self._explainer.profile(idx), self._places(idx), self.neighbours[idx],
                                    source_row=idx)
        return RelatedResults(article_id=article_id, items=items, version=self.version)

    def related_to_text(self, title: str, body: str, *, k: int = 5, rules: RelatedRules | None = None) -> RelatedResults:
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
        picks = self._pick_related(ids, scores, k, rules or self.related_rules, source=None, source_vec=vec)
        profile = term_profile(f"{draft.title}\n{draft.body}")
        items = self._related_items(picks, lambda: profile, [], ids)
        return RelatedResults(article_id=None, items=items, version=self.version)

    # -- facts ----------------------------------------------------------------------------------------------
    def article(self, article_id: str) -> ArticleInfo:
        idx = self._position.get(article_id)
        if idx is None:
            raise ArticleNotFound(article_id)
        row = self.articles.iloc[idx].to_dict()
        for key in ("categories", "tags", "countries", "regions", "deadlines"):
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
