"""The indexing run: read sources → validate → chunk → store → embed what is new → publish a version."""

from __future__ import annotations

import time
from datetime import datetime
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from indexer import passage_tokens
from indexer.article import Article
from indexer.chunking import RECIPE as CHUNKING_RECIPE
from indexer.chunking import MAX_WORDS, OVERLAP_WORDS, Chunk, chunk_article
from indexer.duplicates import DEFAULT_THRESHOLD
from indexer.errors import BadRecord, ChunksNotEmbedded, IndexCorrupt, IndexNotFound
from indexer.publish import (
    VersionRegistry,
    build_parameters,
    current_version,
    current_version_dir,
    publish,
    read_manifest,
    verify_files,
)
from indexer.sources import read_source
from indexer.sources.feeds import FeedSource
from indexer.sources.http import Politeness
from indexer.store import DEFAULT_BUSY_TIMEOUT, Store
from indexer.stores import IndexHome
from indexer.vectors import VectorConfig

UPSERT_BATCH = 256
EMBED_COMMIT_BATCH = 512


class TextEncoder(Protocol):
    """What the indexer needs from a model (models.Embedder satisfies it)."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress=None) -> np.ndarray: ...


@dataclass
class IndexReport:
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    embedded: int = 0
    cached: int = 0
    version: str | None = None
    published: bool = False
    related_pass: str | None = None  # "full" or "incremental" (only the lists near the changes recomputed)
    related_recomputed: int = 0
    seconds: float = 0.0
    errors: list[BadRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["errors"] = [str(e) for e in self.errors]
        return data


@dataclass(frozen=True)
class ChunkingParams:
    max_words: int = MAX_WORDS
    overlap_words: int = OVERLAP_WORDS


def _needs_publish(index_dir: Path, model_id: str, generation: int, build: dict) -> bool:
    """True unless the live version was built from exactly this store state, model and build parameters, and
    every one of its files is still there and matches its checksum (for a database's index: its local copy, which
    the caller syncs first)."""
    if current_version(index_dir) is None:
        return True
    try:
        version_dir = current_version_dir(index_dir)
        manifest = read_manifest(version_dir)
    except (OSError, ValueError, KeyError, IndexNotFound):  # a broken live version is repaired by publishing
        return True
    if (
        manifest.get("model_id") != model_id
        or manifest.get("store_generation") != generation
        or manifest.get("build") != build
    ):
        return True
    try:
        verify_files(version_dir, manifest.get("files", {}))
    except IndexCorrupt:  # a file lost or damaged since: publishing again repairs it
        return True
    return False


@dataclass(frozen=True)
class _Options:
    chunking: ChunkingParams
    keep_versions: int
    duplicate_threshold: float
    vectors: VectorConfig = VectorConfig()
    token_budget: int | None = None  # missing token vectors of related candidates computed per publish (None: all)
    late_interaction: bool = False  # passages' token vectors computed and stored, for late interaction in search

    @property
    def salt(self) -> str:
        return f"chunking={self.chunking.max_words}/{self.chunking.overlap_words}/recipe {CHUNKING_RECIPE}"

    @property
    def build(self) -> dict:
        return {
            "max_words": self.chunking.max_words,
            "overlap_words": self.chunking.overlap_words,
            "vectors": self.vectors.build_params(),
            "late_interaction": self.late_interaction,
        }


def _code_missing_passages(store: Store, embedder, codec, *, progress: bool) -> int:
    """Token codes for the passages whose vectors were cached before they had any (an index built by an earlier
    Sift): one pass of the model over those passages, once. Returns how many were computed."""
    key = passage_tokens.codes_key(embedder.model_id, codec) if codec is not None else None
    todo = store.chunks_missing_embeddings(key) if key else store.chunk_texts()
    with tqdm(total=len(todo), desc="token vectors", unit=" chunks", disable=_bar_off(progress and bool(todo))) as bar:
        for start in range(0, len(todo), EMBED_COMMIT_BATCH):
            part = todo[start : start + EMBED_COMMIT_BATCH]
            tokens = embedder.encode_with_tokens([t for _, t in part], vectors=False, progress=bar.update)[1]
            codec = passage_tokens.cache_codes(store, embedder.model_id, embedder.dim, codec, [h for h, _ in part],
                                               tokens)
    return len(todo)


def _embed_and_publish(
    home: IndexHome, store: Store, embedder: TextEncoder, report: IndexReport, options: _Options, *, progress: bool
) -> None:
    """Embed every passage the cache lacks (committing as it goes), then publish if the live version is stale."""
    # the near-duplicate threshold is set on MiniLM's cosines; a model whose unrelated pairs sit higher (e5: ~0.80)
    # reaches the same closeness further up its scale: 0.80 → 0.96
    unrelated = float(getattr(embedder, "unrelated_cosine", 0.0))
    duplicate_threshold = round(unrelated + (1.0 - unrelated) * options.duplicate_threshold, 4) if unrelated else (
        options.duplicate_threshold)
    todo = store.chunks_missing_embeddings(embedder.model_id)
    report.cached = store.count_chunks() - len(todo)
    # Passages' token vectors for late interaction in search (indexer.passage_tokens), when it is on, come from the
    # same run of the model as their vectors, where the encoder can give both. Off, none are computed, and those an
    # index kept from when it was on are dropped from the store (the version published below has none either).
    both = getattr(embedder, "encode_with_tokens", None) if options.late_interaction else None
    if not options.late_interaction:
        passage_tokens.drop_cached(store, embedder.model_id)
    codec = passage_tokens.stored_codec(store, embedder.model_id, embedder.dim) if both else None
    with tqdm(total=len(todo), desc="embedding", unit=" chunks", disable=_bar_off(progress and bool(todo))) as ebar:
        for start in range(0, len(todo), EMBED_COMMIT_BATCH):
            part = todo[start : start + EMBED_COMMIT_BATCH]
            texts, hashes = [text for _, text in part], [h for h, _ in part]
            if both:
                vectors, tokens = both(texts, progress=ebar.update)
                codec = passage_tokens.cache_codes(store, embedder.model_id, embedder.dim, codec, hashes, tokens)
            else:
                vectors = embedder.encode(texts, progress=ebar.update)
            store.put_embeddings(embedder.model_id, hashes, vectors)
            report.embedded += len(part)
    coded = 0
    if both and options.token_budget is None:  # passages embedded before late interaction: `sift index` only
        coded = _code_missing_passages(store, embedder, codec, progress=progress)

    build = build_parameters(options.build, duplicate_threshold, unrelated)
    index_dir = home.folder
    registry = home.registry()
    try:
        if registry is not None:
            registry.sync(index_dir)  # this folder's copy of the database's live version, to compare and build on
        if store.count_articles() == 0 and current_version(index_dir) is None:
            return  # nothing readable and nothing stored: an empty index would only hide the mistake
        if coded or _needs_publish(index_dir, embedder.model_id, store.generation(), build):
            _publish_now(home, registry, store, embedder, report, options, duplicate_threshold, unrelated,
                         progress=progress)
        else:
            report.version = current_version(index_dir)
    finally:
        if registry is not None:
            registry.close()


def _publish_now(
    home: IndexHome, registry: VersionRegistry | None, store: Store, embedder: TextEncoder, report: IndexReport,
    options: _Options, duplicate_threshold: float, unrelated: float, *, progress: bool,
) -> None:
    try:
        version = publish(
            home.folder,
            store,
            model_id=embedder.model_id,
            dim=embedder.dim,
            build=options.build,
            keep_versions=options.keep_versions,
            duplicate_threshold=duplicate_threshold,
            unrelated=unrelated,
            vectors=options.vectors,
            token_source=embedder if hasattr(embedder, "kept_token_counts") else None,
            token_budget=options.token_budget,
            late_interaction=options.late_interaction,
            registry=registry,
        )
    except ChunksNotEmbedded:  # another writer (an API write) added passages since the embedding above
        _embed_and_publish(home, store, embedder, report, options, progress=progress)
        return
    report.version, report.published = version.name, True
    report.related_pass, report.related_recomputed = version.related_pass, version.related_recomputed


def apply_changes(
    index_dir: str | Path,
    embedder: TextEncoder,
    *,
    upserts: Sequence[Article] = (),
    deletes: Sequence[str] = (),
    source: str = "api",
    chunking: ChunkingParams = ChunkingParams(),
    keep_versions: int = 3,
    duplicate_threshold: float = DEFAULT_THRESHOLD,
    vectors: VectorConfig = VectorConfig(),
    publish_now: bool = True,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    late_interaction: bool = False,
    database: str | None = None,
) -> IndexReport:
    """Write validated articles and deletions to the store (durable when this returns), then embed and publish.

    With `publish_now=False` only the store is written; a later `refresh` publishes (the API coalesces bursts so).
    StoreBusy when another writer holds the store's lock for over `busy_timeout` seconds. `database`: the
    PostgreSQL database holding the store and the published versions (`index_dir` then keeps this machine's copy).
    """
    options = _Options(chunking, keep_versions, duplicate_threshold, vectors, late_interaction=late_interaction)
    started = time.perf_counter()
    home = IndexHome.of(index_dir, database)
    home.folder.mkdir(parents=True, exist_ok=True)
    report = IndexReport(read=len(upserts))
    with home.open_store(busy_timeout=busy_timeout) as store:
        items = [
            (a, chunk_article(a, max_words=chunking.max_words, overlap_words=chunking.overlap_words), source)
            for a in upserts
        ]
        for change in store.upsert_many(items, salt=options.salt):
            setattr(report, change, getattr(report, change) + 1)
        report.deleted = store.delete_many(deletes)
        if publish_now:
            _embed_and_publish(home, store, embedder, report, options, progress=False)
        report.seconds = round(time.perf_counter() - started, 3)
    return report


def refresh(
    index_dir: str | Path,
    embedder: TextEncoder,
    *,
    chunking: ChunkingParams = ChunkingParams(),
    keep_versions: int = 3,
    duplicate_threshold: float = DEFAULT_THRESHOLD,
    vectors: VectorConfig = VectorConfig(),
    token_budget: int | None = None,
    late_interaction: bool = False,
    database: str | None = None,
) -> IndexReport:
    """Embed what the store lacks and publish if the live version is stale: the second half of any write.
    `token_budget`: at most that many related candidates' token vectors computed (indexer.late.LIVE_TOKEN_BUDGET
    for a server's background publish, so a write shows in seconds)."""
    report = IndexReport()
    home = IndexHome.of(index_dir, database)
    with home.open_store() as store:
        _embed_and_publish(
            home, store, embedder, report,
            _Options(chunking, keep_versions, duplicate_threshold, vectors, token_budget, late_interaction),
            progress=False,
        )
    return report


def index_sources(
    sources: Iterable[str | Path],
    index_dir: str | Path,
    embedder: TextEncoder,
    *,
    chunking: ChunkingParams = ChunkingParams(),
    progress: bool = True,
    keep_versions: int = 3,
    duplicate_threshold: float = DEFAULT_THRESHOLD,
    vectors: VectorConfig = VectorConfig(),
    politeness: Politeness | None = None,
    late_interaction: bool = False,
    database: str | None = None,
) -> IndexReport:
    """Index every source (files, folders, feeds, WordPress sites, sitemaps: see `read_source`) into `index_dir`.
    Bad records are skipped and reported; good ones are never lost."""
    return _run(
        [(str(spec), read_source(spec, politeness=politeness)) for spec in sources],
        IndexHome.of(index_dir, database),
        embedder,
        _Options(chunking, keep_versions, duplicate_threshold, vectors, late_interaction=late_interaction),
        progress=progress,
    )


def sync_source(
    spec: str,
    index_dir: str | Path,
    embedder: TextEncoder,
    *,
    full: bool = False,
    chunking: ChunkingParams = ChunkingParams(),
    progress: bool = True,
    keep_versions: int = 3,
    duplicate_threshold: float = DEFAULT_THRESHOLD,
    vectors: VectorConfig = VectorConfig(),
    politeness: Politeness | None = None,
    late_interaction: bool = False,
    database: str | None = None,
) -> IndexReport:
    """Pull what changed in one source since its last sync, and publish.

    Incremental by default: the source's watermark (newest modification seen, kept in the store) asks connectors
    only for newer items. With `full=True` everything is pulled and articles this source gave before but no longer
    lists are deleted — only when the pull read everything without an error, and never for feeds (a feed is a
    window of recent posts, not the whole site).
    """
    home = IndexHome.of(index_dir, database)
    home.folder.mkdir(parents=True, exist_ok=True)
    key = f"watermark:{spec}"
    with home.open_store() as store:
        stored = store.get_meta(key)
    since = None if full or stored is None else datetime.fromisoformat(stored)
    source = read_source(spec, since=since, politeness=politeness)
    options = _Options(chunking, keep_versions, duplicate_threshold, vectors, late_interaction=late_interaction)
    deletable = full and not isinstance(source, FeedSource)
    report = _run([(spec, source)], home, embedder, options, progress=progress, delete_missing=deletable)
    if source.watermark is not None:
        with home.open_store() as store:
            store.set_meta(key, source.watermark.isoformat())
    return report


def _bar_off(progress: bool) -> bool | None:
    """tqdm's `disable`: off when not asked for, and (None) when stderr is not a terminal — a cron job's log or a
    pipe would collect every redraw of the bar as text."""
    return None if progress else True


def _run(
    sources: list[tuple[str, Iterable[Article | BadRecord]]],
    home: IndexHome,
    embedder: TextEncoder,
    options: _Options,
    *,
    progress: bool,
    delete_missing: bool = False,
) -> IndexReport:
    started = time.perf_counter()
    home.folder.mkdir(parents=True, exist_ok=True)
    report = IndexReport()
    seen: dict[str, str] = {}

    with home.open_store() as store:
        batch: list[tuple[Article, list[Chunk], str]] = []

        def flush() -> None:
            for change in store.upsert_many(batch, salt=options.salt):
                setattr(report, change, getattr(report, change) + 1)
            batch.clear()

        bar = tqdm(desc="reading", unit=" articles", disable=_bar_off(progress), leave=False)
        for label, items in sources:
            errors_before = len(report.errors)
            for item in items:
                if isinstance(item, BadRecord):
                    report.errors.append(item)
                    continue
                report.read += 1
                bar.update(1)
                if item.id in seen:
                    report.errors.append(
                        BadRecord(label, "", f"duplicate id {item.id!r} (first read from {seen[item.id]}); skipped")
                    )
                    continue
                seen[item.id] = label
                chunks = chunk_article(
                    item, max_words=options.chunking.max_words, overlap_words=options.chunking.overlap_words
                )
                batch.append((item, chunks, label))
                if len(batch) >= UPSERT_BATCH:
                    flush()
            flush()
            if delete_missing and len(report.errors) == errors_before:
                gone = [aid for aid in store.ids_from_source(label) if aid not in seen]
                report.deleted += store.delete_many(gone)
        bar.close()
        report.skipped = len(report.errors)
        _embed_and_publish(home, store, embedder, report, options, progress=progress)
        report.seconds = round(time.perf_counter() - started, 3)
        store.log_ingest({k: v for k, v in report.to_dict().items() if k != "errors"} | {"skipped": report.skipped})
        store.compact()  # the write-ahead log folded in; space freed by dropped caches given back to the disk
    return report
