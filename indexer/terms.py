"""Term profiles: each article's stems, their saturated weights and spellings, for "why related" captions.

A profile is built once per article when a version is published and stored in the version
(`term_profiles.npy` + `term_profiles.bin`), so serving a related list only looks profiles up. Publishing reuses
the previous version's record of every article whose text is unchanged, so an incremental publish profiles only
new and edited articles.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.keyword import PARAMS as KEYWORD_PARAMS
from indexer.keyword import stem_word

# bm25s's token pattern, so a profile's stems are the keyword index's terms
_WORD = re.compile(r"(?u)\b\w\w+\b")
_DIGIT = re.compile(r"\d")
# The title and first sentences say what an article is about; a shared term there is a good reason.
LEAD_WORDS = 60
SATURATION = 1.2  # tf / (tf + SATURATION)

# What a stored profile depends on besides the text: a change makes every record stale (it is part of each key).
PROFILE_PARAMS = {
    "format": 1,
    "surface": 2,  # 2: an acronym written more often than its lower-case word keeps its capitals
    "lead_words": LEAD_WORDS,
    "saturation": SATURATION,
    "stemmer": KEYWORD_PARAMS["stemmer"],
    "stopwords": KEYWORD_PARAMS["stopwords"],
}
_SALT = json.dumps(PROFILE_PARAMS, sort_keys=True).encode() + b"\0"

INDEX_FILE = "term_profiles.npy"  # per article row: the key of its text and the end of its record in DATA_FILE
DATA_FILE = "term_profiles.bin"  # the records, one deflated JSON array each, back to back
FILES = (INDEX_FILE, DATA_FILE)
_INDEX_DTYPE = np.dtype([("key", "S32"), ("end", "<i8")])


@dataclass(frozen=True)
class TermProfile:
    """An article's terms: stem → saturated term frequency, and stem → the word as the article writes it."""

    weights: dict[str, float]
    surface: dict[str, str]
    lead: frozenset[str] = frozenset()  # stems in the title and first sentences


def _counts(text: str) -> tuple[Counter[str], dict[str, str], frozenset[str]]:
    """stem → mentions, stem → its surface form, and the lead's stems: what a profile is made of."""
    counts: Counter[str] = Counter()
    forms: dict[str, list[tuple[bool, int, str]]] = {}
    # each distinct word is judged and stemmed once
    for word, n in Counter(_WORD.findall(text)).items():
        if _DIGIT.search(word):  # years, amounts and ids are not topics
            continue
        if len(word) < 3 and not word.isupper():  # "up", "go" are noise; "UN", "EU" are not
            continue
        stem = stem_word(word)
        if stem is None:  # a stop word
            continue
        counts[stem] += n
        forms.setdefault(stem, []).append((word.islower(), n, word))
    surface = {stem: _surface(seen) for stem, seen in forms.items()}
    lead = {stem_word(w) for w in _WORD.findall(" ".join(text.split()[:LEAD_WORDS]))}
    return counts, surface, frozenset(lead & counts.keys())


def _surface(seen: list[tuple[bool, int, str]]) -> str:
    """How a stem is written, from its (lower-case?, mentions, word) forms: the lower-case spelling when there is one
    ("Farming" at a sentence start is "farming"), unless capitals are written more often (an acronym: "WHO" over
    "who", "US" over "us"); else the commonest."""
    capitals = [f for f in seen if f[2].isupper()]
    lower = max((f[1] for f in seen if f[0]), default=0)
    if capitals and max(f[1] for f in capitals) > lower:
        return max(capitals, key=lambda f: f[1])[2]
    return max(seen, key=lambda f: (f[0], f[1]))[2]


def _saturate(n: int) -> float:
    # BM25-style saturation: a term's tenth mention adds little, so one long article cannot drown the other's terms
    return n / (n + SATURATION)


def term_profile(text: str) -> TermProfile:
    counts, surface, lead = _counts(text)
    return TermProfile({stem: _saturate(n) for stem, n in counts.items()}, surface, lead)


def article_text(title: str, passages: Iterable[str]) -> str:
    """The text an article's profile is built from: its title and stored passages, a line each."""
    return "\n".join([title, *passages])


def profile_key(text: str) -> bytes:
    """32 hex digits naming `text` under PROFILE_PARAMS: equal keys mean equal profiles."""
    return hashlib.blake2b(_SALT + text.encode(), digest_size=16).hexdigest().encode()


def encode_profile(text: str) -> bytes:
    """The stored record of `text`'s profile: [stems, mentions, spellings, lead stem positions] as JSON, deflated."""
    counts, surface, lead = _counts(text)
    stems = list(counts)
    record = [stems, [counts[s] for s in stems], [surface[s] for s in stems], [i for i, s in enumerate(stems) if s in lead]]
    return zlib.compress(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def decode_profile(record: bytes) -> TermProfile:
    stems, counts, surface, lead = json.loads(zlib.decompress(record))
    return TermProfile(
        dict(zip(stems, [_saturate(n) for n in counts])), dict(zip(stems, surface)), frozenset([stems[i] for i in lead])
    )


@dataclass
class WriteReport:
    articles: int = 0
    reused: int = 0
    computed: int = 0


class StoredProfiles:
    """One version's stored profiles, memory-mapped: opening costs nothing per article, a lookup decodes one."""

    def __init__(self, version_dir: Path) -> None:
        self.index = np.load(version_dir / INDEX_FILE, mmap_mode="r")
        if self.index.dtype != _INDEX_DTYPE:
            raise ValueError(f"{version_dir / INDEX_FILE} holds {self.index.dtype}, expected {_INDEX_DTYPE}")
        self._ends = self.index["end"]
        self._data: bytes | mmap.mmap = b""
        with open(version_dir / DATA_FILE, "rb") as handle:
            if handle.seek(0, 2):  # an empty file cannot be mapped
                self._data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return len(self.index)

    def record(self, row: int) -> bytes:
        start = int(self._ends[row - 1]) if row else 0
        return self._data[start : int(self._ends[row])]

    def __getitem__(self, row: int) -> TermProfile:
        return decode_profile(self.record(row))


def write_profiles(folder: Path, texts: Iterable[str], previous: StoredProfiles | None = None) -> WriteReport:
    """Write the profiles of `texts` (one per article row) into `folder`, copying the record of any text
    `previous` already holds and profiling only the others."""
    known: dict[bytes, int] = {}
    if previous is not None:
        for row, key in enumerate(previous.index["key"]):
            known.setdefault(bytes(key), row)
    report = WriteReport()
    keys: list[bytes] = []
    ends: list[int] = []
    end = 0
    with open(folder / DATA_FILE, "wb") as out:
        for text in texts:
            key = profile_key(text)
            row = known.get(key)
            if row is not None:
                record = previous.record(row)
                report.reused += 1
            else:
                record = encode_profile(text)
                report.computed += 1
            out.write(record)
            end += len(record)
            keys.append(key)
            ends.append(end)
    index = np.empty(len(keys), dtype=_INDEX_DTYPE)
    index["key"] = keys
    index["end"] = ends
    np.save(folder / INDEX_FILE, index)
    report.articles = len(keys)
    return report
