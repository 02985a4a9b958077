"""Editorial control and feedback over HTTP: pins and excludes (API key needed), the widget's impression and click
events (no cookies, nothing personal), click-through per article, search insights (API key needed) and the
related-rules query parameters."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from indexer.editorial import Curation, NotCurated
from indexer.errors import ArticleNotFound, InvalidQuery
from search_api.engine import Engine
from search_api.http.deps import EditorialDep, EngineDep, require_api_key, require_api_key_to_read
from search_api.related.policy import RelatedRules

ArticleId = Annotated[str, Path(min_length=1, max_length=200, description="Article id")]
OtherId = Annotated[str, Path(min_length=1, max_length=200, description="The article pinned or excluded")]
EventId = Annotated[str, Field(min_length=1, max_length=200)]
# An event names at most 51 ids of at most 200 characters; 16 KB is ample and bounds what one request can cost.
MAX_EVENT_BYTES = 16 * 1024


class PinInfo(BaseModel):
    id: str
    position: int = Field(description="1-based place in the list")


class CurationInfo(BaseModel):
    article_id: str
    pins: list[PinInfo]
    excludes: list[str]

    @classmethod
    def of(cls, article_id: str, curation: Curation) -> CurationInfo:
        return cls(
            article_id=article_id,
            pins=[PinInfo(id=i, position=p) for i, p in curation.pins],
            excludes=sorted(curation.excludes),
        )


class WidgetEvent(BaseModel):
    """What widget.js reports: the ids it showed in `article_id`'s box, or the one a reader clicked."""

    model_config = ConfigDict(extra="forbid")
    article_id: EventId
    shown: list[EventId] = Field([], max_length=50)
    clicked: EventId | None = None


class QueryCountInfo(BaseModel):
    query: str = Field(description="As typed, casefolded, one space between words")
    searches: int
    unanswered: int = Field(description="Searches that listed nothing: no match, or nothing that matched well")


class SearchStats(BaseModel):
    days: int = Field(description="The window: the last `days` days, today included")
    searches: int
    unanswered: int
    queries: list[QueryCountInfo] = Field(description="The most searched queries")
    unanswered_queries: list[QueryCountInfo] = Field(
        description="The most searched of the queries that listed nothing at least once: what readers look for and "
        "the site does not have (or words it does not use)"
    )


class ItemClicks(BaseModel):
    id: str
    impressions: int
    clicks: int
    ctr: float | None = Field(description="clicks / impressions; null before the first impression")


class ArticleClicks(BaseModel):
    article_id: str
    views: int = Field(description="Times the article's related box was shown")
    clicks: int = Field(description="Clicks on any item of the box")
    ctr: float | None = Field(description="clicks / views")
    items: list[ItemClicks]


class RelatedStats(BaseModel):
    views: int = Field(description="Related boxes shown, all articles")
    clicks: int
    ctr: float | None
    articles: list[ArticleClicks] = Field(description="The most viewed boxes first")


def _ratio(clicks: int, shown: int) -> float | None:
    return round(clicks / shown, 4) if shown else None


def related_rules_query(
    min_similarity: Annotated[float | None, Query(ge=-1.0, le=1.0, description="Similarity floor")] = None,
    mmr_lambda: Annotated[float | None, Query(ge=0.0, le=1.0, description="MMR diversity; 1 = off")] = None,
    half_life_days: Annotated[float | None, Query(gt=0, le=36500, description="Soft recency half-life")] = None,
    max_age_days: Annotated[float | None, Query(gt=0, le=36500, description="Drop older posts")] = None,
    same_category_boost: Annotated[float | None, Query(ge=0.0, le=1.0, description="Bonus for a shared category")] = None,
    hide_closed_calls: Annotated[bool | None, Query(description="Drop calls whose deadlines have all passed")] = None,
    same_language: Annotated[bool | None, Query(description="Only posts in the article's language")] = None,
) -> dict[str, float | bool]:
    """Per-request overrides of the server's related rules (SIFT_RELATED_*); only the ones given."""
    given = {
        "min_similarity": min_similarity, "mmr_lambda": mmr_lambda, "half_life_days": half_life_days,
        "max_age_days": max_age_days, "same_category_boost": same_category_boost,
        "hide_closed_calls": hide_closed_calls, "same_language": same_language,
    }
    return {name: value for name, value in given.items() if value is not None}


RulesQuery = Annotated[dict[str, float | bool], Depends(related_rules_query)]


def rules_for(engine: Engine, overrides: dict[str, float | bool]) -> RelatedRules | None:
    return replace(engine.related_rules, **overrides) if overrides else None


def _check_known(engine: Engine, *article_ids: str) -> None:
    for aid in article_ids:
        if not engine.has_article(aid):
            raise ArticleNotFound(aid)


def _check_pair(engine: Engine, article_id: str, other: str) -> None:
    _check_known(engine, article_id, other)
    if article_id == other:
        raise InvalidQuery("an article cannot be pinned to or excluded from its own related posts")



async def _read_limited(request: Request, limit: int) -> bytes:
    too_large = HTTPException(413, f"the event is larger than {limit} bytes; send the ids of one box only")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _undone(article_id: str, change) -> CurationInfo:
    """The curation after removing a pin or an exclude; 404 when there was none."""
    try:
        return CurationInfo.of(article_id, change())
    except NotCurated as exc:
        raise HTTPException(404, str(exc)) from None


