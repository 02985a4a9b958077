"""The version publisher: builds an immutable `versions/<v>/` from the store, then swaps `CURRENT` atomically."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import pandas as pd

from indexer import languages, passage_tokens, relatedness, terms
from indexer.cleaning import shorten
from indexer.deadlines import RECIPE as DEADLINES_RECIPE
from indexer.deadlines import find_deadlines
from indexer.duplicates import DEFAULT_KEYWORD_THRESHOLD, DEFAULT_THRESHOLD, group_near_duplicates
from indexer.errors import ChunksNotEmbedded, IndexCorrupt, IndexNotFound, PublishFailed, SiftError
from indexer.geography import tag_places, tagger_params
from indexer.keyword import PARAMS as KEYWORD_PARAMS
from indexer.keyword import KeywordIndex
from indexer.late import LATE_CANDIDATES, LATE_TOKENS, Tokens, may_be_short, text_key, token_text
from indexer.passages import PASSAGES_FILE, write_passages
from indexer.relatedness import PARAMS as RELATED_PARAMS
from indexer.relatedness import related_neighbours
from indexer.store import Store
from indexer.vectors import VectorConfig, VectorStore, build_store, drop_described, drop_store
from indexer.vectors.faiss_store import INDEX_FILE, IVF_KINDS

log = logging.getLogger("sift.publish")

# 3: neighbour_rank.npy (related order) beside neighbour cosines. Versions may also hold term profiles
# (indexer.terms.FILES); the engine uses them when the manifest lists them, so older versions still serve.
# They may also hold the related-list state (indexer.relatedness.STATE_FILES) an incremental pass starts from.
FORMAT_VERSION = 3
STORE_FILE = "store.sqlite"
CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
# The first passage carries the title and lead; it says most about what the article is about.
LEAD_WEIGHT = 2.0
SUMMARY_CHARS = 280  # an article's summary (GET /articles/{id}, the demo page): its body's opening
# Nearest neighbours precomputed per article: enough for a related list of 10 after dropping duplicates.
NEIGHBOURS = 32
# Versions beyond SIFT_KEEP_VERSIONS are deleted only once they have been replaced for this long.
PRUNE_GRACE_SECONDS = 600.0


@dataclass(frozen=True)
class PublishedVersion:
    name: str
    path: Path
    articles: int
    chunks: int
    profiles_reused: int = 0  # term profiles copied from the previous version (text unchanged)
    profiles_computed: int = 0  # term profiles built for new and edited articles
    related_pass: str = "full"  # "incremental" when only the lists near the changes were recomputed
    related_recomputed: int = 0  # related lists computed by this publish
    seconds: float = 0.0  # building the version (also in its manifest as publish_seconds)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_version(index_dir: Path) -> str | None:
    """Name of the live version, or None if nothing was published yet."""
    try:
        name = (index_dir / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def current_version_dir(index_dir: Path) -> Path:
    name = current_version(index_dir)
    if name is None:
        raise IndexNotFound(f"no index at {index_dir}: run `sift index SOURCE --index {index_dir}` first")
    path = index_dir / VERSIONS_DIR / name
    if not (path / "manifest.json").is_file():
        raise IndexNotFound(f"{index_dir}/CURRENT names version {name!r}, which is missing or incomplete")
    return path


def live_model_id(index_dir: Path) -> str | None:
    """The model id the live version was built with; None when there is no readable live version."""
    try:
        return read_manifest(current_version_dir(index_dir)).get("model_id")
    except (IndexNotFound, IndexCorrupt, OSError):
        return None


def read_manifest(version_dir: Path) -> dict:
    """The version's manifest; IndexCorrupt (naming the file) when it is not the JSON object publishing wrote."""
    path = version_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"{path} is not valid JSON ({exc}); the version is corrupt, re-run `sift index`") from None
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"{path} is not a JSON object; the version is corrupt, re-run `sift index`")
    return manifest


def verify_files(version_dir: Path, files: dict[str, str], *, checksums: bool = True) -> None:
    """Raise IndexCorrupt naming the first file of a version that is missing or (with `checksums`) whose sha256
    differs from the manifest's."""
    for name, expected in files.items():
        path = version_dir / name
        if not path.is_file():
            raise IndexCorrupt(
                f"{path} is missing; the version is incomplete, re-run `sift index` to publish a new one"
            )
        if checksums and sha256_file(path) != expected:
            raise IndexCorrupt(f"{path} does not match its checksum; the version is corrupt, re-index")


