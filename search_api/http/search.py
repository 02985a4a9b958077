"""The reader's routes: search, completions, an article's facts and related posts (for an article, or a draft)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from indexer.errors import InvalidQuery
from search_api.http.deps import EditorialDep, EngineDep, SettingsDep
from search_api.http.editorial import RulesQuery, rules_for
from search_api.http.guards import clean_query
from search_api.schemas import (
    ArticleInfo,
    CallsFilter,
    Filters,
    Mode,
    RelatedResults,
    SearchResults,
    Sort,
    Suggestions,
)

MAX_QUERY_CHARS = 512
ArticleId = Annotated[str, Path(min_length=1, max_length=200, description="Article id")]


class DraftRequest(BaseModel):
    title: str = Field("", max_length=1000)
    body: str = Field("", max_length=100_000)
    k: int = Field(5, ge=1, le=50)


router = APIRouter()


@router.get("/search", response_model=SearchResults, tags=["search"])
def search(
    engine: EngineDep,
    editorial: EditorialDep,
    config: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                                 description='Question or keywords; a "quoted phrase" must appear, a -word must not')],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    category: Annotated[list[str], Query(max_length=20, description="Repeat for several (any of)")] = [],
    country: Annotated[list[str], Query(max_length=20, description="Country name or ISO code; repeat (any of)")] = [],
    region: Annotated[list[str], Query(max_length=20, description="e.g. East Africa, Sahel; repeat (any of)")] = [],
    language: Annotated[list[str], Query(max_length=20, description="Articles written in this language, an ISO "
                                                                    "639-1 code such as fr; repeat (any of)")] = [],
    date_from: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    date_to: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    mode: Annotated[Mode, Query(description="hybrid (default), semantic or keyword")] = "hybrid",
    facets: Annotated[bool, Query(description="Also count categories, countries, regions and years over the "
                                              "results scoring at least half the first (at most 100), for "
                                              "refining the search")] = False,
    spellcheck: Annotated[bool, Query(description="Correct words no article contains before searching "
                                                  "(see corrected_query); false searches the words as typed")] = True,
    sort: Annotated[Sort | None, Query(description="relevance (the default); date: the relevant results "
                                                   "(scoring at least half the first, at most 100) newest first; "
                                                   "deadline: the same by their next grant deadline, soonest "
                                                   "first. Unset, a query starting or ending with \"latest\" "
                                                   "(\"latest news on …\") is ordered by date (see recency), one "
                                                   "asking for open calls (\"… closing soon\") by deadline")] = None,
    calls: Annotated[CallsFilter | None, Query(description="open: only grant calls with a deadline today or "
                                                           "later; closed: only calls past every deadline")] = None,
    floor: Annotated[float | None, Query(ge=0.0, le=1.0, description="Match floor for this search (default "
                                                                    "SIFT_MATCH_FLOOR, else the model's: 0.30 English): nothing is listed "
                                                                    "(weak_only) unless a passage reaches this "
                                                                    "cosine or an article holds every word; 0 "
                                                                    "lists the nearest articles however weak")] = None,
) -> SearchResults:
    query = clean_query(q)
    if not query:
        raise InvalidQuery("the query is empty once control characters and punctuation are removed; "
                           "type a few words to search for")
    filters = Filters(
        categories=[c for c in category if c.strip()],
        countries=[c for c in country if c.strip()],
        regions=[r for r in region if r.strip()],
        languages=[code for code in language if code.strip()],
        date_from=date_from,
        date_to=date_to,
        calls=calls,
    )
    results = engine.search(query, k=k, offset=offset, filters=filters, mode=mode, facets=facets,
                            spellcheck=spellcheck, sort=sort, floor=floor)
    # a reader's search, not its next page nor a "show the nearest anyway" (floor=): counted for /stats/search
    if config.search_log_days and offset == 0 and floor is None:
        editorial.record_search(query, answered=bool(results.hits), keep_days=config.search_log_days)
    return results


@router.get("/suggest", response_model=Suggestions, tags=["search"])
def suggest(
    engine: EngineDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="What the reader has typed so far")],
    k: Annotated[int, Query(ge=1, le=20)] = 8,
) -> Suggestions:
    """Completions for a search box: the last word completed with words the articles use ("child traf" →
    "child trafficking"), most articles first. Nothing is embedded: cheap enough for every keystroke."""
    return engine.suggest(clean_query(q) + (" " if q[-1:].isspace() else ""), k=k)


@router.get("/articles/{article_id}", response_model=ArticleInfo, tags=["articles"])
def article(engine: EngineDep, article_id: ArticleId) -> ArticleInfo:
    return engine.article(article_id)


@router.get("/articles/{article_id}/related", response_model=RelatedResults, tags=["related"])
def related(
    engine: EngineDep, editorial: EditorialDep, article_id: ArticleId, rules: RulesQuery,
    k: Annotated[int, Query(ge=1, le=50)] = 5,
) -> RelatedResults:
    """Related posts with the editors' pins and excludes applied; the rule parameters override SIFT_RELATED_*."""
    return engine.related(article_id, k=k, rules=rules_for(engine, rules), curation=editorial.curation(article_id))


@router.post("/related", response_model=RelatedResults, tags=["related"])
def related_draft(engine: EngineDep, draft: DraftRequest) -> RelatedResults:
    return engine.related_to_text(draft.title, draft.body, k=draft.k)


def search_router() -> APIRouter:
    """The routes above, for create_app."""
    return router
