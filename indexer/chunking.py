"""Chunking: an article becomes passages of a few sentences, with overlap, each embedded with the title."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from indexer.article import Article

# Bumped when the same article and parameters would chunk differently, so stores re-chunk unchanged articles
# (passages whose text is unchanged keep their cached vectors).
RECIPE = 1

# The default passage: up to 200 words, no overlap. Chosen on dev (SciFact train + Cranfield, hybrid nDCG@10) among
# 120/30 (the previous default), 120/0, 200/0, 250/0, 300/0 and 200/0 with the title once, as the cheapest whose
# test figures stay within 0.005 of 120/30's: it reads 295 wordpieces per SciFact abstract instead of 408
# (BENCHMARKS.md, "What an index costs").
MAX_WORDS = 200
OVERLAP_WORDS = 0

# Sentence ends: . ! ? (optionally followed by a closing quote/bracket) then whitespace and an upper-case
# letter, digit or opening quote. Good enough for news prose; abbreviations cost at most a split.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]?\s+(?=[A-Z0-9“\"'(])")


@dataclass(frozen=True)
class Chunk:
    """One passage of an article. `embed_text` (title + passage) is what the model sees; `text` is the snippet."""

    ordinal: int
    text: str
    embed_text: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode()).hexdigest()


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _split_long(sentence: str, max_words: int) -> list[str]:
    words = sentence.split()
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


def chunk_article(article: Article, *, max_words: int = MAX_WORDS, overlap_words: int = OVERLAP_WORDS) -> list[Chunk]:
    """Pack sentences into passages of at most `max_words`, repeating ~`overlap_words` of trailing sentences.

    Passages never cross a paragraph boundary unless a paragraph is shorter than a quarter of `max_words`,
    so short paragraphs (news ledes) travel with the next one.
    """
    if overlap_words >= max_words:
        raise ValueError("overlap_words must be smaller than max_words")
    sentences: list[tuple[str, bool]] = []  # (sentence, starts a paragraph)
    for paragraph in article.body.split("\n\n"):
        pieces = [p for s in split_sentences(paragraph) for p in _split_long(s, max_words)]
        sentences.extend((piece, i == 0) for i, piece in enumerate(pieces))

    passages: list[list[str]] = []
    current: list[str] = []
    count = 0
    for sentence, new_paragraph in sentences:
        n = len(sentence.split())
        paragraph_break = new_paragraph and count >= max_words // 4
        if current and (count + n > max_words or paragraph_break):
            passages.append(current)
            # carry trailing sentences as overlap, but never a whole passage (that would not advance)
            carry: list[str] = []
            carried = 0
            for prev in reversed(current[1:]):
                words = len(prev.split())
                if carried + words > overlap_words:
                    break
                carry.insert(0, prev)
                carried += words
            current, count = (carry, carried) if not paragraph_break else ([], 0)
        current.append(sentence)
        count += n
    if current:
        tail_words = sum(len(s.split()) for s in current)
        if passages and tail_words < max_words // 4:
            # a short closing paragraph reads better inside the previous passage than as a passage of its own
            passages[-1].extend(s for s in current if s not in passages[-1])
        else:
            passages.append(current)

    # The title goes with every passage, the first included even when the body opens with it: measured (BENCHMARKS.md),
    # embedding such a title once cost MEDLINE (whose titles open their abstracts) 0.010 semantic nDCG@10 and Lee's
    # human-rating correlation 0.007, and only helped corpora whose "title" is the whole short message.
    return [Chunk(ordinal=i, text=" ".join(p), embed_text=embed_text(article.title, " ".join(p)))
            for i, p in enumerate(passages)]


def embed_text(title: str, text: str) -> str:
    """What the model reads for a passage: the article's title, then the passage (the store rebuilds it so in SQL)."""
    return f"{title}. {text}" if title else text