def write_failure(exc: BaseException) -> str | None:
    """The reason in words when `exc` is a failed write (disk full, file too large, read-only folder), else None."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    # FAISS reports a failed fwrite as RuntimeError("... write error in <file>: <n> != <m> (<strerror>)")
    if isinstance(exc, RuntimeError) and (match := re.search(r"write error in .*\(([^()]+)\)\s*$", str(exc))):
        return match.group(1)
    return None


def _next_version_name(versions: Path) -> str:
    numbers = [int(p.name) for p in versions.iterdir() if p.is_dir() and p.name.isdigit()]
    return f"{max(numbers, default=0) + 1:06d}"


def article_vectors(chunk_vectors: np.ndarray, chunk_article: np.ndarray, chunk_ordinal: np.ndarray, n: int) -> np.ndarray:
    """One unit vector per article: the weighted mean of its chunk vectors (lead passage weighted LEAD_WEIGHT)."""
    weights = np.where(chunk_ordinal == 0, LEAD_WEIGHT, 1.0).astype(np.float32)
    sums = np.zeros((n, chunk_vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, chunk_article, chunk_vectors * weights[:, None])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.maximum(norms, 1e-12)


def _flat_index(vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def build_parameters(build: dict, duplicate_threshold: float, unrelated: float = 0.0) -> dict:
    """Everything besides the store's content that shapes a version; a change means a new version is due.
    `unrelated`: the cosine the model's unrelated texts reach (`relatedness._rank` fuses cosines on a scale where that
    is 0; recorded only when it is not, so versions of the English model keep their parameters)."""
    return {
        **build,
        "lead_weight": LEAD_WEIGHT,
        "neighbours": NEIGHBOURS,
        "related": {**RELATED_PARAMS, **({"unrelated_cosine": unrelated} if unrelated else {})},
        "duplicate_threshold": duplicate_threshold,
        "duplicate_keyword_threshold": DEFAULT_KEYWORD_THRESHOLD,
        "keyword": dict(KEYWORD_PARAMS),
        "term_profiles": dict(terms.PROFILE_PARAMS),
        "places": tagger_params(),
        "deadlines": DEADLINES_RECIPE,
        "languages": languages.recipe(),
    }


# What reading a previous version's files can raise when they are missing, damaged or of another shape: then the
# step computes afresh instead of starting from them.
_UNUSABLE = (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexNotFound, IndexCorrupt)


@dataclass
class _LiveVersion:
    """The version being replaced, read once per publish: its steps start from its files when they can be trusted."""

    path: Path
    manifest: dict
    _verified: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, index_dir: Path) -> _LiveVersion | None:
        try:
            path = current_version_dir(index_dir)
            return cls(path, read_manifest(path))
        except _UNUSABLE:
            return None

    def build(self, key: str):
        return (self.manifest.get("build") or {}).get(key)

    def trusted(self, *names: str) -> bool:
        """Every file in `names` is listed in the manifest and matches its checksum (each file hashed once)."""
        listed = self.manifest.get("files") or {}
        if not all(name in listed for name in names):
            return False
        try:
            verify_files(self.path, {name: listed[name] for name in names if name not in self._verified})
        except IndexCorrupt:
            return False
        self._verified.update(names)
        return True


def _previous_profiles(live: _LiveVersion | None) -> terms.StoredProfiles | None:
    """The live version's term profiles, to copy those of unchanged articles; None when it has none we can trust
    (published before profiles were stored, or damaged: then every profile is built afresh)."""
    if live is None or not live.trusted(*terms.FILES):
        return None
    try:
        return terms.StoredProfiles(live.path)
    except _UNUSABLE:
        return None


PLACES_KEYS = "places_keys.npy"  # per article, a hash of what its place tags are computed from
DEADLINES_KEYS = "deadlines_keys.npy"  # and of what its deadlines are read from
LANGUAGES_KEYS = "languages_keys.npy"  # and of what its language is told from


def _key(*parts: str) -> bytes:
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).digest()


def _derived(
    live: _LiveVersion | None, articles: list, build: dict, *, recipe: str, keys_file: str, columns: list[str],
    key: Callable, compute: Callable,
) -> tuple[np.ndarray, list[tuple]]:
    """Per article, the `key` of what a derived value is computed from and the value (a tuple of `columns`' lists):
    copied from the live version's articles.parquet for articles whose key is unchanged (same `build[recipe]`),
    computed afresh otherwise."""
    keys = np.array([key(a) for a in articles], dtype="S16")
    previous: dict[bytes, tuple] = {}
    if live is not None and live.build(recipe) == build[recipe] and live.trusted(keys_file, "articles.parquet"):
        try:
            old = pd.read_parquet(live.path / "articles.parquet", columns=columns)
            for k, *values in zip(np.load(live.path / keys_file), *(old[c] for c in columns)):
                previous[bytes(k)] = tuple(tuple(v) for v in values)
        except _UNUSABLE:
            previous = {}
    values = []
    for article, k in zip(articles, keys):
        hit = previous.get(bytes(k))
        values.append(compute(article) if hit is None else hit)
    return keys, values


def _place_tags(
    live: _LiveVersion | None, articles: list, build: dict, article_languages: list[str]
) -> tuple[np.ndarray, list[tuple]]:
    """Each article's place-tag keys and (country names, ISO3 codes, regions), re-tagged when its title, body,
    declared countries or language change; names are read in English and in the article's language."""
    language_of = {id(a): code for a, code in zip(articles, article_languages)}

    def tag(article) -> tuple:
        places = tag_places(article.title, article.body, article.countries, language=language_of[id(article)])
        return places.country_names, places.countries, places.regions

    return _derived(live, articles, build, recipe="places", keys_file=PLACES_KEYS,
                    columns=["countries", "country_codes", "regions"],
                    key=lambda a: _key(a.title, a.body, *a.countries, "\0" + language_of[id(a)]), compute=tag)


def _deadlines(live: _LiveVersion | None, articles: list, build: dict) -> tuple[np.ndarray, list[tuple]]:
    """Each article's deadline keys and (ISO dates,): the source's deadline field, else the ones its text names
    (indexer.deadlines; ~65 µs an article, so unchanged articles' are copied)."""
    def read(article) -> tuple:
        found = (article.deadline,) if article.deadline else find_deadlines(article.title, article.body,
                                                                             article.published_at)
        return (tuple(d.isoformat() for d in found),)

    return _derived(live, articles, build, recipe="deadlines", keys_file=DEADLINES_KEYS, columns=["deadlines"],
                    key=lambda a: _key(a.title, a.body, str(a.published_at), str(a.deadline)), compute=read)


@dataclass(frozen=True)
class _Languages:
    keys: np.ndarray  # per article, a hash of what its language is told from
    found: list[str | None]  # declared, else detected when confident; None: unknown
    final: list[str]  # `found`, the unknown ones given the site's main language

def _languages(live: _LiveVersion | None, articles: list, build: dict) -> _Languages:
    """Each article's language: declared, else detected (~1 ms an article, so unchanged articles' are copied), else
    the most common language of the others (English on a site where none is known)."""
    def tell(article) -> tuple:
        found = languages.article_language(article.title, article.body, article.language)
        return ([found] if found else [],)

    keys, found = _derived(live, articles, build, recipe="languages", keys_file=LANGUAGES_KEYS,
                           columns=["language_found"], key=lambda a: _key(a.title, a.body, str(a.language)),
                           compute=tell)
    told = [codes[0] if codes else None for (codes,) in found]
    main = languages.majority(told)
    return _Languages(keys, told, [code or main for code in told])


def _previous_passages(live: _LiveVersion | None, *, model_id: str, dim: int) -> tuple[Path, dict] | None:
    """The live version's folder and `vectors` entry when its passage index may lend its training (same model and
    dimension, an IVF index in dense.faiss matching its checksum); None otherwise."""
    if live is None or live.manifest.get("model_id") != model_id or live.manifest.get("dim") != dim:
        return None
    described = live.manifest.get("vectors") or {}
    if described.get("store") != "faiss" or described.get("kind") not in IVF_KINDS:  # nothing trained to lend
        return None
    return (live.path, described) if live.trusted(INDEX_FILE) else None


@dataclass(frozen=True)
class _PreviousRelated:
    ids: list[str]
    lists: relatedness.Neighbours
    vectors: np.ndarray  # the previous version's article vectors, to tell which articles changed
    changes_since_full_pass: int


def _previous_related(live: _LiveVersion | None, *, model_id: str, build: dict) -> _PreviousRelated | None:
    """The live version's related lists and incremental state when the next pass may start from them: same model
    and related/keyword parameters, every file present and matching its checksum. None otherwise (a full pass)."""
    if live is None or live.manifest.get("model_id") != model_id:
        return None
    if any(live.build(key) != build[key] for key in ("related", "neighbours", "keyword")):
        return None
    listed = live.manifest.get("files") or {}
    names = ["neighbours.npy", "neighbour_scores.npy", "neighbour_rank.npy", "articles.faiss", "articles.parquet"]
    names += [name for part, name in relatedness.STATE_FILES.items()
              if part not in relatedness.OPTIONAL_STATE or name in listed]
    if not live.trusted(*names):  # published before versions stored the state, or damaged
        return None
    try:
        lists = relatedness.load_state(
            live.path,
            np.load(live.path / "neighbours.npy"),
            np.load(live.path / "neighbour_scores.npy"),
            np.load(live.path / "neighbour_rank.npy"),
        )
        index = faiss.read_index(str(live.path / "articles.faiss"))
        ids = pd.read_parquet(live.path / "articles.parquet", columns=["id"])["id"].tolist()
        since = int((live.manifest.get("related") or {}).get("changes_since_full_pass", 0))
        return _PreviousRelated(ids, lists, index.reconstruct_n(0, index.ntotal), since)
    except _UNUSABLE:
        return None


class TokenSource(Protocol):
    """What computes token vectors for late interaction (models.Embedder): the vectors, and their count per text
    from the tokenizer alone."""

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]: ...

    def kept_token_counts(self, texts: list[str]) -> np.ndarray: ...


