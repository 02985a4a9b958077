"""The live index: the engine serving now, swapped for a new version without dropping a request, and the
background publisher that makes API writes searchable."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from indexer.errors import SiftError
from indexer.publish import CURRENT_FILE, STORE_FILE, current_version, sha256_file
from search_api.engine import Engine

# The least a write's response promises: the publisher waits 0.5 s to coalesce a burst, then embeds and publishes.
VISIBLE_WITHIN_SECONDS = 30

log = logging.getLogger("sift.live")


def _public(exc: Exception) -> str:
    """What a caller may read about a failure: our own errors' messages; for anything else only its kind."""
    return str(exc) if isinstance(exc, SiftError) else f"{type(exc).__name__} (the server log has details)"


class VersionFiles:
    """Notices when the files of a loaded version change on disk. Every check stats each file and re-hashes only
    those whose size, mtime or inode changed, so a readiness probe stays cheap on a large index."""

    def __init__(self, engine: Engine) -> None:
        self.version = engine.version
        self.path = engine.path
        self.checksums: dict[str, str] = engine.manifest["files"]
        # the engine verified every checksum when it loaded, so the files as they are now are known good
        self._known: dict[str, tuple[tuple[int, int, int] | None, bool]] = {
            name: (self._stat(name), True) for name in self.checksums
        }

    def _stat(self, name: str) -> tuple[int, int, int] | None:
        try:
            st = (self.path / name).stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns, st.st_ino

    def problem(self) -> str | None:
        """None while every file is as published; else which file is missing or altered."""
        for name, expected in self.checksums.items():
            stat = self._stat(name)
            if stat is None:
                return f"{name} of version {self.version} is missing on disk (was the index folder deleted?)"
            known, good = self._known[name]
            if stat != known:
                good = sha256_file(self.path / name) == expected
                self._known[name] = (stat, good)
            if not good:
                return f"{name} of version {self.version} no longer matches its checksum (the file is corrupt)"
        return None


