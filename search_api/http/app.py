"""The FastAPI app: `create_app(settings)` wires the engine into the routes (search.py, operations.py, widget.py,
writes.py, editorial.py), the guards and logs around them, JSON errors (errors.py) and the search page (static/)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path as FilePath

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

from indexer.errors import IndexMismatch, IndexNotFound, SiftError, StoreUnreachable, VectorsUnavailable
from indexer import relatedness
from indexer.late import LIVE_TOKEN_BUDGET
from indexer.pipeline import refresh
from models import ModelLoadError
from search_api.engine import Engine, QueryEncoder
from search_api.http.editorial import editorial_router
from search_api.http.errors import add_error_handlers
from search_api.http.guards import BodySizeLimit, RateLimit, SecurityHeaders
from search_api.http.logs import RequestLog
from search_api.http.messages import LanguageQuery, choose_language, text_direction
from search_api.http.metrics import Metrics
from search_api.http.operations import operations_router
from search_api.http.search import search_router
from search_api.http.widget import widget_router
from search_api.http.writes import writes_router
from search_api.live import LiveEngine, Mirror, Publisher
from search_api.settings import Settings

log = logging.getLogger("sift.api")


class ErrorBody(BaseModel):
    error: str = Field(description="What went wrong, in words a person can act on")
    detail: list[dict] | None = None


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


# index.html's root element; the page is served with the language chosen for it written there, and search.js reads it
_PAGE_ROOT = '<html lang="en" dir="ltr">'


def _search_page(ui_language: str) -> Callable[..., HTMLResponse]:
    """The route of the search page (index.html) in the language `?lang=` asks for, else the site's (SIFT_UI_LANGUAGE):
    the page's words are filled in by search.js from that language's catalogue."""
    page = files("search_api.http").joinpath("static/index.html").read_text(encoding="utf-8")
    if _PAGE_ROOT not in page:
        raise RuntimeError(f"index.html lost its root element {_PAGE_ROOT!r}: the app writes the language there")

    def home(lang: LanguageQuery = None) -> HTMLResponse:
        chosen = choose_language(lang, ui_language)
        root = f'<html lang="{chosen}" dir="{text_direction(chosen)}">'
        return HTMLResponse(page.replace(_PAGE_ROOT, root), headers={"Content-Language": chosen})

    return home


def load_engine(settings: Settings, encoder: QueryEncoder | None = None) -> Engine:
    return settings.open_engine(encoder or settings.embedder(serving=True))


def _lifespan(settings: Settings, engine: Engine | None):
    """At startup: the live version (`engine` when given, else loaded), the editorial store and the publisher of
    writes; at shutdown, what is pending is published and the store closed."""
    given_encoder = engine.encoder if engine is not None else None
    # The engine given is handed to the first startup and not kept here: once a newer version is swapped in, the
    # old one must be free to go, or a server would hold two versions in memory for good.
    handoff = [engine] if engine is not None else []
    del engine

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        # the query encoder, loaded once; with a database that is down at startup it is loaded once the database
        # says which model the index was built with
        encoders = [given_encoder]

        def encoder() -> QueryEncoder:
            if encoders[0] is None:
                encoders[0] = settings.embedder(serving=True)
            return encoders[0]

        first = handoff.pop() if handoff else None
        error: str | None = None
        no_model = False
        if first is None:
            try:
                first = load_engine(settings, encoder())
            except (IndexNotFound, IndexMismatch, ModelLoadError, StoreUnreachable, VectorsUnavailable) as exc:
                # Serve /health and clear 503s rather than crash: the operator sees why in every response, and
                # each request tries again (a database that was down comes back without a restart).
                error = str(exc)
                no_model = isinstance(exc, ModelLoadError)
                log.error("index not loaded: %s", exc)
        home = settings.home()
        live = LiveEngine(
            settings.index_dir,
            lambda: load_engine(settings, encoder()),
            first,
            watch=not no_model,  # without a model there is nothing to load versions with
            database=home.database is not None,
        )
        live.error = error
        app.state.live = live
        del first
        # pins, excludes and click counters live in the store beside the articles, not in the loaded version
        app.state.editorial = home.open_editorial(busy_timeout=settings.store_busy_timeout, lazy=True)
        if error is None:  # an index is served: read its pins and excludes now, so a database that goes away
            try:            # later leaves them as last read
                app.state.editorial.curation("")
            except SiftError as exc:  # related lists wait for it (503): they must not show what an editor excluded
                log.error("pins and excludes not read: %s", exc)
        app.state.publisher = None
        if not no_model:
            # the related pass's kernels loaded while the server idles, not when the first write waits for them
            threading.Thread(target=relatedness.warm_up, name="sift-warm-up", daemon=True).start()
            app.state.publisher = Publisher(
                lambda: refresh(settings.index_dir, encoder(), **settings.index_options(),
                                token_budget=LIVE_TOKEN_BUDGET),
                live.reload,
            )
        # with a database, versions published by any server (or `sift index`) are followed here within a second
        registry = home.registry()
        app.state.mirror = live.mirror = None
        if registry is not None and not no_model:
            app.state.mirror = live.mirror = Mirror(lambda: registry.sync(settings.index_dir, keep=settings.keep_versions))
        yield
        if app.state.publisher is not None:
            # publish what is pending, so writes acknowledged before a shutdown become searchable
            app.state.publisher.close(timeout=settings.shutdown_timeout)
        if app.state.mirror is not None:
            app.state.mirror.close()
        if registry is not None:
            registry.close()
        app.state.editorial.close()

    return lifespan


def _add_middleware(app: FastAPI, settings: Settings) -> Metrics:
    # Browsers on the configured sites may read the API (the widget's fetch); no origins configured = none may.
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET"])
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    metrics = Metrics(lambda: getattr(app.state, "live", None))
    app.add_middleware(lambda inner: metrics.middleware(inner))
    # outermost: every response, also a guard's 413/429 and the 500 of a bug, carries a request id and the headers
    app.add_middleware(RequestLog)
    app.add_middleware(SecurityHeaders, frame_origins=settings.cors_origins)
    return metrics


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. Pass `engine` to serve an already-loaded one (tests, `sift demo`); else it loads at startup."""
    settings = settings or Settings()
    public = _without_paths(settings)
    app = FastAPI(
        title="Sift",
        summary="Semantic search and related posts for news and grant sites",
        version="0.1.0",
        lifespan=_lifespan(settings, engine),
        responses={422: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    )
    del engine
    metrics = _add_middleware(app, settings)
    add_error_handlers(app, public)
    app.include_router(operations_router(metrics, public))
    app.include_router(search_router())
    app.get("/", response_class=HTMLResponse, include_in_schema=False)(_search_page(settings.ui_language))
    # the search page's script and stylesheet: files, not inline, so the page runs under `default-src 'self'`
    app.mount("/static", StaticFiles(packages=[("search_api.http", "static")]), name="static")
    app.include_router(widget_router(settings.ui_language))
    app.include_router(writes_router())
    app.include_router(editorial_router())
    return app