router = APIRouter()
_WRITES = {"dependencies": [Depends(require_api_key)], "tags": ["editorial"],
           "responses": {401: {"description": "no API key sent"}, 403: {"description": "wrong key, or writes disabled"}}}


@router.get("/articles/{article_id}/related/curation", response_model=CurationInfo, tags=["editorial"])
def curation(engine: EngineDep, editorial: EditorialDep, article_id: ArticleId) -> CurationInfo:
    """The pins and excludes editors set for one article's related list."""
    _check_known(engine, article_id)
    return CurationInfo.of(article_id, editorial.curation(article_id))


@router.put("/articles/{article_id}/related/pins/{other}", response_model=CurationInfo, **_WRITES)
def pin(
    engine: EngineDep, editorial: EditorialDep, article_id: ArticleId, other: OtherId,
    position: Annotated[int, Query(ge=1, le=50, description="1-based place in the list")] = 1,
) -> CurationInfo:
    """Always show `other` in `article_id`'s related posts, at `position`, whatever its similarity."""
    _check_pair(engine, article_id, other)
    return CurationInfo.of(article_id, editorial.pin(article_id, other, position))


@router.delete("/articles/{article_id}/related/pins/{other}", response_model=CurationInfo, **_WRITES)
def unpin(editorial: EditorialDep, article_id: ArticleId, other: OtherId) -> CurationInfo:
    return _undone(article_id, lambda: editorial.unpin(article_id, other))


@router.put("/articles/{article_id}/related/excludes/{other}", response_model=CurationInfo, **_WRITES)
def exclude(engine: EngineDep, editorial: EditorialDep, article_id: ArticleId, other: OtherId) -> CurationInfo:
    """Never show `other` (nor its near-duplicates) in `article_id`'s related posts."""
    _check_pair(engine, article_id, other)
    return CurationInfo.of(article_id, editorial.exclude(article_id, other))


@router.delete("/articles/{article_id}/related/excludes/{other}", response_model=CurationInfo, **_WRITES)
def unexclude(editorial: EditorialDep, article_id: ArticleId, other: OtherId) -> CurationInfo:
    return _undone(article_id, lambda: editorial.unexclude(article_id, other))


@router.post(
    "/widget/events", status_code=204, response_class=Response, tags=["widget"],
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": WidgetEvent.model_json_schema()}}}},
    responses={413: {"description": f"body over {MAX_EVENT_BYTES} bytes"}},
)
async def widget_event(request: Request, engine: EngineDep, editorial: EditorialDep) -> Response:
    """Count an impression of each `shown` id and a click on `clicked` in `article_id`'s box.

    Any content type is read as JSON: widget.js posts text/plain, which needs no CORS preflight. Nothing about
    the reader is stored: no cookie, no IP address, no user agent; only the counters. An unknown `article_id`
    is a 404; shown or clicked ids that are not in the live index (a page rendered before a re-index, a forged
    event) are left out of the counts.
    """
    try:
        event = WidgetEvent.model_validate_json(await _read_limited(request, MAX_EVENT_BYTES))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    _check_known(engine, event.article_id)
    shown = [aid for aid in event.shown if engine.has_article(aid)]
    clicked = event.clicked if event.clicked and engine.has_article(event.clicked) else None
    await run_in_threadpool(editorial.record_event, event.article_id, shown, clicked)
    return Response(status_code=204)


@router.get("/stats/related", response_model=RelatedStats, tags=["operations"])
def related_stats(
    engine: EngineDep,  # no index, no store: a clear 503 rather than an error from SQLite
    editorial: EditorialDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many boxes, most viewed first")] = 50,
    article_id: Annotated[str | None, Query(min_length=1, max_length=200, description="Only this box")] = None,
) -> RelatedStats:
    """Click-through of the related-posts widget per article, from the widget's events."""
    views, clicks = editorial.click_totals()
    boxes = [
        ArticleClicks(
            article_id=box.source, views=box.views, clicks=box.clicks, ctr=_ratio(box.clicks, box.views),
            items=[
                ItemClicks(id=i.target, impressions=i.impressions, clicks=i.clicks, ctr=_ratio(i.clicks, i.impressions))
                for i in box.items
            ],
        )
        for box in editorial.click_through(limit, article_id)
    ]
    return RelatedStats(views=views, clicks=clicks, ctr=_ratio(clicks, views), articles=boxes)


@router.get("/stats/search", response_model=SearchStats, tags=["operations"],
            dependencies=[Depends(require_api_key_to_read)])
def search_stats(
    editorial: EditorialDep,
    days: Annotated[int, Query(ge=1, le=3650, description="The last this many days, today included")] = 30,
    limit: Annotated[int, Query(ge=1, le=1000, description="Queries per list")] = 20,
) -> SearchStats:
    """What readers searched for (first pages only, counted per day; SIFT_SEARCH_LOG_DAYS kept): the most
    searched queries and the most searched of those that listed nothing. Needs the API key: readers' queries
    are the site's private data. No IP address, cookie or user agent is kept."""
    insights = editorial.search_insights(days=days, limit=limit)

    def rows(counts) -> list[QueryCountInfo]:
        return [QueryCountInfo(query=c.query, searches=c.searches, unanswered=c.unanswered) for c in counts]

    return SearchStats(days=insights.days, searches=insights.searches, unanswered=insights.unanswered,
                       queries=rows(insights.top), unanswered_queries=rows(insights.unanswered_top))


def editorial_router() -> APIRouter:
    """The routes above, for create_app."""
    return router