class Mirror:
    """Keeps the index folder's copy of a database's live version current (`sync`, indexer.pg_versions): every
    `interval` seconds one small query asks which version is live; a new one is fetched in this background thread,
    never in a request, and LiveEngine swaps it in when the folder's CURRENT names it. While the database cannot be
    reached the server answers from the version it has, and `error` says why no newer one comes."""

    def __init__(self, sync: Callable[[], object], *, interval: float = 1.0) -> None:
        self._sync = sync
        self._interval = interval
        self._stop = threading.Event()
        self.error: str | None = None
        self.syncs = 0
        self._thread = threading.Thread(target=self._run, name="sift-mirror", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception as exc:  # noqa: BLE001 - the database down or a fetch gone wrong: tried again next tick
                message = f"cannot follow the database's live version: {_public(exc)}"
                if message != self.error:
                    log.error("%s", message, exc_info=None if isinstance(exc, SiftError) else exc)
                self.error = message
            else:
                if self.error is not None:
                    log.info("following the database's live version again")
                self.error = None
                self.syncs += 1
            self._stop.wait(self._interval)

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


class LiveEngine:
    """Holds the engine that answers requests. Every `check_interval` seconds a request looks at `CURRENT`; when
    it names another version, a background thread loads it while the old engine keeps answering, then one reference
    assignment swaps them. Requests in flight finish on the engine they started with (versions are immutable, and
    loaded into memory or memory-mapped: a pruned folder's mapped files stay readable until the engine lets go)."""

    def __init__(
        self,
        index_dir: Path,
        load: Callable[[], Engine],
        engine: Engine | None = None,
        *,
        check_interval: float = 1.0,
        watch: bool = True,
        database: bool = False,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._load = load
        self._engine = engine
        self._files = VersionFiles(engine) if engine is not None else None
        self._check_interval = check_interval
        self._watch = watch
        self._database = database  # the store is a database's (no store.sqlite in the folder to look for)
        self.mirror: Mirror | None = None  # with a database: what keeps the folder's copy of its live version
        self._next_check = 0.0
        self._loading = threading.Lock()
        self.error: str | None = None
        self.swaps = 0
        self.last_swap: float | None = None

    @property
    def engine(self) -> Engine | None:
        """The engine to answer this request with (None while no version could be loaded)."""
        if self._watch and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + self._check_interval
            wanted = current_version(self.index_dir)
            if wanted is not None and (self._engine is None or wanted != self._engine.version):
                if self._engine is None:
                    self.reload()  # nothing to serve meanwhile: load in this request
                elif not self._loading.locked():
                    threading.Thread(target=self.reload, name="sift-reload", daemon=True).start()
        return self._engine

    def reload(self) -> bool:
        """Load the version CURRENT names and swap it in; keep the old engine if that fails."""
        if not self._loading.acquire(blocking=False):
            return False
        try:
            if self._engine is not None and current_version(self.index_dir) == self._engine.version:
                return False
            try:
                fresh = self._load()
            except Exception as exc:  # a half-deleted or corrupt version: keep serving what we have
                self.error = f"could not load the new version: {_public(exc)}"
                log.error("%s (still serving %s)", self.error, self._engine.version if self._engine else "nothing",
                          exc_info=None if isinstance(exc, SiftError) else exc)  # a trace only for a bug
                return False
            previous = self._engine.version if self._engine else None
            self._files = VersionFiles(fresh)
            self._engine = fresh
            self.error = None
            self.swaps += 1
            self.last_swap = time.time()
            log.info("now serving version %s (was %s)", fresh.version, previous)
            return True
        finally:
            self._loading.release()

    def current_file(self) -> Path:
        return self.index_dir / CURRENT_FILE

    def problem(self) -> str | None:
        """Why this process is not ready, or None. Not ready: no version loaded; the index folder's CURRENT or
        store gone; the version CURRENT names failed to load; a file of the serving version missing or altered.
        In all but the first the loaded version still answers from memory, but a restart would not come back."""
        engine = self._engine
        if engine is None:
            return self.error or "no version is loaded"
        still = f"; still answering from version {engine.version} in memory"
        wanted = current_version(self.index_dir)
        if wanted is None:
            return f"{CURRENT_FILE} is missing from the index folder (was it deleted or moved?){still}"
        if not self._database and not (self.index_dir / STORE_FILE).is_file():
            return f"{STORE_FILE} is missing from the index folder (was it deleted or moved?){still}"
        if wanted != engine.version:
            return self.error and self.error + still  # None while the new version loads
        problem = self._files.problem() if self._files is not None else None
        return problem and f"{problem}{still}; re-run `sift index` to publish a sound version"


class Publisher:
    """Runs `refresh()` (embed + publish) in one background thread, coalescing bursts of writes: a write marks the
    index dirty; the thread waits `delay` seconds for more writes, then publishes once for all of them. A failed
    publish (disk full, store locked) is retried after `retry` seconds, doubling up to 5 minutes: the writes are
    safe in the store and become searchable once a publish succeeds. `close()` finishes a publish in progress or
    pending, so writes acknowledged before a shutdown are published; publishing is atomic, so a process killed
    mid-publish leaves the previous version live and no half version."""

    MAX_RETRY = 300.0

    def __init__(
        self, refresh: Callable[[], object], on_published: Callable[[], object], *, delay: float = 0.5,
        retry: float = 5.0,
    ) -> None:
        self._refresh = refresh
        self._on_published = on_published
        self._delay = delay
        self._retry = retry
        self._pending = threading.Event()  # writes not yet published
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.error: str | None = None
        self.publishes = 0
        self.last_seconds: float | None = None  # the last successful refresh (embed + publish)
        self._thread = threading.Thread(target=self._run, name="sift-publisher", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._idle.clear()
        self._pending.set()
        self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every requested publish is done (tests, graceful shutdown)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 30.0) -> bool:
        """Publish what is pending, then stop; False if that took longer than `timeout` (the thread is abandoned:
        the previous version stays live and the store keeps every write)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("a publish was still running after %.0f s; abandoning it, the previous version stays live",
                      timeout)
        return not self._thread.is_alive()

    def visible_within(self, published_seconds: float | None = None) -> int:
        """Seconds within which a write made now should be searchable: the coalescing delay, a publish that may be
        running, and ours — from the last publish here or else `published_seconds` (the live version's manifest
        `publish_seconds`); never less than VISIBLE_WITHIN_SECONDS. An estimate: a publish that falls due for a full
        related pass (every tenth of the articles changed) takes longer."""
        last = self.last_seconds if self.last_seconds is not None else published_seconds
        if not last:
            return VISIBLE_WITHIN_SECONDS
        return max(VISIBLE_WITHIN_SECONDS, math.ceil(self._delay + 2 * last + 5))

    def _publish(self) -> bool:
        started = time.perf_counter()
        try:
            self._refresh()
        except Exception as exc:  # the writes are safe in the store; a retry publishes them
            self.error = f"publishing failed: {_public(exc)}"
            log.error("%s", self.error, exc_info=None if isinstance(exc, SiftError) else exc)
            return False
        self.publishes += 1
        self.last_seconds = time.perf_counter() - started
        self.error = None
        self._on_published()
        return True

    def _run(self) -> None:
        backoff = self._retry
        while True:
            self._wake.wait()
            if not self._stop.is_set():
                self._stop.wait(self._delay)  # let a burst of writes land, then publish once; a shutdown cuts it short
            self._wake.clear()
            if self._pending.is_set():
                self._pending.clear()
                if self._publish():
                    backoff = self._retry
                else:
                    self._pending.set()
                    log.info("retrying the publish in %.0f s", backoff)
                    if not self._stop.wait(backoff):
                        backoff = min(backoff * 2, self.MAX_RETRY)
                        self._wake.set()
            if self._stop.is_set():
                return
            if not self._pending.is_set():
                self._idle.set()
