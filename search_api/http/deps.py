"""FastAPI dependencies: the engine and settings live on app.state and are injected with these aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from indexer.editorial import BaseEditorialStore
from search_api.engine import Engine
from search_api.settings import Settings


def get_engine(request: Request) -> Engine:
    """The engine serving now; a request keeps it even if a new version is swapped in meanwhile."""
    live = request.app.state.live
    engine = live.engine
    if engine is None:
        raise HTTPException(status_code=503, detail=f"search is unavailable: {live.error or 'the index is not loaded'}")
    return engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_editorial(request: Request) -> BaseEditorialStore:
    return request.app.state.editorial


EditorialDep = Annotated[BaseEditorialStore, Depends(get_editorial)]
_bearer = HTTPBearer(auto_error=False, description="The server's SIFT_API_KEY")


def require_api_key(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Let a write through only with `Authorization: Bearer <SIFT_API_KEY>`; no configured key = no writes."""
    _check_key(settings, credentials, "writes are disabled on this server; set SIFT_API_KEY to enable them")


def require_api_key_to_read(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Readers' queries are the site's private data: served only with the API key (no configured key = only `sift
    insights` on the server reads them)."""
    _check_key(settings, credentials, "search insights are served only with SIFT_API_KEY set; on the server, "
                                      "`sift insights` prints them")


def _check_key(settings: Settings, credentials: HTTPAuthorizationCredentials | None, disabled: str) -> None:
    if settings.api_key is None:
        raise HTTPException(403, disabled)
    if credentials is None:
        raise HTTPException(
            401, "this route needs the API key: send `Authorization: Bearer <key>`", headers={"WWW-Authenticate": "Bearer"}
        )
    # constant time, so response timing does not leak how much of a guessed key is right
    if not hmac.compare_digest(credentials.credentials.encode(), settings.api_key.get_secret_value().encode()):
        raise HTTPException(403, "the API key is wrong")
