"""Records the engine returns and the API serves: one typed shape per answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ArticleInfo(_Frozen):
    id: str
    title: str
    url: str | None = None
    summary: str = Field(description="The body's first ~280 characters, cut before a word, \" …\" when it goes on")
    published_at: datetime | None = None
    categories: list[str] = []
    tags: list[str] = []
    countries: list[str] = []
    regions: list[str] = []
    author: str | None = None
    language: str | None = None
    image_url: str | None = None
    deadlines: list[date] = Field([], description="A grant call's application deadlines, earliest first: the "
                                  "source's deadline field, else the ones its text names (\"apply by 15 May 2026\")")


Mode = Literal["hybrid", "semantic", "keyword"]
Sort = Literal["relevance", "date", "deadline"]
CallsFilter = Literal["open", "closed"]


_DEADLINE = ("A grant call's next application deadline (UTC day), or its last one when all have passed; null for an "
             "article that names none")
_PASSED = "True when every deadline has passed; null without one"


class SearchHit(_Frozen):
    id: str
    title: str
    url: str | None = None
    score: float = Field(description="Ranking score: fused (hybrid), cosine (semantic) or BM25 (keyword)")
    semantic_score: float | None = Field(None, description="Cosine similarity of the best passage, if retrieved densely")
    keyword_score: float | None = Field(None, description="BM25 score, if the article matched query terms")
    snippet: str = Field(description="The passage that matched best, plain text")
    snippet_html: str = Field(description="The same passage, HTML-escaped, query terms wrapped in <mark>")
    published_at: datetime | None = None
    categories: list[str] = []
    countries: list[str] = []
    regions: list[str] = []
    similar: list[str] = Field([], description="Ids of near-duplicates collapsed into this hit (+N similar)")
    deadline: date | None = Field(None, description=_DEADLINE)
    deadline_passed: bool | None = Field(None, description=_PASSED)


class Filters(_Frozen):
    categories: list[str] = []
    countries: list[str] = Field([], description="Country names or ISO codes (any of)")
    regions: list[str] = Field([], description="Region names, e.g. 'East Africa', 'Sahel' (any of)")
    languages: list[str] = Field([], description="ISO 639-1 codes of the articles' languages, e.g. fr, es (any of)")
    date_from: date | None = None
    date_to: date | None = None
    calls: CallsFilter | None = Field(
        None, description="open: grant calls with a deadline today or later; closed: calls whose deadlines have all "
        "passed (articles without a deadline are neither)"
    )

    def is_empty(self) -> bool:
        return (not (self.categories or self.countries or self.regions or self.languages) and self.date_from is None
                and self.date_to is None and self.calls is None)


class FacetValue(_Frozen):
    value: str
    count: int


class Facets(_Frozen):
    """What the best results are about, for refining a search: counts over the `counted` results that score at least
    half as well as the first (at most 100; near-duplicate groups once; within the filters already applied), most
    frequent first. A semantic search ranks every article, so counts over all of them would say nothing."""

    counted: int = Field(description="How many of the best results the counts cover")
    categories: list[FacetValue] = []
    countries: list[FacetValue] = []
    regions: list[FacetValue] = []
    languages: list[FacetValue] = Field([], description="The articles' languages (ISO 639-1)")
    years: list[FacetValue] = Field([], description="Publication years (UTC), newest first; undated articles left out")
    calls: list[FacetValue] = Field([], description="Grant calls still open (a deadline today or later) and closed")


class Suggestions(_Frozen):
    """Completions of the word being typed, each the whole query with that word completed; every one is held by
    some article together with the words before it."""

    query: str
    suggestions: list[str]


class TimeSpan(_Frozen):
    words: str = Field(description="The words read as a time span, as typed (\"this week\", \"in the past 30 days\")")
    date_from: date | None = Field(None, description="The first publication day kept (UTC, inclusive)")
    date_to: date | None = Field(None, description="The last publication day kept; null: up to now")


class SearchResults(_Frozen):
    query: str
    corrected_query: str | None = Field(
        None, description="The query as searched when words no article contains were corrected (\"Showing results "
        "for …\"); null when searched as typed. spellcheck=false searches the words as typed"
    )
    mode: Mode
    sort: Sort = "relevance"
    k: int
    offset: int
    eligible: int = Field(description="Articles that pass the filters, hold the query's \"phrases\" and none of its "
                                      "-words (all articles when there are none)")
    relevant: int | None = Field(
        None, description="sort=date or deadline: how many results are put in that order — those scoring at least "
        "half the first, at most 100 (the ones facets count); pages end there. For \"latest news\" or \"open calls\" "
        "with nothing else asked, every eligible article (one per near-duplicate group). Null for sort=relevance"
    )
    hits: list[SearchHit]
    recency: str | None = Field(
        None, description="Words at the start or end of the query that ask for the newest articles (\"latest news on\", "
        "\"most recent\"), as typed: they are not searched for, and the results are ordered newest first (sort=date) "
        "unless sort=relevance was asked. When nothing else is asked (\"latest news\") the hits are the newest "
        "articles passing the filters, score 0"
    )
    ranked: bool = Field(
        True, description="False when the query asked for nothing but the newest (\"latest news\", \"news this "
        "week\"): the hits are the newest eligible articles, unscored, not a ranking"
    )
    time_window: TimeSpan | None = Field(
        None, description="A time span at the start or end of the query (\"floods this week\", \"cholera in the past "
        "30 days\", \"today\"), counted back from today (UTC): its words are not searched for, and only articles "
        "published within it are kept (with any date_from/date_to too); undated articles are left out"
    )
    calls: str | None = Field(
        None, description="Words at the start or end of the query that ask for open grant calls (\"open calls for\", "
        "\"closing soon\", \"upcoming deadlines\"), as typed: they are not searched for; only calls with a deadline "
        "today or later are kept (unless the calls filter is given) and the soonest deadline comes first "
        "(sort=deadline) unless another sort was asked"
    )
    synonyms: list[str] = Field(
        [], description="Phrases the keyword leg also searched, from the site's synonyms file (SIFT_SYNONYMS): the "
        "query held their partner (\"gbv\" → \"gender-based violence\")"
    )
    weak_only: bool = Field(
        False, description="True when no article matched well, so none is listed: no passage reached the match floor "
        "(cosine to the query) and no article holds every query word. Ask again with floor=0 for the nearest ones"
    )
    version: str
    facets: Facets | None = Field(None, description="Present when asked for (facets=true)")


class RelatedItem(_Frozen):
    id: str
    title: str
    url: str | None = None
    score: float = Field(
        description="Cosine similarity of the two article vectors; the list's order may also reflect recency, "
        "category and diversity rules, and editors' pins"
    )
    published_at: datetime | None = None
    categories: list[str] = []
    reason: str = Field("", max_length=120, description="Why it is related, short enough for a widget caption")
    pinned: bool = Field(False, description="Placed in the list by an editor rather than by similarity")
    deadline: date | None = Field(None, description=_DEADLINE)
    deadline_passed: bool | None = Field(None, description=_PASSED)


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
