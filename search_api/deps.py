"""FastAPI dependencies: the engine and settings live on app.state and are injected with these aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from search_api.engine import Engine
from search_api.settings import Settings


def get_engine(request: Request) -> Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        reason = getattr(request.app.state, "engine_error", "the index is not loaded")
        raise HTTPException(status_code=503, detail=f"search is unavailable: {reason}")
    return engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
