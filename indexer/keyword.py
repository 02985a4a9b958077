"""The keyword leg: a BM25 index (bm25s) over article title + body, each article analysed in its own language:
Snowball stemming (PyStemmer) and stop words where the language has them, Unicode words elsewhere, overlapping
character pairs for scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese). English is
analysed exactly as bm25s's own tokenizer does."""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import bm25s
import bm25s.stopwords
import numpy as np
import regex
import scipy.sparse as sp
import Stemmer

# k1 = 1.5 measured best of {0.9, 1.2, 1.5} on SciFact (nDCG@10 0.686 vs 0.679 at 1.2); b is the usual 0.75.
# "stemmer"/"stopwords" are English's; other languages' are in _SNOWBALL/_STOPWORDS.
PARAMS = {"k1": 1.5, "b": 0.75, "method": "lucene", "stemmer": "english", "stopwords": "en"}
DEFAULT_LANGUAGE = "en"
# ISO 639-1 → Snowball stemmer (PyStemmer); a language not here is not stemmed
_SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish", "nl": "dutch",
    "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french", "de": "german",
    "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "fa": "persian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho", "es": "spanish", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}
# ISO 639-1 → bm25s's stop-word lists (NLTK's); Chinese's assume segmented words, which the character pairs are not
_STOPWORDS = {
    "en": "EN", "de": "GERMAN", "nl": "DUTCH", "fr": "FRENCH", "es": "SPANISH", "pt": "PORTUGUESE", "it": "ITALIAN",
    "ru": "RUSSIAN", "sv": "SWEDISH", "no": "NORWEGIAN", "tr": "TURKISH", "ko": "KOREAN", "da": "DANISH",
}
# written without spaces between words: indexed as overlapping pairs of characters (grapheme clusters)
_UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_UNSPACED_RUN = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]+")
# a word: a letter or digit, then letters, combining marks (Devanagari vowel signs, Arabic harakat) and digits;
# at least two characters, as bm25s's pattern; an apostrophe splits ("l'enfant" → "enfant")
_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]+")


class Analyser:
    """Text → terms in one language: lower-cased, stop words dropped, stemmed. The same terms index and query."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.stemmer = Stemmer.Stemmer(_SNOWBALL[language]) if language in _SNOWBALL else None
        listed = _STOPWORDS.get(language)
        self.stopwords = frozenset(getattr(bm25s.stopwords, f"STOPWORDS_{listed}")) if listed else frozenset()
        self._stem = functools.lru_cache(maxsize=65536)(self._stem_uncached)

    def words(self, text: str) -> list[str]:
        """The lower-cased words of `text`, unspaced scripts as overlapping character pairs, stop words dropped."""
        out = []
        for word in _WORD.findall(text.lower()):
            if word in self.stopwords:
                continue
            if self.language in _UNSPACED and _UNSPACED_RUN.fullmatch(word):
                out.extend(_pairs(word))
            else:
                out.append(word)
        return out

    def terms(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text's terms (stems), in order."""
        if self.language == DEFAULT_LANGUAGE:  # bm25s's tokenizer, as English indexes were always built
            return bm25s.tokenize(list(texts), stopwords=PARAMS["stopwords"], stemmer=self.stemmer,
                                  return_ids=False, show_progress=False)
        split = [self.words(t) for t in texts]
        distinct = sorted({w for words in split for w in words})
        stems = self.stemmer.stemWords(distinct) if self.stemmer is not None else distinct
        term = {word: _unaccented(stem) for word, stem in zip(distinct, stems)}
        # a stemmer may stem a word to nothing (Greek "όταν"): bm25s keeps "" for empty documents, never as a term
        return [[term[w] for w in words if term[w]] for words in split]

    def stem(self, word: str) -> str | None:
        """The term one word becomes (None for a stop word): for marking words in snippets."""
        return self._stem(word)

    def _stem_uncached(self, word: str) -> str | None:
        lower = word.lower()
        if lower in self.stopwords:
            return None
        return _unaccented(self.stemmer.stemWord(lower) if self.stemmer is not None else lower)


