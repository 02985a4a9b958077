"""Write routes: upsert and delete articles over HTTP with the API key; durable on return, searchable after the
next background publish (coalesced under bursts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from indexer.article import Article, ArticleInvalid, parse_article
from indexer.pipeline import ChunkingParams, apply_changes
from indexer.publish import STORE_FILE
from search_api.http.deps import SettingsDep, require_api_key
from search_api.live import VISIBLE_WITHIN_SECONDS

MAX_BATCH = 500


class ArticleIn(BaseModel):
    """An article as a client sends it; validated into an Article (field errors name the field)."""

    id: str | None = Field(None, max_length=200)
    url: str | None = Field(None, max_length=2000)
    title: str = Field(max_length=1000)
    body: str = Field(max_length=200_000)
    published_at: str | datetime | None = None
    categories: list[str] = Field([], max_length=50)
    tags: list[str] = Field([], max_length=100)
    countries: list[str] = Field([], max_length=50)
    author: str | None = Field(None, max_length=300)
    language: str | None = Field(None, max_length=20)
    image_url: str | None = Field(None, max_length=2000)
    deadline: str | date | None = Field(None, description="A grant call's deadline; else read from the text")


class ArticleBatch(BaseModel):
    articles: list[ArticleIn] = Field(min_length=1, max_length=MAX_BATCH)


class WriteResult(BaseModel):
    added: int
    updated: int
    unchanged: int
    deleted: int
    publish: str = Field(description="'scheduled' when a publish will make the change searchable, else 'not needed'")
    visible_within_seconds: int = Field(
        description="an estimate from how long publishing takes here (at least 30 s); 0 when nothing changed"
    )


def _validate(records: list[ArticleIn], prefix: str) -> list[Article]:
    articles, problems = [], []
    for n, record in enumerate(records):
        try:
            articles.append(parse_article(record.model_dump(exclude_none=True)))
        except ArticleInvalid as exc:
            problems.append(f"{prefix}[{n}]: {exc}" if prefix else str(exc))
    if problems:
        raise HTTPException(422, "; ".join(problems) + " (nothing was written)")
    ids = [a.id for a in articles]
    if len(set(ids)) != len(ids):
        raise HTTPException(422, "the batch holds the same id twice (nothing was written)")
    return articles


def _require_store(request: Request, settings) -> None:
    """Refuse a write when store.sqlite vanished under a server that serves an index (the folder deleted or moved):
    writing would start an empty store, whose next publish would replace the index with the few articles written.
    A server with no index at all may write: its first publish creates the index."""
    if request.app.state.live.engine is not None and not settings.home().has_store():
        raise HTTPException(
            503, f"the index folder has no {STORE_FILE} (deleted or moved?); writes are refused until it is restored"
        )


def writes_router() -> APIRouter:
    router = APIRouter(tags=["writes"], dependencies=[Depends(require_api_key)])

    def write(request: Request, settings, upserts: list[Article], deletes: list[str]) -> WriteResult:
        _require_store(request, settings)
        report = apply_changes(
            settings.index_dir,
            None,  # no embedding here: the store write is the durable part, the publisher embeds
            upserts=upserts,
            deletes=deletes,
            chunking=ChunkingParams(settings.chunk_words, settings.chunk_overlap),
            publish_now=False,
            busy_timeout=settings.store_busy_timeout,  # then StoreBusy: 503 with Retry-After
            database=settings.home().database,
        )
        changed = bool(report.added or report.updated or report.deleted)
        publisher = request.app.state.publisher
        visible = VISIBLE_WITHIN_SECONDS if changed else 0
        if changed and publisher is not None:
            publisher.request()
            engine = request.app.state.live.engine
            visible = publisher.visible_within(None if engine is None else engine.manifest.get("publish_seconds"))
        return WriteResult(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            deleted=report.deleted,
            publish="scheduled" if changed else "not needed",
            visible_within_seconds=visible,
        )

    @router.post("/articles", response_model=WriteResult, status_code=202)
    def upsert_articles(request: Request, settings: SettingsDep, batch: ArticleBatch) -> WriteResult:
        """Insert or replace up to 500 articles. All are validated first; one bad record writes nothing."""
        return write(request, settings, _validate(batch.articles, "articles"), [])

    @router.put("/articles/{article_id}", response_model=WriteResult, status_code=202)
    def put_article(
        request: Request,
        settings: SettingsDep,
        article_id: Annotated[str, Path(min_length=1, max_length=200)],
        record: ArticleIn,
    ) -> WriteResult:
        if record.id is not None and record.id != article_id:
            raise HTTPException(422, f"the body's id {record.id!r} differs from the URL's {article_id!r}")
        (article,) = _validate([record.model_copy(update={"id": article_id})], "")
        return write(request, settings, [article], [])

    @router.delete("/articles/{article_id}", response_model=WriteResult, status_code=202)
    def delete_article(
        request: Request, settings: SettingsDep, article_id: Annotated[str, Path(min_length=1, max_length=200)]
    ) -> WriteResult:
        _require_store(request, settings)
        with settings.home().open_store(busy_timeout=settings.store_busy_timeout) as store:
            if store.get_article(article_id) is None:
                raise HTTPException(404, f"article {article_id!r} is not in the store")
        return write(request, settings, [], [article_id])

    return router
