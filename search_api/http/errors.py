"""Errors as JSON a caller can act on: validation errors name the field, domain errors map to 404, 422 and 503,
and no message tells a caller where the server's files live. Any other exception is a bug: RequestLog logs its
traceback with the request id and answers a plain 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.errors import ArticleNotFound, InvalidQuery, SiftError, StoreBusy

log = logging.getLogger("sift.api")


def _field_message(err: dict) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
    where = ".".join(loc) or "request"
    return f"{where}: {err.get('msg', 'invalid value')}"


def add_error_handlers(app: FastAPI, public: Callable[[str | None], str | None]) -> None:
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
