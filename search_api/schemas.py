"""Records the engine returns and the API serves: one typed shape per answer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ArticleInfo(_Frozen):
    id: str
    title: str
    url: str | None = None
    summary: str = Field(description="The first ~280 characters of the body")
    published_at: datetime | None = None
    categories: list[str] = []
    tags: list[str] = []
    countries: list[str] = []
    author: str | None = None
    language: str | None = None
    image_url: str | None = None


class SearchHit(_Frozen):
    id: str
    title: str
    url: str | None = None
    score: float = Field(description="Cosine similarity of the best-matching passage to the query")
    snippet: str = Field(description="The passage that matched best")
    published_at: datetime | None = None
    categories: list[str] = []
    countries: list[str] = []


class Filters(_Frozen):
    categories: list[str] = []
    date_from: date | None = None
    date_to: date | None = None

    def is_empty(self) -> bool:
        return not self.categories and self.date_from is None and self.date_to is None


class SearchResults(_Frozen):
    query: str
    k: int
    offset: int
    eligible: int = Field(description="Articles that pass the filters (all articles when there are none)")
    hits: list[SearchHit]
    version: str


class RelatedItem(_Frozen):
    id: str
    title: str
    url: str | None = None
    score: float = Field(description="Cosine similarity of the two article vectors")
    published_at: datetime | None = None
    categories: list[str] = []


class RelatedResults(_Frozen):
    article_id: str | None = Field(None, description="The source article; null for a draft")
    items: list[RelatedItem]
    version: str


class IndexStats(_Frozen):
    version: str
    created_at: datetime
    model_id: str
    dim: int
    articles: int
    chunks: int
    categories: dict[str, int]
    oldest: datetime | None = None
    newest: datetime | None = None
    index_bytes: int
