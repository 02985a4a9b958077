"""Recent queries' vectors, least recently used out: a repeated query embeds nothing."""

from __future__ import annotations

import collections
import threading

import numpy as np


class QueryCache:
    """Recent queries' vectors (and token vectors, when late interaction asked for them), least recently used out.
    Entries are read-only: every caller of the same query shares them."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: collections.OrderedDict[str, tuple[np.ndarray, np.ndarray | None]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, text: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        with self._lock:
            entry = self._entries.get(text)
            if entry is None:
                return None, None
            self._entries.move_to_end(text)
            return entry

    def put(self, text: str, vector: np.ndarray, tokens: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Keep (and return, made read-only) a query's vector and its token vectors (None: not computed)."""
        vector = np.array(vector, dtype=np.float32)
        vector.flags.writeable = False
        if tokens is not None:
            tokens.flags.writeable = False
        if self._size > 0:
            with self._lock:
                self._entries[text] = (vector, tokens)
                self._entries.move_to_end(text)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return vector, tokens
