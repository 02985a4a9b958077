"""Operations routes: liveness (/health), readiness (/ready), Prometheus metrics (/metrics) and index facts (/stats)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from search_api.http.deps import EngineDep
from search_api.http.metrics import Metrics
from search_api.live import LiveEngine
from search_api.schemas import IndexStats


class Health(BaseModel):
    status: str
    version: str | None = None
    articles: int | None = None
    error: str | None = None


def operations_router(metrics: Metrics, public: Callable[[str | None], str | None]) -> APIRouter:
    """`public` takes the server's folders out of an error message before a caller sees it."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @router.get("/ready", response_model=Health, tags=["operations"], responses={503: {"model": Health}})
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

    @router.get("/health", response_model=Health, tags=["operations"])
    def health(request: Request) -> Health:
        """Liveness: 200 while the process runs, with the version served and what is wrong, if anything (an index
        that will not load, damage on disk, a publish that failed and is being retried, a database that cannot be
        reached: the server answers from the version it has)."""
        live: LiveEngine = request.app.state.live
        engine = live.engine
        publisher = request.app.state.publisher
        error = live.problem() if engine is not None else live.error
        error = error or (publisher.error if publisher is not None else None)
        error = error or (live.mirror.error if live.mirror is not None else None)
        if engine is None:
            return Health(status="no index", error=public(error))
        return Health(status="ok", version=engine.version, articles=len(engine.articles), error=public(error))

    @router.get("/stats", response_model=IndexStats, tags=["operations"])
    def stats(engine: EngineDep) -> IndexStats:
        return engine.stats()

    return router
