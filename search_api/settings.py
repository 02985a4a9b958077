"""Settings: one class, read from SIFT_* environment variables (or a .env file), with documented defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIFT_", env_file=".env", extra="ignore")

    index_dir: Path = Field(Path("idx"), description="Index folder: store.sqlite, CURRENT, versions/")
    model_path: Path | None = Field(
        None, description="A local sentence-transformers model folder; default: the bundled all-MiniLM-L6-v2"
    )
    embed_batch_size: int = Field(64, ge=1, le=1024, description="Texts per model forward pass")
    threads: int | None = Field(None, ge=1, le=256, description="Torch threads for embedding; default: all cores")
    chunk_words: int = Field(120, ge=20, le=400, description="Maximum words per passage")
    chunk_overlap: int = Field(30, ge=0, le=200, description="Words repeated between consecutive passages")
    keep_versions: int = Field(3, ge=1, le=100, description="Published versions kept on disk")
    verify_checksums: bool = Field(True, description="Check file checksums when loading a version")
    host: str = Field("127.0.0.1", description="Address `sift serve` binds to")
    port: int = Field(8000, ge=1, le=65535, description="Port `sift serve` listens on")
    cors_origins: list[str] = Field(
        [],
        description="Origins (e.g. https://news.example.org) whose pages may call the API from the browser, GET only; "
        'a JSON list in SIFT_CORS_ORIGINS, ["*"] for any. Default: none, no cross-origin access',
    )