def article_tokens(
    store: Store, articles: list, model_id: str, dim: int, source: TokenSource | None,
    article_index: faiss.Index | None = None, art_vectors: np.ndarray | None = None, budget: int | None = None,
) -> Tokens | None:
    """The token vectors late interaction needs (indexer.late), None when no article is short: those of the short
    articles and, given the article vectors, of each one's `LATE_CANDIDATES` nearest articles. Read from the store's
    cache by text; the missing ones computed by `source` and cached (which articles are short is read off the
    tokenizer first, so no other article's are computed); with `budget`, at most that many of the candidates' (the
    short articles' own are always computed). Without `source`, only cached ones are used. A full pass (a `source`,
    no budget) drops from the cache every text's token vectors it no longer needs."""
    cache = f"{model_id}#tokens"
    blocks: dict[int, np.ndarray] = {}
    texts = {r: token_text(a.title, a.body) for r, a in enumerate(articles) if may_be_short(a.title, a.body)}
    keys = {r: text_key(t) for r, t in texts.items()}

    def load(rows: list[int], budget: int | None = None) -> None:
        wanted = [r for r in rows if r not in blocks]  # texts and keys of these only: most articles are never read
        for r in wanted:
            if r not in texts:
                texts[r] = token_text(articles[r].title, articles[r].body)
                keys[r] = text_key(texts[r])
        found = store.get_token_vectors(cache, (keys[r] for r in wanted), dim)
        missing = list(dict.fromkeys(keys[r] for r in wanted if keys[r] not in found))[:budget]
        if missing and source is not None:
            text_of = {keys[r]: texts[r] for r in wanted}
            for start in range(0, len(missing), 256):
                part = missing[start : start + 256]
                computed = source.token_vectors([text_of[k] for k in part])
                store.put_token_vectors(cache, part, computed)
                found.update(zip(part, computed))
        blocks.update((r, found[keys[r]]) for r in wanted if keys[r] in found)

    maybe = list(texts)
    cached = store.get_token_vectors(cache, (keys[r] for r in maybe), dim)
    if source is not None:  # the tokenizer tells which of the others are short: only theirs are computed
        unknown = [r for r in maybe if keys[r] not in cached]
        counts = source.kept_token_counts([texts[r] for r in unknown]) if unknown else []
        load([r for r, c in zip(unknown, counts) if 0 < c <= LATE_TOKENS])
    blocks.update((r, cached[keys[r]]) for r in maybe if keys[r] in cached)
    short = [r for r, b in blocks.items() if 0 < len(b) <= LATE_TOKENS]
    blocks = {r: blocks[r] for r in short}  # another text cached by an earlier Sift is no candidate by itself
    if not short:
        if source is not None and budget is None:
            store.keep_cached(cache, [])
        return None
    if article_index is not None and art_vectors is not None and len(articles) > 1:
        rows = np.array(sorted(short))
        ids, _ = relatedness.nearest_neighbours(article_index, art_vectors[rows], LATE_CANDIDATES, rows=rows)
        load([int(r) for r in np.unique(ids[ids >= 0]) if int(r) not in blocks], budget)
    if source is not None and budget is None:
        store.keep_cached(cache, [keys[r] for r in blocks])
    return Tokens.from_blocks([blocks.get(r) for r in range(len(articles))], dim)


