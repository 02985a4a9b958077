"""Snippets: pick the passage that best matches the query and mark the query's terms in it, HTML-escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from indexer.cleaning import shorten
from indexer.keyword import analyse, stem_word, word_pattern

SNIPPET_CHARS = 300
T = TypeVar("T")


def query_terms(query: str, language: str | None = None) -> frozenset[str]:
    """The query's stemmed, stop-word-free terms in `language` (English when None)."""
    return frozenset(analyse([query], language)[0])


def passage_stems(text: str, language: str | None = None) -> frozenset[str]:
    """The stems a passage in `language` contains (what `term_overlap` compares; cache it for passages shown
    often)."""
    return frozenset(stem_word(w, language) for w in word_pattern(language).findall(text))


def term_overlap(text: str, terms: frozenset[str]) -> int:
    """How many distinct query terms a passage contains."""
    if not terms:
        return 0
    return len(passage_stems(text) & terms)


def _window(
    text: str, terms: frozenset[str], limit: int, focus: Sequence[re.Pattern[str]] = (), language: str | None = None
) -> str:
    """At most `limit` characters of `text`, starting near the first match of a `focus` pattern (a quoted phrase),
    else near the first query term, when the passage is long."""
    if len(text) <= limit:
        return text
    start = 0
    found = next((m for m in (p.search(text) for p in focus) if m), None)
    if found is not None:
        start = found.start()
    elif terms:
        for match in word_pattern(language).finditer(text):
            if stem_word(match.group(0), language) in terms:
                start = match.start()
                break
    if start + limit > len(text):  # near the end: the last `limit` characters, from a word boundary
        start = text.find(" ", len(text) - limit) + 1
    elif start:  # begin at a word boundary, a little before the term
        start = text.rfind(" ", 0, max(0, start - 40)) + 1
    return ("… " if start else "") + shorten(text[start:], limit)


def make_snippet(
    text: str, terms: frozenset[str], limit: int = SNIPPET_CHARS, focus: Sequence[re.Pattern[str]] = (),
    language: str | None = None,
) -> tuple[str, str]:
    """(plain snippet, HTML snippet with <mark> around words whose stem is a query term; all else escaped), the
    passage's words read in its `language`. A long passage is cut to show the first match of a `focus` pattern, else
    the first query term."""
    plain = _window(text, terms, limit, focus, language)
    out: list[str] = []
    pos = 0
    for match in word_pattern(language).finditer(plain):
        if terms and stem_word(match.group(0), language) in terms:
            out.append(html.escape(plain[pos : match.start()]))
            out.append(f"<mark>{html.escape(match.group(0))}</mark>")
            pos = match.end()
    out.append(html.escape(plain[pos:]))
    return plain, "".join(out)


def best_passage(
    passages: Sequence[T], terms: frozenset[str], overlap: Callable[[T, frozenset[str]], int] = term_overlap
) -> int:
    """Index of the passage sharing most query terms (the first one on a tie, usually the lead); `overlap` counts
    them (default: from the passage text)."""
    if not passages:
        raise ValueError("no passages")
    counts = [overlap(p, terms) for p in passages]
    return max(range(len(passages)), key=lambda i: (counts[i], -i))
