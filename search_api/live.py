"""The live index: the engine serving now, swapped for a new version without dropping a request, and the
background publisher that makes API writes searchable."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from indexer.publish import CURRENT_FILE, current_version
from search_api.engine import Engine

log = logging.getLogger("sift.live")


class LiveEngine:
    """Holds the engine that answers requests. Every `check_interval` seconds a request looks at `CURRENT`; when
    it names another version, a background thread loads it while the old engine keeps answering, then one reference
    assignment swaps them. Requests in flight finish on the engine they started with (versions are immutable and
    fully loaded in memory, so pruning the old folder cannot pull it from under them)."""

    def __init__(
        self,
        index_dir: Path,
        load: Callable[[], Engine],
        engine: Engine | None = None,
        *,
        check_interval: float = 1.0,
        watch: bool = True,
    ) -> None:
        self.index_dir = Path(index_dir)
        self._load = load
        self._engine = engine
        self._check_interval = check_interval
        self._watch = watch
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
                self.error = f"could not load the new version: {exc}"
                log.error("%s (still serving %s)", self.error, self._engine.version if self._engine else "nothing")
                return False
            previous = self._engine.version if self._engine else None
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


class Publisher:
    """Runs `refresh()` (embed + publish) in one background thread, coalescing bursts of writes: a write marks the
    index dirty; the thread waits `delay` seconds for more writes, then publishes once for all of them."""

    def __init__(self, refresh: Callable[[], object], on_published: Callable[[], object], *, delay: float = 0.5) -> None:
        self._refresh = refresh
        self._on_published = on_published
        self._delay = delay
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.error: str | None = None
        self.publishes = 0
        self._thread = threading.Thread(target=self._run, name="sift-publisher", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._idle.clear()
        self._dirty.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every requested publish is done (tests, graceful shutdown)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                break
            time.sleep(self._delay)  # let a burst of writes land, then publish once
            self._dirty.clear()
            try:
                self._refresh()
                self.publishes += 1
                self.error = None
                self._on_published()
            except Exception as exc:  # the writes are safe in the store; the next write or restart retries
                self.error = f"publishing failed: {exc}"
                log.exception("background publish failed")
            if not self._dirty.is_set():
                self._idle.set()