def _unaccented(term: str) -> str:
    """`term` without the accents of Latin, Greek and Cyrillic letters (after stemming, which reads them): readers
    type "Senegal", "financiacion", "trafico". Other scripts' marks (Devanagari vowel signs, Arabic harakat) are
    letters' parts, kept."""
    if term.isascii():
        return term
    return unicodedata.normalize("NFC", _ACCENTS.sub("", unicodedata.normalize("NFD", term)))


_ACCENTS = regex.compile("[\u0300-\u036f]")


def _pairs(run: str) -> list[str]:
    clusters = regex.findall(r"\X", run)
    if len(clusters) < 2:
        return ["".join(clusters)]
    return [clusters[i] + clusters[i + 1] for i in range(len(clusters) - 1)]


@functools.lru_cache(maxsize=None)
def analyser(language: str | None = None) -> Analyser:
    """The analyser of an ISO 639-1 `language` (English when None)."""
    return Analyser(language or DEFAULT_LANGUAGE)


def word_pattern(language: str | None = None):
    """The pattern of a word in `language` as its analyser reads words: for finding and marking words in text."""
    return _ENGLISH_WORD if (language or DEFAULT_LANGUAGE) == DEFAULT_LANGUAGE else _WORD


_ENGLISH_WORD = regex.compile(r"\w\w+")


def analyse(texts: Sequence[str], language: str | None = None) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens in `language` (English when None): the terms BM25 and
    highlighting both work with."""
    return analyser(language).terms(texts)


def rows_with_all(rows: Callable[[str], np.ndarray], terms: Sequence[str]) -> np.ndarray | None:
    """Intersect `rows(term)` over the distinct terms; None for no terms."""
    found = None
    for term in dict.fromkeys(terms):
        holding = rows(term)
        found = holding if found is None else np.intersect1d(found, holding, assume_unique=True)
    return found


def stem_word(word: str, language: str | None = None) -> str | None:
    """The term one word becomes under `analyse` (None for a stop word): for marking words in snippets."""
    return analyser(language).stem(word)


class KeywordIndex:
    """BM25 over one document per article, rows aligned with the version's article order."""

    def __init__(self, retriever: bm25s.BM25 | None, n_docs: int) -> None:
        self._retriever = retriever
        self.count = n_docs

    @classmethod
    def build(cls, documents: Sequence[str], languages: Sequence[str | None] | None = None) -> KeywordIndex:
        """BM25 over `documents`, each analysed in its language (`languages`, aligned; English where None)."""
        if not documents:
            return cls(None, 0)
        languages = languages if languages is not None else [None] * len(documents)
        if len(languages) != len(documents):
            raise ValueError(f"{len(languages)} languages for {len(documents)} documents")
        terms: list[list[str]] = [[] for _ in documents]
        by_language: dict[str | None, list[int]] = {}
        for row, language in enumerate(languages):
            by_language.setdefault(language or DEFAULT_LANGUAGE, []).append(row)
        for language, rows in by_language.items():
            for row, found in zip(rows, analyse([documents[r] for r in rows], language)):
                terms[row] = found
        # the vocabulary in sorted order (bm25s's tokenizer orders it by set iteration, which varies between
        # processes), so a version's files are the same bytes whoever builds them
        vocab = {term: i for i, term in enumerate(sorted({t for row in terms for t in row}))}
        tokens = bm25s.tokenization.Tokenized(ids=[[vocab[t] for t in row] for row in terms], vocab=vocab)
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

    def scores(self, query: str, language: str | None = None) -> np.ndarray:
        """BM25 score of every document for `query` analysed in `language` (zeros where no query term occurs)."""
        if self._retriever is None:
            return np.zeros(0, dtype=np.float32)
        terms = analyse([query], language)[0]
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
