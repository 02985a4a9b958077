"""The FastAPI app: `create_app(settings)` wires the engine into HTTP routes, JSON errors and the search page."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import date
from importlib.resources import files
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

from indexer.errors import ArticleNotFound, IndexMismatch, IndexNotFound, InvalidQuery, SiftError, StoreBusy
from models import ModelLoadError
from indexer.editorial import EditorialStore
from indexer.publish import STORE_FILE
from search_api.http.deps import EditorialDep, EngineDep, SettingsDep
from search_api.http.editorial import RulesQuery, editorial_router, rules_for
from indexer.late import LIVE_TOKEN_BUDGET
from indexer.pipeline import refresh
from search_api.engine import Engine, QueryEncoder
from search_api.http.guards import BodySizeLimit, RateLimit, SecurityHeaders, clean_query
from search_api.live import LiveEngine, Publisher
from search_api.http.logs import RequestLog
from search_api.http.metrics import Metrics
from search_api.http.writes import writes_router
from search_api.schemas import (
    ArticleInfo, CallsFilter, Filters, IndexStats, Mode, RelatedResults, SearchResults, Sort, Suggestions,
)
from search_api.settings import Settings
from search_api.http.widget import widget_router

log = logging.getLogger("sift.api")

MAX_QUERY_CHARS = 512
ArticleId = Annotated[str, Path(min_length=1, max_length=200, description="Article id")]


class ErrorBody(BaseModel):
    error: str = Field(description="What went wrong, in words a person can act on")
    detail: list[dict] | None = None


class DraftRequest(BaseModel):
    title: str = Field("", max_length=1000)
    body: str = Field("", max_length=100_000)
    k: int = Field(5, ge=1, le=50)


class Health(BaseModel):
    status: str
    version: str | None = None
    articles: int | None = None
    error: str | None = None


def _field_message(err: dict) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
    where = ".".join(loc) or "request"
    return f"{where}: {err.get('msg', 'invalid value')}"


def _without_paths(settings: Settings):
    """A function that replaces the server's folders in a message with the variables that name them, so no error
    tells a caller where files live (`no index at $SIFT_INDEX_DIR: run ...` still says what to do)."""
    folders: list[tuple[str, str]] = []
    for name, path in (("$SIFT_INDEX_DIR", settings.index_dir), ("$SIFT_MODEL_PATH", settings.model_path)):
        if path is not None:
            for form in {str(FilePath(path).resolve()), str(path)}:
                if FilePath(form).is_absolute():
                    folders.append((form, name))
    folders.sort(key=lambda pair: -len(pair[0]))  # the longest first: a resolved path may contain the given one

    def redact(message: str | None) -> str | None:
        for form, name in folders:
            message = message.replace(form, name) if message else message
        return message

    return redact


def load_engine(settings: Settings, encoder: QueryEncoder | None = None) -> Engine:
    return settings.open_engine(encoder or settings.embedder(serving=True))


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. Pass `engine` to serve an already-loaded one (tests, `sift demo`); else it loads at startup."""
    settings = settings or Settings()
    public = _without_paths(settings)
    given_encoder = engine.encoder if engine is not None else None
    # The engine given is handed to the first startup and not kept here: once a newer version is swapped in, the
    # old one must be free to go, or a server would hold two versions in memory for good.
    handoff = [engine] if engine is not None else []
    del engine

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        encoder = given_encoder
        first = handoff.pop() if handoff else None
        error: str | None = None
        if first is None:
            try:
                encoder = encoder or settings.embedder(serving=True)
                first = load_engine(settings, encoder)
            except (IndexNotFound, IndexMismatch, ModelLoadError) as exc:
                # Serve /health and clear 503s rather than crash: the operator sees why in every response.
                error = str(exc)
                log.error("index not loaded: %s", exc)
        live = LiveEngine(
            settings.index_dir,
            lambda: load_engine(settings, encoder),
            first,
            watch=encoder is not None,  # without a model there is nothing to load versions with
        )
        live.error = error
        app.state.live = live
        del first
        # pins, excludes and click counters live in the store beside the articles, not in the loaded version
        app.state.editorial = EditorialStore(settings.index_dir / STORE_FILE, busy_timeout=settings.store_busy_timeout)
        app.state.publisher = None
        if encoder is not None:
            app.state.publisher = Publisher(
                lambda: refresh(settings.index_dir, encoder, **settings.index_options(), token_budget=LIVE_TOKEN_BUDGET),
                live.reload,
            )
        yield
        if app.state.publisher is not None:
            # publish what is pending, so writes acknowledged before a shutdown become searchable
            app.state.publisher.close(timeout=settings.shutdown_timeout)
        app.state.editorial.close()

    app = FastAPI(
        title="Sift",
        summary="Semantic search and related posts for news and grant sites",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    )
    # Browsers on the configured sites may read the API (the widget's fetch); no origins configured = none may.
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET"])
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    metrics = Metrics(lambda: getattr(app.state, "live", None))
    app.add_middleware(lambda inner: metrics.middleware(inner))
    # outermost: every response, also a guard's 413/429 and the 500 of a bug, carries a request id and the headers
    app.add_middleware(RequestLog)
    app.add_middleware(SecurityHeaders, frame_origins=settings.cors_origins)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/ready", response_model=Health, tags=["operations"], responses={503: {"model": Health}})
    def ready(request: Request) -> JSONResponse:
        """200 while a version is loaded and the index on disk is sound; 503 with the reason before a version is
        loaded, and when the index folder, CURRENT, the store or a file of the served version went missing or
        corrupt under the running server (it keeps answering from memory, but a restart would not come back)."""
        live: LiveEngine = request.app.state.live
        engine = live.engine
        problem = live.problem()
        if problem is not None:
            body = Health(status="not ready", version=engine.version if engine else None,
                          articles=len(engine.articles) if engine else None, error=public(problem))
            return JSONResponse(body.model_dump(), status_code=503)
        return JSONResponse(Health(status="ready", version=engine.version, articles=len(engine.articles)).model_dump())

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        message = "; ".join(_field_message(e) for e in exc.errors())
        return JSONResponse({"error": message, "detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route; see /docs for the API"
        headers = getattr(exc, "headers", None)
        return JSONResponse({"error": public(message)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(ArticleNotFound)
    async def _not_found(_: Request, exc: ArticleNotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(InvalidQuery)
    async def _bad_query(_: Request, exc: InvalidQuery) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(StoreBusy)
    async def _busy(_: Request, exc: StoreBusy) -> JSONResponse:
        log.warning("%s", exc)
        return JSONResponse({"error": public(str(exc))}, status_code=503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(SiftError)
    async def _sift(_: Request, exc: SiftError) -> JSONResponse:
        return JSONResponse({"error": public(str(exc))}, status_code=503)

    # Any other exception is a bug: RequestLog logs its traceback with the request id and answers a plain 500.

    @app.get("/search", response_model=SearchResults, tags=["search"])
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
                                                                        "SIFT_MATCH_FLOOR, 0.30): nothing is listed "
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

    @app.get("/suggest", response_model=Suggestions, tags=["search"])
    def suggest(
        engine: EngineDep,
        q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="What the reader has typed so far")],
        k: Annotated[int, Query(ge=1, le=20)] = 8,
    ) -> Suggestions:
        """Completions for a search box: the last word completed with words the articles use ("child traf" →
        "child trafficking"), most articles first. Nothing is embedded: cheap enough for every keystroke."""
        return engine.suggest(clean_query(q) + (" " if q[-1:].isspace() else ""), k=k)

    @app.get("/articles/{article_id}", response_model=ArticleInfo, tags=["articles"])
    def article(engine: EngineDep, article_id: ArticleId) -> ArticleInfo:
        return engine.article(article_id)

    @app.get("/articles/{article_id}/related", response_model=RelatedResults, tags=["related"])
    def related(
        engine: EngineDep, editorial: EditorialDep, article_id: ArticleId, rules: RulesQuery,
        k: Annotated[int, Query(ge=1, le=50)] = 5,
    ) -> RelatedResults:
        """Related posts with the editors' pins and excludes applied; the rule parameters override SIFT_RELATED_*."""
        return engine.related(article_id, k=k, rules=rules_for(engine, rules), curation=editorial.curation(article_id))

    @app.post("/related", response_model=RelatedResults, tags=["related"])
    def related_draft(engine: EngineDep, draft: DraftRequest) -> RelatedResults:
        return engine.related_to_text(draft.title, draft.body, k=draft.k)

    @app.get("/health", response_model=Health, tags=["operations"])
    def health(request: Request) -> Health:
        """Liveness: 200 while the process runs, with the version served and what is wrong, if anything (an index
        that will not load, damage on disk, a publish that failed and is being retried)."""
        live: LiveEngine = request.app.state.live
        engine = live.engine
        publisher = request.app.state.publisher
        error = live.problem() if engine is not None else live.error
        error = error or (publisher.error if publisher is not None else None)
        if engine is None:
            return Health(status="no index", error=public(error))
        return Health(status="ok", version=engine.version, articles=len(engine.articles), error=public(error))

    @app.get("/stats", response_model=IndexStats, tags=["operations"])
    def stats(engine: EngineDep) -> IndexStats:
        return engine.stats()

    page = files("search_api.http").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> HTMLResponse:
        return HTMLResponse(page)

    # the search page's script and stylesheet: files, not inline, so the page runs under `default-src 'self'`
    app.mount("/static", StaticFiles(packages=[("search_api.http", "static")]), name="static")

    app.include_router(widget_router())
    app.include_router(writes_router())
    app.include_router(editorial_router())
    return app