def _related_lists(
    live: _LiveVersion | None, article_index: faiss.Index, art_vectors: np.ndarray, keyword: KeywordIndex,
    ids: list[str], *, model_id: str, build: dict, tokens: Tokens | None = None,
) -> tuple[relatedness.Neighbours, dict]:
    """Every article's related candidates: from the previous version's lists, recomputing only those the changes
    reach, while the changes since the last full pass stay under `relatedness.INCREMENTAL_LIMIT` of the articles;
    else (or without a usable previous version) in one full pass. Returns the lists and the manifest's record."""
    n = len(ids)
    unrelated = float(build["related"].get("unrelated_cosine", 0.0))
    short = int(tokens.short(np.arange(n)).sum()) if tokens is not None else 0  # articles with late interaction
    previous = _previous_related(live, model_id=model_id, build=build)
    if previous is not None and n > 1:
        position = {article_id: row for row, article_id in enumerate(ids)}
        old_to_new = np.array([position.get(article_id, -1) for article_id in previous.ids], dtype=np.int64)
        kept = np.flatnonzero(old_to_new >= 0)
        changed_old = np.zeros(len(previous.ids), dtype=bool)
        if len(kept):
            changed_old[kept] = np.abs(previous.vectors[kept] - art_vectors[old_to_new[kept]]).max(axis=1) > 1e-6
        changed = np.ones(n, dtype=bool)  # new articles, then those whose vector moved
        changed[old_to_new[kept]] = changed_old[kept]
        changes = int(changed.sum()) + int((old_to_new < 0).sum())
        since = previous.changes_since_full_pass + changes
        if since <= relatedness.INCREMENTAL_LIMIT * n:
            carried, stale = relatedness.carry_over(previous.lists, old_to_new, n, changed_old)
            lists = relatedness.update_related(
                article_index, art_vectors, keyword.term_weights(), NEIGHBOURS, carried, changed, stale, tokens=tokens,
                unrelated=unrelated,
            )
            if lists is not None:
                return lists, {"pass": "incremental", "recomputed": lists.recomputed, "changes": changes,
                               "changes_since_full_pass": since, "late_interaction": short}
    lists = related_neighbours(article_index, art_vectors, keyword.term_weights(), NEIGHBOURS, tokens=tokens,
                               unrelated=unrelated)
    return lists, {"pass": "full", "recomputed": lists.recomputed, "changes_since_full_pass": 0,
                   "late_interaction": short}


