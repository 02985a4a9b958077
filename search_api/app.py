"""The FastAPI app: `create_app(settings)` wires the engine into HTTP routes, JSON errors and the search page."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import date
from importlib.resources import files
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from indexer.errors import ArticleNotFound, IndexMismatch, IndexNotFound, InvalidQuery, SiftError
from models import ModelLoadError
from indexer.editorial import EditorialStore
from indexer.publish import STORE_FILE
from search_api.deps import EditorialDep, EngineDep
from search_api.editorial_api import RulesQuery, editorial_router, rules_for
from indexer.pipeline import ChunkingParams, refresh
from search_api.engine import Engine, QueryEncoder
from search_api.guards import BodySizeLimit, RateLimit
from search_api.live import LiveEngine, Publisher
from search_api.metrics import Metrics
from search_api.writes import writes_router
from search_api.schemas import ArticleInfo, Filters, IndexStats, Mode, RelatedResults, SearchResults
from search_api.settings import Settings
from search_api.widget import widget_router

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


def load_engine(settings: Settings, encoder: QueryEncoder | None = None) -> Engine:
    encoder = encoder or settings.embedder(serving=True)
    return Engine.open(
        settings.index_dir, encoder, verify=settings.verify_checksums, ranking=settings.ranking(),
        related_rules=settings.related_rules(),
    )


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. Pass `engine` to serve an already-loaded one (tests, `sift demo`); else it loads at startup."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        encoder = engine.encoder if engine is not None else None
        first = engine
        error: str | None = None
        if first is None:
            try:
                encoder = settings.embedder(serving=True)
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
        # pins, excludes and click counters live in the store beside the articles, not in the loaded version
        app.state.editorial = EditorialStore(settings.index_dir / STORE_FILE)
        app.state.publisher = None
        if encoder is not None:
            app.state.publisher = Publisher(
                lambda: refresh(
                    settings.index_dir,
                    encoder,
                    chunking=ChunkingParams(settings.chunk_words, settings.chunk_overlap),
                    keep_versions=settings.keep_versions,
                    duplicate_threshold=settings.duplicate_threshold,
                ),
                live.reload,
            )
        yield
        if app.state.publisher is not None:
            app.state.publisher.close()  # finish a publish in progress: writes already acknowledged get searchable
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

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/ready", response_model=Health, tags=["operations"], responses={503: {"model": Health}})
    def ready(request: Request) -> JSONResponse:
        """200 once a version is loaded and serving; 503 before (for load balancers and orchestrators)."""
        engine = request.app.state.live.engine
        if engine is None:
            body = Health(status="not ready", error=request.app.state.live.error)
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
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ArticleNotFound)
    async def _not_found(_: Request, exc: ArticleNotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(InvalidQuery)
    async def _bad_query(_: Request, exc: InvalidQuery) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(SiftError)
    async def _sift(_: Request, exc: SiftError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=503)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")  # the trace goes to the log, never to the caller
        return JSONResponse({"error": "internal error; the server log has details"}, status_code=500)

    @app.get("/search", response_model=SearchResults, tags=["search"])
    def search(
        engine: EngineDep,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Question or keywords")],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        offset: Annotated[int, Query(ge=0, le=1000)] = 0,
        category: Annotated[list[str], Query(max_length=20, description="Repeat for several (any of)")] = [],
        country: Annotated[list[str], Query(max_length=20, description="Country name or ISO code; repeat (any of)")] = [],
        region: Annotated[list[str], Query(max_length=20, description="e.g. East Africa, Sahel; repeat (any of)")] = [],
        date_from: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
        date_to: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
        mode: Annotated[Mode, Query(description="hybrid (default), semantic or keyword")] = "hybrid",
    ) -> SearchResults:
        filters = Filters(
            categories=[c for c in category if c.strip()],
            countries=[c for c in country if c.strip()],
            regions=[r for r in region if r.strip()],
            date_from=date_from,
            date_to=date_to,
        )
        return engine.search(q, k=k, offset=offset, filters=filters, mode=mode)

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
        live: LiveEngine = request.app.state.live
        engine = live.engine
        if engine is None:
            return Health(status="no index", error=live.error)
        return Health(status="ok", version=engine.version, articles=len(engine.articles), error=live.error)

    @app.get("/stats", response_model=IndexStats, tags=["operations"])
    def stats(engine: EngineDep) -> IndexStats:
        return engine.stats()

    page = files("search_api").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> HTMLResponse:
        return HTMLResponse(page)

    app.include_router(widget_router())
    app.include_router(writes_router())
    app.include_router(editorial_router())
    return app
