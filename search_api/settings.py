"""Settings: one class, read from SIFT_* environment variables (or a .env file), with documented defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from models import Backend, Embedder
from search_api.related import DEFAULT_MIN_SIMILARITY, DEFAULT_MMR_LAMBDA, RelatedRules


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIFT_", env_file=".env", extra="ignore")

    index_dir: Path = Field(Path("idx"), description="Index folder: store.sqlite, CURRENT, versions/")
    model_path: Path | None = Field(
        None, description="A local sentence-transformers model folder; default: the bundled all-MiniLM-L6-v2"
    )
    embed_batch_size: int = Field(64, ge=1, le=1024, description="Texts per model forward pass")
    threads: int | None = Field(None, ge=1, le=256, description="Threads for embedding (torch or ONNX Runtime); default: all cores")
    embed_backend: Backend = Field(
        "torch",
        description="Runtime for the same model: torch; onnx (ONNX Runtime fp32: same vectors and model id, faster); "
        "onnx-int8 (int8, faster still, its own model id: re-index). The onnx ones need `pip install 'sift-search[onnx]'`",
    )
    cache_dir: Path | None = Field(None, description="Where exported ONNX models are kept; default: ~/.cache/sift")
    query_cache_size: int = Field(1024, ge=0, le=1_000_000, description="Query vectors kept in an LRU cache; 0 = off")
    chunk_words: int = Field(120, ge=20, le=400, description="Maximum words per passage")
    chunk_overlap: int = Field(30, ge=0, le=200, description="Words repeated between consecutive passages")
    keep_versions: int = Field(3, ge=1, le=100, description="Published versions kept on disk")
    verify_checksums: bool = Field(True, description="Check file checksums when loading a version")
    fusion: Literal["convex", "rrf"] = Field("convex", description="How hybrid search fuses keyword and semantic")
    fusion_weight: float = Field(0.5, ge=0.0, le=1.0, description="Convex fusion: share of the semantic leg")
    rrf_k: int = Field(60, ge=1, le=1000, description="RRF: the k in 1/(k + rank)")
    geo_boost: float = Field(0.5, ge=0.0, le=5.0, description="Score bonus factor for articles about a place in the query")
    duplicate_threshold: float = Field(0.80, ge=0.5, le=1.0, description="Article cosine at which two are near-duplicates")
    max_body_bytes: int = Field(10_000_000, ge=1024, description="Largest accepted request body (413 above)")
    rate_limit_per_minute: int = Field(
        600, ge=0, description="Search/related requests per client address per minute; 0 turns limiting off"
    )
    rate_limit_burst: int = Field(60, ge=1, description="Requests a client may make at once before the rate applies")
    user_agent: str = Field(
        "SiftBot/0.1 (+https://github.com/sift-search/sift)", description="User-Agent for feeds, WordPress, sitemaps"
    )
    crawl_delay: float = Field(1.0, ge=0.0, le=60.0, description="Seconds between requests to one host")
    host: str = Field("127.0.0.1", description="Address `sift serve` binds to")
    port: int = Field(8000, ge=1, le=65535, description="Port `sift serve` listens on")
    cors_origins: list[str] = Field(
        [],
        description="Origins (e.g. https://news.example.org) whose pages may call the API from the browser, GET only; "
        'a JSON list in SIFT_CORS_ORIGINS, ["*"] for any. Default: none, no cross-origin access',
    )
    api_key: SecretStr | None = Field(
        None,
        description="Key for write routes (pins, excludes), sent as `Authorization: Bearer <key>`. "
        "Default: none, writes over HTTP are disabled",
    )
    related_min_similarity: float = Field(
        DEFAULT_MIN_SIMILARITY, ge=-1.0, le=1.0, description="Cosine below which a related post is never shown (fewer rather than junk)"
    )
    related_mmr_lambda: float = Field(
        DEFAULT_MMR_LAMBDA, ge=0.0, le=1.0, description="MMR diversity of related lists: 1 = off, lower = more diverse"
    )
    related_half_life_days: float | None = Field(
        None, gt=0, description="Soft recency: a related post this many days older than the newest scores half"
    )
    related_max_age_days: float | None = Field(None, gt=0, description="Never show related posts older than this")
    related_same_category_boost: float = Field(
        0.0, ge=0.0, le=1.0, description="Added to the similarity of a related post sharing a category"
    )

    def embedder(self, *, serving: bool = False) -> Embedder:
        """The embedder these settings describe (loads the model; raises models.ModelLoadError).

        Serving embeds one short query at a time: one thread unless SIFT_THREADS says otherwise. Measured on this
        2-core machine with one core busy elsewhere: a query took 496 ms p50 with 2 torch threads, 12 ms with 1."""
        threads = self.threads or (1 if serving else None)
        return Embedder(
            self.model_path, backend=self.embed_backend, batch_size=self.embed_batch_size, threads=threads,
            cache_dir=self.cache_dir, query_cache_size=self.query_cache_size,
        )

    def ranking(self):
        """The engine's ranking parameters from these settings."""
        from search_api.engine import RankingParams

        return RankingParams(fusion=self.fusion, weight=self.fusion_weight, rrf_k=self.rrf_k, geo_boost=self.geo_boost)

    def related_rules(self) -> RelatedRules:
        """The engine's related-posts rules from these settings."""
        return RelatedRules(
            min_similarity=self.related_min_similarity,
            mmr_lambda=self.related_mmr_lambda,
            half_life_days=self.related_half_life_days,
            max_age_days=self.related_max_age_days,
            same_category_boost=self.related_same_category_boost,
        )