def _article_texts(articles: list, chunk_article: np.ndarray, chunk_text: list[str]) -> Iterator[str]:
    """Each article's title and passages as the engine joins them (chunks are grouped by article)."""
    starts = np.searchsorted(chunk_article, np.arange(len(articles) + 1))
    for i, article in enumerate(articles):
        yield terms.article_text(article.title, chunk_text[starts[i] : starts[i + 1]])


@contextmanager
def _publish_lock(index_dir: Path) -> Iterator[None]:
    """One publisher at a time per index folder, across processes (`sift index`, `sift sync`, the API writer)."""
    with open(index_dir / ".publish.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class VersionRegistry(Protocol):
    """Where versions are published besides the index folder, for servers on other machines
    (indexer.pg_versions.DatabaseVersions): its live version mirrored into the folder, a new one committed."""

    def publish_lock(self) -> AbstractContextManager[None]: ...

    def sync(self, index_dir: Path) -> str | None: ...

    def next_name(self, index_dir: Path) -> str: ...

    def commit(self, name: str, folder: Path) -> object: ...

    def prune(self, *, keep: int, grace_seconds: float, drop: Callable[[dict], None]) -> list[str]: ...


def publish(index_dir: Path, store: Store, *, registry: VersionRegistry | None = None, **kwargs) -> PublishedVersion:
    """Write a complete new version from the store and make it CURRENT (see `_publish`), holding the publish lock.
    With a `registry` (a database), its lock too: the version is built from its live one, mirrored here first, and is
    live once committed there."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with _publish_lock(index_dir), (registry.publish_lock() if registry is not None else nullcontext()):
        if registry is not None:
            registry.sync(index_dir)
        try:
            return _publish(index_dir, store, registry=registry, **kwargs)
        except (OSError, RuntimeError) as exc:
            reason = write_failure(exc)
            if reason is None:
                raise
            raise PublishFailed(
                f"could not write a new version in {index_dir / VERSIONS_DIR}: {reason}. "
                f"Version {current_version(index_dir) or 'none'} stays live and every stored article is kept; "
                "free disk space (or fix permissions) and publish again: `sift index` or the next write"
            ) from exc


@dataclass
class _Snapshot:
    """What a version is built from: the store's articles and passages, in order, with the passages' vectors."""

    articles: list
    chunks: list
    vectors: np.ndarray  # passage vectors, one row per chunk
    chunk_article: np.ndarray  # chunk → article row
    chunk_ordinal: np.ndarray  # chunk → its place in its article
    article_vectors: np.ndarray

    @property
    def chunk_text(self) -> list[str]:
        return [c.text for c in self.chunks]

    @classmethod
    def read(cls, store: Store, model_id: str, dim: int) -> _Snapshot:
        """Raises ChunksNotEmbedded if any chunk lacks a vector for `model_id`."""
        articles = list(store.iter_articles())
        position = {a.id: i for i, a in enumerate(articles)}
        chunks = list(store.iter_chunks())
        cached = store.get_embeddings(model_id, (c.hash for c in chunks), dim)
        missing = {c.hash for c in chunks} - cached.keys()
        if missing:
            raise ChunksNotEmbedded(f"{len(missing)} chunks have no embedding for {model_id}; embed before publishing")
        vectors = np.stack([cached[c.hash] for c in chunks]) if chunks else np.zeros((0, dim), dtype=np.float32)
        chunk_article = np.array([position[c.article_id] for c in chunks], dtype=np.int32)
        chunk_ordinal = np.array([c.ordinal for c in chunks], dtype=np.int32)
        return cls(articles, chunks, vectors, chunk_article, chunk_ordinal,
                   article_vectors(vectors, chunk_article, chunk_ordinal, len(articles)))


def _write_related(staging: Path, related, duplicate_threshold: float) -> np.ndarray:
    """The related lists' files, and each article's near-duplicate group (returned)."""
    relatedness.save_state(staging, related)
    groups = group_near_duplicates(
        related.dense_ids, related.dense_cosines, duplicate_threshold, keyword_scores=related.dense_keyword
    )
    np.save(staging / "neighbours.npy", related.ids.astype(np.int32))
    np.save(staging / "neighbour_scores.npy", related.cosines)
    np.save(staging / "neighbour_rank.npy", related.scores)
    return groups


def _article_table(
    articles: list, places: list, deadlines: list, told: _Languages, groups: np.ndarray
) -> pd.DataFrame:
    """articles.parquet: one row per article, what search, facets, hits and related items read."""
    return pd.DataFrame(
        {
            "id": [a.id for a in articles],
            "url": [a.url for a in articles],
            "title": [a.title for a in articles],
            "summary": [shorten(a.body, SUMMARY_CHARS) for a in articles],
            "published_at": [a.published_at.isoformat() if a.published_at else None for a in articles],
            "categories": [list(a.categories) for a in articles],
            "tags": [list(a.tags) for a in articles],
            "countries": [list(names) for names, _, _ in places],  # declared, then mentioned
            "country_codes": [list(codes) for _, codes, _ in places],
            "regions": [list(regions) for _, _, regions in places],
            "author": [a.author for a in articles],
            "language": told.final,  # declared, else detected, else the site's main language
            # declared or confidently detected ([]: unknown): what the next publish reuses for an unchanged article
            "language_found": [[code] if code else [] for code in told.found],
            "image_url": [a.image_url for a in articles],
            "deadlines": [list(dates) for (dates,) in deadlines],  # ISO days, earliest first
            "group": groups,
        }
    )


def _late_search(staging: Path, store: Store, live: _LiveVersion | None, model_id: str, dim: int, chunks: list):
    """Every passage's token codes for late interaction in search (reusing the live version's), or None when any
    passage lacks them."""
    late_previous = (live.path, live.manifest["late_interaction"]) if (
        live is not None and live.manifest.get("late_interaction")
        and live.trusted(*passage_tokens.FILES)) else None
    return passage_tokens.write_version_files(
        staging, store, model_id, dim, [c.hash for c in chunks], previous=late_previous)


def _seal(staging: Path, manifest: dict) -> dict:
    """Every file synced to disk, then the manifest naming each with its checksum: a version without a complete
    manifest is never made current."""
    files = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    for file in files:
        _fsync_file(staging / file)
    manifest = {**manifest, "files": {file: sha256_file(staging / file) for file in files}}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    _fsync_file(staging / "manifest.json")
    _fsync_dir(staging / "keyword")
    _fsync_dir(staging)
    return manifest


def make_current(index_dir: Path, name: str) -> None:
    """Point CURRENT at version `name` atomically (write a temporary file, fsync, rename over)."""
    tmp = index_dir / f"{CURRENT_FILE}.tmp-{os.getpid()}-{threading.get_ident()}"
    tmp.write_text(name + "\n")
    _fsync_file(tmp)
    os.replace(tmp, index_dir / CURRENT_FILE)
    _fsync_dir(index_dir)


def _staging(versions: Path, name: str | None = None) -> tuple[str, Path]:
    """The next version's name (`name` when given) and its new, empty staging folder. Staging folders are only made
    under the publish lock, which the caller holds: any still there is a crashed run's, and is removed."""
    versions.mkdir(parents=True, exist_ok=True)
    for stale in versions.glob(".building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    name = name or _next_version_name(versions)
    staging = versions / f".building-{name}-{os.getpid()}"
    staging.mkdir()
    return name, staging


def _write_search_files(
    staging: Path, snap: _Snapshot, passages: VectorStore, article_languages: list[str],
) -> tuple[faiss.Index, KeywordIndex]:
    """The passage vectors, the article vectors and the BM25 index (each article analysed in its language)."""
    passages.save(staging)
    article_index = _flat_index(snap.article_vectors)
    faiss.write_index(article_index, str(staging / "articles.faiss"))
    keyword = KeywordIndex.build([f"{a.title}\n{a.body}" for a in snap.articles], article_languages)
    keyword.save(staging / "keyword")
    return article_index, keyword


def _release(passages: VectorStore, vectors: VectorConfig) -> None:
    """Drop what a publish that failed had put outside its folder (a pgvector table)."""
    try:
        drop_described(passages.describe(), vectors)
    except SiftError as exc:  # the publish's own failure is what gets raised; this one is left for the operator
        log.warning("could not drop the passage vectors of the failed publish: %s", exc)


def _publish(
    index_dir: Path,
    store: Store,
    *,
    model_id: str,
    dim: int,
    build: dict,
    keep_versions: int = 3,
    duplicate_threshold: float = DEFAULT_THRESHOLD,
    unrelated: float = 0.0,
    vectors: VectorConfig = VectorConfig(),
    token_source: TokenSource | None = None,
    token_budget: int | None = None,
    late_interaction: bool = False,
    registry: VersionRegistry | None = None,
) -> PublishedVersion:
    """Write a complete new version from the store and make it CURRENT. Raises if any chunk lacks a vector.

    `token_source` (the embedder) computes the token vectors short articles' related scores use (indexer.late) when
    the store has none cached for their text — at most `token_budget` of the candidates' a
    publish (None: all). `late_interaction`: the version carries every passage's token codes from the store, for
    late interaction in search (none when any passage lacks them)."""
    versions = index_dir / VERSIONS_DIR
    name, staging = _staging(versions, registry.next_name(index_dir) if registry is not None else None)
    final = versions / name
    started = time.perf_counter()
    passages: VectorStore | None = None
    try:
        generation = store.generation()
        snap = _Snapshot.read(store, model_id, dim)
        articles, chunks, chunk_article, chunk_text = snap.articles, snap.chunks, snap.chunk_article, snap.chunk_text
        art_vectors = snap.article_vectors

        live = _LiveVersion.read(index_dir)  # the version this one replaces: unchanged work is taken from it
        build_record = build_parameters(build, duplicate_threshold, unrelated)
        told = _languages(live, articles, build_record)
        np.save(staging / LANGUAGES_KEYS, told.keys)
        # exact Flat, or an ANN index past `vectors.exact_below()` (an IVF one reuses the live version's training)
        passages = build_store(snap.vectors, vectors, previous=_previous_passages(live, model_id=model_id, dim=dim))
        article_index, keyword = _write_search_files(staging, snap, passages, told.final)
        # One batched pass (or an incremental one, near the changes) gives every article its related candidates
        # and its near-duplicate group.
        tokens = article_tokens(store, articles, model_id, dim, token_source, article_index, art_vectors,
                                token_budget)
        related, related_record = _related_lists(
            live, article_index, art_vectors, keyword, [a.id for a in articles], model_id=model_id,
            build=build_record, tokens=tokens,
        )
        groups = _write_related(staging, related, duplicate_threshold)
        # "why related" captions read these profiles instead of analysing both texts on the serving path
        profiles = terms.write_profiles(
            staging, _article_texts(articles, chunk_article, chunk_text), _previous_profiles(live)
        )
        place_keys, places = _place_tags(live, articles, build_record, told.final)
        np.save(staging / PLACES_KEYS, place_keys)
        deadline_keys, deadlines = _deadlines(live, articles, build_record)
        np.save(staging / DEADLINES_KEYS, deadline_keys)
        _article_table(articles, places, deadlines, told, groups).to_parquet(
            staging / "articles.parquet", index=False)
        write_passages(staging / PASSAGES_FILE, chunk_article, snap.chunk_ordinal, chunk_text)
        # search's late interaction reads every passage's token codes; none when any passage lacks them
        late_search = _late_search(staging, store, live, model_id, dim, chunks) if late_interaction else None

        manifest = _seal(staging, {
            "format_version": FORMAT_VERSION,
            "version": name,
            "model_id": model_id,
            "dim": dim,
            "normalised": True,
            "metric": "inner_product",
            "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "counts": {"articles": len(articles), "chunks": len(chunks)},
            "late_interaction": late_search,
            "store_generation": generation,
            "build": build_record,
            "related": related_record,
            "vectors": passages.describe(),  # the index chosen, its calibrated search parameters and recall
            # how long building the version took: API writes quote it when saying when they will be searchable
            "publish_seconds": round(time.perf_counter() - started, 2),
        })
        os.rename(staging, final)
        _fsync_dir(versions)
        if registry is not None:  # live for every server once this commits; nothing of it there if it fails
            registry.commit(name, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        if passages is not None:
            _release(passages, vectors)
        raise

    make_current(index_dir, name)
    if registry is None:
        prune_versions(index_dir, keep=keep_versions, vectors=vectors)
    else:  # the database's versions (and their pgvector tables), then this folder's copies
        registry.prune(keep=keep_versions, grace_seconds=PRUNE_GRACE_SECONDS,
                       drop=lambda described: drop_described(described, vectors))
        prune_versions(index_dir, keep=keep_versions, release=False)
    return PublishedVersion(
        name=name, path=final, articles=len(articles), chunks=len(chunks), profiles_reused=profiles.reused,
        profiles_computed=profiles.computed, related_pass=related_record["pass"],
        related_recomputed=related_record["recomputed"], seconds=manifest["publish_seconds"],
    )


def _created_at(version_dir: Path) -> float:
    try:
        return datetime.fromisoformat(read_manifest(version_dir)["created_at"]).timestamp()
    except (OSError, ValueError, KeyError):
        return version_dir.stat().st_mtime


def prune_versions(
    index_dir: Path, *, keep: int, vectors: VectorConfig = VectorConfig(), grace_seconds: float | None = None,
    release: bool = True,
) -> list[str]:
    """Delete all but the newest `keep` complete versions (never CURRENT), and only those replaced at least
    `grace_seconds` ago (default PRUNE_GRACE_SECONDS): a server still answering from an old version, or a reader
    that looked up CURRENT just before the swap, finds its files. Call with the publish lock held."""
    grace = PRUNE_GRACE_SECONDS if grace_seconds is None else grace_seconds
    versions = index_dir / VERSIONS_DIR
    live = current_version(index_dir)
    complete = sorted((p for p in versions.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: p.name)
    now = time.time()
    removed = []
    for path, successor in zip(complete[: max(0, len(complete) - keep)], complete[1:]):
        replaced_at = _created_at(successor)  # a version was replaced when its successor was published
        if path.name != live and now - replaced_at >= grace:
            try:
                if release:  # a copy of a database's version leaves its pgvector table to the database's prune
                    drop_store(path, vectors)
            except SiftError as exc:  # its table stays, and so does the folder naming it: the next prune retries
                log.warning("kept version %s past its time: %s", path.name, exc)
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed
