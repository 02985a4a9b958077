"""The keyword leg: a BM25 index (bm25s, Snowball stemming, English stop words) over article title + body."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import scipy.sparse as sp
import Stemmer

# k1 = 1.5 measured best of {0.9, 1.2, 1.5} on SciFact (nDCG@10 0.686 vs 0.679 at 1.2); b is the usual 0.75.
PARAMS = {"k1": 1.5, "b": 0.75, "method": "lucene", "stemmer": "english", "stopwords": "en"}


@functools.lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer(PARAMS["stemmer"])


def analyse(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens: the terms BM25 and highlighting both work with."""
    return bm25s.tokenize(
        list(texts), stopwords=PARAMS["stopwords"], stemmer=_stemmer(), return_ids=False, show_progress=False
    )


def rows_with_all(rows: Callable[[str], np.ndarray], terms: Sequence[str]) -> np.ndarray | None:
    """Intersect `rows(term)` over the distinct terms; None for no terms."""
    found = None
    for term in dict.fromkeys(terms):
        holding = rows(term)
        found = holding if found is None else np.intersect1d(found, holding, assume_unique=True)
    return found


@functools.lru_cache(maxsize=65536)
def stem_word(word: str) -> str | None:
    """The term one word becomes under `analyse` (None for a stop word): for marking words in snippets."""
    lower = word.lower()
    if lower in _stopwords():
        return None
    return _stemmer().stemWord(lower)


@functools.lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


class KeywordIndex:
    """BM25 over one document per article, rows aligned with the version's article order."""

    def __init__(self, retriever: bm25s.BM25 | None, n_docs: int) -> None:
        self._retriever = retriever
        self.count = n_docs

    @classmethod
    def build(cls, documents: Sequence[str]) -> KeywordIndex:
        if not documents:
            return cls(None, 0)
        tokens = bm25s.tokenize(
            list(documents), stopwords=PARAMS["stopwords"], stemmer=_stemmer(), show_progress=False
        )
        retriever = bm25s.BM25(k1=PARAMS["k1"], b=PARAMS["b"], method=PARAMS["method"])
        retriever.index(tokens, show_progress=False)
        return cls(retriever, len(documents))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sift.json").write_text(json.dumps({"count": self.count, "params": PARAMS}))
        if self._retriever is not None:
            self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> KeywordIndex:
        meta = json.loads((folder / "sift.json").read_text())
        if meta["params"] != PARAMS:
            raise ValueError(f"{folder} was built with BM25 parameters {meta['params']}, this Sift uses {PARAMS}")
        if meta["count"] == 0:
            return cls(None, 0)
        return cls(bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False), meta["count"])

    def frequencies(self, terms: Sequence[str]) -> list[int]:
        """How many documents contain each analysed term (0 for a term the index never saw), as plain ints from a
        lookup table built once: captions ask for every pair of articles, so per-call arrays would cost more.
        bm25s keeps one sparse column per term; its length is the term's document frequency."""
        table = self._frequency_table
        if table is None:
            table = self._frequency_table = self._build_frequency_table()
        vocab, counts = table
        return [counts[i] if (i := vocab.get(t)) is not None else 0 for t in terms]

    _frequency_table: tuple[dict[str, int], list[int]] | None = None

    def vocabulary(self) -> Iterable[str]:
        """Every analysed term the index holds."""
        return self._retriever.vocab_dict.keys() if self._retriever is not None else ()

    def documents_with(self, term: str) -> np.ndarray:
        """The rows of the documents that contain `term` (empty for an unknown term)."""
        if self._retriever is None or (column := self._retriever.vocab_dict.get(term)) is None:
            return np.zeros(0, dtype=np.int64)
        s = self._retriever.scores
        return np.asarray(s["indices"][s["indptr"][column] : s["indptr"][column + 1]], dtype=np.int64)

    def count_among(self, term: str, rows: np.ndarray) -> int:
        """How many of `rows` (sorted, distinct) contain `term`: a binary search per row in the term's posting
        list, which bm25s keeps sorted, so a term held by a tenth of the site costs what a rare one does."""
        holding = self.documents_with(term)
        if not len(holding) or not len(rows):
            return 0
        at = np.searchsorted(holding, rows)
        return int(np.count_nonzero(holding[np.minimum(at, len(holding) - 1)] == rows))

    def documents_with_all(self, terms: Sequence[str]) -> np.ndarray | None:
        """The rows of the documents that contain every term (None for no terms: nothing to narrow by)."""
        return rows_with_all(self.documents_with, terms)

    def _build_frequency_table(self) -> tuple[dict[str, int], list[int]]:
        if self._retriever is None:
            return {}, []
        return self._retriever.vocab_dict, np.diff(np.asarray(self._retriever.scores["indptr"])).tolist()

    def term_weights(self) -> sp.csr_matrix | None:
        """The article × term BM25 weight matrix (None for an empty index): each article as a keyword vector."""
        if self._retriever is None:
            return None
        s = self._retriever.scores
        shape = (self.count, len(s["indptr"]) - 1)
        return sp.csc_matrix((np.asarray(s["data"]), np.asarray(s["indices"]), np.asarray(s["indptr"])), shape=shape).tocsr()

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for `query` (zeros where no query term occurs)."""
        if self._retriever is None:
            return np.zeros(0, dtype=np.float32)
        terms = analyse([query])[0]
        if not terms:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float32)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` (doc ids, scores), best first; only documents that contain a query term, within `allowed`."""
        return self.top(self.scores(query), k, allowed)

    @staticmethod
    def top(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` (doc ids, scores) of a score array from `scores`, as `search` ranks them."""
        if allowed is not None and len(scores):
            scores = np.where(allowed, scores, 0.0)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.lexsort((hits, -scores[hits]))]  # score desc, then id for a stable order
        return hits.astype(np.int64), scores[hits]
