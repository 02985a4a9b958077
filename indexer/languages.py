"""Which language an article or a question is written in, offline: py3langid's bundled model (142 languages incl.
Hausa, Swahili and Amharic; numpy only, ~1 ms an article, ~0.15 ms a question), folded to ISO 639-1 codes. A
record's own `language` field wins over detection.

Measured 2026-12-05 (scripts in BENCHMARKS.md "Languages"): every article of SciFact, MEDLINE, CISI, Cranfield and
MasakhaNEWS (en, fr, ha, sw, am) detected right; of short questions (XQuAD in 12 languages, MasakhaNEWS headlines,
the English eval sets' queries) 83-100% are detected right with probability >= CONFIDENT and at most 0.5% wrong,
none of the English eval queries. Below it a question's language counts as unknown."""

from __future__ import annotations

import functools
import io
import lzma
import re
import threading
from array import array
from collections import defaultdict
from collections.abc import Collection

import numpy as np

# a detection at or above this (normalised) probability is trusted; below it the language is unknown
CONFIDENT = 0.5
# a query below it is given the site's language it resembles when the site's languages hold this much of the
# probability and one of them this share of theirs (`query_language`; set on the sample's questions in six languages
# and short English queries, tests/indexer/test_languages.py)
SITE_MASS = 0.15
SITE_SHARE = 0.8
# py3langid's regional varieties and dialects folded into the language a site (and a stemmer) knows them as
_FOLD = {
    "ary": "ar", "arz": "ar",  # Moroccan, Egyptian Arabic
    "wuu": "zh", "yue": "zh",  # Wu, Cantonese (Han script)
    "pcm": "en",  # Nigerian Pidgin: English headlines with West African names are often given it
    "nn": "no", "uzs": "uz", "gug": "gn",
}
_CODE = re.compile(r"[a-z]{2,3}")
_DETECT_CHARS = 2000  # the title and first paragraphs say it; whole articles only cost time


class UnknownLanguage(ValueError):
    """A language code that is not an ISO 639 code."""


def normalise(code: str) -> str:
    """'fr-FR', 'FR', 'fr_CA' → 'fr'; UnknownLanguage for anything that is not an ISO 639-1/-3 code."""
    head = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    if not _CODE.fullmatch(head):
        raise UnknownLanguage(f"{code!r} is not a language code; use an ISO 639-1 code such as en, fr, es, pt or ar")
    return _FOLD.get(head, head)


@functools.lru_cache(maxsize=1)
def _identifier():
    """py3langid's bundled model, unpacked in memory: its own loader unpacks it through a temporary file, which fails
    on a full disk or a read-only /tmp (the model is ~30 MB unpacked, read once per process)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    def table(values: np.ndarray) -> array:  # the transition tables as py3langid keeps them
        out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
        out.frombytes(memoryview(np.ascontiguousarray(values)).cast("B"))
        return out

    with lzma.open(MODEL_DIR / MODEL_FILE) as packed, np.load(io.BytesIO(packed.read()), allow_pickle=False) as data:
        return LanguageIdentifier(
            np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(), table(data["nextmove"]),
            data["out_feat"].tolist(), norm_probs=True, tk_row=table(data["nextmove_row"]),
        )


_load = threading.Lock()


def load() -> None:
    """Load the model now (~0.6 s; py3langid unpacks it through a temporary file, so a server loads it at start,
    not at its first search on a disk that may be full by then)."""
    with _load:
        _identifier()


def _mass(text: str) -> dict[str, float]:
    """Each language's probability for `text` (its first 2,000 characters), dialects folded into their language."""
    with _load:  # the model loads once (~0.6 s); two threads must not both load it
        identifier = _identifier()
    mass: dict[str, float] = defaultdict(float)
    for code, probability in identifier.rank(text[:_DETECT_CHARS]):
        mass[_FOLD.get(code, code)] += float(probability)
    return mass


def detect(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the most likely language of `text` (its first 2,000 characters)."""
    mass = _mass(text)
    best = max(mass, key=mass.__getitem__)
    return best, mass[best]


def detect_confident(text: str) -> str | None:
    """The language of `text` when detection is confident (>= CONFIDENT), else None."""
    if not text.strip():
        return None
    code, probability = detect(text)
    return code if probability >= CONFIDENT else None


def query_language(text: str, site_languages: Collection[str] = ()) -> str | None:
    """A query's language: the detected one when confident (`detect_confident`, whatever the site holds); else, of
    the languages the site is written in, the one the query resembles when that is clear — they hold at least
    `SITE_MASS` of the probability and one of them `SITE_SHARE` of theirs; else None (unknown).

    A query of two to five words is rarely told alone: "matrimonio infantil forzado de niñas" is Galician 0.40,
    Spanish 0.34. Unknown, a query is read in the site's main language over every article, so on a site in English
    and Spanish that question's keyword leg matched "de" in English stories' Spanish place names and ranked them first.
    Among the site's languages it is Spanish (0.99 of their mass). Short English queries ("floods in Kenya": English
    0.31, 0.98 of an English/French/Spanish site's mass) are told English; misspelt ones ("colera outbrake": 0.10 on
    the site's languages) and single names stay unknown. A site in one language reads every query in it either way."""
    if not text.strip():
        return None
    mass = _mass(text)
    best = max(mass, key=mass.__getitem__)
    if mass[best] >= CONFIDENT:
        return best
    site = {code: mass.get(code, 0.0) for code in site_languages}
    total = sum(site.values())
    if total < SITE_MASS:
        return None
    likeliest = max(site, key=site.__getitem__)
    return likeliest if site[likeliest] >= SITE_SHARE * total else None


def article_language(title: str, body: str, declared: str | None) -> str | None:
    """An article's language: its declared one (normalised), else the detected one when confident, else None (the
    publisher gives those the site's main language)."""
    if declared:
        try:
            return normalise(declared)
        except UnknownLanguage:
            pass  # a feed's "language" of "English" or "x-default": detect instead
    return detect_confident(f"{title}\n{body}")


def majority(languages: list[str | None], default: str = "en") -> str:
    """The most common known language (ties: the alphabetically first), `default` when none is known."""
    counts: dict[str, int] = defaultdict(int)
    for code in languages:
        if code:
            counts[code] += 1
    return min(counts, key=lambda c: (-counts[c], c)) if counts else default


def recipe() -> dict:
    """What telling a language depends on besides the text: a change makes every article's language stale."""
    from importlib.metadata import version

    return {"detector": f"py3langid {version('py3langid')}", "confident": CONFIDENT, "fold": dict(sorted(_FOLD.items()))}
